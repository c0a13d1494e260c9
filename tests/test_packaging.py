"""The wheel carries the content, so `pipx install` users get the labs, solutions and checks."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_wheel_ships_the_content(tmp_path: Path) -> None:
    code = "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))"
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    wheel = tmp_path / proc.stdout.strip().splitlines()[-1]
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ("workshop/_content/labs/01-first-filter/lab.md", "workshop/_content/labs/01-first-filter/starter/main.go",
                 "workshop/_content/solutions/01-first-filter/main.go", "workshop/_content/checks/01-first-filter/test_envoy.py",
                 "workshop/_content/labs/05-oci-image/starter/push.sh", "workshop/checking/plugin.py",
                 "workshop/tui/web/app_index.html", "workshop/room/page.html"):
        assert path in names, path
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "workshop = workshop.cli:main" in entry and "[pytest11]" in entry


def test_installed_wheel_runs_its_own_content(tmp_path: Path) -> None:
    """Unpacked like site-packages: the package finds workshop/_content when no source tree is beside it."""
    code = "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))"
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    wheel = tmp_path / out.stdout.strip().splitlines()[-1]
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = "from workshop.core.locations import bundled_content; from workshop.core.content import load_workshop; " \
            "from workshop.core.chain import starter_files; " \
            "r = bundled_content(); print(r); print(load_workshop(r).lab('01').slug); " \
            "print(starter_files(load_workshop(r).lab('05'))['main.go'])"
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    root, slug, main = proc.stdout.split()
    assert root == str(site / "workshop" / "_content") and slug == "01-first-filter"
    # lab 05's starter is assembled from the wheel's copy: its filter is lab 04's solution
    assert main == str(site / "workshop" / "_content" / "solutions" / "04-logs-and-metrics" / "main.go")
