"""Mutants: the learner's own code with one behaviour taken out, to see whether their tests notice.

A mutant never replaces the learner's files. It rewrites a few functions of the Proxy-Wasm Go SDK
their module uses (the one `go list` resolves, wherever it lives), in a copy, and `go test
-modfile=...` builds the learner's module against that copy, so their filter and tests build
unchanged, in whatever structure and with whatever names they chose, while, say,
``AddHttpResponseHeader`` quietly does nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

SDK = "github.com/proxy-wasm/proxy-wasm-go-sdk"
KEPT = "workshopOriginal_"  # the prefix the rewritten function's original body is kept under


@dataclass(frozen=True)
class Rewrite:
    """One SDK function given a new body. ``body`` may call the original as ``{original}({args})``."""

    file: str  # relative to the SDK module's folder, e.g. "proxywasm/hostcall.go"
    func: str  # a top-level function (not a method)
    body: str


@dataclass(frozen=True)
class Mutant:
    """A behaviour taken out of every filter: ``does`` says what the broken filter does, in words."""

    does: str
    rewrites: tuple[Rewrite, ...]


class MutantError(RuntimeError):
    """The SDK in use cannot be rewritten this way: a problem of the check, never of the learner's work."""


def _signature(source: str, func: str) -> tuple[str, str, str]:
    """(parameters, results, argument names) of ``func`` as declared on one line in ``source``."""
    found = re.search(rf"^func {re.escape(func)}\((?P<params>[^)]*)\)\s*(?P<results>[^{{]*?)\s*\{{\s*$", source, re.M)
    if not found:
        raise MutantError(f"the SDK has no function {func} declared on one line")
    params = found.group("params").strip()
    names = [p.strip().split()[0] for p in params.split(",") if p.strip()]
    return params, found.group("results"), ", ".join(names)


def rewrite_source(source: str, rewrites: list[Rewrite]) -> str:
    """``source`` with each function renamed out of the way and a new one of the same signature added."""
    added = []
    for r in rewrites:
        params, results, args = _signature(source, r.func)
        source = re.sub(rf"^func {re.escape(r.func)}\(", f"func {KEPT}{r.func}(", source, count=1, flags=re.M)
        body = r.body.replace("{original}", KEPT + r.func).replace("{args}", args)
        added.append(f"func {r.func}({params}) {results} {{\n\t{body}\n}}\n")
    return source + "\n// Rewritten for a workshop check (a mutant): see workshop/checking/mutants.py.\n" + "\n".join(added)


def mutated_sdk(mutant: Mutant, sdk_dir: Path, root: Path) -> Path:
    """A copy of the SDK module with ``mutant``'s rewrites, under ``root``; made once per SDK and mutant.

    Go refuses an overlay of files in its module cache, so the learner's module is pointed at this copy
    instead (a ``replace`` in a copy of their go.mod). The folder's name is stable for the same SDK and
    mutant, so Go's build cache compiles it only once.
    """
    by_file: dict[str, list[Rewrite]] = {}
    for r in mutant.rewrites:
        by_file.setdefault(r.file, []).append(r)
    changed: dict[str, str] = {}
    for rel, rewrites in sorted(by_file.items()):
        try:
            source = (sdk_dir / rel).read_text()
        except OSError as exc:
            raise MutantError(f"the SDK in use has no {rel} ({exc.strerror})") from None
        changed[rel] = rewrite_source(source, rewrites)
    key = hashlib.sha256(json.dumps([str(sdk_dir.resolve()), changed]).encode()).hexdigest()[:16]
    dest = root / key
    if (dest / ".complete").exists():
        return dest
    tmp = root / f".{key}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(sdk_dir, tmp, ignore=shutil.ignore_patterns("e2e", "examples", "*_test.go", "*.md"))
    for path in tmp.rglob("*"):  # the module cache is read-only
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    tmp.chmod(tmp.stat().st_mode | stat.S_IWUSR)
    for rel, text in changed.items():
        (tmp / rel).write_text(text)
    (tmp / ".complete").write_text(mutant.does + "\n")
    try:
        tmp.rename(dest)
    except OSError:  # another check made it first
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def sdk_folder(go_list_output: str, lab_dir: Path) -> Path | None:
    """The SDK's folder from `go list -m -f {{.Dir}} SDK` (a vendored copy when the module vendors it)."""
    listed = go_list_output.strip().splitlines()[-1].strip() if go_list_output.strip() else ""
    if listed and Path(listed).is_dir():
        return Path(listed)
    vendored = lab_dir / "vendor" / SDK
    return vendored if vendored.is_dir() else None


# ---------------------------------------------------------------- the behaviours labs take out

def _return_nil(file: str, *funcs: str) -> tuple[Rewrite, ...]:
    return tuple(Rewrite(file, f, "return nil") for f in funcs)


HOSTCALLS = "proxywasm/hostcall.go"

# Every way the SDK gives a filter to set a response header does nothing.
ADDS_NO_RESPONSE_HEADER = Mutant(
    "adds no response header (AddHttpResponseHeader and the Replace calls do nothing)",
    _return_nil(HOSTCALLS, "AddHttpResponseHeader", "ReplaceHttpResponseHeader", "ReplaceHttpResponseHeaders"),
)

# The host seems to give no plugin configuration, whatever was configured.
IGNORES_ITS_CONFIGURATION = Mutant(
    "ignores its plugin configuration (GetPluginConfiguration finds none)",
    (Rewrite(HOSTCALLS, "GetPluginConfiguration", "return nil, types.ErrorStatusNotFound"),),
)

# The plugin starts whatever OnPluginStart answers.
STARTS_ON_ANY_CONFIGURATION = Mutant(
    "starts whatever its configuration is (OnPluginStart's failure is turned into OK)",
    (Rewrite("proxywasm/internal/abi_callback_test_export.go", "ProxyOnConfigure",
             "{original}({args})\n\treturn types.OnPluginStartStatusOK"),),
)


def sets_exactly(name: str, value: str) -> Mutant:
    """The opposite of a broken filter: every response carries ``name: value`` (set once, after the filter's
    own OnHttpResponseHeaders), and nothing the filter itself tries to set is kept. A test of what the lab
    asks passes on it; a test that expects another name or value fails."""
    for text in (name, value):
        if not re.fullmatch(r"[A-Za-z0-9._:-]*", text):
            raise MutantError(f"{text!r} cannot be written into a Go string as it is")
    set_it = (f'{{original}}({{args}})\n\tProxyReplaceHeaderMapValue(MapTypeHttpResponseHeaders, '
              f'StringBytePtr("{name}"), {len(name)}, StringBytePtr("{value}"), {len(value)})\n\treturn action')
    return Mutant(
        f"sets exactly {name}: {value} on every response, whatever it asks for itself",
        (*ADDS_NO_RESPONSE_HEADER.rewrites,
         Rewrite("proxywasm/internal/abi_callback_test_export.go", "ProxyOnResponseHeaders",
                 set_it.replace("{original}", "action := {original}", 1))),
    )
