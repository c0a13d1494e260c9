"""What a room serves, made from the instructor's prepared machine (once, then reused):

- ``go/``: the Go modules the labs and their checks need, in GOPROXY layout: made by downloading every
  lab module's build list (``go mod download all``) from the instructor's own module cache (a
  ``file://`` proxy, nothing fetched) into an empty one, so it holds exactly what a learner's go asks for;
- ``blobs/`` and ``manifest.json``: the programs `prepare` builds or installs, their recipes, and
  Istio's CRDs and bootstrap template, each compressed with zstd under its sha256;
- ``wheels/``: the workshop's wheel and every wheel it installs (``pip download``), for a pip index.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import zstandard

from workshop.core import chain
from workshop.core.atomic import write_atomic
from workshop.core.content import Workshop
from workshop.core.locations import bundled_content, cache_dir, tools_dir
from workshop.env import binaries, sandbox, supervisor
from workshop.env.prepare import module_dirs
from workshop.env.tools import GO_TOOLS
from workshop.room.home import RoomError, RoomHome

Progress = Callable[[str], None]
ZSTD_LEVEL = 3  # kube-apiserver: 2.6x smaller in half a second; higher levels win little on Go binaries
STOCK_LAYOUT = 1


def platform_name() -> str:
    """The platform the room's programs run on, as a learner's machine names its own: linux-x86_64."""
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())
    return f"{sys.platform}-{machine}"


def python_version() -> str:
    """The Python the room's wheels are for (some carry compiled code for one version)."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _go_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "GOFLAGS": "-mod=mod -modcacherw", "GOTOOLCHAIN": "local", **extra}


def _go_env_value(name: str) -> str:
    done = supervisor.run(["go", "env", name], timeout=30, label="room stock")
    if not done.ok or not done.output.strip():
        raise RoomError(f"`go env {name}` failed: {done.output.strip()[-200:]}", "check that Go works (`workshop doctor`)")
    return done.output.strip().splitlines()[-1]


# ---------------------------------------------------------------- Go modules


def stock_modules(workshop: Workshop, home: RoomHome, progress: Progress) -> Path:
    """The room's module proxy folder (GOPROXY layout): every lab module's build list, taken from the
    instructor's module cache only (GOPROXY=file://...; nothing comes from outside)."""
    dirs = module_dirs(workshop)
    key = hashlib.sha256(str(STOCK_LAYOUT).encode())
    for d in dirs:
        for name in ("go.mod", "go.sum"):
            if (d / name).is_file():
                key.update((d / name).read_bytes())
    done = home.folder / "go.done"
    if done.is_file() and done.read_text().strip() == key.hexdigest() and home.go_folder.is_dir():
        return home.go_folder
    if not shutil.which("go"):
        raise RoomError("Go is not on PATH, so the room cannot list the labs' modules", "install Go, run `workshop prepare`")
    source = Path(_go_env_value("GOMODCACHE")) / "cache" / "download"
    work = home.folder / "gomod.tmp"
    if work.exists():
        shutil.rmtree(work)
    # GOSUMDB=off: the sums were checked when the instructor's cache was filled; the labs' go.sum files pin them
    env = _go_env(GOPROXY=source.as_uri(), GOMODCACHE=str(work), GOSUMDB="off")
    for d in dirs:
        progress(f"Listing the Go modules of {d.parent.name}/{d.name} for the room")
        listed = supervisor.run(["go", "mod", "download", "all"], cwd=d, env=env, timeout=300, label="room stock")
        if not listed.ok:
            shutil.rmtree(work, ignore_errors=True)
            raise RoomError(f"the Go modules of {d} are not all in this machine's module cache:\n{listed.output.strip()[-600:]}",
                            "run `workshop prepare` (it downloads them), then `workshop room serve` again")
    if home.go_folder.exists():
        shutil.rmtree(home.go_folder)
    os.replace(work / "cache" / "download", home.go_folder)
    shutil.rmtree(work)
    write_atomic(done, key.hexdigest() + "\n")
    return home.go_folder


# ---------------------------------------------------------------- programs and data files


def served_files() -> list[tuple[str, Path, int]]:
    """(name relative to the tools folder, where it is, mode) of every program and data file a learner gets.

    Raises RoomError when a program the labs need is not built here (a room never serves half)."""
    root = tools_dir()
    files: list[tuple[str, Path, int]] = []
    for tool in GO_TOOLS:
        files.append((f"bin/{tool.name}", root / "bin" / tool.name, 0o755))
    for p in binaries.PROGRAMS:
        if not binaries.built(p):
            if p.optional:
                continue
            raise RoomError(f"{p.name} is not built on this machine (or was built another way), so the room cannot serve it",
                            "run `workshop prepare` first")
        files.append((f"bin/{p.name}", p.path, 0o755))
        files.append((f"recipes/{p.name}", root / "recipes" / p.name, 0o644))
    for f in (binaries.crds(), binaries.bootstrap_template()):
        files.append((str(f.relative_to(root)), f, 0o644))
    missing = [str(path) for _, path, _ in files if not path.is_file()]
    if missing:
        raise RoomError(f"the room cannot serve what this machine lacks: {', '.join(missing)}", "run `workshop prepare` first")
    return files


def _compress(src: Path, dest: Path) -> int:
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1).copy_stream(fin, fout)
    os.replace(tmp, dest)
    return dest.stat().st_size


