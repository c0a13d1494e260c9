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

from typing import TYPE_CHECKING, ClassVar

from workshop.env.mesh.kube import Kube
from workshop.env.mesh.sidecar import AgentRun, _Agent
from workshop.env.ports import Ports
from workshop.env.service import Plan, get
from workshop.env.service_records import HOST, ServiceError

if TYPE_CHECKING:
    from workshop.env.service_records import ServiceInfo

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


class IngressGateway(_Agent):
    name, title = "ingress", "the mesh's ingress gateway (istio-agent and Envoy)"
    ports: ClassVar[dict[str, str]] = {"listener": "ingress", "admin": "ingress_admin", "status": "ingress_status",
                                       "health": "ingress_health", "metrics": "ingress_metrics"}
    needs = ("istiod", "sidecar")

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        sidecar = up["sidecar"].port if "sidecar" in up else ports.sidecar
        kube = Kube.local()
        applied = kube.apply(gateway_resources(ports.ingress, sidecar), force=True)
        if not applied.ok:
            raise ServiceError(f"the ingress gateway's Gateway, ServiceEntry and VirtualService could not be applied: "
                               f"{applied.output[-400:]}")
        run = AgentRun(mode="router", pod=GATEWAY_WORKLOAD["name"], namespace=GATEWAY_WORKLOAD["namespace"],
                       service_account=GATEWAY_WORKLOAD["name"], labels=GATEWAY_WORKLOAD["labels"],
                       config_dir=GATEWAY_CONFIG, cache="wasm-ingress",  # its own Wasm cache, as each gateway pod has
                       admin=ports.ingress_admin, status=ports.ingress_status, health=ports.ingress_health,
                       metrics=ports.ingress_metrics,
                       env={"ISTIO_META_UNPRIVILEGED_POD": "true"})  # istiod then never gives it a port below 1024
        details: dict[str, str | int] = {"routes to": f"{HTTPBIN_HOST} (the sidecar on {HOST}:{sidecar})"}
        return self.agent_plan(run, kube, ports, in_container=in_container, details=details)

    def ready(self, ports: dict[str, int]) -> bool:
        resp = get(f"http://{HOST}:{ports['health']}/healthz/ready")  # Istio's readiness: its config came
        if resp is None or resp.status != 200:
            return False
        answer = get(f"http://{HOST}:{ports['listener']}/status/200")  # and the Gateway's route reaches httpbin
        return answer is not None and answer.status == 200


INGRESS = IngressGateway()
