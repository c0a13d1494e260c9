"""The Kubernetes API, asked the way a learner asks it: kubectl, with one kubeconfig.

The local mesh's kubeconfig is ours (the API server we start); a learner's cluster (kind with Istio)
is the same code with their kubeconfig and context. Nothing here decides whether a resource is valid:
the API server (its schema and CEL rules) and istiod's webhook do, and their words come back as they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from workshop.core.errors import WorkshopError
from workshop.core.locations import cache_dir, data_dir
from workshop.core.logs import json_answer
from workshop.env import supervisor
from workshop.env.supervisor import Result
from workshop.env.tools import tool_path


class KubeError(WorkshopError):
    """kubectl could not be run, or the API server did not answer."""


def mesh_data() -> Path:
    """The local mesh's lasting state: etcd's data, the API server's keys, the agent's Wasm cache."""
    return data_dir() / "mesh"


def local_kubeconfig() -> Path:
    return mesh_data() / "kubeconfig"


def kubectl_path() -> Path:
    found = tool_path("kubectl")
    if found is None:
        raise KubeError("kubectl was not found: run `workshop prepare` (it builds the one that goes with the mesh)")
    return found


@dataclass
class Kube:
    """kubectl against one cluster: ``kubeconfig`` (None: kubectl's own default) and ``context``."""

    kubeconfig: Path | None
    context: str | None = None

    @classmethod
    def local(cls) -> Kube:
        return cls(local_kubeconfig())

    def argv(self, *args: str) -> list[str]:
        base = [str(kubectl_path())]
        if self.kubeconfig is not None:
            base += ["--kubeconfig", str(self.kubeconfig)]
        if self.context:
            base += ["--context", self.context]
        return [*base, *args]

    def run(self, *args: str, stdin: str | None = None, timeout: float = 60.0) -> Result:
        """``kubectl ARGS`` (``stdin`` given as ``-f -``), its output stripped; never raises for what the API
        server refuses."""
        try:
            done = supervisor.run(self.argv(*args), input=stdin, timeout=timeout, label="kubectl",
                                  env={**os.environ, "KUBECTL_COMMAND_HEADERS": "false",
                                       "KUBECACHEDIR": str(cache_dir() / "kube")})  # not ~/.kube: one per API server port
        except OSError as exc:
            raise KubeError(f"kubectl could not run ({exc.strerror or exc}): run `workshop prepare`") from None
        if done.timed_out:
            return replace(done, output=f"kubectl {' '.join(args[:3])} did not answer within {timeout:g} s")
        return replace(done, output=done.output.strip())

    def apply(self, manifest: str, *, server_side: bool = True, force: bool = False, dry_run: bool = False) -> Result:
        args = ["apply", "-f", "-"]
        if server_side:
            args += ["--server-side", "--field-manager", "wasm-workshop"]
        if force:
            args.append("--force-conflicts")
        if dry_run:
            args.append("--dry-run=server")
        return self.run(*args, stdin=manifest)

    def get(self, kind: str, name: str = "", namespace: str | None = "default", *, managed_fields: bool = False) -> dict | None:
        """The resource (or the list of them, ``{"items": [...]}``) as JSON; None when there is none. With
        ``managed_fields``, each with its metadata.managedFields (when each writer last changed it)."""
        args = ["get", kind, *([name] if name else []), "-o", "json", *(["--show-managed-fields"] if managed_fields else [])]
        args += ["-n", namespace] if namespace else ["--all-namespaces"]
        answer = self.run(*args)
        if not answer.ok:
            if "NotFound" in answer.output or "not found" in answer.output:
                return None
            raise KubeError(f"kubectl get {kind} failed: {answer.output.splitlines()[-1] if answer.output else answer.code}")
        return json_answer(answer.output)  # a warning of kubectl's may stand beside it

    def delete(self, kind: str, name: str, namespace: str = "default") -> Result:
        return self.run("delete", kind, name, "-n", namespace, "--ignore-not-found", "--wait=false")
