"""Judge one value the implementation returned against the expected one, in the validating process.

A value must be real numbers (Python numbers, or an array of a float or int dtype); then its shape must
match exactly; then every element must be finite; then ``|got − expected| <= atol + rtol·|expected|``
elementwise with the case's tolerance. The first of these that fails is a ``Divergence`` naming the
stage, the method and what was expected and got.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from golden._text import short
from golden.harness._protocol import Value
from golden.outcome import PARAMETERS, STAGE, Status

Array = NDArray[np.float64]
SHOWN = 8  # values of a stage a message shows in full; a larger array is named by index


class Divergence(Exception):
    """The first stage of a case that does not agree: its status, its name and why."""

    def __init__(
        self, status: Status, stage: str, message: str, got_values: Array | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status, self.stage, self.message, self.extra = status, stage, short(message, 400), extra
        self.got_values = got_values  # the numbers got, when they were numbers of the right shape


def numbers(value: Value, stage: str, what: str) -> Array:
    """The numbers in `value`; a Divergence naming `what` returned something else."""
    if value.array is not None:
        return value.array
    got = "None" if value.is_none else value.description
    if value.items is not None:
        bad = [v for v in value.items if v.array is None or v.array.ndim != 0]
        if not bad:
            return np.array([float(v.array) for v in value.items if v.array is not None])  # [tensor(1.), …]
        got += f" holding {'None' if bad[0].is_none else bad[0].description or 'an array'}"
    raise Divergence(Status.FAILED, stage, f"{what} returned {got}; expected real numbers")


def pair(value: Value, stage: str) -> tuple[Value, Value]:
    """The (dJ_dw, dJ_db) that gradient must return."""
    if value.items is not None and len(value.items) == 2:
        return value.items[0], value.items[1]
    got = f"{len(value.items)} values" if value.items is not None else _kind(value)
    raise Divergence(Status.FAILED, stage, f"gradient returned {got}; expected a pair (dJ_dw, dJ_db)")


def _kind(value: Value) -> str:
    if value.array is not None:
        return f"one array of shape {value.array.shape}" if value.array.ndim else "one number"
    return "None" if value.is_none else value.description


class Checker:
    """Compares stage after stage, remembering which stages agreed and how close each came.

    With a `bound` (golden v2) each element must satisfy |got − expected| <= its bound in `precision`,
    compared exactly in rational arithmetic; ``ratios`` keeps, per stage, the largest error/bound seen.
    Without one (golden v1), ``|got − expected| <= atol + rtol·|expected|`` with the case's tolerance.
    """

    def __init__(self, rtol: float, atol: float, precision: str = "float64") -> None:
        self.rtol, self.atol, self.precision = rtol, atol, precision
        self.agreed: list[str] = []
        self.ratios: dict[str, float] = {}

    def __call__(
        self, stage: str, what: str, value: Value, expected: Any, shape: tuple[int, ...], bound: Any = None
    ) -> Array:
        """Check `value` against `expected` of `shape` (within `bound`); the numbers got, or a Divergence."""
        got = numbers(value, stage, what)
        want = np.asarray(expected, dtype=np.float64)
        if got.shape != shape:
            raise Divergence(
                Status.FAILED,
                stage,
                f"{what} returned shape {got.shape}; expected {shape}",
                expected=expected,
                got=_json(got),
            )
        if not np.isfinite(got).all():
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0]) if got.ndim else ()
            bad = got[index] if index else got
            raise Divergence(
                Status.FAILED,
                stage,
                f"{what} returned {bad} at index {index}; NaN and infinity are errors",
                expected=expected,
                got=_json(got),
            )
        if bound is None:  # golden v1: its tolerance
            limits = np.broadcast_to(self.atol + self.rtol * np.abs(want), got.shape)
            wrong = not np.isclose(got, want, rtol=self.rtol, atol=self.atol).all()
            why = f" (rtol {self.rtol:g}, atol {self.atol:g})"
        else:
            limits = _shaped(np.asarray(bound, dtype=np.float64), got.shape)
            error, ratio, limit = worst(got, want, limits)
            self.ratios[stage] = max(ratio, self.ratios.get(stage, 0.0))
            wrong = ratio > 1
            times = f"{ratio:.2g} ×" if math.isfinite(ratio) else "above"
            why = f": error {error:.3g} is {times} the {self.precision} bound ({limit:.2g})"
        if wrong:
            before = (
                f"the stages before it agree ({', '.join(self.agreed)})"
                if self.agreed
                else "no stage before it"
            )
            if got.size > SHOWN:  # a large array: where it first differs and how far at most, not all of it
                first, furthest = beyond(got, np.broadcast_to(want, got.shape), limits)
                at = f"expected {float(want.flat[first])!r}, got {float(got.flat[first])!r}"
                differs = (
                    f"{label(stage, what)} differs first at index {first}: {at}; the largest error is at "
                    f"index {furthest}{why}"
                )
            else:
                differs = f"{label(stage, what)} expected {fmt(want)}, got {fmt(got)}{why}"
            raise Divergence(
                Status.FAILED,
                stage,
                f"{differs}; {before}",
                got_values=got,
                expected=expected,
                got=_json(got),
            )
        if stage not in self.agreed:
            self.agreed.append(stage)
        return got


def worst(got: Array, want: Array, bound: Array) -> tuple[float, float, float]:
    """The element with the largest error/bound: its error, the ratio (inf over a bound of 0), its bound.

    Exact where it decides: an element whose float64 error |got − want|, pushed up past its one rounding
    (2**-53 relative; a subnormal difference is exact), lies below its bound is within it exactly; every
    other element is compared in Fractions, so no rounding here can move a verdict. (The ratio reported
    for an element within its bound is the float64 quotient.)
    """
    g, w, b = got.ravel(), _shaped(want, got.shape).ravel(), _shaped(bound, got.shape).ravel()
    split = _split_few if g.size <= FEW else _split
    (ratio_max, error_max, bound_max), outside = split(g, w, b)
    for index in outside:
        error = abs(Fraction(g[index]) - Fraction(w[index]))
        if error == 0:
            continue
        limit = float(b[index])
        ratio = _float(error / Fraction(limit)) if limit > 0 else math.inf
        if error > Fraction(limit) and ratio <= 1:
            ratio = math.nextafter(1.0, math.inf)  # above the bound, though the float ratio rounds to 1
        if ratio >= ratio_max:
            ratio_max, error_max, bound_max = ratio, _float(error), limit
    return error_max, ratio_max, bound_max


FEW = 16  # elements ``worst`` splits in Python floats: numpy's cost per call outweighs its speed below it
Split = tuple[tuple[float, float, float], list[int]]


def _split(g: Array, w: Array, b: Array) -> Split:
    """For ``worst``: (ratio, error, bound) of the element within its bound, in float64, whose error/bound
    is largest (the first such; zeros when none is), and the indices of the elements neither within it
    nor exactly equal, to be compared in Fractions."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        err = np.abs(g - w)
        within = err * (1 + 2**-50) < b
        quotient = np.where(within, err / np.where(b > 0, b, 1.0), -1.0)
        # Two finite floats are equal exactly when their error is 0, which no bound is below: such an
        # element is passed over, as the Fractions would pass it (an exact value, bound 0 or not).
        exact = (g == w) & np.isfinite(g)
    found = (0.0, 0.0, 0.0)
    if within.any():
        best = int(np.argmax(quotient))
        found = (float(quotient[best]), float(err[best]), float(b[best]))
    return found, np.flatnonzero(~(within | exact)).tolist()


