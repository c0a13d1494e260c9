"""Where the learner's resources go: the local mesh (the default) or their own cluster with Istio.

Both are one code path: the Kubernetes API through kubectl with a kubeconfig (ours, or theirs and a
context). What truly differs is how the workload's sidecar is reached: on the local mesh its Envoy
admin, its inbound listener and its agent's log are on this machine; in a cluster they are reached
through `kubectl port-forward` and `kubectl logs` of the workload's pod.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from workshop.core import waiting
from workshop.core.errors import UsageError, WorkshopError
from workshop.core.logs import read_tail
from workshop.env import http, services, supervisor
from workshop.env.mesh.kube import Kube, local_kubeconfig
from workshop.env.mesh.sidecar import WORKLOAD

GATEWAY_NAMESPACE = "istio-system"
ACCESS_LOG_ROOM = 4_000_000  # bytes of a proxy's log read to find its last lines among its access log's


class MeshUnreachable(WorkshopError):
    """The mesh (or a cluster) does not answer; the message says how to start it or reach it."""


@dataclass
class Reach:
    """Where the sidecar answers: its Envoy admin, its inbound listener, and its agent's log."""

    admin: str  # http://127.0.0.1:PORT
    inbound: str
    agent_stats: str = ""  # the istio-agent's own counters (its status port's /stats/prometheus)
    log: str = ""  # the agent's (and Envoy's) log file, when it is on this machine
    pod: tuple[str, str] = ("", "")  # (namespace, name) of its pod, in a cluster
    _forwards: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    def agent_log(self, kube: Kube, lines: int = 400) -> str:
        """The last ``lines`` of what the agent and its Envoy said, without Envoy's access log: a check that
        waits on traffic sends 20 requests a second, whose lines would push every other out of the window."""
        if self.log:
            text = read_tail(self.log, max_bytes=ACCESS_LOG_ROOM)
        else:
            namespace, pod = self.pod if self.pod[1] else (WORKLOAD["namespace"], _pod(kube))
            answer = kube.run("logs", pod, "-c", "istio-proxy", "-n", namespace, f"--tail={lines * 20}")
            text = answer.output if answer.ok else ""
        return "\n".join([line for line in text.splitlines() if not line.startswith("[")][-lines:])

    def close(self) -> None:
        for proc in self._forwards:
            supervisor.stop(proc, grace=1.0)


@dataclass
class Target:
    """One mesh: ``kube`` to talk to its API server, ``name`` local or cluster."""

    name: str
    kube: Kube

    @classmethod
    def local(cls) -> Target:
        return cls("local", Kube.local())

    @classmethod
    def cluster(cls, kubeconfig: str | None = None, context: str | None = None) -> Target:
        path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        return cls("cluster", Kube(_first(path), context))

    @contextlib.contextmanager
    def reach(self) -> Iterator[Reach]:
        """The sidecar's admin, inbound listener and log, for as long as the block runs."""
        if self.name == "local":
            yield local_reach()
            return
        found = Reach(admin="", inbound="")
        try:
            pod = _pod(self.kube)
            found.admin = _forward(self.kube, f"pod/{pod}", 15000, found)
            found.inbound = _forward(self.kube, f"pod/{pod}", 8080, found)
            found.agent_stats = _forward(self.kube, f"pod/{pod}", 15020, found) + "/stats/prometheus"
            yield found
        finally:
            found.close()

    @contextlib.contextmanager
    def gateway_reach(self) -> Iterator[Reach]:
        """The ingress gateway's admin, listener and agent counters (Istio's istio-ingressgateway in a cluster)."""
        if self.name == "local":
            yield local_gateway_reach()
            return
        found = Reach(admin="", inbound="")
        try:
            pod = _gateway_pod(self.kube)
            found.pod = (GATEWAY_NAMESPACE, pod)
            found.admin = _forward(self.kube, f"pod/{pod}", 15000, found, GATEWAY_NAMESPACE)
            found.inbound = _forward(self.kube, f"pod/{pod}", 8080, found, GATEWAY_NAMESPACE)  # its http2 targetPort
            found.agent_stats = _forward(self.kube, f"pod/{pod}", 15020, found, GATEWAY_NAMESPACE) + "/stats/prometheus"
            yield found
        finally:
            found.close()

    def istiod_metrics(self) -> str:
        """istiod's own metrics (its monitoring port's /metrics): through the API server's proxy in a cluster."""
        if self.name == "local":
            running = {i.name: i for i in services.status(wait=False)}
            if "istiod" not in running:
                raise MeshUnreachable("istiod is not running: start the mesh with `workshop env up mesh`")
            url = f"http://127.0.0.1:{running['istiod'].ports['monitoring']}/metrics"
            try:
                return http.request(url, timeout=5).text
            except http.NoResponse as exc:
                raise MeshUnreachable(f"istiod's monitoring port does not answer ({exc})") from None
        answer = self.kube.run("get", "--raw", "/api/v1/namespaces/istio-system/services/istiod:15014/proxy/metrics")
        if not answer.ok:
            raise MeshUnreachable(f"istiod's metrics could not be read through the API server: {answer.output[-300:]}")
        return answer.output


