"""A second, private registry for lab 07: the same CNCF distribution program, with htpasswd logins.

It answers 401 with a Basic challenge until a client sends the right user and password. The
password is stored only as a bcrypt hash (what distribution's htpasswd auth reads).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from workshop.core.atomic import write_atomic
from workshop.core.locations import data_dir, state_dir
from workshop.env import http, supervisor
from workshop.env.mesh.resources import MeshError

DEFAULT_PORT = 5001
USER, PASSWORD = "learner", "wasm-in-the-mesh"  # the lab's login: lab 07 tells the learner these


@dataclass
class PrivateRegistry:
    port: int
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc is not None:
            supervisor.stop(self.proc, grace=2.0)
            self.proc = None

    def push(self, wasm: Path, repository: str = "wasm-workshop/filter:v2", user: str = USER,
             password: str = PASSWORD) -> None:
        """Push ``wasm`` as the two-layer artifact Istio reads, logging in first."""
        import oras.client

        from workshop.env.oci import WASM_CONFIG, WASM_LAYER

        folder = wasm.parent
        config = folder / ".runtime-config.json"
        config.write_text(json.dumps({"type": "envoy_proxy", "abiVersions": ["v0.2.1"], "config": {}}))
        client = oras.client.OrasClient(hostname=self.address, insecure=True, auth_backend="basic")
        client.auth.set_basic_auth(user, password)  # in memory only: no docker config is written
        cwd = os.getcwd()
        try:
            os.chdir(folder)
            client.push(f"{self.address}/{repository}", files=[f"{wasm.name}:{WASM_LAYER}", f"{config.name}:{WASM_CONFIG}"])
        finally:
            os.chdir(cwd)
            config.unlink(missing_ok=True)


def port_from_env() -> int:
    raw = os.environ.get("WORKSHOP_PORT_PRIVATE_REGISTRY", "").strip()
    return int(raw) if raw.isdigit() else DEFAULT_PORT


def start(port: int | None = None, user: str = USER, password: str = PASSWORD, timeout: float = 20.0) -> PrivateRegistry:
    """Start the private registry on 127.0.0.1 and wait until it answers (a 401 without a login)."""
    import bcrypt

    from workshop.env.tools import tool_path

    port = port or port_from_env()
    binary = tool_path("registry")
    if binary is None:
        raise MeshError("the registry program is not installed", hint="run `workshop prepare`")
    if not http.port_free(port):
        raise MeshError(f"port {port} on 127.0.0.1, wanted by the private registry, is already in use",
                        hint="stop what uses it, or choose another with WORKSHOP_PORT_PRIVATE_REGISTRY=N")
    here = state_dir() / "mesh" / "private-registry"
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    write_atomic(here / "htpasswd", f"{user}:{hashed}\n")
    storage = data_dir() / "private-registry"
    storage.mkdir(parents=True, exist_ok=True)
    config = {"version": 0.1, "log": {"level": "warn"},
              "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
              "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
              "auth": {"htpasswd": {"realm": "wasm-workshop", "path": str(here / "htpasswd")}}}
    write_atomic(here / "config.yml", json.dumps(config))
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
    with open(here / "registry.log", "wb") as log:
        proc = supervisor.spawn([str(binary), "serve", str(here / "config.yml")], cwd=here, env=env, stdout=log,
                           label="private registry")
    registry = PrivateRegistry(port, proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (here / "registry.log").read_text(errors="replace").strip().splitlines()[-3:]
            raise MeshError(f"the private registry exited at start: {' '.join(tail)}", hint="run `workshop prepare`")
        try:
            if http.request(f"http://{registry.address}/v2/", timeout=1).status == 401:
                return registry
        except http.NoResponse:
            pass
        time.sleep(0.05)
    registry.stop()
    raise MeshError(f"the private registry did not answer within {timeout:g} s", hint="see its log in " + str(here))
