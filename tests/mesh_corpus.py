"""The corpus of labs 06-09, graded against one real mesh: run as `python -m tests.mesh_corpus OUT.json LAB...`
inside a network namespace of its own (only loopback), where the labs' own addresses (127.0.0.1:5000,
:8077, :15006) are free, so every case is the file a learner writes, as they write it.

tests/corpus/<lab>/<case>/ holds the files a learner changed, laid over the lab's solution, and EXPECTED.yaml:
``{why, steps: {<step>: pass|fail}, traffic: [{apply: [files], headers: {...}, carries: bool, decides: step}]}``.
For each case: the lab's runs (serve, push, pin: the module built once per lab), then each ``traffic`` probe
(kubectl apply as the learner does, then requests through the sidecar: do the responses carry the headers?),
then the lab's checks. What the traffic showed and what the checks said are written to OUT.json; the test
(tests/test_corpus.py) compares both with EXPECTED.yaml. ``${DIGEST:TAG}`` in a case's file is the manifest
digest of the image the lab's runs pushed to 127.0.0.1:5000/wasm-workshop/filter:TAG.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
MESH_LABS = ("06-envoyfilter", "07-wasmplugin", "08-updates-and-failures", "09-trafficextension")
KINDS = "wasmplugins,trafficextensions,envoyfilters"
INBOUND = "http://127.0.0.1:15006/get"


def cases(lab: str) -> dict[str, dict]:
    folder = CORPUS / lab
    if not folder.is_dir():
        return {}
    return {case.name: yaml.safe_load((case / "EXPECTED.yaml").read_text())
            for case in sorted(folder.iterdir()) if (case / "EXPECTED.yaml").is_file()}


def _workshop(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workshop", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def _kubectl(*args: str) -> subprocess.CompletedProcess[str]:
    from workshop.env.mesh.kube import Kube

    kube = Kube.local()
    return subprocess.run(kube.argv(*args), capture_output=True, text=True, timeout=60, check=False)


def _build(lab, base: Path) -> Path:
    """The lab's solution built once: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared."""
    folder = base / "build" / lab.slug
    shutil.copytree(lab.solution_dir, folder)
    proc = subprocess.run(["go", "build", "-buildmode=c-shared", "-o", "plugin.wasm", "."], cwd=folder, text=True,
                          capture_output=True, timeout=900, check=False, env={**os.environ, "GOOS": "wasip1", "GOARCH": "wasm"})
    if proc.returncode != 0:
        raise SystemExit(f"the solution of {lab.slug} does not build: {proc.stderr[-800:]}")
    return folder / "plugin.wasm"


def _digest(tag: str) -> str:
    proc = subprocess.run(["oras", "resolve", "--plain-http", f"127.0.0.1:5000/wasm-workshop/filter:{tag}"],
                          capture_output=True, text=True, timeout=60, check=False, env=_learner())
    return proc.stdout.strip()


def _learner() -> dict[str, str]:
    from workshop.env.learner import learner_env

    return learner_env()


def _leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _own_module(module: Path, case: str) -> bytes:
    """The lab's module with a custom section naming the case: the same filter, a sha256 (and image digest) of its
    own, so neither Envoy's cache of fetched modules nor the agent's can answer for an earlier case."""
    name = b"workshop-corpus"
    payload = _leb128(len(name)) + name + case.encode()
    return module.read_bytes() + b"\x00" + _leb128(len(payload)) + payload


def _lay_out(lab, case: Path, folder: Path, module: Path) -> None:
    shutil.copytree(lab.solution_dir, folder)
    (folder / "plugin.wasm").write_bytes(_own_module(module, case.name))
    for item in case.iterdir():
        if item.name != "EXPECTED.yaml":
            shutil.copy(item, folder / item.name)


def _substitute(folder: Path) -> None:
    """``${DIGEST:TAG}`` becomes the digest of the image pushed under TAG (known only once pushed)."""
    for path in folder.glob("*.yaml"):
        text = path.read_text()
        if "${DIGEST:" in text:
            path.write_text(re.sub(r"\$\{DIGEST:([\w.-]+)\}", lambda m: _digest(m.group(1)), text))


