"""How much a report says of each outcome: ``--feedback full|stage|score``, decided once, on the data.

``redact(report, level)`` turns a Verdict (or a batch's Graded record, or one Outcome) into what `level`
lets a report say, before any renderer sees it: every format (text, JSON, JUnit, CSV, Gradescope, HTML,
the pytest plugin's failures) renders the redacted data as it renders any, so no renderer parses text and
no field of any format can say more than the level allows.

``full``
    Everything, as before: the values expected and got, the bounds and error ratios, the messages as
    worded, the diagnosis with the numbers it infers.
``stage``
    For each case and property: its name (``SET/CASE``) and set, its status, the first stage that
    diverged, the stages that agreed before it, and the classic mistake's id with a wording that holds no
    number of the case (``golden.harness._diagnosis.stage_wording``). Never a value expected or got, a
    bound or an error ratio, the case's inputs or shapes (row counts included), a constant inferred from
    the values, or what the implementation itself returned or said. The message is rebuilt from those
    fields: a failure says whether the shape, a NaN or infinity, or the values diverged (from the data
    ``expected`` and ``got`` hold, which are then dropped); a call that raised keeps the call, the
    exception's type and the learner's own file:line (``forward raised ValueError at my_neuron.py:14``)
    but not its message, which may print values; any other error says only that it was one. A
    trajectory's failing step is named ``trajectory``, since its number bounds the case's steps.
``score``
    Whether each case and property passed, and nothing else: an error is a failure, every message, stage
    and diagnosis is dropped.

What this cannot stop: an implementation that sees a case's inputs (it must, to be judged on them) may
choose what it does with them: which cases to pass, where to fail, which exception type to raise, at
which line. Those stay in every level but ``score``, and which cases pass stays in all three. A load
error (``Graded.error``) is worded by the toolkit before any case's input reached the implementation,
and is kept under ``stage`` with the message of an exception it names dropped; under ``score`` it says
only that the implementation was not graded.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, overload

from golden.grading._scoring import Graded
from golden.options import FEEDBACK, FULL
from golden.outcome import STAGE, TRAJECTORY, Kind, Outcome, Status, Verdict

SCORE = FEEDBACK[2]  # passed or failed, nothing else
# "forward raised ValueError at my_neuron.py:14: …" as golden.harness._where.raised words it: the head (the
# toolkit's words: the call), the exception's type, and where in the learner's code, each checked for its
# form; the message after them is the implementation's and never kept.
RAISED = re.compile(
    r"^(?P<head>[^\n]{0,300}? raised )(?P<kind>[A-Za-z_][A-Za-z0-9_.]{0,79})"
    r"(?P<where> at (?:[\w./-]{1,200}\.py:\d{1,9}|cell In\[\d{1,9}\], line \d{1,9}))?(?=: | \(| at |$)"
)
NOT_IMPLEMENTED = re.compile(r"^(?P<call>[A-Za-z_][A-Za-z0-9_ ]{0,80}?) is not implemented yet")
WITHHELD = "its details are withheld under feedback stage"


@overload
def redact(report: Verdict, level: str) -> Verdict: ...
@overload
def redact(report: Graded, level: str) -> Graded: ...
@overload
def redact(report: Outcome, level: str) -> Outcome: ...
def redact(report: Verdict | Graded | Outcome, level: str) -> Verdict | Graded | Outcome:
    """`report` (a Verdict, a Graded record or one Outcome) as `level` (``golden.options.FEEDBACK``) lets
    a report say it; ``full`` gives `report` itself.

    Parameters
    ----------
    report
        What a run or a batch found, or one item of it.
    level
        ``full``, ``stage`` or ``score`` (``Options.feedback``, checked when the options were built).

    Returns
    -------
    Verdict, Graded or Outcome
        A copy of `report` that holds only what `level` lets a report say; `report` is not changed.
    """
    if level == FULL:
        return report
    if level not in FEEDBACK:
        raise ValueError(f"feedback {level!r} is none of {', '.join(FEEDBACK)}")
    if isinstance(report, Outcome):
        return _score(report) if level == SCORE else _stage(report)
    outcomes = [redact(o, level) for o in report.outcomes]
    if isinstance(report, Graded):
        return replace(report, outcomes=outcomes, error=_load_error(report, level))
    return replace(report, outcomes=outcomes)


def seed_shown(seed: int | None, level: str) -> int | None:
    """The batch's seed as a student's results file may hold it: under ``full`` (a teacher's own run,
    where every failing example is printed anyway, and the one record a regrade in Gradescope's container
    keeps), else None. Under ``stage`` and ``score`` it stays the teacher's: with it, every example the
    properties judge on could be drawn again, and a submission fitted to them."""
    return seed if level == FULL else None


def _score(o: Outcome) -> Outcome:
    """Passed, failed (an error is one) or skipped, and nothing else."""
    status = Status.FAILED if o.status is Status.ERROR else o.status
    return Outcome(o.name, status, o.kind, group=o.group)


def _stage(o: Outcome) -> Outcome:
    """The case, its stage, what agreed and the mistake's numberless wording; no value, no message of the
    implementation's."""
    stage = _stage_name(o)
    diagnosis = None
    if o.diagnosis is not None and stage is not None:
        from golden.harness._diagnosis import stage_wording

        wording = stage_wording(o.diagnosis.get("id", ""), stage)
        diagnosis = None if wording is None else {"id": o.diagnosis["id"], "message": wording}
    return Outcome(
        o.name,
        o.status,
        o.kind,
        stage,
        _message(o, stage),
        list(o.agreed),
        not_implemented=o.not_implemented,
        timed_out=o.timed_out,
        diagnosis=diagnosis,
        group=o.group,
    )


