"""The workload's sidecar: the real istio-agent (pilot-agent) running the upstream Envoy 1.40, in front
of go-httpbin, as Istio's VM workloads run one: no Kubernetes pod, no kubelet, no iptables.

Its identity is a ServiceAccount token from the TokenRequest API (audience istio-ca) and the root
certificate istiod publishes, so it talks to istiod over the authenticated XDS connection (which is
also what lets istiod send it an imagePullSecret). A `Sidecar` resource gives it one inbound listener
bound to 127.0.0.1 that forwards to httpbin. The agent keeps its Wasm cache in the constant folder
/var/lib/istio/data: as a local process it gets a private view of /var/lib (an unprivileged user and
mount namespace) with the workshop's own folder there; in a container the image has its own.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from workshop.core import waiting
from workshop.core.atomic import write_atomic
from workshop.env import binaries, supervisor
from workshop.env.envoy import find_envoy
from workshop.env.mesh.control_plane import NEVER_THE_CLOUD, _MeshProgram
from workshop.env.mesh.kube import Kube, mesh_data
from workshop.env.ports import Ports
from workshop.env.service import IN_CONTAINER, Plan, get
from workshop.env.service_records import HOST, ServiceError, work_dir

if TYPE_CHECKING:
    from workshop.env.service_records import ServiceInfo

WORKLOAD = {"name": "httpbin", "namespace": "default", "labels": {"app": "httpbin"}}
AGENT_DATA = "/var/lib/istio/data"  # pkg/config/constants.IstioDataDir: no flag or variable moves it
# where the agent writes Envoy's bootstrap and its XDS socket: short (a socket's path has at most 107
# bytes) and private, beside its data
AGENT_CONFIG = "/var/lib/istio/proxy"
OWN_AGENT_DATA = "WORKSHOP_OWN_AGENT_DATA"  # "1": AGENT_DATA is writable and this machine's alone (a container)
IN_IMAGE_ENVOY = "/usr/local/bin/envoy"
WORKLOAD_RESOURCES = """\
apiVersion: v1
kind: ServiceAccount
metadata: {{name: httpbin, namespace: default}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: httpbin, namespace: default}}
spec:
  workloadSelector:
    labels: {{app: httpbin}}
  ingress:
  - port: {{number: {port}, protocol: HTTP, name: http}}
    bind: 127.0.0.1
    captureMode: NONE
    defaultEndpoint: 127.0.0.1:{upstream}
  egress:
  - hosts: ["istio-system/*"]
