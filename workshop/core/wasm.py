"""What a .wasm file is: a real WebAssembly module (parsed by wasmtime), and which ABI it speaks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workshop.core.atomic import write_atomic
from workshop.core.locations import cache_dir

WASM_MAGIC = b"\0asm"
# Exports every Proxy-Wasm module built with the Go SDK has; the host needs them to drive it.
PROXY_WASM_EXPORTS = ("proxy_on_context_create", "proxy_on_vm_start", "proxy_on_configure", "proxy_on_memory_allocate")
HTTP_EXPORTS = ("proxy_on_request_headers", "proxy_on_response_headers")


class NotAModule(ValueError):
    """The file is not a WebAssembly module; the message says what it is instead."""


@dataclass
class WasmModule:
    path: Path
    sha256: str
    size: int
    interface: dict[str, list[str]] | None = None  # exports and imports, read by wasmtime on first use

    @property
    def exports(self) -> list[str]:
        return self._interface()["exports"]

    @property
    def imports(self) -> list[str]:  # "module.name"
        return self._interface()["imports"]

    def _interface(self) -> dict[str, list[str]]:
        if self.interface is None:
            self.interface = _read_interface(self.path.read_bytes(), self.sha256, self.path.name)
        return self.interface

    @property
    def abi_versions(self) -> list[str]:
        return [e for e in self.exports if e.startswith("proxy_abi_version_")]

    @property
    def is_reactor(self) -> bool:
        """Built with -buildmode=c-shared: initialised by _initialize, no _start."""
        return "_initialize" in self.exports and "_start" not in self.exports

    @property
    def missing_proxy_exports(self) -> list[str]:
        return [e for e in (*PROXY_WASM_EXPORTS, *HTTP_EXPORTS) if e not in self.exports]


def describe_non_wasm(head: bytes) -> str:
    if head.startswith(b"\x7fELF"):
        return "a Linux executable (ELF), not WebAssembly: build with GOOS=wasip1 GOARCH=wasm"
    if head.startswith(b"MZ"):
        return "a Windows executable, not WebAssembly: build with GOOS=wasip1 GOARCH=wasm"
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        return "a macOS executable, not WebAssembly: build with GOOS=wasip1 GOARCH=wasm"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip archive, not WebAssembly (an image layer? take plugin.wasm out of it)"
    if not head:
        return "an empty file"
    if head.lstrip()[:1] in (b"{", b"<") or head.isascii():
        return f"a text file, not WebAssembly (it starts with {head[:24]!r})"
    return f"not WebAssembly: it starts with bytes {head[:8].hex(' ')}, where a module starts with 00 61 73 6d"


def check_magic(path: Path) -> None:
    """Raise NotAModule unless the file starts like a WebAssembly module (reads 64 bytes)."""
    with path.open("rb") as f:
        head = f.read(64)
    if not head.startswith(WASM_MAGIC):
        raise NotAModule(f"{path.name} is {describe_non_wasm(head)}")


def digest_of(path: Path) -> str:
    """The sha256 of the file at ``path``; "" when there is none."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def inspect(path: Path, parse: bool = True) -> WasmModule:
    """Parse ``path`` with wasmtime; raises FileNotFoundError or NotAModule with a plain message.

    With ``parse=False`` only the magic bytes and the digest are read now (cheap); wasmtime reads the
    exports and imports when they are first asked for.
    """
    check_magic(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    module = WasmModule(path=path, sha256=digest, size=len(data))
    if parse:
        module.interface = _read_interface(data, digest, path.name)
    return module


def _read_interface(data: bytes, digest: str, name: str) -> dict[str, list[str]]:
    cached = cache_dir() / "wasm" / f"{digest}.json"
    try:
        return json.loads(cached.read_text())
    except (OSError, ValueError):
        info = _parse(data, name)
        write_atomic(cached, json.dumps(info))
        return info


def _engine() -> Any:
    """An engine tuned to compile fast: the module is compiled to prove it is sound, never run."""
    import wasmtime

    config = wasmtime.Config()
    config.cranelift_opt_level = "none"
    try:
        config.cranelift_flag_set("regalloc_algorithm", "single_pass")  # about half the compile time
        return wasmtime.Engine(config)
    except wasmtime.WasmtimeError:  # a wasmtime without that setting
        config = wasmtime.Config()
        config.cranelift_opt_level = "none"
        return wasmtime.Engine(config)


def _parse(data: bytes, name: str) -> dict:
    import wasmtime

    engine = _engine()
    try:
        module = wasmtime.Module(engine, data)
    except wasmtime.WasmtimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid module"
        raise NotAModule(f"{name} starts like WebAssembly but is not a valid module ({first}); was the build cut short?") from None
    return {
        "exports": [e.name for e in module.exports],
        "imports": [f"{i.module}.{i.name}" for i in module.imports],
    }
