"""What is in force in the mesh, read from the real components: the extensions the API server holds
(WasmPlugins, TrafficExtensions, EnvoyFilters), what each became in the sidecar's Envoy (its ECDS
filters and inbound filter chain), what Envoy refused, and what the istio-agent said when it could
not fetch a module.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

from workshop.checking import envoy_config
from workshop.env import http
from workshop.env.mesh_target import MeshUnreachable, Reach, Target

KINDS = ("wasmplugins", "trafficextensions", "envoyfilters")
ECDS_PREFIX = "extensions.istio.io/trafficextension/"
TRANSLATED = "~istio-translated-wasmplugin"  # istiod turns every WasmPlugin into a TrafficExtension of this name
# Envoy's admin answers on its main thread, which also compiles a new Wasm module: on a loaded laptop
# one answer can take several seconds, so a read waits this long before it counts as no answer.
ADMIN_TIMEOUT = 15.0
WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
AGENT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\S+\t\w+\t(?!envoy )")  # the agent's own lines, not Envoy's it passes on
MODULE_URL = re.compile(r"\b(?:oci|https?)://\S+")
FETCH_ERROR = re.compile(r"cannot fetch Wasm module|error in converting the wasm config|failed to fetch|wasm.*error", re.I)
# Envoy's words when it refuses a filter's configuration that came through ECDS (it keeps the last good one, or
# none): ECDS's own config dump keeps no failure state, so its log is where Envoy says why
FILTER_REFUSED = re.compile(r"TypedExtensionConfig rejected: (.+)")
FILTER_SAID = re.compile(r"^wasm log[^:]*: (.+)")  # a filter's own log line, as Envoy writes it


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
    refused_filters: list[str] = field(default_factory=list)  # filter configurations Envoy refused: its words and the filter's
    refused: list[str] = field(default_factory=list)  # listener updates Envoy refused and still holds: its words
    problem: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def filter_for(self, kind: str, name: str, namespace: str = "default") -> InEnvoy | None:
        return next((f for f in self.filters if f.resource == (kind, namespace, name)), None)


def resources(target: Target) -> list[dict]:
    """The extension resources the API server holds, all namespaces, with what matters of each spec."""
    found = []
    for kind in KINDS:
        listed = target.kube.get(kind, namespace=None, managed_fields=True) or {}
        for item in listed.get("items", []):
            spec = item.get("spec") or {}
            wasm = spec.get("wasm") or spec  # a TrafficExtension keeps the module in its wasm block
            found.append({
                "kind": item.get("kind", kind), "namespace": item["metadata"].get("namespace", ""),
                "name": item["metadata"]["name"], "url": wasm.get("url", ""), "sha256": wasm.get("sha256", ""),
                "phase": spec.get("phase", ""), "priority": spec.get("priority"),
                "failStrategy": wasm.get("failStrategy", ""), "imagePullPolicy": wasm.get("imagePullPolicy", ""),
                "lua": bool(spec.get("lua")),
                "changed": _last_change(item["metadata"]),
            })
    return found


def _last_change(metadata: dict) -> str:
    """When the resource was last written (its managed fields' latest time, else its creation), ISO 8601."""
    times = [m.get("time", "") for m in metadata.get("managedFields") or [] if m.get("time")]
    return max([*times, metadata.get("creationTimestamp", "")])


def in_envoy(reach: Reach) -> list[InEnvoy]:
    """The filters the sidecar's Envoy got through ECDS."""
    answer = http.request(reach.admin + "/config_dump?resource=ecds_filters", timeout=ADMIN_TIMEOUT)
    if answer.status == 404:  # Envoy's word for "none yet" (an EnvoyFilter's filter is inline, not through ECDS)
        return []
    dump = json.loads(answer.text)
    found = []
    for entry in dump.get("configs") or []:
        ecds = entry.get("ecds_filter") or {}
        kind, typed = envoy_config.typed(ecds.get("typed_config"))  # the one reader of a Wasm filter, as Envoy reads it
        wasm = envoy_config.wasm_filter({"typed_config": ecds.get("typed_config")})
        if wasm is not None:
            found.append(InEnvoy(ecds.get("name", ""), "wasm", wasm.code, wasm.plugin_config or "", wasm.failure_policy))
        elif kind == RBAC_TYPE:
            # the agent's stand-in for a module it could not fetch: no rules allow all; an ALLOW with no policy denies all
            denies = (typed.get("rules") or {}).get("action", "ALLOW") == "ALLOW" and "rules" in typed
            found.append(InEnvoy(ecds.get("name", ""), "deny-all" if denies else "allow-all"))
    return found


def listeners(reach: Reach) -> dict:
    """The sidecar's dynamic listeners, as Envoy's config dump has them."""
    return json.loads(http.request(reach.admin + "/config_dump?resource=dynamic_listeners", timeout=ADMIN_TIMEOUT).text)


def refused(dump: dict) -> list[str]:
    """Why Envoy refused the last listener update it still holds refused (it keeps the last good listener
    meanwhile): its reason, without the configuration it quotes. Cleared once an update is accepted."""
    found = []
    for entry in dump.get("configs") or []:
        details = str((entry.get("error_state") or {}).get("details") or "").strip()
        if details:
            last = [ln.strip() for ln in details.splitlines() if ln.strip()][-1].lstrip(": ")
            reason = last.rpartition("caused by ")[2].rstrip(")") if "caused by " in last else last
            if reason not in found:
                found.append(reason)
    return found


def chain(reach: Reach, dump: dict | None = None) -> list[str]:
    """The inbound listener's HTTP filters, in the order a request meets them."""
    dump = listeners(reach) if dump is None else dump
    for entry in dump.get("configs") or []:
        listener = (entry.get("active_state") or {}).get("listener") or {}
        for fc in listener.get("filter_chains") or []:
            for f in fc.get("filters") or []:
                hcm = f.get("typed_config") or {}
                if str(hcm.get("@type", "")).endswith("HttpConnectionManager") and "inbound" in str(hcm.get("stat_prefix", "")):
                    return [h.get("name", "") for h in hcm.get("http_filters") or []]
    return []


def uptime(reach: Reach) -> int:
    info = json.loads(http.request(reach.admin + "/server_info", timeout=ADMIN_TIMEOUT).text)
    return int(str(info.get("uptime_all_epochs", "-1s")).rstrip("s") or -1)


def view(target: Target, log_lines: int = 400, *, partial: bool = False) -> MeshView:
    """Everything above, for `workshop mesh status` and for the checks. A sidecar that cannot be reached
    raises MeshUnreachable, or with ``partial`` is the view's ``problem`` (the resources are still shown)."""
    seen = MeshView(target=target.name, resources=resources(target))
    try:
        with target.reach() as reach:
            try:
                dump = listeners(reach)
                seen.filters, seen.chain, seen.envoy_uptime = in_envoy(reach), chain(reach, dump), uptime(reach)
                seen.refused = refused(dump)
            except (http.NoResponse, ValueError) as exc:
                seen.problem = f"the sidecar's Envoy does not answer ({exc})"
            log = reach.agent_log(target.kube, log_lines)
            seen.fetch_errors, seen.refused_filters = current_fetch_errors(log, seen.resources), refused_filters(log, seen.resources)
    except MeshUnreachable as exc:
        if not partial:
            raise
        seen.problem = str(exc)
    return seen


def current_fetch_errors(log: str, held: list[dict], keep: int = 8) -> list[str]:
    """The agent's words about modules it could not fetch, for the resources the API server holds now:
    a line naming another module, or older than the last change to the resource naming its module, is
    history. Each as the agent's message, without its time and level."""
    found = []
    for line in log.splitlines():
        if not (FETCH_ERROR.search(line) and "wasm" in line.lower() and AGENT_LINE.match(line)):
            continue
        when = line[:19]
        urls = [r for r in held if r["url"] and r["url"] in line]
        if MODULE_URL.search(line) and not any(when >= r["changed"][:19] for r in urls):
            continue
        found.append(line.strip().split("\t", 3)[-1])
    return found[-keep:]


def listener_chain(dump: dict, port: int) -> list[str]:
    """The HTTP filters of the listener on ``port`` (the ingress gateway's, from its Gateway), in order."""
    for entry in dump.get("configs") or []:
        listener = (entry.get("active_state") or {}).get("listener") or {}
        if ((listener.get("address") or {}).get("socket_address") or {}).get("port_value") != port:
            continue
        for fc in listener.get("filter_chains") or []:
            for f in fc.get("filters") or []:
                hcm = f.get("typed_config") or {}
                if str(hcm.get("@type", "")).endswith("HttpConnectionManager"):
                    return [h.get("name", "") for h in hcm.get("http_filters") or []]
    return []


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` in a Prometheus text page whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line[len(name):len(name) + 1] not in ("{", " "):
            continue
        head, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', head.partition("{")[2]))
        if all(found.get(k) == v for k, v in labels.items()):
            try:
                total += float(value)
            except ValueError:
                continue
    return total


@dataclass
class GatewayView:
    """The ingress gateway's side of the mesh: what its Envoy runs and the counters that say a module failed."""

    filters: list[InEnvoy] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)  # its listener's HTTP filters, in order
    refused: list[str] = field(default_factory=list)
    fetches: dict[str, float] = field(default_factory=dict)  # its agent's istio_agent_wasm_remote_fetch_count by result
    rejects: dict[str, float] = field(default_factory=dict)  # istiod's pilot_total_xds_rejects by type (every proxy's)
    problem: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


FETCH_RESULTS = ("success", "manifest_failure", "download_failure", "checksum_mismatched", "fetch_failure")
REJECT_TYPES = ("ecds", "lds", "rds", "cds", "eds")


def gateway_view(target: Target) -> GatewayView | None:
    """The gateway's view, or None when the mesh has no ingress gateway running."""
    from urllib.parse import urlparse

    seen = GatewayView()
    try:
        with target.gateway_reach() as reach:
            try:
                dump = listeners(reach)
                seen.chain, seen.refused = listener_chain(dump, urlparse(reach.inbound).port or 80), refused(dump)
                # Envoy keeps a filter's last ECDS configuration after no listener names it: only the named are in force
                seen.filters = [f for f in in_envoy(reach) if f.name in seen.chain]
                page = http.request(reach.agent_stats, timeout=ADMIN_TIMEOUT).text if reach.agent_stats else ""
                seen.fetches = {r: metric(page, "istio_agent_wasm_remote_fetch_count", result=r) for r in FETCH_RESULTS}
            except (http.NoResponse, ValueError) as exc:
                seen.problem = f"the gateway's Envoy does not answer ({exc})"
    except MeshUnreachable:
        return None
    try:
        page = target.istiod_metrics()
        seen.rejects = {t: metric(page, "pilot_total_xds_rejects", type=t) for t in REJECT_TYPES}
    except MeshUnreachable as exc:
        seen.problem = seen.problem or str(exc)
    return seen


def refused_filters_of(target: Target, reach: Reach) -> list[str]:
    """``refused_filters`` of the proxy at ``reach`` (the sidecar or the gateway), for the resources ``target`` holds."""
    return refused_filters(reach.agent_log(target.kube), resources(target))


def refused_filters(log: str, held: list[dict], keep: int = 4) -> list[str]:
    """Envoy's words about filter configurations it refused (an ECDS update it NACKed), for the resources the
    API server holds now and newer than their last change; each with what the filter itself logged as an error
    just before (a Wasm filter whose OnPluginStart fails makes Envoy refuse it)."""
    found: list[str] = []
    said: list[tuple[str, str]] = []  # (second, words) of the filters' own error lines
    for line in log.splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or not parts[2].startswith("envoy "):
            continue
        when, level, words = parts[0][:19], parts[1], parts[3].strip()
        filter_said = FILTER_SAID.match(words)
        if filter_said and level in ("critical", "error"):
            said.append((when, filter_said.group(1)))
            continue
        refused = FILTER_REFUSED.search(words)
        if not refused:
            continue
        names = [r for r in held if f"{r['namespace']}.{r['name']}" in words]
        if not any(when >= r["changed"][:19] for r in names):
            continue  # a filter no longer held, or refused before its resource last changed: history
        why = refused.group(1)
        own = [w for t, w in said if t == when]
        text = why + (f" (the filter said: {own[-1]})" if own else "")
        if not found or found[-1] != text:  # Envoy says it twice, once per subscription layer
            found.append(text)
    return found[-keep:]