"""
# The private /var/lib: a tmpfs over it in a mount namespace of the sidecar's own, our folder at the
# agent's data path; then the agent itself (the arguments after `sh`).
PRIVATE_VAR_LIB = ('set -e; mount -t tmpfs -o mode=755 tmpfs /var/lib; mkdir -p "$AGENT_DATA" "$AGENT_CONFIG"; '
                   'mount --bind "$WASM_CACHE" "$AGENT_DATA"; exec "$@"')


@dataclass(frozen=True)
class AgentRun:
    """What differs between the istio-agents the mesh runs (the workload's sidecar, the ingress gateway)."""

    mode: str  # `pilot-agent proxy MODE`: sidecar or router
    pod: str
    namespace: str
    service_account: str
    labels: dict[str, str]
    config_dir: str  # where it writes Envoy's bootstrap and its XDS socket
    cache: str  # its Wasm cache, a folder of the mesh's data
    admin: int
    status: int
    health: int
    metrics: int
    env: dict[str, str] = field(default_factory=dict)


class _Agent(_MeshProgram):
    """A real istio-agent and the Envoy it runs, with an identity as Istio's VM workloads get one."""

    binary_name = "pilot-agent"

    def image_files(self) -> list[tuple[Path, str]]:
        return [(self.binary(), f"/usr/local/bin/{self.binary_name}"), (find_envoy()[0], IN_IMAGE_ENVOY),
                (_bootstrap(), "/etc/istio/bootstrap/envoy_bootstrap.json")]

    def agent_plan(self, run: AgentRun, kube: Kube, ports: Ports, *, in_container: bool,
                   details: dict[str, str | int]) -> Plan:
        here = work_dir(self.name)
        token = kube.run("create", "token", run.service_account, "-n", run.namespace, "--audience", "istio-ca",
                         "--duration", "24h")
        if not token.ok:
            raise ServiceError(f"{self.title}: its identity token could not be made: {token.output[-400:]}")
        write_atomic(here / "var/run/secrets/tokens/istio-token", token.output.strip())
        write_atomic(here / "var/run/secrets/istio/root-cert.pem", _root_cert(kube))
        proxy_config = {
            "discoveryAddress": f"localhost:{ports.istiod_xds}",
            "binaryPath": IN_IMAGE_ENVOY if in_container else str(find_envoy()[0]),
            "proxyBootstrapTemplatePath": "/etc/istio/bootstrap/envoy_bootstrap.json" if in_container else str(_bootstrap()),
            "configPath": run.config_dir, "proxyAdminPort": run.admin,
            "statusPort": run.status,  # bound to 127.0.0.1: `workshop prepare` builds the agent so
            "drainDuration": "1s", "terminationDrainDuration": "1s",
        }
        env = {**NEVER_THE_CLOUD, "POD_NAME": run.pod, "POD_NAMESPACE": run.namespace, "INSTANCE_IP": HOST,
               "SERVICE_ACCOUNT": run.service_account, "ISTIO_META_CLUSTER_ID": "Kubernetes",
               "ISTIO_METAJSON_LABELS": json.dumps(run.labels), "ISTIO_META_WORKLOAD_NAME": run.service_account,
               "ISTIO_META_DNS_CAPTURE": "false", "ENVOY_STATUS_PORT": str(run.health),
               "ENVOY_PROMETHEUS_PORT": str(run.metrics), "METRICS_LOCALHOST_ACCESS_ONLY": "true",
               "WASM_INSECURE_REGISTRIES": "*",  # the local registries speak plain HTTP
               "PROXY_CONFIG": json.dumps(proxy_config), "HOME": IN_CONTAINER if in_container else str(here), **run.env}
        args = ["proxy", run.mode, "--domain", f"{run.namespace}.svc.cluster.local",
                "--log_output_level=default:info,wasm:debug", "--proxyLogLevel=warning,wasm:info"]
        cache = mesh_data() / run.cache
        cache.mkdir(parents=True, exist_ok=True)
        if in_container:
            return Plan(args=args, env=env, cwd=here, details=details,
                        mounts={str(here): (IN_CONTAINER, "rw"), str(cache): (AGENT_DATA, "rw"),
                                str(_made(here / "proxy")): (run.config_dir, "rw")})
        if os.environ.get(OWN_AGENT_DATA) == "1":  # a grading container: its /var/lib/istio is a tmpfs of its own
            Path(AGENT_DATA).mkdir(parents=True, exist_ok=True)  # the agent makes only the folders inside it
            Path(run.config_dir).mkdir(parents=True, exist_ok=True)
            return Plan(args=args, env=env, cwd=here, details=details)
        env.update({"AGENT_DATA": AGENT_DATA, "AGENT_CONFIG": run.config_dir, "WASM_CACHE": str(cache)})
        return Plan(args=args, env=env, cwd=here, details=details, wrap=private_var_lib())


class Sidecar(_Agent):
    name, title = "sidecar", "the workload's sidecar (istio-agent and Envoy)"
    ports: ClassVar[dict[str, str]] = {"listener": "sidecar", "admin": "sidecar_admin", "status": "sidecar_status",
                                       "health": "sidecar_health", "metrics": "sidecar_metrics"}
    needs = ("istiod", "httpbin")
    upstream = ("httpbin", "httpbin")

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        upstream = self.upstream_port(ports, up)
        kube = Kube.local()
        applied = kube.apply(WORKLOAD_RESOURCES.format(port=ports.sidecar, upstream=upstream), force=True)
        if not applied.ok:
            raise ServiceError(f"the workload's ServiceAccount and Sidecar could not be applied: {applied.output[-400:]}")
        run = AgentRun(mode="sidecar", pod=WORKLOAD["name"], namespace=WORKLOAD["namespace"], service_account="httpbin",
                       labels=WORKLOAD["labels"], config_dir=AGENT_CONFIG, cache="wasm", admin=ports.sidecar_admin,
                       status=ports.sidecar_status, health=ports.sidecar_health, metrics=ports.sidecar_metrics,
                       env={"ISTIO_META_INTERCEPTION_MODE": "NONE"})
        return self.agent_plan(run, kube, ports, in_container=in_container, details={"upstream": upstream})

    def ready(self, ports: dict[str, int]) -> bool:
        resp = get(f"http://{HOST}:{ports['health']}/healthz/ready")  # Istio's own readiness: its config came
        if resp is None or resp.status != 200:
            return False
        with socket.socket() as s:  # and the inbound listener takes connections
            s.settimeout(1.0)
            return s.connect_ex((HOST, ports["listener"])) == 0


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def private_var_lib() -> list[str]:
    """The command that gives what follows it its own /var/lib (no root needed); ServiceError when this
    machine allows no unprivileged user namespaces."""
    unshare = shutil.which("unshare")
    wrap = [unshare or "unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]
    tried = supervisor.run([*wrap, "sh", "-c", "mount -t tmpfs tmpfs /var/lib"], timeout=10,
                           label="unshare") if unshare else None
    if tried is None or not tried.ok:
        why = "unshare is missing (util-linux)" if tried is None else (tried.output.strip() or f"exit {tried.code}")
        raise ServiceError(f"the sidecar needs its own /var/lib/istio/data, which the istio-agent cannot be told to "
                           f"move, and this machine gives no private one without root ({why}): run the mesh in "
                           "containers (`workshop env up mesh --backend docker`), or allow unprivileged user "
                           "namespaces (sysctl kernel.unprivileged_userns_clone=1)")
    return [*wrap, "sh", "-c", PRIVATE_VAR_LIB, "sh"]


def _bootstrap() -> Path:
    """Istio's bootstrap template with every address it would open on all interfaces set to 127.0.0.1."""
    template = binaries.bootstrap_template()
    if not template.is_file():
        raise ServiceError("Istio's bootstrap template is missing: run `workshop prepare`")
    ours = mesh_data() / "envoy_bootstrap.json"
    text = template.read_text().replace("{{ .wildcard }}", HOST).replace("{{ .additional_wildcard }}", HOST)
    if not ours.exists() or ours.read_text() != text:
        write_atomic(ours, text)
    return ours


def _root_cert(kube: Kube, timeout: float = 30.0) -> str:
    """The mesh's root certificate, which istiod publishes in every namespace (ConfigMap istio-ca-root-cert)."""
    waited = waiting.until(lambda: kube.run("get", "configmap", "istio-ca-root-cert", "-n", WORKLOAD["namespace"],
                                            "-o", "jsonpath={.data.root-cert\\.pem}"),
                           lambda found: found.ok and "BEGIN CERTIFICATE" in found.output, timeout=timeout, every=0.1)
    text = waited.seen.output if waited.seen is not None else ""
    if not waited.ready:
        raise ServiceError(f"istiod did not publish its root certificate within {timeout:g} s: {text[-300:]}")
    return text


SIDECAR = Sidecar()
