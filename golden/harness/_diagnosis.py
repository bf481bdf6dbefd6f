"""The diagnosis of a failed stage by the catalogue of classic mistakes (``golden.harness._mistakes``).

When a stage fails, the harness works out what each mistake in ``CATALOGUE`` would have produced on that
case, and how far any implementation making that mistake, in the precision judged, may land from it
(``golden.harness._predictions``). When the values got lie within a prediction's bound (and, since the
stage failed, not within the right value's), the outcome carries that mistake: its id and a sentence a
learner understands. A diagnosis is only ever looked for on a failed stage, and a correct implementation
never fails one (the bounds are sound), so no correct implementation is diagnosed. The catalogue is data:
``neuron-oracle mistakes`` prints it. A mistake that shows only after a call the case would not make
asks for it in ``PROBES``, which the case runner's plan makes.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from golden.files._case import GoldenCase
from golden.harness._compare import worst
from golden.harness._mistakes import BY_ID as BY_ID
from golden.harness._mistakes import CATALOGUE as CATALOGUE
from golden.harness._mistakes import LOWER_PRECISION as LOWER_PRECISION
from golden.harness._mistakes import Mistake as Mistake
from golden.harness._mistakes import catalogue as catalogue
from golden.harness._predictions import READS_GOT, Floats, floats, within
from golden.harness._predictions import Problem as Problem
from golden.outcome import DJ_DW, STAGE, VALUES, A
from oracle.bounds import PRECISIONS


@dataclass(frozen=True)
class Probe:
    """A call the diagnosis asks the case runner to make, so that a mistake shows in the values it gets:
    `method` on `scale`·X, just before the call of stage `before`, for the mistake `mistake`."""

    mistake: str  # the id of the mistake it shows (golden.harness._mistakes)
    before: str  # a stage's name
    method: str
    scale: float


# forward(2·X) between forward(X) and gradient(X, y): a gradient that reuses the last forward's a is off
# by what that a predicts (golden.harness._predictions.stale).
PROBES = (Probe("stale_forward", DJ_DW.name, A.method, 2.0),)
DECOY = next(p.scale for p in PROBES if p.mistake == "stale_forward")  # what Problem.decoy predicts with
ORDER = ("float64", "float32", "float16", "bfloat16")  # by unit roundoff: 2**-53, -24, -11, -8


def diagnose(
    case: GoldenCase, stage: str, got: np.ndarray[Any, Any], precision: str, conventions: dict[str, str]
) -> dict[str, str] | None:
    """The first mistake whose prediction for `stage` on `case` matches `got` within that prediction's
    own bound in `precision`, as ``{"id", "message"}``; None when none does. Conventions already declared
    are not mistakes.

    The same question gets the same answer: the last ``KEEP`` answers are kept (the submissions of a
    batch that make one mistake fail the same cases with the same values), and so are the predictions
    that do not read the values got (``READS_GOT``), in ``_predictions``' memo of the oracle's stages.
    """
    if STAGE.get(stage) not in VALUES or precision not in PRECISIONS:
        return None
    got = np.asarray(got, dtype=np.float64)
    key = (id(case), stage, got.shape, got.tobytes(), precision, tuple(sorted(conventions.items())))
    if key not in _ANSWERS:
        _ANSWERS[key] = (case, _diagnose(case, stage, got, precision, conventions))
        while len(_ANSWERS) > KEEP:
            _ANSWERS.popitem(last=False)
    _ANSWERS.move_to_end(key)
    answer = _ANSWERS[key][1]
    return None if answer is None else dict(answer)


# The case is kept beside each answer and prediction, so that its id is no other case's while kept.
_ANSWERS: OrderedDict[tuple[Any, ...], tuple[GoldenCase, dict[str, str] | None]] = OrderedDict()
_PREDICTED: OrderedDict[tuple[Any, ...], tuple[GoldenCase, Any]] = OrderedDict()
KEEP = 1024


def _diagnose(
    case: GoldenCase, stage: str, got: np.ndarray[Any, Any], precision: str, conventions: dict[str, str]
) -> dict[str, str] | None:
    problem = Problem(case, conventions, PRECISIONS[precision], stage, got, DECOY)
    found: list[tuple[Mistake, dict[str, str]]] = []
    for mistake in CATALOGUE:
        if mistake.declares and all(conventions.get(k) == v for k, v in mistake.declares):
            continue  # declared: not a mistake
        if mistake.inferred and found:
            continue  # a mistake of the catalogue's own constant explains it already
        try:
            predicted, named = _predicted(mistake, problem)
        except (ValueError, ZeroDivisionError, ArithmeticError):  # OutOfRange: no bound in the precision
            continue
        if within(problem, predicted):
            found.append((mistake, named))
    if not found:
        return _lower_precision(case, stage, got, precision)
    (first, named), others = found[0], [m for m, _ in found[1:]]
    message = first.message.format(stage=stage, m=len(case.inputs.X), **named)
    plain = [m.id for m in others if not m.declares]
    if plain:  # on this case several mistakes give the same values: say so
        message += f" (on this case, {', '.join(plain)} would give the same values)"
    return {"id": first.id, "message": message + _porting([first, *others])}


def _predicted(mistake: Mistake, p: Problem) -> tuple[Floats | None, dict[str, str]]:
    """`mistake`'s prediction for the stage that failed on `p`, as floats and bounds. Kept, and its error
    raised again, when it reads nothing of the values got or of the stage (``READS_GOT``): each stage's
    floats are then made once, when first asked for."""
    if mistake.predict in READS_GOT:
        predicted, named = mistake.predict(p)
        values = predicted.get(p.stage)
        return (None if values is None else floats(values)), named
    conventions = tuple(sorted(p.conventions.items()))
    key = (mistake.id, id(p.case), conventions, p.precision)
    if key not in _PREDICTED:
        try:
            _PREDICTED[key] = (p.case, (*mistake.predict(p), {}))
        except (ValueError, ZeroDivisionError, ArithmeticError) as e:
            _PREDICTED[key] = (p.case, e)
        while len(_PREDICTED) > KEEP:
            _PREDICTED.popitem(last=False)
    _PREDICTED.move_to_end(key)
    kept = _PREDICTED[key][1]
    if isinstance(kept, Exception):
        raise kept
    predicted, named, made = kept
    if p.stage not in made:
        values = predicted.get(p.stage)
        made[p.stage] = None if values is None else floats(values)
    return made[p.stage], named


def stage_wording(mistake_id: str, stage: str) -> str | None:
    """The diagnosis `mistake_id` of a failure at `stage` without a number of the case (no row count, no
    inferred constant), for ``--feedback stage``: ``Mistake.stage_message``, else its message, which has
    none, and the declaration a library's convention offers. None for an id the catalogue does not hold.
    """
    mistake = BY_ID.get(mistake_id)
    if mistake is None:
        return None
    return (mistake.stage_message or mistake.message).format(stage=stage) + _porting([mistake])


def _porting(matched: list[Mistake]) -> str:
    """The declarations that would make the values right, offered to whoever ports a library's code: the
    mistakes among `matched` that are a library's convention, in the catalogue's order."""
    conventions = [m for m in matched if m.declares]
    offer = ". If you are porting code from a library that does this"
    if len(conventions) == 1:
        (m,) = conventions
        return f"{offer} ({m.porting}), declare it: {m.declaration}"
    if conventions:
        each = " or ".join(f"{m.declaration} ({m.porting})" for m in conventions)
        return f"{offer}, declare it: {each}; on this case they give the same values"
    return ""


def _lower_precision(
    case: GoldenCase, stage: str, got: np.ndarray[Any, Any], precision: str
) -> dict[str, str] | None:
    """LOWER_PRECISION when `got` lies within the case's bounds of a precision lower than `precision`."""
    if case.bounds is None or precision not in ORDER:
        return None
    want = np.asarray(getattr(case.expected, stage), dtype=np.float64)
    for lower in ORDER[ORDER.index(precision) + 1 :]:
        per = case.bounds.get(lower, {})
        if stage in per and want.shape == got.shape and worst(got, want, np.asarray(per[stage]))[1] <= 1:
            message = LOWER_PRECISION.message.format(stage=stage, lower=lower, precision=precision)
            return {"id": LOWER_PRECISION.id, "message": message}
    return None
