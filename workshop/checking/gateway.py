"""The mesh's ingress gateway as checks see it, beside the sidecar that ``mesh`` reaches:

    gateway.get("/get")            a request through the gateway's listener (gateway -> sidecar -> httpbin)
    gateway.until(seen)            ask again until the traffic shows what is expected
    gateway.filters()              the filters its Envoy got through ECDS (wasm, deny-all, allow-all)
    gateway.chain()                the HTTP filters of its listener, in order (Lua is inline there)
    gateway.in_force(kind, name)   what a resource became in the gateway's Envoy, waited for
    gateway.explain_refused_filter a failing verdict in Envoy's words when it refused a filter's configuration
    gateway.agent_metric(name)     a counter of its istio-agent (the merged Prometheus page of its status port)
    gateway.sidecar_metric(name)   the same counter of the sidecar's agent
    gateway.istiod_metric(name)    a counter of istiod (its monitoring port), such as pilot_total_xds_rejects
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import pytest

from workshop.checking import mesh_status as status
from workshop.checking.feedback import fail
from workshop.checking.mesh import Mesh, admin_answer, explain_refused_filter, requests_until
from workshop.core import waiting
from workshop.env import http as httplib
from workshop.env.mesh_target import MeshUnreachable, Reach


class Gateway:
    """The ingress gateway of the mesh ``mesh`` checks: started with it if it is not up."""

    def __init__(self, mesh: Mesh, services: Any) -> None:
        self.mesh = mesh
        self.services = services
        self._started = False

    @contextmanager
    def reach(self) -> Iterator[Reach]:
        target = self.mesh.target  # starts the mesh when it is not up
        if target.name == "local" and not self._started:
            self.services.ensure("ingress")
            self._started = True
        try:
            with target.gateway_reach() as found:
                yield found
        except MeshUnreachable as exc:
            fail(str(exc))

    # -- traffic

    def get(self, path: str = "/get", headers: dict[str, str] | None = None) -> httplib.Response:
        """One request through the gateway's listener."""
        with self.reach() as reach:
            try:
                return httplib.request(reach.inbound + path, headers=headers, timeout=self.mesh.deadline.left(5))
            except httplib.NoResponse as exc:
                fail(f"the request through the ingress gateway got no answer: {exc}",
                     hint="`workshop env status` shows whether the gateway runs; `workshop env logs ingress` what it said")

    def until(self, seen: Callable[[httplib.Response], bool], timeout: float = 30.0, path: str = "/get") -> httplib.Response:
        """Requests through the gateway until one is ``seen``; the last response either way."""
        last = requests_until(self.reach, self.mesh.deadline, seen, path=path, timeout=timeout, every=0.2)
        return last if last is not None else self.get(path)

    # -- what its Envoy runs

    def _admin(self, read: Callable[[Reach], Any], timeout: float = 20.0) -> Any:
        """``read(reach)`` from the gateway's Envoy admin; asked again while it is busy (it compiles a new
        module on its main thread, and the admin waits meanwhile)."""
        answer, error = admin_answer(self.reach, read, timeout=self.mesh.deadline.left(timeout), every=0.2)
        if error is not None:
            fail(f"the ingress gateway's Envoy admin does not answer: {error}",
                 hint="`workshop env logs ingress` shows what Envoy is doing")
        return answer

    def filters(self) -> list[status.InEnvoy]:
        return self._admin(status.in_envoy)

    def chain(self) -> list[str]:
        return self._admin(lambda reach: status.listener_chain(status.listeners(reach), urlparse(reach.inbound).port or 80))

    def refused(self) -> list[str]:
        return self._admin(lambda reach: status.refused(status.listeners(reach)))

    def explain_refused_filter(self, summary: str, namespace: str, name: str) -> None:
        """A failing verdict in Envoy's words when the gateway's Envoy refused the filter of namespace/name."""
        with self.reach() as reach:
            explain_refused_filter(status.refused_filters_of(self.mesh.target, reach), summary, namespace, name)

    def inline_code(self, name: str) -> str | None:
        """The Lua code of the filter ``name`` in the gateway's listener (None: no such filter)."""
        dump = self._admin(status.listeners)
        for entry in dump.get("configs") or []:
            for chain in (((entry.get("active_state") or {}).get("listener") or {}).get("filter_chains") or []):
                for f in chain.get("filters") or []:
                    for http_filter in (f.get("typed_config") or {}).get("http_filters") or []:
                        if http_filter.get("name") == name:
                            typed = http_filter.get("typed_config") or {}
                            return str((typed.get("default_source_code") or {}).get("inline_string") or "")
        return None

    def in_force(self, kind: str, name: str, namespace: str, want: str = "wasm",
                 timeout: float = 30.0) -> status.InEnvoy | None:
        """What the resource became in the gateway's Envoy, named in its listener, once it is ``want`` (or the
        last thing seen, or None)."""
        def look() -> status.InEnvoy | None:
            # Envoy keeps a filter's last ECDS configuration after no listener names it any more: only one the
            # listener names is in force
            chain = self.chain()
            return next((f for f in self.filters() if f.resource == (kind, namespace, name) and f.name in chain), None)

        return waiting.until(look, lambda found: found is not None and found.kind == want,
                             timeout=self.mesh.deadline.left(timeout), every=0.2).seen

    def config_dump(self) -> dict:
        return self._admin(lambda reach: json.loads(httplib.request(reach.admin + "/config_dump", timeout=status.ADMIN_TIMEOUT).text))

    # -- what tells an operator that a module failed

    def agent_metric(self, name: str, **labels: str) -> float:
        """A counter of the gateway's istio-agent, from the merged Prometheus page of its status port."""
        with self.reach() as reach:
            return status.metric(_page(reach.agent_stats), name, **labels)

    def sidecar_metric(self, name: str, **labels: str) -> float:
        with self.mesh.reach() as reach:
            return status.metric(_page(reach.agent_stats), name, **labels)

    def istiod_metric(self, name: str, **labels: str) -> float:
        try:
            return status.metric(self.mesh.target.istiod_metrics(), name, **labels)
        except MeshUnreachable as exc:
            fail(str(exc))


def _page(url: str) -> str:
    try:
        return httplib.request(url, timeout=status.ADMIN_TIMEOUT).text if url else ""
    except httplib.NoResponse as exc:
        fail(f"the istio-agent's metrics did not answer at {url}: {exc}")


@pytest.fixture
def gateway(mesh: Mesh, services: Any) -> Gateway:
    return Gateway(mesh, services)
