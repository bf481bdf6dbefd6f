"""What `neuron-oracle validate` prints: a text verdict, JSON, or a JUnit XML report.

Every message is passed through ``golden._text.short`` once more here, so whatever an implementation raised
or returned cannot break a line of the text report, forge a summary, or make the XML ill-formed.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

from golden._text import encodable, short
from golden.outcome import Judged, Kind, Outcome, Status, Verdict

TITLES = {Kind.CASE: "golden cases", Kind.PROPERTY: "properties"}
PROPERTIES_SUITE = "properties"  # the JUnit suite of the properties; each set's is golden-SET


def summary(outcomes: list[Outcome]) -> str:
    """``14 passed, 1 failed, 0 errors, 4 skipped`` over every case and property."""
    counts = Counter(o.status for o in outcomes)
    return (
        f"{counts[Status.PASSED]} passed, {counts[Status.FAILED]} failed, "
        f"{counts[Status.ERROR]} errors, {counts[Status.SKIPPED]} skipped"
    )


def ok(outcomes: list[Outcome]) -> bool:
    """True when something passed and nothing failed or errored (``Verdict.ok``)."""
    return Verdict("", "", outcomes).ok


def last_line(outcomes: list[Outcome]) -> str:
    """The last line: OK, FAILED, or why nothing was checked, with the counts."""
    if not any(o.status is Status.PASSED for o in outcomes) and all(
        o.status is Status.SKIPPED for o in outcomes
    ):
        return f"NOTHING CHECKED: every case and property was skipped ({summary(outcomes)})"
    return f"{'OK' if ok(outcomes) else 'FAILED'}: {summary(outcomes)}"


def sets(verdict: Verdict) -> list[str]:
    """The golden sets whose cases `verdict` holds, in the order they ran (a case's ``group``; the
    verdict's ``golden`` for a case that names none); the verdict's own when it holds no case."""
    found = [set_of(o, verdict) for o in verdict.outcomes if o.kind is Kind.CASE]
    return list(dict.fromkeys(found)) or ([verdict.golden] if verdict.golden else [])


def set_of(o: Outcome, verdict: Verdict) -> str:
    """The golden set of case `o`: its ``group``, else the verdict's set."""
    return o.group or verdict.golden


def groups(verdict: Verdict) -> list[tuple[str, str, list[Outcome]]]:
    """The report's groups in order, each ``(set, title, outcomes)``: a golden set's cases (titled
    ``golden cases``, or ``golden cases (SET)`` among several sets), then the properties (set ``""``).
    A group with no outcome is left out."""
    names = sets(verdict)
    out = []
    for name in names:
        mine = [o for o in verdict.outcomes if o.kind is Kind.CASE and set_of(o, verdict) == name]
        title = TITLES[Kind.CASE] if len(names) == 1 else f"{TITLES[Kind.CASE]} ({name})"
        out.append((name, title, mine))
    properties = [o for o in verdict.outcomes if o.kind is Kind.PROPERTY]
    return [g for g in [*out, ("", TITLES[Kind.PROPERTY], properties)] if g[2]]


def text(verdict: Verdict) -> str:
    """One line per case and property, the reason beside each that did not pass, the verdict last.

    The first lines name IMPL, the golden set, the precision it was judged in and the conventions in
    force, each with how it was chosen, then the isolation it ran under. Each golden set's cases are a
    section of their own (``golden cases (v3)``, ``golden cases (grader/hidden)``), then the properties.
    A failure a classic mistake explains is followed by a line saying which.
    """
    impl, golden, outcomes = verdict.impl, verdict.golden, verdict.outcomes
    judged, isolation = verdict.judged, verdict.isolation
    lines = [f"validating {short(impl)} against golden {short(golden)}{_held(judged)}"]
    if judged is not None:
        lines.append(short(f"conventions: {judged.conventions_text()}"))
    if isolation is not None:
        lines.append(isolation.describe())
    for _, title, mine in groups(verdict):
        lines.append(f"\n{short(title)}")
        for o in mine:
            lines.append(f"  {o.status.value.upper():<7} {short(o.name, 80)}{_reason(o)}")
            if (why := likely(o)) is not None:
                lines.append(f"          {why}")
    lines.append(f"\n{last_line(outcomes)}")
    return "\n".join(lines)


def likely(outcome: Outcome) -> str | None:
    """``likely: …``, the classic mistake that explains a failure (``outcome.diagnosis``), or None.

    The text report prints it under the failure, and the pytest plugin in the failure's report.
    """
    return f"likely: {short(outcome.diagnosis['message'], 400)}" if outcome.diagnosis else None


def _held(judged: Judged | None) -> str:
    return f" in {short(judged.precision_text())}" if judged is not None else ""


def _reason(o: Outcome) -> str:
    return "" if o.status is Status.PASSED or not o.message else f": {short(o.message, 400)}"


def as_json(verdict: Verdict) -> str:
    """The whole report as JSON: impl, golden set (``golden``, the sets' names joined, and among several
    ``sets``, a list of them), precision and conventions (worded, and in ``judged`` as values with their
    sources), each outcome (its set as ``group``; with its diagnosis, ``{"id", "message"}``, when a
    classic mistake explains it), the counts and the verdict.

    Each outcome's ``ratios`` holds, for every stage checked against golden v2's bounds, the largest
    error/bound seen: how close a passing implementation came.
    """
    impl, golden, outcomes = verdict.impl, verdict.golden, verdict.outcomes
    judged, isolation = verdict.judged, verdict.isolation
    counts = Counter(o.status for o in outcomes)
    names = sets(verdict)
    report: dict[str, Any] = {
        "impl": impl,
        "golden": golden,
        **({"sets": names} if len(names) > 1 else {}),  # one set: the report as it always was
        "precision": judged.precision_text() if judged is not None else "",
        "conventions": judged.conventions_text() if judged is not None else "",
        "judged": judged.as_dict() if judged is not None else None,
        "isolation": isolation.as_dict() if isolation is not None else None,
        "ok": verdict.ok,
        "counts": {status.value: counts[status] for status in Status},
        "outcomes": [{**o.as_dict(), "message": short(o.message, 400)} for o in outcomes],
    }
    return json.dumps(encodable(report), indent=2, ensure_ascii=False)


def junit(verdict: Verdict) -> str:
    """A JUnit XML report for CI dashboards: a testsuite per golden set (``golden-v3``,
    ``golden-grader/hidden``), then one of the properties.

    A diagnosis is carried as the testcase's properties ``diagnosis`` (its id) and ``diagnosis_message``;
    the isolation in force as the attribute ``isolation`` of the testsuites.
    """
    impl = verdict.impl
    judged, isolation = verdict.judged, verdict.isolation
    suites = ET.Element("testsuites", name=f"neuron-oracle validate {short(impl)}{_held(judged)}")
    if isolation is not None:
        suites.set("isolation", isolation.describe())
    for name, _, mine in groups(verdict):
        counts = Counter(o.status for o in mine)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=short(f"golden-{name}") if name else PROPERTIES_SUITE,
            tests=str(len(mine)),
            failures=str(counts[Status.FAILED]),
            errors=str(counts[Status.ERROR]),
            skipped=str(counts[Status.SKIPPED]),
        )
        for o in mine:
            case = ET.SubElement(suite, "testcase", classname=suite.get("name", ""), name=short(o.name, 80))
            message = short(o.message, 400)
            if o.diagnosis:
                properties = ET.SubElement(case, "properties")
                ET.SubElement(properties, "property", name="diagnosis", value=short(o.diagnosis["id"], 80))
                ET.SubElement(
                    properties, "property", name="diagnosis_message", value=short(o.diagnosis["message"], 400)
                )
            if o.status is Status.FAILED:
                ET.SubElement(case, "failure", message=message, type=o.stage or "").text = message
            elif o.status is Status.ERROR:
                ET.SubElement(case, "error", message=message).text = message
            elif o.status is Status.SKIPPED:
                ET.SubElement(case, "skipped", message=message)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode")