def stock_programs(home: RoomHome, progress: Progress, gocache: dict[str, object] | None = None) -> bytes:
    """The manifest (JSON bytes, also kept in the room folder), each file compressed into blobs/ once."""
    home.blobs.mkdir(parents=True, exist_ok=True)
    known = _known_hashes(home)
    entries = []
    for name, path, mode in served_files():
        st = path.stat()
        stamp = f"{path}|{st.st_size}|{st.st_mtime_ns}"
        digest = known.get(stamp) or sha256_file(path)
        known[stamp] = digest
        blob = home.blobs / f"{digest}.zst"
        if not blob.is_file():
            progress(f"Compressing {name} for the room ({st.st_size >> 20} MB)")
            _compress(path, blob)
        entries.append({"path": name, "sha256": digest, "size": st.st_size, "mode": mode,
                        "compressed": blob.stat().st_size})
    write_atomic(home.folder / "hashes.json", json.dumps(known))
    manifest = {"platform": platform_name(), "layout": STOCK_LAYOUT, "files": entries, "gocache": gocache}
    body = json.dumps(manifest, indent=1).encode()
    write_atomic(home.manifest_file, body)
    return body


def _known_hashes(home: RoomHome) -> dict[str, str]:
    try:
        return dict(json.loads((home.folder / "hashes.json").read_text()))
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------- a Go build cache to start from


def go_version() -> str:
    return _go_env_value("GOVERSION")


def stock_gocache(workshop: Workshop, home: RoomHome, progress: Progress) -> dict[str, object] | None:
    """Grading's seed of the Go build cache (what the solutions import, built by stand-ins: never the
    solutions themselves), as one tar under the manifest. Go hides GOROOT's path from the standard
    library's cache keys, so a learner with this Go version and platform finds the standard library for
    wasip1 and for their tests compiled already; only the few packages from their own module cache are
    compiled again (their path is in the key)."""
    go_labs = chain.go_solutions(workshop)
    if not go_labs or not shutil.which("go"):
        return None
    progress("Seeding a Go build cache for the room's learners (once per Go version and content)")
    seed = sandbox.seed_gocache(go_labs, cache_dir() / "grade-seeds")
    if seed is None:
        return None
    tar = home.folder / f"{seed.name}.tar"
    if not tar.is_file():
        tmp = tar.with_name(f".{tar.name}.{os.getpid()}.tmp")
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as out:
            for f in sorted(p for p in seed.rglob("*") if p.is_file() and p.name != "README"):
                out.add(f, arcname=str(f.relative_to(seed)), recursive=False)
        os.replace(tmp, tar)
    digest = sha256_file(tar)
    blob = home.blobs / f"{digest}.zst"
    if not blob.is_file():
        _compress(tar, blob)
    return {"path": "gocache.tar", "sha256": digest, "size": tar.stat().st_size, "compressed": blob.stat().st_size,
            "go": go_version(), "mode": 0o644}


# ---------------------------------------------------------------- wheels


def stock_wheels(home: RoomHome, progress: Progress) -> list[str]:
    """The workshop's wheel (built from its source tree with hatchling) and every wheel it installs
    (`pip download`, the `go` extra included), in wheels/. Made once: `pip download` needs the internet."""
    wheels = home.wheels
    done = home.folder / "wheels.done"
    if done.is_file() and any(wheels.glob("wasm_workshop-*.whl")):
        return sorted(p.name for p in wheels.glob("*.whl"))
    source = bundled_content()
    if not (source / "pyproject.toml").is_file():
        raise RoomError("the room's wheels are made from the workshop's source tree, and this install has none",
                        "install the workshop from its source tree (pip install -e .) on the instructor's machine")
    wheels.mkdir(parents=True, exist_ok=True)
    for old in wheels.glob("wasm_workshop-*.whl"):
        old.unlink()
    progress("Building the workshop's wheel for the room")
    wheel = supervisor.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(wheels)], cwd=source,
                           timeout=300, label="room stock")
    built = sorted(wheels.glob("wasm_workshop-*.whl"))
    if not wheel.ok or not built:
        raise RoomError(f"building the workshop's wheel failed:\n{wheel.output.strip()[-600:]}", "pip install hatchling, then try again")
    progress("Downloading the wheels the workshop installs, for learners with no route out (pip download)")
    downloaded = supervisor.run([sys.executable, "-m", "pip", "download", "--only-binary=:all:", "-d", str(wheels),
                                 f"{built[-1]}[go]"], cwd=wheels, timeout=900, label="room stock")
    if not downloaded.ok:
        raise RoomError(f"`pip download` of the workshop's wheels failed:\n{downloaded.output.strip()[-600:]}",
                        "this needs PyPI once, on the instructor's machine: connect it, then `workshop room serve` again")
    write_atomic(done, "ok\n")
    return sorted(p.name for p in wheels.glob("*.whl"))


def stock(workshop: Workshop, home: RoomHome, progress: Progress, wheels: bool = True) -> bytes:
    """Everything the room serves; returns the manifest's bytes. Wheels are made when missing, if PyPI
    answers; a room without them still serves everything else (the learners have the workshop already)."""
    stock_modules(workshop, home, progress)
    if wheels:
        try:
            stock_wheels(home, progress)
        except RoomError as exc:
            progress(f"The room serves no wheels this time: {str(exc).splitlines()[0]} "
                     "(run `workshop prepare --room` where PyPI answers to add them)")
    home.blobs.mkdir(parents=True, exist_ok=True)
    return stock_programs(home, progress, stock_gocache(workshop, home, progress))
