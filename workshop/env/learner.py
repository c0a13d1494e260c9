"""What a learner keeps running while the checks look at it, started the way they would start it.

Used by selftest and grading, which have no learner at the keyboard; a learner's own checks never
start these for them (they say how to start them instead).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workshop.core import waiting
from workshop.core.content import Lab
from workshop.core.errors import WorkshopError
from workshop.core.locations import tools_bin
from workshop.env import http, supervisor
from workshop.env.mesh.kube import local_kubeconfig
from workshop.env.prepare import OFFLINE_VERSIONS_URL, PrepareError, seed_func_e
from workshop.env.services.catalog import Modules
from workshop.env.tools import GO_TOOLS, func_e_env, seeded_envoys, tool_path


class NotReady(WorkshopError):
    """A learner's program did not come up; the message carries its last output lines."""


def learner_env() -> dict[str, str]:
    """The environment of a prepared learner's shell: the workshop's tools on PATH (kubectl and istioctl
    among them, for the local mesh), func-e offline, and the module server's folder as $WORKSHOP_MODULES.

    func-e gets the packaged Envoy (seeded on first use) and a versions address where nothing
    listens, so it never tries to download anything here.
    """
    if not seeded_envoys():
        try:
            seed_func_e(lambda _message: None)
        except PrepareError:
            pass  # no Envoy to give func-e yet: `workshop doctor` says why; the rest of the env still helps
    env = {**os.environ, **func_e_env(), "ENVOY_VERSIONS_URL": OFFLINE_VERSIONS_URL,
           "KUBECONFIG": str(local_kubeconfig()),  # kubectl and istioctl talk to the local mesh's API server
           "WORKSHOP_MODULES": str(Modules().folder())}  # what the module server serves (a lab's serve.sh copies there)
    env["PATH"] = os.pathsep.join([*map(str, tool_dirs()), env.get("PATH", "")])
    return env


def tool_dirs() -> list[Path]:
    """The folders that hold the labs' tools: the workshop's own, then wherever `workshop prepare`
    found a tool already installed at its pinned version (say ~/go/bin)."""
    dirs = [tools_bin()]
    for tool in GO_TOOLS:
        found = tool_path(tool.name)
        if found is not None and found.parent not in dirs:
            dirs.append(found.parent)
    return dirs


def shell_exports(env: dict[str, str] | None = None) -> dict[str, str]:
    """What `learner_env()` changes in this process's environment: what a learner's shell must export."""
    env = learner_env() if env is None else env
    return {k: v for k, v in env.items() if os.environ.get(k) != v}


@contextmanager
def running(lab: Lab, folder: Path, must_start: bool = True) -> Iterator[list[str]]:
    """Start ``lab.runs`` in ``folder``, wait until each is ready, stop them all afterwards.

    Yields what went wrong for those that did not start (when ``must_start`` is False).
    """
    started = []
    problems: list[str] = []
    try:
        for run in lab.runs:
            if run.ready is None:
                env = {**learner_env(), **run.env}
                done = supervisor.run(run.command, cwd=folder, env=env, timeout=run.timeout, label="learner")
                error = None if done.ok else f"`{' '.join(run.command)}` failed ({done.code}):\n{done.output.strip()[-800:]}"
            else:
                log = folder.parent / f".{folder.name}-{run.command[0]}.log"
                with open(log, "wb") as out_file:
                    proc = supervisor.spawn(run.command, cwd=folder, env={**learner_env(), **run.env}, stdout=out_file,
                                       label="learner")
                started.append(proc)
                error = _wait(proc, run.ready, run.timeout, log)
            if error:
                if must_start:
                    raise NotReady(error)
                problems.append(error)
        yield problems
    finally:
        for proc in started:
            supervisor.stop(proc, grace=2.0)


def _wait(proc, url: str, timeout: float, log: Path) -> str | None:  # type: ignore[no-untyped-def]
    def ended() -> str | None:
        if proc.poll() is None:
            return None
        tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-8:])
        return f"`{' '.join(proc.args)}` exited with {proc.returncode}:\n{tail}"

    waited = waiting.until(lambda: http.request(url, timeout=1).status == 200, ended=ended, timeout=timeout,
                           every=0.05, not_yet=(http.NoResponse,))
    if waited.ready:
        return None
    return waited.ended or f"`{' '.join(proc.args)}` was not ready at {url} within {timeout:g} s"
