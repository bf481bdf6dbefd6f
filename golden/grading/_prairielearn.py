"""PrairieLearn's external-grader ``results.json`` for one IMPL (``--format prairielearn``).

The fields are those of PrairieLearn's external grading documentation
(``golden/schema/prairielearn-results.schema.json`` names its source): ``gradable``, ``score`` (the
fraction of the points earned, in [0, 1]), ``message``, ``output`` and a test per case and property in
the grade, each with ``name``, ``description``, ``points``, ``max_points``, ``message`` and ``output``. A
submission that cannot be loaded is ``gradable: false`` with its ``format_errors``: PrairieLearn awards
nothing, takes nothing and charges the student no attempt. PrairieLearn shows every test it is given, so
the tests of a set whose visibility is not ``visible`` (``--visibility``) are left out of ``tests`` and
counted in the score, and the message names the set. As in Gradescope's file, every value comes from
outcomes redacted to the feedback level, and the batch's seed is written only where that level lets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from golden._text import short
from golden.grading._gradescope import VISIBLE, how, shown_verdict
from golden.grading._scoring import Graded
from golden.harness._sandbox import Isolation
from golden.outcome import Kind, Status


def prairielearn(
    g: Graded,
    isolation: Isolation,
    visibility: Mapping[str, str] | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """PrairieLearn's results.json for one IMPL: gradable or not, the score as a fraction, the tests.

    Each test has ``name``, ``description`` (a golden case of its set, or a property), ``points`` (its
    points if it passed, else 0), ``max_points`` (its points), ``message`` (how it went, in a line) and
    ``output`` (the classic mistake its values match, when one does). Only the items in the grade are
    tests (``Graded.counts``), as in Gradescope's file, and only those of a set shown at once (`visibility`:
    ``visible``, the default). ``score`` is the points earned over the points in the grade (0 when none
    is); ``message`` the verdict over the tests shown, ``output`` the isolation the IMPL ran under; `seed`,
    given only when the feedback level shows it, is kept as ``seed``. An IMPL that could not be loaded is
    ``gradable: false``, its load error in ``format_errors`` and ``message``, with no score and no tests.
    """
    common: dict[str, Any] = {"output": isolation.describe()}
    if seed is not None:
        common["seed"] = seed
    if not g.loaded:
        error = short(g.error or "it could not be loaded", 400)
        return {"gradable": False, "format_errors": [error], "message": error, **common}
    hidden = {name for name, how in (visibility or {}).items() if how != VISIBLE}
    tests = []
    for name in g.counted:
        if g.group(name) in hidden:
            continue
        o = g.outcome(name)
        head, _, more = how(g, o).partition("\n")
        where = f"a golden case of {g.group(name)}" if g.group(name) else "a golden case"
        tests.append(
            {
                "name": name,
                "description": where if o.kind is Kind.CASE else "a property of the neuron",
                "points": g.points(name) if o.status is Status.PASSED else 0.0,
                "max_points": g.points(name),
                "message": head,
                "output": more,
            }
        )
    score = round(g.score / g.max_score, 6) if g.max_score else 0.0
    message = short(g.error, 400) if g.error is not None else shown_verdict(g, visibility)
    return {"gradable": True, "score": score, "message": message, **common, "tests": tests}
