"""The control plane, as services: etcd, the Kubernetes API server (with Istio's CRDs, the istio-system
namespace, the mesh configuration and istiod's validating webhook), and istiod itself.

All bind 127.0.0.1; istiod and the agent run with CLOUD_PLATFORM=none, so they never probe a cloud's
metadata address. Their lasting state (etcd's data, the API server's keys and token) lives in the
workshop's data folder; nothing needs root.
"""

from __future__ import annotations

import hashlib
import secrets
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from workshop.core import waiting
from workshop.core.atomic import write_atomic
from workshop.env import binaries, http
from workshop.env.mesh.kube import Kube, local_kubeconfig, mesh_data
from workshop.env.ports import Ports
from workshop.env.service import IN_CONTAINER, Plan, Service, get
from workshop.env.service_records import HOST, ServiceError, work_dir

if TYPE_CHECKING:
    from collections.abc import Callable

    from workshop.env.service_records import ServiceInfo

SETUP_ANNOTATION = "wasm-workshop.io/setup"  # on the mesh's ConfigMap: a digest of the setup applied
_ESCAPED = SETUP_ANNOTATION.replace(".", "\\.")  # as a jsonpath key
NEVER_THE_CLOUD = {"CLOUD_PLATFORM": "none"}  # istiod and the agent would probe 169.254.169.254 otherwise
MESH_CONFIG = """\
# The mesh's configuration (ConfigMap istio in istio-system). No defaultProviders: istiod would add
# its istio.stats filter, which the upstream Envoy the sidecar runs does not have.
trustDomain: cluster.local
rootNamespace: istio-system
enableTracing: false
accessLogFile: /dev/stdout
defaultConfig:
  discoveryAddress: localhost:{xds}
"""
WEBHOOK = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: istio-validator-istio-system
  labels: {{istio.io/rev: default, app: istiod}}
webhooks:
- name: rev.validation.istio.io
  # a name in istiod's serving certificate (ISTIOD_CUSTOM_HOST=localhost); istiod writes the caBundle
  # itself and turns failurePolicy to Fail once its own webhook answers
  clientConfig: {{url: "https://localhost:{port}/validate"}}
  rules:
  - operations: [CREATE, UPDATE]
    apiGroups: [security.istio.io, networking.istio.io, telemetry.istio.io, extensions.istio.io]
    apiVersions: ["*"]
    resources: ["*"]
  failurePolicy: Ignore
  sideEffects: None
  admissionReviewVersions: [v1, v1beta1]
  timeoutSeconds: 10