def _stage_name(o: Outcome) -> str | None:
    """The stage, a trajectory's step as ``trajectory`` (its number bounds the case's steps)."""
    if o.kind is Kind.CASE and o.stage is not None and o.stage not in STAGE:
        return TRAJECTORY.name if o.stage.startswith(f"{TRAJECTORY.name} ") else None
    return o.stage


def _message(o: Outcome, stage: str | None) -> str:
    """Why `o` did not pass, from its fields (and the form of a raise), never from the values it holds."""
    if o.status is Status.PASSED:
        return ""
    if o.status is Status.SKIPPED:
        return "not applicable to this implementation"
    if o.status is Status.ERROR:
        return _error(o)
    if o.kind is Kind.PROPERTY:
        return f"{o.name} does not hold; its example is withheld under feedback stage"
    before = f"the stages before it agree ({', '.join(o.agreed)})" if o.agreed else "no stage before it"
    return f"{stage or 'a stage'} {_how(o.expected, o.got)}; {before}"


def _how(expected: Any, got: Any) -> str:
    """How a failed stage diverged, from the data alone: its shape, a NaN or infinity, or its values."""
    import numpy as np

    if expected is None or got is None:
        return "diverges: the implementation does not follow the protocol there"
    try:
        shapes = np.shape(expected), np.shape(got)
    except ValueError:
        return "diverges"
    if shapes[0] != shapes[1]:
        return "does not have the expected shape"
    if any(isinstance(v, str) for v in np.ravel(np.asarray(got, dtype=object))):
        return "holds NaN or infinity"
    return "is not within its bound of the expected value"


def _error(o: Outcome) -> str:
    """An error worded without the implementation's text: the call, the exception's type and where."""
    if o.timed_out:
        return "timed out; its process was stopped"
    if o.not_implemented:
        found = NOT_IMPLEMENTED.match(o.message)
        return f"{found['call'] if found else 'a method'} is not implemented yet"
    return _raised(o.message) or f"an error: {WITHHELD}"


def _raised(message: str) -> str | None:
    """``forward raised ValueError at my_neuron.py:14`` from such a message, or None for another."""
    found = RAISED.match(message)
    return None if found is None else f"{found['head']}{found['kind']}{found['where'] or ''}"


def _load_error(g: Graded, level: str) -> str | None:
    """Why `g` was not graded: under ``stage`` as worded, the message of a raise dropped; under
    ``score``, only that it was not."""
    if g.error is None:
        return None
    if level == SCORE:
        return "could not be loaded" if not g.loaded else "not graded"
    return _raised(g.error) or g.error
