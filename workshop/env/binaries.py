"""The real mesh's programs, built from their own Go modules at pinned versions that go together:
Istio's istiod (pilot-discovery), istio-agent (pilot-agent) and istioctl, the Kubernetes API server and
kubectl, etcd, and wasmcheck (Istio's own image fetcher, asked whether the agent would load an image).

`workshop prepare` builds what is missing (or built from another version) into the tools folder, one
at a time, saying how long each may take; an interrupted build starts again where Go's build cache
left it. Istio's CRDs and the sidecar's bootstrap template come from the same Istio module.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workshop.core.errors import WorkshopError
from workshop.core.locations import cache_dir, tools_bin, tools_dir
from workshop.core.logs import json_answer
from workshop.env.program_info import go_binary_version
from workshop.env.supervisor import Result

Progress = Callable[[str], None]

ISTIO = "istio.io/istio"
ISTIO_VERSION = "v0.0.0-20260827124520-eed52ebb66ad"  # the Istio 1.31 line (its go.mod needs Go 1.26)
ISTIO_RELEASE = "1.31"
KUBERNETES_VERSION = "v1.36.3"  # the minor of the client-go Istio 1.31 uses
ETCD_VERSION = "v3.6.16"  # Kubernetes 1.36's etcd
# Go's linker drops the symbol table and DWARF (-s -w): half the bytes a room sends each learner
# (etcd 17 -> 9 MB with zstd); panics still name their functions, and `go version -m` still reads the build info
STRIP = "-s -w"
BUILDS = Path(__file__).resolve().parent / "builds"  # our wrapper modules (go.mod, go.sum, a main)
_K8S_STAMP = " ".join(f"-X {pkg}.{key}={value}" for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
                      for key, value in (("gitVersion", KUBERNETES_VERSION), ("gitMajor", "1"), ("gitMinor", "36")))


class BuildError(WorkshopError):
    """A program of the mesh could not be built; the message says which, why, and how to retry."""


@dataclass(frozen=True)
class Program:
    """One program of the mesh and how Go builds it."""

    name: str
    module: str  # the module whose version the binary must carry
    version: str
    package: str  # what `go build` / `go install` builds
    wrapper: str = ""  # a folder under builds/ to build in (modules with replace lines); else `go install`
    tags: tuple[str, ...] = ()
    ldflags: str = ""
    minutes: float = 1.0  # a cold build on two cores, for the progress line
    optional: bool = False  # the labs work without it (istioctl)
    needed_for: str = ""
    # (file in the module, text, replacement): changes made at build time, to the vendored module (an
    # overlay; the module cache is never touched); the build fails plainly if the text is not there
    patches: tuple[tuple[str, str, str], ...] = ()

    @property
    def path(self) -> Path:
        return tools_bin() / self.name


PROGRAMS = (
    Program("etcd", "go.etcd.io/etcd/server/v3", ETCD_VERSION, ".", wrapper="etcd", minutes=0.7,
            needed_for="the Kubernetes API server's store"),
    Program("kube-apiserver", "k8s.io/kubernetes", KUBERNETES_VERSION, "k8s.io/kubernetes/cmd/kube-apiserver",
            wrapper="kubernetes", ldflags=_K8S_STAMP, minutes=3.5, needed_for="the Kubernetes API your WasmPlugins go to"),
    Program("kubectl", "k8s.io/kubernetes", KUBERNETES_VERSION, "k8s.io/kubernetes/cmd/kubectl", wrapper="kubernetes",
            ldflags=_K8S_STAMP, minutes=1.5, needed_for="`kubectl apply -f wasmplugin.yaml`, as in Istio's docs"),
    Program("pilot-discovery", ISTIO, ISTIO_VERSION, f"{ISTIO}/pilot/cmd/pilot-discovery", tags=("vtprotobuf", "disable_pgv"),
            minutes=4.0, needed_for="istiod, which turns WasmPlugins into the sidecar's configuration"),
    Program("pilot-agent", ISTIO, ISTIO_VERSION, f"{ISTIO}/pilot/cmd/pilot-agent", wrapper="pilot-agent",
            tags=("agent", "disable_pgv", "grpcnotrace", "retrynotrace"), minutes=0.8,
            needed_for="the istio-agent, which pulls your image and hands it to the sidecar's Envoy",
            # its status server listens on every address, with no option to say otherwise; here: 127.0.0.1 only
            patches=(("pilot/cmd/pilot-agent/status/server.go", 'net.Listen("tcp", fmt.Sprintf(":%d", s.statusPort))',
                      'net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s.statusPort))'),)),
    Program("wasmcheck", ISTIO, ISTIO_VERSION, ".", wrapper="wasmcheck", tags=("disable_pgv",), minutes=1.0,
            needed_for="asking Istio's own image fetcher whether the agent would load your image"),
    Program("istioctl", ISTIO, ISTIO_VERSION, f"{ISTIO}/istioctl/cmd/istioctl", tags=("vtprotobuf", "disable_pgv"),
            minutes=4.0, optional=True, needed_for="`istioctl proxy-config` and `istioctl analyze`"),
)
BY_NAME = {p.name: p for p in PROGRAMS}
BUILD_TIMEOUT = 3600.0


def program(name: str) -> Program:
    return BY_NAME[name]


def recipe(p: Program) -> str:
    """A digest of how ``p`` is built (version, tags, flags, patches, our wrapper module's files)."""
    import hashlib

    h = hashlib.sha256(json.dumps([p.name, p.version, p.package, p.tags, ldflags(p), p.patches]).encode())
    if p.wrapper:
        for f in sorted((BUILDS / p.wrapper).rglob("*")):
            if f.is_file():
                h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:20]