def _response() -> tuple[int, list[tuple[str, str]]]:
    from workshop.env import http

    try:
        answer = http.request(INBOUND, timeout=5)
    except http.NoResponse:
        return 0, []
    return answer.status, [(k.lower(), v) for k, v in answer.raw_headers]


def _carries(headers: dict[str, str], seen: list[tuple[str, str]]) -> bool:
    return all((str(k).lower(), str(v)) in seen for k, v in headers.items())


def probe(folder: Path, spec: dict) -> dict:
    """Apply the files as a learner does and ask the sidecar: do responses carry the headers?"""
    for name in spec["apply"]:
        applied = _kubectl("apply", "-f", str(folder / name))
        if applied.returncode != 0:
            return {"carries": False, "status": None, "said": applied.stderr.strip()[-300:]}
    want = spec["headers"]
    end = time.monotonic() + (25 if spec["carries"] else 12)  # a module is pulled and compiled in ~3 s
    status, seen = 0, []
    while time.monotonic() < end:
        status, seen = _response()
        if _carries(want, seen):
            break
        time.sleep(0.3)
    return {"carries": _carries(want, seen), "status": status,
            "said": ", ".join(f"{k}: {v}" for k, v in seen if k.startswith("x-"))}


def clean() -> None:
    """Every extension of every namespace deleted, and the sidecar back to none: the next case starts clean."""
    from workshop.checking import mesh_status as status
    from workshop.env.mesh_target import Target

    _kubectl("delete", KINDS, "--all", "--all-namespaces", "--wait=true")
    _kubectl("delete", "secret", "private-registry", "-n", "default", "--ignore-not-found")
    _kubectl("delete", "secret", "private-registry", "-n", "istio-system", "--ignore-not-found")
    end = time.monotonic() + 30
    while time.monotonic() < end:
        seen = status.view(Target.local(), partial=True)
        if not seen.filters and not any(("wasm" in f or "lua" in f or "trafficextension" in f) for f in seen.chain):
            return
        time.sleep(0.3)


def grade_case(lab, case: Path, base: Path, module: Path) -> dict:
    from workshop.env.learner import running
    from workshop.runs.checks import run_checks

    expected = yaml.safe_load((case / "EXPECTED.yaml").read_text())
    folder = base / "cases" / lab.slug / case.name / lab.slug
    _lay_out(lab, case, folder, module)
    without_build = dataclasses.replace(lab, runs=[r for r in lab.runs if r.command[:1] != ["go"]])
    result: dict = {"traffic": [], "steps": {}, "problems": []}
    with running(without_build, folder, must_start=False) as problems:
        result["problems"] = problems
        _substitute(folder)
        for spec in expected.get("traffic") or []:
            clean()
            result["traffic"].append(probe(folder, spec))
        clean()
        run = run_checks(lab, folder, timeout=None)
    for v in run.verdicts:
        step = result["steps"].setdefault(v.step, {"passed": True, "said": []})
        step["passed"] = step["passed"] and v.passed
        if not v.passed:
            step["said"].append(f"{v.name}: {v.message} (seen: {v.seen})"[:700])
    clean()
    return result


def main(out: str, labs: list[str]) -> int:
    from workshop.core.content import load_workshop

    base = Path(os.environ["WORKSHOP_STATE_DIR"]).parent
    up = _workshop("env", "up", "mesh", "registry", "private-registry", "modules", "--timeout", "120")
    if up.returncode != 0:
        Path(out).write_text(json.dumps({"broken": up.stdout + up.stderr}))
        return 1
    workshop = load_workshop(ROOT)
    results: dict = {}
    try:
        for slug in labs:
            lab = workshop.lab(slug[:2])
            module = _build(lab, base)
            only = os.environ.get("CORPUS_CASES", "").split(",") if os.environ.get("CORPUS_CASES") else None
            for name in cases(slug):
                if only and name not in only:
                    continue
                started = time.monotonic()
                results[f"{slug}/{name}"] = {**grade_case(lab, CORPUS / slug / name, base, module),
                                             "seconds": round(time.monotonic() - started, 1)}
                Path(out).write_text(json.dumps(results, indent=1))
    finally:
        _workshop("env", "down")
    Path(out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
