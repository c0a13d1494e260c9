"""The mesh tests: the sidecar on free ports; a built filter and a registry shared by the module's tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

FILTER = ROOT / "solutions" / "06-wasmplugin"


@pytest.fixture(autouse=True)
def free_sidecar_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKSHOP_PORT_SIDECAR", "0")
    monkeypatch.setenv("WORKSHOP_PORT_SIDECAR_ADMIN", "0")


@pytest.fixture(scope="session")
def built_filter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """plugin.wasm of the configurable filter (lab 06's), built once."""
    folder = tmp_path_factory.mktemp("filter") / "f"
    shutil.copytree(FILTER, folder)
    subprocess.run(["go", "build", "-buildmode=c-shared", "-o", "plugin.wasm", "."], cwd=folder, check=True, timeout=300,
                   env={**os.environ, "GOOS": "wasip1", "GOARCH": "wasm"})
    return folder


def push(folder: Path, image: str, files: list[str] | None = None) -> None:
    from workshop.env.oci import WASM_CONFIG, WASM_LAYER

    files = files or [f"plugin.wasm:{WASM_LAYER}", f"runtime-config.json:{WASM_CONFIG}"]
    code = ("import sys, oras.client; c = oras.client.OrasClient(hostname=sys.argv[1].split('/')[0], insecure=True);"
            "c.push(sys.argv[1], files=sys.argv[2:])")
    subprocess.run([sys.executable, "-c", code, image, *files], cwd=folder, check=True, timeout=120, capture_output=True)


def wasmplugin(url: str, *, name: str = "add-headers", extra: str = "", headers: str = "x-team: blue") -> str:
    return f"""apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: {name}
spec:
  selector:
    matchLabels:
      app: httpbin
  url: {url}
  phase: STATS
  pluginConfig:
    headers:
      {headers}
{extra}"""
