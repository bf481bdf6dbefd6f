"""Gradescope's autograder ``results.json`` for one IMPL, and the wording of each test that PrairieLearn's
results share.

The fields are those of Gradescope's specification (``golden/schema/gradescope-results.schema.json``
names its source): a test per case and property in the grade, each with ``name``, ``number``, ``score``,
``max_score``, ``status``, ``output`` in Markdown (``output_format: md``: its verdict, the classic mistake,
and a small table of the stage that failed) and ``extra_data`` (the stage, the diagnosis id, the
error/bound ratio); at the top, ``score``, ``execution_time``, ``output`` (as plain text, ``output_format:
text``: never rendered as HTML, which Gradescope's default would) and, when the feedback level lets a
student's file hold it, the batch's seed in ``extra_data``. Every value comes from outcomes already
redacted to the feedback level (``golden.feedback.redact``): what a level drops, no field here can show.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from golden import report
from golden._text import short
from golden.grading._scoring import Graded
from golden.harness._sandbox import Isolation
from golden.options import VISIBILITIES
from golden.outcome import Kind, Outcome, Status

VISIBLE = VISIBILITIES[0]  # Gradescope's default: a test shown at once
# Markdown's own characters, backslashed so that a message (an implementation's, under full) is shown as
# written: no link, image, HTML or table of its making; ``_`` only at a word's edge (``dJ_db`` stays).
MARKDOWN = re.compile(r"[\\`*\[\]<>#|~!]|(?<!\w)_|_(?!\w)")
CELL = 60  # characters of a value in the table of a failed stage


def gradescope(
    g: Graded,
    isolation: Isolation,
    visibility: Mapping[str, str] | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Gradescope's autograder results.json for one IMPL: a test per case and property, and the score.

    Each test has ``name`` (``SET/CASE`` among several sets), ``number`` (its place among every item
    planned, the same for every submission), ``score`` (its points if it passed, else 0), ``max_score``
    (its points), ``status`` (``passed`` or ``failed``: an errored item earns nothing), ``output`` in
    Markdown (``output_format``: why it did not pass, the classic mistake its values match, a table of
    the failed stage) and ``extra_data`` (its stage, diagnosis id and error/bound ratio, those the
    feedback level kept). Only the items in the grade are tests (``Graded.counts``): one weighted 0, or
    skipped (not applicable) and not named by the weights, is left out, never shown as failed; a skipped
    one the weights name is a failed test worth its points, its output saying it was skipped. Given a
    `visibility` per set, every test has Gradescope's ``visibility``: its set's, else ``visible``. The
    top-level ``score`` is the sum; ``execution_time`` the IMPL's run, in whole seconds (when it ran
    here: an IMPL found in ``--cache`` has the time of the run that graded it); ``output`` the verdict over
    the tests shown at once (or why the IMPL could not be loaded), and on a second line the isolation it
    ran under, in plain text; ``extra_data`` holds `seed`, given only when the feedback level shows it.
    """
    numbers = numbered(g)
    tests = []
    for name in g.counted:
        o = g.outcome(name)
        passed = o.status is Status.PASSED
        test: dict[str, Any] = {
            "name": name,
            "number": numbers[name],
            "score": g.points(name) if passed else 0.0,
            "max_score": g.points(name),
            "status": "passed" if passed else "failed",
            "output": markdown(g, o),
            "output_format": "md",
        }
        if extra := extra_data(o):
            test["extra_data"] = extra
        if visibility:
            test["visibility"] = visibility.get(g.group(name), VISIBLE)
        tests.append(test)
    verdict = f"{short(g.impl)}: {shown_verdict(g, visibility)}"
    output = short(g.error, 400) if g.error is not None else verdict
    results: dict[str, Any] = {"score": g.score}
    if g.seconds is not None:
        results["execution_time"] = round(g.seconds)
    results |= {"output": f"{output}\n{isolation.describe()}", "output_format": "text", "tests": tests}
    if seed is not None:
        results["extra_data"] = {"seed": seed}
    return results


def numbered(g: Graded) -> dict[str, str]:
    """Each item's test number: its place among every item planned, from 1, whether it is in the grade or
    not, so that a case has the same number in every submission's results."""
    return {name: str(k) for k, name in enumerate(g.items, 1)}