def ldflags(p: Program) -> str:
    return f"{STRIP} {p.ldflags}".strip()


def _recipe_file(p: Program) -> Path:
    return tools_dir() / "recipes" / p.name


def built(p: Program) -> bool:
    """Whether the tools folder holds ``p`` built from its pinned version, the way it is built now."""
    if not p.path.is_file() or go_binary_version(p.path, p.module) != p.version:
        return False
    try:
        return _recipe_file(p).read_text().strip() == recipe(p)
    except OSError:
        return False


def missing(include_optional: bool = True) -> list[Program]:
    return [p for p in PROGRAMS if (include_optional or not p.optional) and not built(p)]


def _go_env() -> dict[str, str]:
    return {**os.environ, "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local"}


def build(p: Program, progress: Progress, run: Callable[..., Result]) -> str:
    """Build one program into the tools folder (written to a temporary name, then renamed: never half)."""
    go = shutil.which("go")
    if not go:
        raise BuildError(f"Go is not on PATH, so {p.name} cannot be built: install Go 1.26 or newer, "
                         "then run `workshop prepare` again")
    tools_bin().mkdir(parents=True, exist_ok=True)
    tmp = p.path.with_name(f".{p.name}.{os.getpid()}.building")
    flags = [*(["-tags", ",".join(p.tags)] if p.tags else []), "-ldflags", ldflags(p)]
    if p.wrapper:
        where = _wrapper_copy(p.wrapper)
        if p.patches:
            flags += _vendored_patches(p, where, go, run)
        argv = [go, "build", *flags, "-o", str(tmp), p.package]
    else:  # `go install` puts it in GOBIN under its own name: a folder of its own, then the rename
        where = tools_dir() / ".building" / p.name
        where.mkdir(parents=True, exist_ok=True)
        argv = [go, "install", *flags, f"{p.package}@{p.version}"]
    progress(f"Building {p.name} {_short(p.version)} (about {_minutes(p.minutes)} the first time on two cores)")
    started = time.monotonic()
    env = _go_env() | ({"GOBIN": str(where)} if not p.wrapper else {})
    built = run(argv, cwd=where, env=env, timeout=BUILD_TIMEOUT, label=f"build {p.name}")
    if not built.ok:
        tmp.unlink(missing_ok=True)
        why = "did not finish within the hour" if built.timed_out else f"exited with {built.code}"
        tail = "\n".join(built.output.strip().splitlines()[-12:])
        raise BuildError(f"building {p.name} failed (`{' '.join(argv[1:3])} … {p.package}` {why}); what Go built so far "
                         f"is kept in its cache, so `workshop prepare` again resumes it.\n{tail}")
    if not p.wrapper:
        shutil.move(str(where / Path(p.package).name), tmp)
    os.replace(tmp, p.path)
    _recipe_file(p).parent.mkdir(parents=True, exist_ok=True)
    _recipe_file(p).write_text(recipe(p) + "\n")
    return f"built {p.name} {_short(p.version)} in {time.monotonic() - started:.0f} s ({p.path})"


