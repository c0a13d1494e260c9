"""Verdicts as machines read them: JUnit XML for CI systems, JSON for scripts and gradebooks."""

from __future__ import annotations

import json
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from workshop.core.verdict import ERROR, FAILED, SKIPPED, TIMED_OUT, Verdict


def summary(verdicts: list[Verdict]) -> dict[str, int]:
    counts = {"checks": len(verdicts), "passed": 0, "failed": 0, "error": 0, "timed out": 0, "skipped": 0}
    for v in verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    counts["points"] = sum(v.points for v in verdicts if v.passed)
    counts["max_points"] = sum(v.points for v in verdicts)
    return counts


def to_json(verdicts: list[Verdict], **extra: object) -> str:
    return json.dumps({**extra, "summary": summary(verdicts), "verdicts": [v.to_dict() for v in verdicts]}, indent=2)


def junit_xml(suites: Iterable[tuple[str, list[Verdict]]], name: str = "workshop") -> str:
    """One <testsuite> per (name, verdicts) pair; timed-out checks are failures of type 'timeout'."""
    root = ET.Element("testsuites", name=name)
    for suite_name, verdicts in suites:
        counts = summary(verdicts)
        suite = ET.SubElement(
            root, "testsuite", name=suite_name, tests=str(len(verdicts)),
            failures=str(counts["failed"] + counts["timed out"]), errors=str(counts["error"]),
            skipped=str(counts["skipped"]), time=f"{sum(v.seconds for v in verdicts):.3f}",
            timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"), hostname=socket.gethostname(),
        )
        for v in verdicts:
            case = ET.SubElement(suite, "testcase", classname=f"{v.lab}.{v.step}", name=v.name, time=f"{v.seconds:.3f}")
            if v.status in (FAILED, TIMED_OUT):
                node = ET.SubElement(case, "failure", message=v.message, type="timeout" if v.status == TIMED_OUT else "failed")
                node.text = v.explain()
            elif v.status == ERROR:
                node = ET.SubElement(case, "error", message=v.message, type="error")
                node.text = v.explain() + ("\n\n" + v.traceback if v.traceback else "")
            elif v.status == SKIPPED:
                ET.SubElement(case, "skipped", message=v.message)
            if v.output:
                ET.SubElement(case, "system-out").text = v.output
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