"""


class _MeshProgram(Service):
    """A program of the mesh, built by `workshop prepare`."""

    def binary(self) -> Path:
        built = binaries.program(self.binary_name)
        if not binaries.built(built):
            raise ServiceError(f"{self.title} is needed for {self.name} but `{self.binary_name}` is not built: run "
                               "`workshop prepare` (it builds the mesh's programs from their Go modules)")
        return built.path

    def image_version(self) -> str:
        return binaries._short(binaries.program(self.binary_name).version).strip("()").replace(" ", "-").lower()


class Etcd(_MeshProgram):
    name, title, binary_name = "etcd", "etcd (the API server's store)", "etcd"
    ports: ClassVar[dict[str, str]] = {"http": "etcd", "peer": "etcd_peer"}

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        data = mesh_data() / "etcd"
        data.mkdir(parents=True, exist_ok=True)
        inside = "/var/lib/etcd" if in_container else str(data)
        client, peer = f"http://{HOST}:{ports.etcd}", f"http://{HOST}:{ports.etcd_peer}"
        args = ["--name", "mesh", "--data-dir", inside, "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", f"mesh={peer}",
                "--unsafe-no-fsync", "--log-level", "warn",  # a workshop's store: speed over power-loss safety
                # one member elects itself: on a restart it waits one election timeout (1 s by default) first
                "--heartbeat-interval", "10", "--election-timeout", "100"]
        return Plan(args=args, mounts={str(data): ("/var/lib/etcd", "rw")})

    def ready(self, ports: dict[str, int]) -> bool:
        resp = get(f"http://{HOST}:{ports['http']}/health")
        return resp is not None and resp.status == 200


class KubeAPIServer(_MeshProgram):
    name, title, binary_name = "kube-apiserver", "the Kubernetes API server", "kube-apiserver"
    ports: ClassVar[dict[str, str]] = {"https": "kube_api"}
    needs = ("etcd",)

    @staticmethod
    def home() -> Path:
        return mesh_data() / "kube-apiserver"

    def token(self) -> str:
        return (self.home() / "tokens.csv").read_text().split(",", 1)[0]

    def _keys(self) -> None:
        """The service-account signing key pair and an admin token, made once and kept."""
        home = self.home()
        if (home / "sa.key").exists() and (home / "tokens.csv").exists():
            return
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_atomic(home / "sa.key", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
        write_atomic(home / "sa.pub", key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                    serialization.PublicFormat.SubjectPublicKeyInfo))
        write_atomic(home / "tokens.csv", f'{secrets.token_hex(16)},admin,admin,"system:masters"\n')
        (home / "tokens.csv").chmod(0o600)

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        home = self.home()
        (home / "certs").mkdir(parents=True, exist_ok=True)
        self._keys()
        write_atomic(local_kubeconfig(), _kubeconfig(ports.kube_api, home / "certs" / "apiserver.crt", self.token()))
        local_kubeconfig().chmod(0o600)
        at = IN_CONTAINER if in_container else str(home)
        args = [f"--etcd-servers=http://{HOST}:{ports.etcd}", f"--bind-address={HOST}", f"--advertise-address={HOST}",
                f"--secure-port={ports.kube_api}", f"--cert-dir={at}/certs", f"--token-auth-file={at}/tokens.csv",
                "--authorization-mode=RBAC", "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={at}/sa.pub", f"--service-account-signing-key-file={at}/sa.key",
                "--service-cluster-ip-range=10.96.0.0/24",  # configuration only: nothing routes there
                "--endpoint-reconciler-type=none", "--disable-admission-plugins=ServiceAccount", "--profiling=false"]
        return Plan(args=args, mounts={str(home): (IN_CONTAINER, "rw")})

    def ready(self, ports: dict[str, int]) -> bool:
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE  # its own cert, made at its start
        try:
            resp = http.request(f"https://{HOST}:{ports['https']}/readyz", timeout=1.0, context=unverified,
                                headers={"Authorization": f"Bearer {self.token()}"})
        except (http.NoResponse, OSError):
            return False
        return resp.status == 200

    def after_ready(self, info: ServiceInfo, ports: Ports, say: Callable[[str], None]) -> None:
        """Istio's CRDs (established), the istio-system namespace, the mesh configuration, the webhook."""
        kube = Kube.local()
        crds = binaries.crds()
        if not crds.is_file():
            raise ServiceError("Istio's CRDs are missing: run `workshop prepare`")
        config = MESH_CONFIG.format(xds=ports.istiod_xds)
        write_atomic(work_dir("istiod") / "mesh.yaml", config)
        webhook = WEBHOOK.format(port=ports.istiod_webhook)
        digest = hashlib.sha256(crds.read_bytes() + config.encode() + webhook.encode()).hexdigest()[:16]
        # The API server keeps what was applied (in etcd): on a warm start the same setup is not applied again.
        applied = kube.run("get", "configmap", "istio", "-n", "istio-system", "-o",
                           f"jsonpath={{.metadata.annotations.{_ESCAPED}}}")
        if applied.ok and applied.output.strip() == digest:
            say("Istio's CRDs, istio-system, the mesh configuration and istiod's webhook are in place from the last start")
            return
        say("applying Istio's CRDs, the istio-system namespace, the mesh configuration and istiod's webhook")
        _must(kube.apply(crds.read_text(), force=True), "applying Istio's CRDs")
        if not waiting.until(lambda: kube.run("wait", "--for=condition=Established", "crd", "--all", "--timeout=30s").ok,
                             timeout=60, every=0.2).ready:
            raise ServiceError("Istio's CRDs were not established in time")
        manifest = ("apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n---\n"
                    f"{webhook}---\n"  # the ConfigMap last: its annotation says that everything is in place
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  namespace: istio-system\n"
                    f"  annotations: {{{SETUP_ANNOTATION}: \"{digest}\"}}\n"
                    f"data:\n  mesh: |\n{_indent(config, 4)}\n")
        _must(kube.apply(manifest, force=True), "setting up istio-system")  # force: istiod owns the webhook's fields


