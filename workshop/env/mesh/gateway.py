"""The mesh's ingress gateway: the real istio-agent running a gateway Envoy (`pilot-agent proxy router`),
as Istio's istio-ingressgateway runs one, in front of the workload.

It is a workload of istio-system with the labels of Istio's own ingress gateway (istio: ingressgateway),
so istiod gives it the listeners of the Gateway resources that select it. With no cluster there is no
Kubernetes Service with endpoints for httpbin (the API server refuses loopback endpoints); a ServiceEntry
does the job: the host httpbin.default.svc.cluster.local whose one endpoint is the sidecar's inbound
listener on 127.0.0.1. A request to the gateway so takes the path it takes in a cluster: the gateway's
Envoy, then the workload's sidecar, then httpbin. The gateway's listener is bound to 127.0.0.1 (the
Gateway's `bind`), on a port of the workshop's choosing; it needs no root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from workshop.core.atomic import write_atomic
from workshop.env.mesh.control_plane import NEVER_THE_CLOUD, _MeshProgram
from workshop.env.mesh.kube import Kube, mesh_data
from workshop.env.mesh.sidecar import (
    AGENT_DATA,
    IN_IMAGE_ENVOY,
    OWN_AGENT_DATA,
    _bootstrap,
    _made,
    _root_cert,
    private_var_lib,
)
from workshop.env.services.records import HOST, ServiceError, work_dir
from workshop.env.services.service import IN_CONTAINER, Plan, Ports, get

if TYPE_CHECKING:
    from workshop.env.services.records import ServiceInfo

GATEWAY_WORKLOAD = {"name": "istio-ingressgateway", "namespace": "istio-system",
                    "labels": {"istio": "ingressgateway", "app": "istio-ingressgateway"}}
GATEWAY_NAME = "ingress"  # the Gateway resource (istio-system/ingress)
HTTPBIN_HOST = "httpbin.default.svc.cluster.local"
HTTPBIN_PORT = 8000  # the service port, as in Istio's samples/httpbin; its endpoint is the sidecar's listener
# its own folder for the agent's bootstrap and XDS socket: in a grading container it shares /var/lib/istio
# with the sidecar's agent, whose socket is in /var/lib/istio/proxy
GATEWAY_CONFIG = "/var/lib/istio/gateway"
GATEWAY_RESOURCES = """\
apiVersion: v1
kind: ServiceAccount
metadata: {{name: istio-ingressgateway, namespace: istio-system}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: {gateway}, namespace: istio-system}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: {port}, name: http, protocol: HTTP}}
    bind: 127.0.0.1
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: httpbin, namespace: default}}
spec:
  hosts: [{host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {{number: {service_port}, name: http, protocol: HTTP}}
  endpoints:
  - address: 127.0.0.1
    ports: {{http: {sidecar}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: httpbin, namespace: default}}
spec:
  hosts: ["*"]
  gateways: [istio-system/{gateway}]
  http:
  - route:
    - destination: {{host: {host}, port: {{number: {service_port}}}}}
"""


def gateway_resources(port: int, sidecar: int) -> str:
    """The gateway's ServiceAccount, its Gateway on ``port``, and the route to the workload's sidecar."""
    return GATEWAY_RESOURCES.format(gateway=GATEWAY_NAME, port=port, host=HTTPBIN_HOST, service_port=HTTPBIN_PORT,
                                    sidecar=sidecar)


class IngressGateway(_MeshProgram):
    name, title, binary_name = "ingress", "the mesh's ingress gateway (istio-agent and Envoy)", "pilot-agent"
    ports: ClassVar[dict[str, str]] = {"listener": "ingress", "admin": "ingress_admin", "status": "ingress_status",
                                       "health": "ingress_health", "metrics": "ingress_metrics"}
    needs = ("istiod", "sidecar")

    def image_files(self) -> list[tuple[Path, str]]:
        from workshop.env.envoy import find_envoy

        return [(self.binary(), f"/usr/local/bin/{self.binary_name}"), (find_envoy()[0], IN_IMAGE_ENVOY),
                (_bootstrap(), "/etc/istio/bootstrap/envoy_bootstrap.json")]

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        from workshop.env.envoy import find_envoy

        here = work_dir(self.name)
        sidecar = up["sidecar"].port if "sidecar" in up else ports.sidecar
        kube = Kube.local()
        applied = kube.apply(gateway_resources(ports.ingress, sidecar), force=True)
        if not applied.ok:
            raise ServiceError(f"the ingress gateway's Gateway, ServiceEntry and VirtualService could not be applied: "
                               f"{applied.text[-400:]}")
        namespace = GATEWAY_WORKLOAD["namespace"]
        token = kube.run("create", "token", GATEWAY_WORKLOAD["name"], "-n", namespace, "--audience", "istio-ca",
                         "--duration", "24h")
        if not token.ok:
            raise ServiceError(f"the ingress gateway's identity token could not be made: {token.text[-400:]}")
        write_atomic(here / "var/run/secrets/tokens/istio-token", token.text.strip())
        write_atomic(here / "var/run/secrets/istio/root-cert.pem", _root_cert(kube))
        at = IN_CONTAINER if in_container else str(here)
        proxy_config = {
            "discoveryAddress": f"localhost:{ports.istiod_xds}",
            "binaryPath": IN_IMAGE_ENVOY if in_container else str(find_envoy()[0]),
            "proxyBootstrapTemplatePath": "/etc/istio/bootstrap/envoy_bootstrap.json" if in_container else str(_bootstrap()),
            "configPath": GATEWAY_CONFIG, "proxyAdminPort": ports.ingress_admin, "statusPort": ports.ingress_status,
            "drainDuration": "1s", "terminationDrainDuration": "1s",
        }
        env = {**NEVER_THE_CLOUD, "POD_NAME": GATEWAY_WORKLOAD["name"], "POD_NAMESPACE": namespace,
               "INSTANCE_IP": HOST, "SERVICE_ACCOUNT": GATEWAY_WORKLOAD["name"], "ISTIO_META_CLUSTER_ID": "Kubernetes",
               "ISTIO_METAJSON_LABELS": json.dumps(GATEWAY_WORKLOAD["labels"]),
               "ISTIO_META_WORKLOAD_NAME": GATEWAY_WORKLOAD["name"], "ISTIO_META_DNS_CAPTURE": "false",
               "ISTIO_META_UNPRIVILEGED_POD": "true",  # istiod then never gives it a port below 1024
               "ENVOY_STATUS_PORT": str(ports.ingress_health), "ENVOY_PROMETHEUS_PORT": str(ports.ingress_metrics),
               "METRICS_LOCALHOST_ACCESS_ONLY": "true", "WASM_INSECURE_REGISTRIES": "*",
               "PROXY_CONFIG": json.dumps(proxy_config), "HOME": at}
        args = ["proxy", "router", "--domain", f"{namespace}.svc.cluster.local",
                "--log_output_level=default:info,wasm:debug", "--proxyLogLevel=warning,wasm:info"]
        cache = mesh_data() / "wasm-ingress"  # its own Wasm cache, as each gateway pod has
        cache.mkdir(parents=True, exist_ok=True)
        details: dict[str, str | int] = {"routes to": f"{HTTPBIN_HOST} (the sidecar on {HOST}:{sidecar})"}
        if in_container:
            return Plan(args=args, env=env, cwd=here, details=details,
                        mounts={str(here): (IN_CONTAINER, "rw"), str(cache): (AGENT_DATA, "rw"),
                                str(_made(here / "proxy")): (GATEWAY_CONFIG, "rw")})
        if os.environ.get(OWN_AGENT_DATA) == "1":  # a grading container: /var/lib/istio is its own
            Path(AGENT_DATA).mkdir(parents=True, exist_ok=True)
            Path(GATEWAY_CONFIG).mkdir(parents=True, exist_ok=True)
            return Plan(args=args, env=env, cwd=here, details=details)
        env.update({"AGENT_DATA": AGENT_DATA, "AGENT_CONFIG": GATEWAY_CONFIG, "WASM_CACHE": str(cache)})
        return Plan(args=args, env=env, cwd=here, details=details, wrap=private_var_lib())

    def ready(self, ports: dict[str, int]) -> bool:
        resp = get(f"http://{HOST}:{ports['health']}/healthz/ready")  # Istio's readiness: its config came
        if resp is None or resp.status != 200:
            return False
        answer = get(f"http://{HOST}:{ports['listener']}/status/200")  # and the Gateway's route reaches httpbin
        return answer is not None and answer.status == 200


INGRESS = IngressGateway()
