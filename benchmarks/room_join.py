"""A room on loopback, inside a network namespace that has only loopback (`unshare -n`), so nothing
can come from outside and the figures prove it. Measures:

1. one fresh learner: `workshop join` (its own HOME, data, cache, state, tools and Go caches) until the
   lab's first check is ready, against a cold `workshop prepare` from the registries (given in seconds
   with --cold; measured on this machine as the time of a cold prepare's log);
2. the first `workshop check 01` (solution in place) of the freshly joined learner, warmed Go build
   cache, against the same learner with an empty Go build cache (as after a cold prepare);
3. forty learners fetching at once: every program blob (decompressed and verified against the manifest
   in memory, not written: forty copies would be 23 GB of disk) and the labs' Go modules through the
   room's proxy into a module cache of their own: all ready, the total time, the server's memory, the
   bytes on loopback per learner, and what forty would take through a 1 Gbit/s link.

    python benchmarks/room_join.py [--learners 40] [--cold 761]

The instructor's machine is this one: its prepared tools (WORKSHOP_TOOLS_DIR or the default data
folder) and Go module cache. Timings on a shared machine are noisy: compare ratios.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORKSHOP = [sys.executable, "-m", "workshop"]


def person(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKSHOP_", "GO", "PIP_"))}
    root.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(root), NO_COLOR="1", WORKSHOP_STATE_DIR=str(root / "state"), WORKSHOP_DATA_DIR=str(root / "data"),
               WORKSHOP_CACHE_DIR=str(root / "cache"), WORKSHOP_WORKSPACE=str(root / "ws"),
               WORKSHOP_TOOLS_DIR=str(root / "tools"), XDG_CACHE_HOME=str(root / ".cache"))
    env.update(extra)
    return env


def lo_tx() -> int:
    """Bytes sent on this namespace's loopback (/proc/net/dev is per namespace; /sys/class/net is the mounter's)."""
    for line in Path("/proc/net/dev").read_text().splitlines():
        name, _, counters = line.partition(":")
        if name.strip() == "lo":
            return int(counters.split()[8])
    raise RuntimeError("no loopback in /proc/net/dev")


def timed(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=cwd, timeout=3600)
    return time.perf_counter() - start, proc


def wire_learner(url: str, token: str, folder: str) -> None:
    """One simulated learner's fetch: every blob streamed, decompressed and hashed; the Go modules downloaded."""
    import zstandard

    from workshop.env.prepare import module_dirs
    from workshop.room.client import Room
    from workshop.room.join import go_env
    from workshop.runs.session import Session

    start = time.perf_counter()
    room = Room(url, token)
    room.lab()
    manifest = room.manifest()
    got = 0
    for entry in manifest["files"]:
        h = hashlib.sha256()
        with room._open(f"/programs/blobs/{entry['sha256']}.zst") as resp:
            reader = zstandard.ZstdDecompressor().stream_reader(resp)
            while chunk := reader.read(1 << 20):
                h.update(chunk)
        assert h.hexdigest() == entry["sha256"], entry["path"]
        got += int(entry["compressed"])
    env = {**os.environ, **go_env(room), "GOMODCACHE": f"{folder}/gomod", "GOCACHE": f"{folder}/gocache"}
    for d in module_dirs(Session.open(None, None).workshop):
        subprocess.run(["go", "mod", "download", "all"], cwd=d, env=env, check=True, capture_output=True, timeout=600)
    print(json.dumps({"seconds": time.perf_counter() - start, "program_bytes": got}))