def _vendored_patches(p: Program, where: Path, go: str, run: Callable[..., Result]) -> list[str]:
    """Vendor the wrapper's modules, write the patched files beside them, and return the build flags
    (``-mod=vendor -overlay=...``) that compile the patched files instead of the vendored ones."""
    vendored = run([go, "mod", "vendor"], cwd=where, env=_go_env(), timeout=900, label=f"vendor {p.name}")
    if not vendored.ok:
        raise BuildError(f"vendoring {p.name}'s modules failed; check that the Go module proxy answers, then run "
                         f"`workshop prepare` again\n{vendored.output.strip()[-600:]}")
    replace = {}
    for n, (rel, text, instead) in enumerate(p.patches):
        vendored = where / "vendor" / p.module / rel
        source = vendored.read_text()
        if text not in source:
            raise BuildError(f"{p.name}: {rel} no longer holds `{text}`; the pinned {p.module} changed (a bug in the "
                             "workshop: report it)")
        patched = where / f"patched-{n}-{vendored.name}"
        patched.write_text(source.replace(text, instead))
        replace[str(vendored)] = str(patched)
    (where / "overlay.json").write_text(json.dumps({"Replace": replace}))
    return ["-mod=vendor", f"-overlay={where / 'overlay.json'}"]


def _wrapper_copy(name: str) -> Path:
    """Our wrapper module, copied where Go may write (the package itself may be read-only)."""
    dest = cache_dir() / "builds" / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(BUILDS / name, dest)
    return dest


def _short(version: str) -> str:
    return f"(Istio {ISTIO_RELEASE})" if version == ISTIO_VERSION else version


def _minutes(m: float) -> str:
    return f"{m:.0f} min" if m >= 1.5 else f"{m * 60:.0f} s"


# ---------------------------------------------------------------- Istio's files


def istio_files() -> Path:
    """Where the CRDs and the bootstrap template taken from Istio's module are kept."""
    return tools_dir() / "istio" / ISTIO_VERSION


def crds() -> Path:
    return istio_files() / "crd-all.gen.yaml"


def bootstrap_template() -> Path:
    return istio_files() / "envoy_bootstrap.json"


def copy_istio_files(run: Callable[..., Result]) -> str:
    """Istio's CRDs (every one: WasmPlugin, TrafficExtension, EnvoyFilter, Sidecar, ...) and the sidecar's
    bootstrap template, from the same Istio module the binaries are built from."""
    if crds().is_file() and bootstrap_template().is_file():
        return f"Istio's CRDs and bootstrap template (Istio {ISTIO_RELEASE}) are in {istio_files()}"
    go = shutil.which("go") or "go"
    done = run([go, "mod", "download", "-json", f"{ISTIO}@{ISTIO_VERSION}"], cwd=tools_dir(), env=_go_env(),
               timeout=900, label="download istio")
    try:
        src = Path(json_answer(done.output)["Dir"])
    except (ValueError, KeyError, TypeError):
        raise BuildError(f"Istio's module could not be downloaded ({done.code}): check that the Go module proxy answers, "
                         f"then run `workshop prepare` again\n{done.output.strip()[-600:]}") from None
    istio_files().mkdir(parents=True, exist_ok=True)
    for rel in ("manifests/charts/base/files/crd-all.gen.yaml", "tools/packaging/common/envoy_bootstrap.json"):
        dest = istio_files() / Path(rel).name
        shutil.copyfile(src / rel, dest.with_suffix(".part"))
        os.replace(dest.with_suffix(".part"), dest)
    return f"copied Istio's CRDs and bootstrap template (Istio {ISTIO_RELEASE}) into {istio_files()}"
