"""The real-cluster target: kubectl applies WasmPlugins to a cluster with Istio, and checks them there.

What a learner needs: a cluster their kubectl's current context reaches (kind is enough:
`kind create cluster`), Istio installed in it (`istioctl install --set profile=minimal -y`), a
namespace with sidecar injection (`kubectl label namespace default istio-injection=enabled`),
httpbin deployed with the label app: httpbin (istio's samples/httpbin/httpbin.yaml), a sleep pod to
send requests from inside the mesh (samples/sleep/sleep.yaml), and the filter image in a registry the
cluster can pull from (for kind: a registry container joined to kind's network, see kind's
"local registry" guide). Nothing here talks to a cluster except through kubectl.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workshop.env.mesh.local import Outcome
from workshop.env.mesh.resources import MeshError, load_file

CRD_NAME = "wasmplugins.extensions.istio.io"
KUBECTL_TIMEOUT = 20.0
Runner = Callable[[Sequence[str], float], "tuple[int, str]"]


def run_kubectl(argv: Sequence[str], timeout: float = KUBECTL_TIMEOUT) -> tuple[int, str]:
    """Run a kubectl command (no shell); (exit code, output); 124 when it did not finish in time."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return 124, f"`{' '.join(argv[:3])} …` did not answer within {timeout:g} s"
    except OSError as exc:
        return 127, f"{argv[0]} could not run: {exc.strerror or exc}"
    return proc.returncode, (proc.stdout + proc.stderr).strip()


@dataclass
class ClusterTarget:
    """Istio in the cluster of kubectl's current context; ``namespace`` holds the workload."""

    kubectl: str
    context: str
    namespace: str = "default"
    workload: str = "httpbin"
    client: str = "sleep"  # the pod that sends requests from inside the mesh
    run: Runner = field(default=run_kubectl, repr=False)
    name: str = "cluster"

    @classmethod
    def from_kubectl(cls, run: Runner = run_kubectl) -> ClusterTarget:
        found = detect(run, explain=True)
        assert found is not None
        return found

    def base(self) -> list[str]:
        return [self.kubectl, "--context", self.context]

    # the commands, built apart from running them so they can be tested without a cluster
    def apply_command(self, path: Path) -> list[str]:
        return [*self.base(), "apply", "--namespace", self.namespace, "--server-side", "--field-manager", "workshop",
                "-f", str(path)]

    def get_command(self) -> list[str]:
        return [*self.base(), "get", "wasmplugins.extensions.istio.io", "--namespace", self.namespace, "-o", "json"]

    def delete_command(self, name: str, namespace: str) -> list[str]:
        return [*self.base(), "delete", "wasmplugins.extensions.istio.io", name, "--namespace", namespace,
                "--ignore-not-found=false", "--wait=false"]

    def config_dump_command(self) -> list[str]:
        """The workload's sidecar config, read from istio-proxy's admin inside its pod."""
        return [*self.base(), "exec", "--namespace", self.namespace, f"deploy/{self.workload}", "-c", "istio-proxy",
                "--", "pilot-agent", "request", "GET", "config_dump?resource=ecds_filters"]

    def request_command(self, path: str = "/get") -> list[str]:
        """A request from inside the mesh: from the sleep pod to the workload's service, headers printed."""
        return [*self.base(), "exec", "--namespace", self.namespace, f"deploy/{self.client}", "-c", self.client,
                "--", "curl", "-sS", "-o", "/dev/null", "-D", "-", "--max-time", "5",
                f"http://{self.workload}.{self.namespace}:8000{path}"]

    def _do(self, argv: list[str], what: str) -> str:
        code, out = self.run(argv, KUBECTL_TIMEOUT)
        if code != 0:
            raise MeshError(f"{what} failed in the cluster ({self.context}): {out.splitlines()[-1] if out else code}",
                            hint="run the same with kubectl to see more; `--target local` uses the local mesh")
        return out

    def apply(self, path: Path, progress: Callable[[str], None] = lambda _m: None) -> list[Outcome]:
        found = load_file(path)  # the same schema check as the local mesh, before the cluster sees it
        out = self._do(self.apply_command(path), "kubectl apply")
        outcomes = []
        for res, line in zip(found, out.splitlines() + [""] * len(found)):
            kind = "Secret" if res.__class__.__name__ == "PullSecret" else "WasmPlugin"
            action = line.rsplit(" ", 1)[-1] if line else "applied"
            outcomes.append(Outcome(kind, res.name, action, detail=f"in the cluster {self.context}"))
        return outcomes

    def get(self) -> list[dict]:
        data = json.loads(self._do(self.get_command(), "kubectl get wasmplugins") or "{}")
        return [{"kind": "WasmPlugin", "name": i["metadata"]["name"], "namespace": i["metadata"].get("namespace", ""),
                 "url": i.get("spec", {}).get("url", ""), "spec": i.get("spec", {})} for i in data.get("items", [])]

    def delete(self, name: str, namespace: str = "default") -> list[Outcome]:
        self._do(self.delete_command(name, namespace), "kubectl delete")
        return [Outcome("WasmPlugin", name, "deleted")]

    def ecds_filters(self) -> list[str]:
        """The names of the Wasm filters the workload's sidecar holds now."""
        dump = json.loads(self._do(self.config_dump_command(), "reading the sidecar's config") or "{}")
        names = []
        for section in dump.get("configs", []):
            for f in section.get("ecds_filters", []):
                names.append(f.get("ecds_filter", {}).get("name", ""))
        return names

    def request_headers(self, path: str = "/get") -> dict[str, str]:
        out = self._do(self.request_command(path), "a request from the sleep pod")
        headers = {}
        for line in out.splitlines()[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return headers

    def status(self) -> dict:
        return {"target": "cluster", "context": self.context, "workload": f"{self.namespace}/{self.workload}",
                "sidecar": {"ecds_filters": self.ecds_filters()}, "plugins": self.get()}


def detect(run: Runner = run_kubectl, explain: bool = False) -> ClusterTarget | None:
    """The cluster target when kubectl is installed, has a current context, and that cluster has Istio's
    WasmPlugin CRD; else None (or, with ``explain``, MeshError saying what is missing)."""
    def no(message: str, hint: str) -> None:
        if explain:
            raise MeshError(message, hint=hint)

    kubectl = shutil.which("kubectl")
    if not kubectl:
        no("kubectl is not installed, so there is no cluster to use", "install kubectl, or use --target local")
        return None
    code, context = run([kubectl, "config", "current-context"], 5.0)
    if code != 0 or not context.strip():
        no("kubectl has no current context", "create a cluster (`kind create cluster`), or use --target local")
        return None
    context = context.strip().splitlines()[-1]
    code, out = run([kubectl, "--context", context, "get", "crd", CRD_NAME, "-o", "name"], 8.0)
    if code != 0:
        no(f"the cluster {context} has no WasmPlugin CRD ({out.splitlines()[-1] if out else code})",
           "install Istio: `istioctl install --set profile=minimal -y`, or use --target local")
        return None
    return ClusterTarget(kubectl=kubectl, context=context, run=run)