def _split_few(g: Array, w: Array, b: Array) -> Split:
    """``_split`` element by element in Python floats: the same IEEE float64 operations on the same
    numbers (an overflow is infinity in both), the first largest quotient as ``np.argmax`` takes it."""
    best, found, outside = -1.0, (0.0, 0.0, 0.0), []
    for index, (x, y, limit) in enumerate(zip(g.tolist(), w.tolist(), b.tolist(), strict=True)):
        err = abs(x - y)
        if err * (1 + 2**-50) < limit:  # so limit > 0
            if (quotient := err / limit) > best:
                best, found = quotient, (quotient, err, limit)
        elif not (x == y and math.isfinite(x)):
            outside.append(index)
    return found, outside


def _shaped(values: Array, shape: tuple[int, ...]) -> Array:
    """`values` broadcast to `shape` (as they are when they have it: a broadcast costs more than a check)."""
    return values if values.shape == shape else np.broadcast_to(values, shape)


def _float(x: Fraction) -> float:
    """`x` as the nearest float, or infinity past the largest (|1e308 − (−1e308)| has no float)."""
    try:
        return float(x)
    except OverflowError:
        return math.inf


def beyond(got: Array, want: Array, bound: Array) -> tuple[int, int]:
    """The flat index of the first element beyond its bound, and of the one furthest beyond it (the
    largest error/bound; any beyond a bound of 0 is further), compared exactly."""
    first, furthest, most = -1, -1, (False, Fraction(0))
    values = zip(got.ravel().tolist(), want.ravel().tolist(), bound.ravel().tolist(), strict=True)
    for index, (g, w, b) in enumerate(values):
        error = abs(Fraction(g) - Fraction(w))
        if error <= Fraction(b):
            continue
        first = index if first < 0 else first
        how_far = (b == 0, error if b == 0 else error / Fraction(b))
        if how_far > most:
            furthest, most = index, how_far
    return first, furthest


def label(stage: str, what: str) -> str:
    """How a stage is named in a message: ``w read back``, ``dJ_db``, ``trajectory step 2 (w)``."""
    if stage == PARAMETERS.name:
        return f"{what} read back"
    return (
        stage if stage in STAGE else f"{stage} ({what})"
    )  # a trajectory's step (step_name) says which value


def fmt(values: Array) -> str:
    """Values as a short list: ``[-0.375, -0.75]``."""
    return short(repr(values.tolist()), 120)


def _json(values: Array) -> Any:
    """Values for a report: a list (NaN and infinity as strings, which JSON cannot hold)."""
    if np.isfinite(values).all():
        return values.tolist()
    return np.vectorize(lambda x: float(x) if np.isfinite(x) else repr(float(x)), otypes=[object])(
        values
    ).tolist()