def wording(g: Graded, o: Outcome) -> str:
    """How item `o` went, in words: ``golden case NAME: failed: why``, and on a second line the classic
    mistake its values match, when one does."""
    kind = "golden case" if o.kind is Kind.CASE else "property"
    return f"{kind} {o.name}: {how(g, o)}"


def how(g: Graded, o: Outcome) -> str:
    """``failed: why`` (or ``passed``, ``skipped: why; it counts …``), and on a second line the classic
    mistake its values match, when one does; ``not graded`` when `g` ran nothing."""
    if g.error is not None:
        return "not graded: see the output above"
    passed = o.status is Status.PASSED
    why = o.status.value + (f": {short(o.message, 400)}" if o.message and not passed else "")
    if o.status is Status.SKIPPED:
        why += f"; it counts, since the weights give it {g.points(o.name):g} points"
    if (diagnosis := report.likely(o)) is not None:
        why += f"\n{diagnosis}"
    return why


def markdown(g: Graded, o: Outcome) -> str:
    """`o`'s output in Markdown: its wording, each line a paragraph with Markdown's characters
    backslashed, and the table of the stage that failed (``stage_table``) when there is one."""
    paragraphs = [escape(line) for line in wording(g, o).splitlines()]
    if g.error is None and (table := stage_table(o)):
        paragraphs.append(table)
    return "\n\n".join(paragraphs)


def stage_table(o: Outcome) -> str:
    """A Markdown table of the stage where `o` failed: the stage, the values expected and got and the
    error/bound ratio when `o` holds them (under ``full``), and the stages that agreed before it; empty
    for an item that passed, or names no stage."""
    if o.status is Status.PASSED or not o.stage:
        return ""
    cells = {"stage": f"`{_cell(o.stage)}`"}
    if o.expected is not None:
        cells["expected"] = f"`{_cell(o.expected)}`"
    if o.got is not None:
        cells["got"] = f"`{_cell(o.got)}`"
    if (ratio := _ratio(o)) is not None:
        cells["error / bound"] = f"{ratio:.3g}"
    cells["agreed before it"] = ", ".join(f"`{_cell(s)}`" for s in o.agreed) or "none"
    rows = [list(cells), ["---"] * len(cells), list(cells.values())]
    return "\n".join(f"| {' | '.join(row)} |" for row in rows)


def extra_data(o: Outcome) -> dict[str, Any]:
    """What Gradescope stores with a test (``extra_data``): the stage it failed at, its diagnosis id and
    the error/bound ratio (of that stage; of the closest stage for one that passed), each only when `o`
    holds it: ``stage`` drops the ratio, ``score`` all three."""
    extra: dict[str, Any] = {}
    if o.stage:
        extra["stage"] = o.stage
    if o.diagnosis:
        extra["diagnosis"] = o.diagnosis["id"]
    if (ratio := _ratio(o)) is not None:
        extra["ratio"] = ratio
    return extra


def _ratio(o: Outcome) -> float | None:
    """The error/bound ratio of the stage `o` failed at, or the largest of a passing `o`'s stages; None
    when `o` holds none, or it is not finite (JSON holds no infinity)."""
    ratios = o.ratios
    ratio = max(ratios.values(), default=None) if o.status is Status.PASSED else ratios.get(o.stage or "")
    return ratio if ratio is not None and math.isfinite(ratio) else None


def escape(text: str) -> str:
    """`text` with Markdown's characters backslashed (``MARKDOWN``), shown as written."""
    return MARKDOWN.sub(lambda m: "\\" + m.group(0), text)


def _cell(value: Any) -> str:
    """A value as a table's code span shows it: on one line, short, with no backtick or bar to end it."""
    return short(str(value), CELL).replace("`", "'").replace("|", "/")


def shown_verdict(g: Graded, visibility: Mapping[str, str] | None) -> str:
    """The verdict of `g`'s tests shown at once: a set of another visibility is not counted, and named."""
    later = {name: how for name, how in (visibility or {}).items() if how != VISIBLE}
    if not later:
        return report.last_line(g.outcomes)
    shown = [o for o in g.outcomes if g.group(o.name) not in later]
    head = report.last_line(shown) if shown else "no test is shown at once"
    return f"{head}; not counted here: {', '.join(f'{name} ({how})' for name, how in later.items())}"
