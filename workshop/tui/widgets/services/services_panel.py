"""Which services a lab needs. A placeholder until live services can be started and stopped from here."""

from __future__ import annotations

from textual.widgets import Static

from workshop.core.content import Lab


class ServicesPanel(Static):
    """Honest list of the services and tools a lab uses; no start/stop controls yet."""

    DEFAULT_CSS = "ServicesPanel { padding: 0 1; height: auto; }"

    def show(self, lab: Lab | None) -> None:
        if lab is None:
            self.update("")
            return
        services = ", ".join(lab.services) or "none"
        tools = ", ".join(lab.tools) or "none"
        self.update(
            f"Lab {lab.id} uses these tools: {tools}.\n"
            f"Long-running services it needs: {services}.\n\n"
            "Not yet here: starting, stopping and reading the logs of services from this panel.\n"
            "For now the checks start what they need (for example a real Envoy) and stop it afterwards."
        )
