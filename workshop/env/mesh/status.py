"""What is in force in the mesh, read from the real components: the extensions the API server holds
(WasmPlugins, TrafficExtensions, EnvoyFilters), what each became in the sidecar's Envoy (its ECDS
filters and inbound filter chain), and what the istio-agent said when it could not fetch a module.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

from workshop.env import http
from workshop.env.mesh.target import Reach, Target

KINDS = ("wasmplugins", "trafficextensions", "envoyfilters")
ECDS_PREFIX = "extensions.istio.io/trafficextension/"
TRANSLATED = "~istio-translated-wasmplugin"  # istiod turns every WasmPlugin into a TrafficExtension of this name
WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
FETCH_ERROR = re.compile(r"cannot fetch Wasm module|error in converting the wasm config|failed to fetch|wasm.*error", re.I)


@dataclass
class InEnvoy:
    """One filter the sidecar's Envoy got through ECDS, and what it is."""

    name: str
    kind: str  # "wasm", "deny-all", "allow-all" (what the agent puts in place of a module it could not fetch)
    module: str = ""  # the local file the agent wrote (named by the image's digest)
    config: str = ""  # the plugin configuration Envoy hands the module
    failure_policy: str = ""

    @property
    def resource(self) -> tuple[str, str, str] | None:
        """(kind, namespace, name) of the resource it came from."""
        if not self.name.startswith(ECDS_PREFIX):
            return None
        rest = self.name[len(ECDS_PREFIX):]
        kind = "WasmPlugin" if rest.endswith(TRANSLATED) else "TrafficExtension"
        namespace, _, name = rest.removesuffix(TRANSLATED).partition(".")
        return kind, namespace, name


@dataclass
class MeshView:
    target: str
    resources: list[dict] = field(default_factory=list)  # kind, namespace, name, and the spec's essentials
    filters: list[InEnvoy] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)  # the inbound listener's HTTP filters, in order
    envoy_uptime: int = -1  # seconds since Envoy (re)started: it never drops while filters are swapped
    fetch_errors: list[str] = field(default_factory=list)
    problem: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def filter_for(self, kind: str, name: str, namespace: str = "default") -> InEnvoy | None:
        return next((f for f in self.filters if f.resource == (kind, namespace, name)), None)


def resources(target: Target) -> list[dict]:
    """The extension resources the API server holds, all namespaces, with what matters of each spec."""
    found = []
    for kind in KINDS:
        listed = target.kube.get(kind, namespace=None) or {}
        for item in listed.get("items", []):
            spec = item.get("spec") or {}
            wasm = spec.get("wasm") or spec  # a TrafficExtension keeps the module in its wasm block
            found.append({
                "kind": item.get("kind", kind), "namespace": item["metadata"].get("namespace", ""),
                "name": item["metadata"]["name"], "url": wasm.get("url", ""), "sha256": wasm.get("sha256", ""),
                "phase": spec.get("phase", ""), "priority": spec.get("priority"),
                "failStrategy": wasm.get("failStrategy", ""), "imagePullPolicy": wasm.get("imagePullPolicy", ""),
                "lua": bool(spec.get("lua")),
            })
    return found


def in_envoy(reach: Reach) -> list[InEnvoy]:
    """The filters the sidecar's Envoy got through ECDS."""
    dump = json.loads(http.request(reach.admin + "/config_dump?resource=ecds_filters", timeout=5).text)
    found = []
    for entry in dump.get("configs") or []:
        ecds = entry.get("ecds_filter") or {}
        typed = ecds.get("typed_config") or {}
        kind = typed.get("@type", "")
        if kind == WASM_TYPE:
            config = typed.get("config") or {}
            code = ((config.get("vm_config") or {}).get("code") or {})
            module = ((code.get("local") or {}).get("filename") or ((code.get("remote") or {}).get("http_uri") or {}).get("uri", ""))
            raw = config.get("configuration") or {}
            found.append(InEnvoy(ecds.get("name", ""), "wasm", module, raw.get("value", "") if isinstance(raw, dict) else "",
                                 config.get("failure_policy", "")))
        elif kind == RBAC_TYPE:
            # the agent's stand-in for a module it could not fetch: no rules allow all; an ALLOW with no policy denies all
            denies = (typed.get("rules") or {}).get("action", "ALLOW") == "ALLOW" and "rules" in typed
            found.append(InEnvoy(ecds.get("name", ""), "deny-all" if denies else "allow-all"))
    return found


def chain(reach: Reach) -> list[str]:
    """The inbound listener's HTTP filters, in the order a request meets them."""
    dump = json.loads(http.request(reach.admin + "/config_dump?resource=dynamic_listeners", timeout=5).text)
    for entry in dump.get("configs") or []:
        listener = (entry.get("active_state") or {}).get("listener") or {}
        for fc in listener.get("filter_chains") or []:
            for f in fc.get("filters") or []:
                hcm = f.get("typed_config") or {}
                if str(hcm.get("@type", "")).endswith("HttpConnectionManager") and "inbound" in str(hcm.get("stat_prefix", "")):
                    return [h.get("name", "") for h in hcm.get("http_filters") or []]
    return []


def uptime(reach: Reach) -> int:
    info = json.loads(http.request(reach.admin + "/server_info", timeout=5).text)
    return int(str(info.get("uptime_all_epochs", "-1s")).rstrip("s") or -1)


def view(target: Target, log_lines: int = 400) -> MeshView:
    """Everything above, for `workshop mesh status` and for the checks."""
    seen = MeshView(target=target.name, resources=resources(target))
    with target.reach() as reach:
        try:
            seen.filters, seen.chain, seen.envoy_uptime = in_envoy(reach), chain(reach), uptime(reach)
        except (http.NoResponse, ValueError) as exc:
            seen.problem = f"the sidecar's Envoy does not answer ({exc})"
        seen.fetch_errors = [ln.strip() for ln in reach.agent_log(target.kube, log_lines).splitlines()
                             if FETCH_ERROR.search(ln) and "wasm" in ln.lower()][-8:]
    return seen
