"""Tests of the real labs run in a network namespace of their own; a guard notices a test that touches a
default port of the workshop it did not open.

The labs' content fixes ports (lab 02's checks expect Envoy's admin on 9901 and its listener on 10000,
httpbin on 8080; the images are named 127.0.0.1:5000/...; a solution's uri says 8077). A test of a real lab
therefore cannot take free ports, and on a machine where another program holds them it would meet that
program (a registry on 5000 is welcomed as the user's own, and the test pushed its images into it).

A test marked ``own_network`` runs in a forked child that first enters a new network namespace holding
only its loopback (as `workshop grade`'s sandbox and tests/labs/mesh_learners_work.py do): the labs' addresses are free
there whatever the machine runs, nothing the test starts can be reached from outside, and every process it
leaves behind is ended with the namespace. Setup, call and teardown all run in the child; its reports go
back to pytest through a pipe.

The guard: with WORKSHOP_TEST_GUARD_PORTS=1, the test run holds every default port it finds free (a
listener that accepts and records, then hangs up) and fails the test during which a connection came, naming
the port. Tests in namespaces of their own never meet these listeners; any other test that reaches for a
default port does. It is opt-in because it occupies the defaults for the whole run, which a learner's own
`workshop env up` beside it would then miss.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import socket
import struct
import threading
from dataclasses import fields
from pathlib import Path

import pytest
from _pytest.runner import SetupState, runtestprotocol

from workshop.env.service import Ports

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
DEFAULT_PORTS = tuple(sorted({getattr(Ports(), f.name) for f in fields(Ports)}))
MARKER = "own_network: runs in a network namespace of its own (only loopback), where the labs' fixed ports are free"


def _unshare(flags: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _loopback_up() -> None:
    """`ip link set lo up`, as an ioctl (SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, 0x8913, struct.pack("16sH22x", b"lo", 0)))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 0x1))


