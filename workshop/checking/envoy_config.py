"""Reading an Envoy bootstrap (a learner's envoy.yaml, or /config_dump) in the learner's terms."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

HCM_TYPE = ".http_connection_manager.v3.HttpConnectionManager"
WASM_TYPE = ".filters.http.wasm.v3.Wasm"


@dataclass
class WasmFilter:
    name: str
    runtime: str
    code: str  # the local filename, or the remote URI
    plugin_config: str | None
    sha256: str = ""  # a remote module's pinned sha256
    cluster: str = ""  # the cluster Envoy fetches a remote module through (the uri gives its path and Host)
    failure_policy: str = ""
    config: dict[str, Any] | None = None  # the filter's PluginConfig itself (the same dict as in the document read)


def address(addr: dict[str, Any] | None) -> tuple[str, int] | None:
    sock = (addr or {}).get("socket_address") or {}
    port = str(sock.get("port_value", ""))
    return (str(sock.get("address", "")), int(port)) if port.isdigit() else None


def listeners(config: dict[str, Any]) -> list[dict[str, Any]]:
    return list(((config.get("static_resources") or {}).get("listeners")) or [])


def http_filters(listener: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The HTTP filters of every HTTP connection manager of a listener, known by their type, not their names."""
    for chain in listener.get("filter_chains") or []:
        for f in chain.get("filters") or []:
            kind, tc = typed(f.get("typed_config"))
            if kind.endswith(HCM_TYPE):
                yield from tc.get("http_filters") or []


def routes(listener: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for chain in listener.get("filter_chains") or []:
        for f in chain.get("filters") or []:
            rc = (f.get("typed_config") or {}).get("route_config") or {}
            for vh in rc.get("virtual_hosts") or []:
                yield from vh.get("routes") or []


def typed(typed_config: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """(type, config) of a typed_config, seen through a TypedStruct wrapper (xds or udpa) as Envoy sees it."""
    tc = typed_config or {}
    kind = str(tc.get("@type", ""))
    if kind.endswith(".TypedStruct"):
        return str(tc.get("type_url", "")), dict(tc.get("value") or {})
    return kind, tc


def wasm_filter(entry: dict[str, Any]) -> WasmFilter | None:
    kind, tc = typed(entry.get("typed_config"))
    if not kind.endswith(WASM_TYPE):
        return None
    config = tc.get("config") or {}
    vm = config.get("vm_config") or {}
    code = vm.get("code") or {}
    where = (code.get("local") or {}).get("filename") or ((code.get("remote") or {}).get("http_uri") or {}).get("uri", "")
    raw = config.get("configuration")
    plugin_config = raw.get("value") if isinstance(raw, dict) else None
    remote = code.get("remote") or {}
    return WasmFilter(name=str(config.get("name", "")), runtime=str(vm.get("runtime", "")), code=str(where),
                      plugin_config=plugin_config, sha256=str(remote.get("sha256") or ""),
                      cluster=str((remote.get("http_uri") or {}).get("cluster") or ""),
                      failure_policy=str(config.get("failure_policy") or ""), config=config)


def cluster_endpoints(config: dict[str, Any], name: str) -> list[tuple[str, int]]:
    for cluster in (config.get("static_resources") or {}).get("clusters") or []:
        if cluster.get("name") == name:
            return endpoints(cluster)
    return []


def endpoints(cluster: dict[str, Any]) -> list[tuple[str, int]]:
    """The addresses of a cluster's load assignment (a bootstrap's, a patch's, or a config dump's)."""
    found = []
    for ep in ((cluster.get("load_assignment") or {}).get("endpoints")) or []:
        for lb in ep.get("lb_endpoints") or []:
            a = address((lb.get("endpoint") or {}).get("address"))
            if a:
                found.append(a)
    return found


def dumped_clusters(dump: dict[str, Any]) -> list[dict[str, Any]]:
    """The clusters of a running Envoy's /config_dump (static and dynamic), shaped like bootstrap clusters."""
    out = []
    for section in dump.get("configs") or []:
        if "ClustersConfigDump" in section.get("@type", ""):
            for key in ("static_clusters", "dynamic_active_clusters"):
                out += [item.get("cluster") or {} for item in section.get(key) or []]
    return out


def dumped_listeners(dump: dict[str, Any]) -> list[dict[str, Any]]:
    """The active listeners of a running Envoy's /config_dump, shaped like bootstrap listeners."""
    out = []
    for section in dump.get("configs") or []:
        if "ListenersConfigDump" in section.get("@type", ""):
            for item in section.get("static_listeners") or []:
                out.append(item.get("listener") or {})
            for item in section.get("dynamic_listeners") or []:
                out.append(((item.get("active_state") or {}).get("listener")) or {})
    return out
