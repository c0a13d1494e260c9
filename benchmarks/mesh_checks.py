"""The mesh labs' check cycle (06-09): `workshop check NN` on each lab's solution with the mesh up, and
where the time goes, phase by phase.

    python benchmarks/mesh_checks.py [--runs 3] [--labs 06,07,08,09] [--against DIR]

With --against DIR (another version of the workshop's tree, say `git archive BASE | tar -x -C DIR`),
every counted run is done with this tree and with DIR in turns, on the same mesh, so a shared
machine's load hits both alike; each lab then shows both sides' medians and their ratio.

Runs in a network namespace of its own (as root it starts itself under `unshare -n` with only
loopback up), so the labs' fixed ports (the registry's 5000, the mesh's 15012...) never meet another
user's, and in temporary state, data and cache folders; the built programs are the prepared ones.
For each lab: a fresh mesh and the lab's services, the solution's `runs:` done as a learner does
them (build, push, pin), then `workshop check NN --json` once to warm up and --runs times counted.
Each check reports its time and the probe (benchmarks/probe/workshop_phase_probe.py, a pytest
plugin loaded with PYTEST_ADDOPTS) where it went: kubectl (apply, delete, dry run), waiting until the
sidecar runs what was applied (istiod's push, the agent's fetch, Envoy), traffic until it shows it,
Istio's fetcher, status reads, and of the waits the pauses between polls (the workshop's own
waiting). The rest of a check is its own Python; the runner's share is Python start, pytest start
and collection, and the gaps between checks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from workshop.core import chain

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "benchmarks" / "probe"
MESH_LABS = ("06", "07", "08", "09")


def in_own_network() -> None:
    """Start again inside a network namespace with only loopback (root only; otherwise say how)."""
    if os.environ.get("WORKSHOP_BENCH_NETNS") == "1":
        return
    if os.geteuid() != 0 or not shutil.which("unshare"):
        sys.exit("run it in a network namespace of its own: unshare -n sh -c 'ip link set lo up; python benchmarks/mesh_checks.py'")
    env = {**os.environ, "WORKSHOP_BENCH_NETNS": "1"}
    argv = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable, *sys.argv]
    sys.exit(subprocess.run(argv, env=env, check=False).returncode)


def one_lab(lab_id: str, runs: int, tools: str, base: Path, trees: list[Path]) -> list[dict]:
    """For each tree (this one first), the lab's runs: their wall times, the runner's share and the phases."""
    tmp = base / f"lab-{lab_id}"
    env = {**os.environ, "NO_COLOR": "1", "WORKSHOP_TOOLS_DIR": tools, "WORKSHOP_SERVICES": "owned",
           "KUBECACHEDIR": str(tmp / "kubecache"), "PYTEST_ADDOPTS": "-p workshop_phase_probe",
           "WORKSHOP_PHASES_FILE": str(tmp / "phases.jsonl")}
    for name in ("STATE", "DATA", "CACHE"):
        env[f"WORKSHOP_{name}_DIR"] = str(tmp / name.lower())
    os.environ.update(env)  # the services and the lab's runs below start from this process
    from workshop.core.content import load_workshop
    from workshop.env import services
    from workshop.env.learner import running

    lab = load_workshop(ROOT).lab(lab_id)
    ws = tmp / "ws"
    chain.write_files(chain.solution_files(lab), ws / lab.slug)
    began = time.perf_counter()
    services.ensure(lab.services)
    print(f"lab {lab.id}: services up in {time.perf_counter() - began:.1f} s", flush=True)
    sides = [{"tree": str(tree), "walls": [], "runner": [], "phases": defaultdict(list), "checks": defaultdict(list)}
             for tree in trees]
    try:
        with running(lab, ws / lab.slug):
            for n, side in ((n, side) for n in range(runs + 1) for side in sides):
                walls, runner, phases, per_check = side["walls"], side["runner"], side["phases"], side["checks"]
                Path(env["WORKSHOP_PHASES_FILE"]).unlink(missing_ok=True)
                start = time.perf_counter()
                side_env = {**env, "PYTHONPATH": f"{PROBE}{os.pathsep}{side['tree']}"}
                out = subprocess.run([sys.executable, "-m", "workshop", "check", lab.id, "--json", "--workspace", str(ws)],
                                     capture_output=True, text=True, env=side_env, check=False,
                                     cwd=side["tree"])  # `python -m` reads the package from the folder it runs in first
                wall = time.perf_counter() - start
                try:
                    data = json.loads(out.stdout)
                except ValueError:
                    sys.exit(f"lab {lab.id}: `workshop check` said no JSON:\n{out.stdout[-1500:]}{out.stderr[-1500:]}")
                failed = [(v["name"], v["message"]) for v in data["verdicts"] if v["status"] != "passed"]
                if failed:
                    sys.exit(f"lab {lab.id}: the solution did not pass: {failed}")
                print(f"  {'warm-up' if n == 0 else f'run {n}'} ({side['tree']}): {wall:.1f} s", flush=True)
                if n == 0:
                    continue
                walls.append(wall)
                runner.append(wall - sum(v["seconds"] for v in data["verdicts"]))
                totals: dict[str, float] = defaultdict(float)
                for line in Path(env["WORKSHOP_PHASES_FILE"]).read_text().splitlines():
                    rec = json.loads(line)
                    per_check[rec["check"]].append(rec["seconds"])
                    for phase, secs in rec["phases"].items():
                        totals[phase] += secs
                    totals["the checks' own Python"] += rec["seconds"] - sum(
                        s for p, s in rec["phases"].items() if not p.startswith(("of which", "kubectl processes")))
                for phase, secs in totals.items():
                    phases[phase].append(secs)
    finally:
        services.stop_owned()
    return [{"lab": lab.slug, **side} for side in sides]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--labs", default=",".join(MESH_LABS), metavar="IDS")
    parser.add_argument("--against", metavar="DIR", help="another version of the workshop's tree, run in turns with this one")
    args = parser.parse_args()
    trees = [ROOT] + ([Path(args.against).resolve()] if args.against else [])
    in_own_network()
    sys.path.insert(0, str(ROOT))
    from workshop.core.locations import tools_dir

    tools = str(tools_dir())  # read before the data folder moves
    base = Path(tempfile.mkdtemp(prefix="bench-mesh-checks-"))
    results = []
    try:
        for lab_id in [x.strip() for x in args.labs.split(",") if x.strip()]:
            results.append(one_lab(lab_id, args.runs, tools, base, trees))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    order = ["kubectl", "in force", "traffic", "Istio's fetcher", "mesh reads", "services", "the checks' own Python",
             "of which polls", "of which sleeping", "kubectl processes"]
    for lab_sides in results:
        for r in lab_sides:
            show(r, order)
        if len(lab_sides) == 2:
            ours, theirs = (statistics.median(side["walls"]) for side in lab_sides)
            print(f"  {lab_sides[0]['lab']}: this tree / {lab_sides[1]['tree']}: {ours / theirs:.2f}")
    load = os.getloadavg()[0]
    print(f"\nload average {load:.1f} on {os.cpu_count()} cores (the machine may be shared: compare medians, not single runs)")
    return 0


def show(r: dict, order: list[str]) -> None:
    wall = statistics.median(r["walls"])
    print(f"\n{r['lab']} ({r['tree']}): `workshop check` median {wall:.2f} s of {len(r['walls'])} runs "
          f"{[round(w, 1) for w in r['walls']]}")
    print(f"  {'runner: Python start, pytest, collection, between checks':<58} {statistics.median(r['runner']):6.2f} s")
    for phase in order + sorted(set(r["phases"]) - set(order)):
        if phase in r["phases"]:
            unit = "" if phase == "kubectl processes" else " s"
            print(f"  {'checks: ' + phase:<58} {statistics.median(r['phases'][phase]):6.2f}{unit}")
    for name, secs in r["checks"].items():
        print(f"    {name:<70} {statistics.median(secs):6.2f} s")


if __name__ == "__main__":
    sys.exit(main())
