"""What `neuron-oracle validate` prints: a text verdict, JSON, or a JUnit XML report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

from golden.conformance import ERROR, FAILED, PASSED, SKIPPED, Outcome

ORDER = (PASSED, FAILED, ERROR, SKIPPED)


def summary(outcomes: list[Outcome]) -> str:
    """``14 passed, 1 failed, 0 errors, 4 skipped`` over every case and property."""
    counts = Counter(o.status for o in outcomes)
    return (
        f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[ERROR]} errors, {counts[SKIPPED]} skipped"
    )


def ok(outcomes: list[Outcome]) -> bool:
    """True when nothing failed or errored."""
    return not any(o.status in (FAILED, ERROR) for o in outcomes)


def text(impl: str, golden: str, outcomes: list[Outcome]) -> str:
    """One line per case and property, the reason beside each that did not pass, a summary last."""
    lines = [f"validating {impl} against golden {golden}"]
    for kind, title in (("case", "golden cases"), ("property", "properties")):
        mine = [o for o in outcomes if o.kind == kind]
        if not mine:
            continue
        lines.append(f"\n{title}")
        for o in mine:
            reason = f": {o.message}" if o.status != PASSED else ""
            lines.append(f"  {o.status.upper():<7} {o.name}{reason}")
    verdict = "OK" if ok(outcomes) else "FAILED"
    lines.append(f"\n{verdict}: {summary(outcomes)}")
    return "\n".join(lines)


def as_json(impl: str, golden: str, outcomes: list[Outcome]) -> str:
    """The whole report as JSON: impl, golden version, each outcome, the counts and the verdict."""
    counts = Counter(o.status for o in outcomes)
    report: dict[str, Any] = {
        "impl": impl,
        "golden": golden,
        "ok": ok(outcomes),
        "counts": {status: counts[status] for status in ORDER},
        "outcomes": [o.as_dict() for o in outcomes],
    }
    return json.dumps(report, indent=2, ensure_ascii=False)


def junit(impl: str, golden: str, outcomes: list[Outcome]) -> str:
    """A JUnit XML report, one testsuite per kind (golden cases, properties), for CI dashboards."""
    suites = ET.Element("testsuites", name=f"neuron-oracle validate {impl}")
    for kind in ("case", "property"):
        mine = [o for o in outcomes if o.kind == kind]
        if not mine:
            continue
        counts = Counter(o.status for o in mine)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"golden-{golden}" if kind == "case" else "properties",
            tests=str(len(mine)),
            failures=str(counts[FAILED]),
            errors=str(counts[ERROR]),
            skipped=str(counts[SKIPPED]),
        )
        for o in mine:
            case = ET.SubElement(suite, "testcase", classname=suite.get("name", ""), name=o.name)
            if o.status == FAILED:
                ET.SubElement(case, "failure", message=o.message, type=o.stage or "").text = o.message
            elif o.status == ERROR:
                ET.SubElement(case, "error", message=o.message).text = o.message
            elif o.status == SKIPPED:
                ET.SubElement(case, "skipped", message=o.message)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode")