def choose(target: str | None = None, context: str | None = None) -> Target:
    """local (the default, or $WORKSHOP_MESH_TARGET) or cluster (kubectl's current context, or ``context``)."""
    chosen = (target or os.environ.get("WORKSHOP_MESH_TARGET") or "local").lower()
    if chosen == "local":
        return Target.local()
    if chosen == "cluster":
        return Target.cluster(context=context)
    raise UsageError(f"there is no mesh target called {chosen!r}: choose local or cluster")


def local_reach() -> Reach:
    """The local sidecar's addresses (from the service that runs it); MeshUnreachable when it is not up."""
    running = {i.name: i for i in services.status(wait=False)}
    sidecar = running.get("sidecar")
    if sidecar is None or not local_kubeconfig().exists():
        raise MeshUnreachable("the local mesh is not running: start it with `workshop env up mesh` (about 10 s; "
                              "it runs until `workshop env down`)")
    return Reach(admin=f"http://127.0.0.1:{sidecar.ports['admin']}", inbound=sidecar.url, log=sidecar.log,
                 agent_stats=f"http://127.0.0.1:{sidecar.ports['status']}/stats/prometheus")


def local_gateway_reach() -> Reach:
    """The local ingress gateway's addresses; MeshUnreachable when it is not up."""
    running = {i.name: i for i in services.status(wait=False)}
    gateway = running.get("ingress")
    if gateway is None or not local_kubeconfig().exists():
        raise MeshUnreachable("the mesh's ingress gateway is not running: start it with `workshop env up mesh ingress` "
                              "(it runs until `workshop env down`)")
    return Reach(admin=f"http://127.0.0.1:{gateway.ports['admin']}", inbound=gateway.url, log=gateway.log,
                 agent_stats=f"http://127.0.0.1:{gateway.ports['status']}/stats/prometheus")


def _gateway_pod(kube: Kube) -> str:
    answer = kube.run("get", "pods", "-n", GATEWAY_NAMESPACE, "-l", "istio=ingressgateway", "-o",
                      "jsonpath={.items[0].metadata.name}")
    if not answer.ok or not answer.output:
        raise MeshUnreachable("the cluster has no ingress gateway (a pod labelled istio=ingressgateway in istio-system): "
                              "install one with `istioctl install --set profile=default -y`, then try again")
    return answer.output.strip()


def _first(paths: str) -> os.PathLike[str] | None:
    first = paths.split(os.pathsep)[0]
    return Path(first) if first else None


def _pod(kube: Kube) -> str:
    answer = kube.run("get", "pods", "-n", WORKLOAD["namespace"], "-l", "app=httpbin", "-o", "jsonpath={.items[0].metadata.name}")
    if not answer.ok or not answer.output:
        raise MeshUnreachable("the cluster has no pod labelled app=httpbin in namespace default: deploy httpbin "
                              "with Istio's sidecar (Istio's samples/httpbin), then try again")
    return answer.output.strip()


def _forward(kube: Kube, what: str, port: int, into: Reach, namespace: str = WORKLOAD["namespace"]) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
    proc = supervisor.spawn(kube.argv("port-forward", "-n", namespace, what, f"{local}:{port}",
                                      "--address", "127.0.0.1"), label="kubectl port-forward")
    into._forwards.append(proc)

    def answers() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", local)) == 0

    if waiting.until(answers, timeout=15, every=0.1, ended=lambda: None if proc.poll() is None else "it ended").ready:
        return f"http://127.0.0.1:{local}"
    raise MeshUnreachable(f"`kubectl port-forward {what} {port}` did not come up: is the pod running?")
