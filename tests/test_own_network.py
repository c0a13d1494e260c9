"""The tests' own network (tests/own_network.py): a marked test runs where the labs' ports are free, and the
guard fails a test that reaches for a default port it did not open."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.own_network import DEFAULT_PORTS
from workshop.env.http import port_free

PYTEST_NET = os.stat("/proc/self/ns/net").st_ino  # read at import, in pytest's own process

TOUCHING = '''
import socket

import pytest


def _reach(port):
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port))


def test_reaches_the_registry_port():
    _reach(5000)


@pytest.mark.own_network
def test_reaches_it_in_its_own_network():
    assert _reach(5000) != 0  # nothing listens there


def test_takes_a_free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert _reach(s.getsockname()[1]) == 0
'''


@pytest.mark.own_network
def test_a_marked_test_runs_where_the_labs_ports_are_free() -> None:
    assert os.stat("/proc/self/ns/net").st_ino != PYTEST_NET
    assert [p for p in DEFAULT_PORTS if not port_free(p)] == []
    with socket.socket() as s:  # its loopback is up
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert socket.create_connection(s.getsockname(), timeout=2)


@pytest.mark.own_network  # the guard holds the default ports: here, not on the machine's network
def test_the_guard_fails_the_test_that_touched_a_default_port(tmp_path: Path) -> None:
    (tmp_path / "test_touching.py").write_text(TOUCHING)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.own_network", "-p", "no:cacheprovider", "-rA",
                           str(tmp_path / "test_touching.py")], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "WORKSHOP_TEST_GUARD_PORTS": "1", "COLUMNS": "300", "PYTHONPATH": str(ROOT)}, check=False)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert f"default ports guarded: {len(DEFAULT_PORTS)} of {len(DEFAULT_PORTS)}" in out
    assert "ERROR test_touching.py::test_reaches_the_registry_port - Failed: this test connected to 127.0.0.1:5000" in out
    assert "PASSED test_touching.py::test_reaches_it_in_its_own_network" in out
    assert "PASSED test_touching.py::test_takes_a_free_port" in out
    assert "3 passed, 1 error" in out  # the touching test's own call passed; the guard failed its teardown
