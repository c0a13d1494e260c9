from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from workshop.core import reports
from workshop.core.verdict import Verdict


def _v(name: str, status: str, **kw: object) -> Verdict:
    return Verdict(lab="01-first-filter", step="build", name=name, nodeid=name, status=status, **kw)  # type: ignore[arg-type]


VERDICTS = [
    _v("a", "passed", seconds=1.5),
    _v("b", "failed", message="no header", expected="x: hello", seen="nothing", output="$ go build\nok"),
    _v("c", "timed out", message="too slow"),
    _v("d", "error", message="check broke", traceback="Traceback ..."),
    _v("e", "skipped", message="not here"),
]


def test_junit_counts_and_messages() -> None:
    root = ET.fromstring(reports.junit_xml([("01-first-filter", VERDICTS)]))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("5", "2", "1", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failure = cases["b"].find("failure")
    assert failure is not None and failure.get("message") == "no header" and "expected: x: hello" in (failure.text or "")
    assert cases["b"].findtext("system-out") == "$ go build\nok"
    timeout = cases["c"].find("failure")
    assert timeout is not None and timeout.get("type") == "timeout"
    assert cases["d"].find("error") is not None and cases["e"].find("skipped") is not None
    assert cases["a"].get("classname") == "01-first-filter.build" and cases["a"].get("time") == "1.500"


def test_json_summary() -> None:
    data = json.loads(reports.to_json(VERDICTS, lab="01"))
    assert data["lab"] == "01"
    assert data["summary"]["passed"] == 1 and data["summary"]["timed out"] == 1
    assert data["summary"]["points"] == 1 and data["summary"]["max_points"] == 5
    assert data["verdicts"][1]["seen"] == "nothing"


def test_explain_puts_each_part_on_its_own_line() -> None:
    text = VERDICTS[1].explain()
    assert text.splitlines() == ["no header", "expected: x: hello", "seen    : nothing"]