class Istiod(_MeshProgram):
    name, title, binary_name = "istiod", "istiod (pilot-discovery)", "pilot-discovery"
    ports: ClassVar[dict[str, str]] = {"http": "istiod_http", "xds": "istiod_xds", "grpc": "istiod_grpc",
                                       "webhook": "istiod_webhook", "monitoring": "istiod_monitoring",
                                       "ctrlz": "istiod_ctrlz"}
    needs = ("kube-apiserver",)

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        here = work_dir(self.name)
        at = IN_CONTAINER if in_container else str(here)
        kubeconfig = f"{at}/kubeconfig"
        write_atomic(here / "kubeconfig", local_kubeconfig().read_text().replace(
            str(KubeAPIServer.home()), IN_CONTAINER + "/apiserver") if in_container else local_kubeconfig().read_text())
        args = ["discovery", f"--kubeconfig={kubeconfig}", f"--meshConfig={at}/mesh.yaml",
                f"--grpcAddr={HOST}:{ports.istiod_grpc}", f"--secureGRPCAddr={HOST}:{ports.istiod_xds}",
                f"--httpsAddr={HOST}:{ports.istiod_webhook}", f"--httpAddr={HOST}:{ports.istiod_http}",
                f"--monitoringAddr={HOST}:{ports.istiod_monitoring}", f"--ctrlz_address={HOST}",
                f"--ctrlz_port={ports.istiod_ctrlz}", "--domain=cluster.local", "--clusterID=Kubernetes"]
        env = {**NEVER_THE_CLOUD, "POD_NAMESPACE": "istio-system", "POD_NAME": "istiod-local", "REVISION": "default",
               "ISTIOD_CUSTOM_HOST": "localhost", "KUBECONFIG": kubeconfig, "INJECTION_WEBHOOK_CONFIG_NAME": "",
               # both would add filters only Istio's own Envoy build has; the sidecar runs the upstream one
               "PILOT_ENABLE_METADATA_EXCHANGE": "false", "PILOT_ENABLE_ALPN_FILTER": "false"}
        mounts = {str(here): (IN_CONTAINER, "rw"), str(KubeAPIServer.home() / "certs"): (IN_CONTAINER + "/apiserver/certs", "ro")}
        return Plan(args=args, env=env, mounts=mounts, cwd=here)

    def ready(self, ports: dict[str, int]) -> bool:
        resp = get(f"http://{HOST}:{ports['http']}/ready")
        return resp is not None and resp.status == 200

    def after_ready(self, info: ServiceInfo, ports: Ports, say: Callable[[str], None]) -> None:
        """Wait until istiod's webhook judges every Istio resource (istiod turns it to Fail once it answers)."""
        kube = Kube.local()

        def fail_closed() -> bool:
            found = kube.run("get", "validatingwebhookconfiguration", "istio-validator-istio-system",
                             "-o", "jsonpath={.webhooks[0].failurePolicy}")
            return found.ok and found.output.strip() == "Fail"

        if not waiting.until(fail_closed, timeout=60, every=0.2).ready:
            raise ServiceError("istiod's validating webhook did not come up within 60 s (its log says why)")
        say("istiod validates every Istio resource applied (its webhook answers)")


def _kubeconfig(port: int, ca: Path, token: str) -> str:
    return (f"apiVersion: v1\nkind: Config\nclusters:\n- name: workshop-mesh\n  cluster:\n"
            f"    server: https://{HOST}:{port}\n    certificate-authority: {ca}\n"
            f"users:\n- name: admin\n  user: {{token: {token}}}\n"
            "contexts:\n- name: workshop-mesh\n  context: {cluster: workshop-mesh, user: admin}\n"
            "current-context: workshop-mesh\n")


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.rstrip("\n").splitlines())


def _must(answer, what: str) -> None:  # type: ignore[no-untyped-def]
    if not answer.ok:
        raise ServiceError(f"{what} failed: {answer.output[-600:]}")


ETCD, KUBE_API, ISTIOD = Etcd(), KubeAPIServer(), Istiod()