def inside(args: argparse.Namespace) -> None:
    import psutil

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    work = Path(tempfile.mkdtemp(prefix="room-bench-"))
    gomodcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True).stdout.strip()
    from workshop.core.locations import tools_dir

    instructor = person(work / "instructor", WORKSHOP_TOOLS_DIR=str(tools_dir()), GOMODCACHE=gomodcache)
    port = 18000 + os.getpid() % 1000  # the namespace is ours alone: any port is free
    url = f"http://127.0.0.1:{port}"
    log = open(work / "serve.log", "wb")
    t0 = time.perf_counter()
    server = subprocess.Popen([*WORKSHOP, "room", "serve", "--listen", f"127.0.0.1:{port}", "--no-wheels"], env=instructor,
                              stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    while "workshop join" not in (work / "serve.log").read_text():
        if server.poll() is not None:
            sys.exit((work / "serve.log").read_text())
        time.sleep(0.2)
    stocked = time.perf_counter() - t0
    token = (work / "instructor" / "data" / "room" / "token").read_text().strip()
    subprocess.run([*WORKSHOP, "room", "goto", "01"], env=instructor, check=True, capture_output=True)
    try:
        results = {"stock_and_serve_s": round(stocked, 1)}
        # 1. one fresh learner
        ada = person(work / "ada")
        tx = lo_tx()
        seconds, proc = timed([*WORKSHOP, "join", url, "--token", token, "--name", "ada"], ada)
        if proc.returncode:
            sys.exit(proc.stdout + proc.stderr)
        results["join_s"] = round(seconds, 1)
        results["join_said"] = next((x for x in proc.stdout.splitlines() if x.startswith("Ready in")), "")
        results["join_lo_bytes_MB"] = round((lo_tx() - tx) / 1e6, 1)
        results["cold_prepare_s"] = args.cold
        results["join_vs_cold_prepare"] = f"{args.cold / seconds:.1f}x faster"
        # 2. the first check, warmed build cache vs empty
        subprocess.run([*WORKSHOP, "solve", "01"], env=ada, check=True, capture_output=True)
        warm_s, warm = timed([*WORKSHOP, "check", "01"], ada)
        gocache = subprocess.run(["go", "env", "GOCACHE"], env=ada, capture_output=True, text=True).stdout.strip()
        shutil.rmtree(gocache)
        cold_s, cold = timed([*WORKSHOP, "check", "01"], ada)
        results["first_check_01_warmed_s"] = round(warm_s, 1)
        results["first_check_01_cold_gocache_s"] = round(cold_s, 1)
        results["first_check_passed"] = [warm.returncode == 0, cold.returncode == 0]
        # 3. forty at once
        tx = lo_tx()
        me = psutil.Process(server.pid)
        start = time.perf_counter()
        learners = [subprocess.Popen([sys.executable, __file__, "--wire-learner", url, token, str(work / f"l{i}")],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
                    for i in range(args.learners)]
        peak = 0
        while any(p.poll() is None for p in learners):
            peak = max(peak, sum(p.memory_info().rss for p in [me, *me.children(recursive=True)]))
            time.sleep(0.2)
        total = time.perf_counter() - start
        outs = [json.loads(p.stdout.read().strip().splitlines()[-1]) for p in learners if p.returncode == 0]
        sent = lo_tx() - tx
        per = sent / args.learners
        results.update({
            "learners": args.learners, "all_ready": len(outs) == args.learners, "together_s": round(total, 1),
            "each_median_s": round(statistics.median(o["seconds"] for o in outs), 1) if outs else None,
            "server_peak_rss_MB": round(peak / 1e6), "wire_MB_per_learner": round(per / 1e6, 1),
            "forty_through_1Gbit_s": round(40 * per * 8 / 1e9, 0),
        })
        print(json.dumps(results, indent=2))
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=40)
    parser.add_argument("--cold", type=float, default=761.0, help="seconds of a cold `workshop prepare` on this machine")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--wire-learner", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.wire_learner:
        wire_learner(*args.wire_learner)
    elif args.inside:
        inside(args)
    else:  # into a network namespace of our own: only loopback, nothing outside can be reached
        os.execvp("unshare", ["unshare", "-n", sys.executable, __file__, "--inside", "--learners", str(args.learners),
                              "--cold", str(args.cold)])


if __name__ == "__main__":
    main()