def enter() -> None:
    """Move this (single-threaded) process into a new network namespace with its loopback up: as root
    directly, else inside a new user namespace that maps this user to itself."""
    try:
        _unshare(CLONE_NEWNET)
    except PermissionError:
        uid, gid = os.getuid(), os.getgid()
        _unshare(CLONE_NEWUSER | CLONE_NEWNET)
        for name, text in (("uid_map", f"{uid} {uid} 1"), ("setgroups", "deny"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    _loopback_up()


_possible: str | None = None


def why_not() -> str:
    """'' when this machine gives a process a network namespace of its own, else why not (asked once)."""
    global _possible
    if _possible is None:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                enter()
                said = b""
            except OSError as exc:
                said = str(exc).encode() or b"unshare failed"
            os.write(w, said)
            os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            said = f.read().decode()
        os.waitpid(pid, 0)
        _possible = (f"a network namespace of its own is not possible here ({said}): run the tests as root, "
                     "or allow user namespaces (sysctl kernel.unprivileged_userns_clone=1)") if said else ""
    return _possible


def _end_the_rest() -> None:
    """Kill every process still in this network namespace (what the test left behind), then wait for ours."""
    mine = os.stat("/proc/self/ns/net").st_ino
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}/ns/net").st_ino == mine:
                    os.kill(int(entry), signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def run_in_own_network(item: pytest.Item) -> list[pytest.TestReport]:
    """Setup, call and teardown of ``item`` in a forked child in a network namespace of its own."""
    config = item.config
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(r)
            enter()
            item.session._setupstate = SetupState()  # set up and tear down here only what this test needs
            reports = runtestprotocol(item, log=False, nextitem=None)
            from workshop.env import supervisor

            supervisor.stop_owned()
            _end_the_rest()
            data = [config.hook.pytest_report_to_serializable(config=config, report=rep) for rep in reports]
            with os.fdopen(w, "w") as out:
                json.dump(data, out)
        except BaseException as exc:  # noqa: BLE001 - whatever happens, the parent hears of it
            with contextlib.suppress(Exception):
                os.write(w, json.dumps({"broken": f"{type(exc).__name__}: {exc}"}).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        text = f.read()
    _, status = os.waitpid(pid, 0)
    try:
        data = json.loads(text)
    except ValueError:
        data = {"broken": f"the child ended ({status:#x}) before it reported"}
    if isinstance(data, dict):
        return [pytest.TestReport(item.nodeid, item.location, {}, "failed",
                                  f"could not run in a network namespace of its own: {data['broken']}", "call")]
    return [config.hook.pytest_report_from_serializable(config=config, data=d) for d in data]


class Guard:
    """Listeners on the default ports that were free; who connected to which, while which test ran."""

    def __init__(self) -> None:
        self.held: dict[int, socket.socket] = {}
        self.busy: list[int] = []
        self.touched: list[tuple[str, int]] = []
        self.current = ""
        for port in DEFAULT_PORTS:
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
                s.listen(64)
            except OSError:
                s.close()
                self.busy.append(port)
                continue
            self.held[port] = s
            threading.Thread(target=self._accept, args=(port, s), daemon=True).start()

    def _accept(self, port: int, s: socket.socket) -> None:
        while True:
            try:
                conn, _ = s.accept()
            except OSError:
                return
            self.touched.append((self.current, port))
            conn.close()

    def close(self) -> None:
        for s in self.held.values():
            s.close()


_guard: Guard | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _guard
    config.addinivalue_line("markers", MARKER)
    if os.environ.get("WORKSHOP_TEST_GUARD_PORTS") == "1" and not hasattr(config, "workerinput"):
        _guard = Guard()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _guard is not None:
        _guard.close()


def pytest_report_header(config: pytest.Config) -> str | None:
    if _guard is None:
        return None
    busy = f"; held by other programs, so not watched: {_guard.busy}" if _guard.busy else ""
    return f"default ports guarded: {len(_guard.held)} of {len(DEFAULT_PORTS)}{busy}"


def wanted(item: pytest.Item) -> bool:
    """Marked own_network, and not ``own_network(False)``: a test that must run on the machine's network says so
    (skipped when the whole run is in a namespace of its own)."""
    marker = item.get_closest_marker("own_network")
    return marker is not None and marker.args[:1] != (False,)


def away_from_the_host() -> bool:
    """Whether this run itself is in another network namespace than the Docker engine's (or else PID 1's), so
    that containers on the host's network cannot be reached; False when that cannot be told."""
    for pidfile in ("/var/run/docker.pid", None):
        try:
            pid = Path(pidfile).read_text().strip() if pidfile else "1"
            return os.readlink("/proc/self/ns/net") != os.readlink(f"/proc/{pid}/ns/net")
        except OSError:
            continue
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any(wanted(item) for item in items) and why_not():
        for item in items:
            if wanted(item):
                item.add_marker(pytest.mark.skip(reason=why_not()))
    host = [item for item in items if item.get_closest_marker("own_network") and not wanted(item)]
    if host and away_from_the_host():
        for item in host:
            item.add_marker(pytest.mark.skip(reason="it needs the machine's network (Docker's containers are there), "
                                                    "and this test run is in a network namespace of its own"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if not wanted(item) or item.get_closest_marker("skip") or why_not():
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in run_in_own_network(item):
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    item.session._setupstate.teardown_exact(nextitem)  # what the tests before it set up, as pytest would
    return True


@pytest.fixture(autouse=True)
def default_ports_untouched(request: pytest.FixtureRequest):
    """With the guard on: fail a test during which something connected to a default port the run holds."""
    if _guard is None:
        yield
        return
    _guard.current = request.node.nodeid
    before = len(_guard.touched)
    yield
    hits = sorted({port for who, port in _guard.touched[before:] if who == request.node.nodeid})
    if hits:
        pytest.fail(f"this test connected to 127.0.0.1:{', '.join(map(str, hits))}, the workshop's default port(s), "
                    "which it did not open: take free ports (WORKSHOP_PORT_*), or mark it own_network")
