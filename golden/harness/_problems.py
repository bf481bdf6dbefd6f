"""The problems the properties draw, and the oracle's values for them.

A ``Problem`` is a small neuron problem (data, parameters, activation); ``problems`` draws them (at most 4
rows and 3 features, values in [-10, 10], or [-3, 3] in float16 and bfloat16; one in ``LARGE`` tall or
wide, past the block and tile edges where summation bugs live). ``exact`` and ``later`` give a problem's
exact values and their bounds in the precision judged, computed by the oracle (``beside.compute``): now,
or by the oracle's helper while Hypothesis draws the next examples.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import UnsatisfiedAssumption
from numpy.typing import NDArray

from golden.harness._beside import Answer, compute
from golden.harness._compare import SHOWN, Divergence, beyond, numbers, pair, worst
from golden.harness._protocol import Value
from golden.harness._proxy import Op, Pending, RemoteNeuron
from golden.harness._subject import Subject
from oracle.backprop import LOSSES
from oracle.bounds import PRECISIONS
from oracle.exact import ACTIVATIONS

Array = NDArray[np.float64]
Arrays = tuple[Array, Array, Array, Array]


@dataclass(frozen=True)
class Problem:
    """A small neuron problem: data, parameters and activation."""

    X: Array
    y: Array
    w: Array
    b: float
    alpha: float
    activation: str

    def neuron(self, subject: Subject, delta: Array | None = None) -> RemoteNeuron:
        """A fresh instance with these parameters, (w, b) moved by `delta` (n weights, then the bias)."""
        n = self.X.shape[1]
        w, b = (self.w, self.b) if delta is None else (self.w + delta[:n], self.b + float(delta[n]))
        return subject.new(n, self.activation, w, b, self.alpha)

    @property
    def z(self) -> Array:
        """z = X·w + b, computed here in float64 (not by the implementation)."""
        z: Array = self.X @ self.w + self.b
        return z

    def part(self, rows: Any) -> Problem:
        """The same parameters on the rows `rows` of X and y."""
        return Problem(self.X[rows], self.y[rows], self.w, self.b, self.alpha, self.activation)


@dataclass(frozen=True)
class Exact:
    """A problem's exact values (float64) and their bounds in the precision judged, stage by stage."""

    values: dict[str, Array]
    bounds: dict[str, Array]

    def check(self, got: Array, stage: str, what: str, precision: str) -> None:
        """Assert |got − value| <= bound elementwise, exactly, naming the worst element when not."""
        want, bound = self.values[stage], self.bounds[stage]
        assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
        error, ratio, limit = worst(got, want, bound)
        if ratio <= 1:
            return
        if got.size > SHOWN:  # a large array: where it first differs, and how far at worst
            first, furthest = beyond(got, want, np.broadcast_to(bound, got.shape))
            shown = (
                f"differs first at index {first}, {got.flat[first]!r} where exactly {want.flat[first]!r}; "
                f"the largest error is at index {furthest}"
            )
        else:
            shown = f"{got.tolist()} where exactly {want.tolist()}"
        times = f"{ratio:.3g} ×" if np.isfinite(ratio) else "above"
        raise AssertionError(f"{what}: {shown}: error {error!r} is {times} the {precision} bound ({limit!r})")


def exact(p: Problem, subject: Subject, lr: float = 0.0) -> Exact:
    """The oracle's values and bounds for `p` (z, a, dJ_dw, dJ_db, w_new, b_new, w, b), in the precision
    and under the conventions the implementation is held to, computed now.

    An example whose values do not fit in `precision` is rejected (``assume``).
    """
    return _exact(compute(oracle_request(p, subject, lr)))


def later(p: Problem, subject: Subject, lr: float = 0.0) -> Callable[[], Exact]:
    """``exact(p, subject, lr)``, asked for now and had by calling the result: a plan asks before its
    first yield, so that the oracle's helper computes it while Hypothesis draws the next examples."""
    request = oracle_request(p, subject, lr)
    handle = subject.helper.later(request)
    return lambda: _exact(handle.get())


def oracle_request(p: Problem, subject: Subject, lr: float) -> dict[str, Any]:
    """`p` as ``beside.compute`` reads it, with the precision and conventions in force."""
    return {
        "X": p.X.tolist(),
        "y": p.y.tolist(),
        "w": p.w.tolist(),
        "b": p.b,
        "alpha": p.alpha,
        "activation": p.activation,
        "lr": lr,
        "precision": subject.precision,
        "conventions": subject.conventions,
    }


def _exact(answer: Answer) -> Exact:
    if answer is None:  # a value does not fit in the precision: no bound exists there
        raise UnsatisfiedAssumption  # as assume(False) does, and also where a batch is judged
    values = {name: np.array(v, dtype=np.float64).reshape(shape) for name, (v, _, shape) in answer.items()}
    limits = {name: np.array(e, dtype=np.float64).reshape(shape) for name, (_, e, shape) in answer.items()}
    return Exact(values, limits)


# Shapes where blocking, tiling and splitting bugs live: just past powers of two and common tile sizes.
TALL = (5, 9, 17, 33, 65, 129, 257, 513, 1001, 1025, 1100)  # rows: past blocks of 4 … 1024, and of 1000
WIDE = (5, 9, 17, 33, 65, 129, 257, 300)  # features: past tiles of 4 … 256
LARGE = 12  # one problem in LARGE is tall or wide
DYADIC = (-2.0, -1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0)


@st.composite
def problems(
    draw: st.DrawFn,
    subject: Subject,
    bound: float = 10.0,
    min_rows: int = 1,
    kinks: bool = True,
    large: bool = True,
) -> Problem:
    """Problems for the implementation: 1 to 3 features, `min_rows` to 4 rows, values in [-bound, bound].

    With `kinks`, a quarter of them start at the kink: w = 0 and b = 0, so every z is exactly 0 and the
    derivative there (the convention at z = 0) enters every stage that follows. With `large`, one in
    ``LARGE`` is a tall or wide problem instead (``large_problems``).
    """
    if large and draw(st.integers(0, LARGE - 1), label="large") == 0:
        return draw(large_problems(subject, min_rows))
    if subject.precision in ("float16", "bfloat16"):
        bound = min(bound, 3.0)  # (a − y)² stays below float16's largest value, 65504
    n = draw(st.integers(1, 3))
    m = draw(st.integers(min_rows, 4))
    value = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    X, y = vector(draw, m * n, value).reshape(m, n), vector(draw, m, value)
    at_kink = kinks and draw(st.integers(0, 3), label="at the kink") == 0
    w, b = (np.zeros(n), 0.0) if at_kink else (vector(draw, n, value), draw(value))
    alpha = draw(st.floats(0, 1))
    return Problem(X, y, w, b, alpha, draw(st.sampled_from(known_activations(subject))))


@st.composite
def large_problems(draw: st.DrawFn, subject: Subject, min_rows: int = 1) -> Problem:
    """A tall problem (up to 1,100 rows of 1 to 3 features) or a wide one (`min_rows` to 3 rows of up to
    300 features), its shape from ``TALL`` or ``WIDE``: a few small dyadic rows (or columns) drawn, and
    repeated in a pattern to fill it, the last one of its own; one of them may be all zeros. A few draws
    fill a large X, and the exact oracle computes each distinct row or column once (``oracle.backprop``).

    In float16 and bfloat16 the shapes stop where a sum of that many terms still has a bound there
    (k·u < ½: 1,023 and 127 terms).
    """
    most = int(0.5 / float(PRECISIONS[subject.precision].u)) - 3
    tall = draw(st.booleans(), label="tall")
    sizes = [s for s in (TALL if tall else WIDE) if s <= most]
    long_side = draw(st.sampled_from(sizes), label="rows" if tall else "features")
    m, n = (long_side, draw(st.integers(1, 3))) if tall else (draw(st.integers(min_rows, 3)), long_side)
    value = st.sampled_from(DYADIC)
    kinds = draw(st.integers(1, 3), label="distinct")  # distinct rows (tall) or columns (wide), and a last
    across = n if tall else m
    parts = [vector(draw, across, value) for _ in range(kinds + 1)]
    if draw(st.booleans(), label="a zero part"):
        parts[0] = np.zeros(across)
    stride = draw(st.integers(1, 7), label="stride")
    pattern = [(i * stride) % kinds for i in range(long_side - 1)] + [kinds]  # the last row or column apart
    X = np.array([parts[k] for k in pattern])
    if not tall:
        X = X.T
    targets = vector(draw, kinds + 1, value)
    y = np.array([targets[k] for k in pattern]) if tall else vector(draw, m, value)
    weights = vector(draw, kinds + 1, value)
    w = vector(draw, n, value) if tall else np.array([weights[k] for k in pattern])
    alpha = draw(st.sampled_from((0.01, 0.25, 0.1)))
    return Problem(X, y, w, draw(value), alpha, draw(st.sampled_from(known_activations(subject))))


def vector(draw: st.DrawFn, size: int, elements: st.SearchStrategy[float]) -> Array:
    """A float64 array of shape (size,), its elements drawn one by one from `elements`.

    For arrays this small, drawing the elements directly costs less than ``hypothesis.extra.numpy.arrays``
    (0.52 s against 0.84 s for 900 problems, measured on the benchmark machine).
    """
    return np.array([draw(elements) for _ in range(size)], dtype=np.float64)


def known_activations(subject: Subject) -> tuple[str, ...]:
    """The activations the class declares that the oracle knows, in the order declared."""
    return tuple(a for a in subject.activations if a in ACTIVATIONS)


def read(value: Value, what: str, shape: tuple[int, ...] | None = None) -> Array:
    """The finite numbers in `value` (of `shape`, when given), or an AssertionError saying what else came
    back: NaN and infinity are errors, not values (a property's exact arithmetic would raise on them)."""
    try:
        got = numbers(value, what, what)
    except Divergence as d:
        raise AssertionError(d.message) from None
    if not np.isfinite(got).all():  # worded as a golden case's (golden.harness._compare)
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0]) if got.ndim else ()
        bad = got[index] if index else got
        raise AssertionError(f"{what} returned {bad} at index {index}; NaN and infinity are errors")
    if shape is not None and got.shape != shape:
        raise AssertionError(f"{what} returned shape {got.shape}; expected {shape}")
    return got


def as_gradient(value: Value, n: int) -> tuple[Array, float]:
    """A gradient's (dJ_dw, dJ_db) for `n` features, read as float64: dJ_dw of shape (n,)."""
    try:
        dJ_dw, dJ_db = pair(value, "gradient")
    except Divergence as d:
        raise AssertionError(d.message) from None
    db = read(dJ_db, "gradient's dJ_db")
    assert db.size == 1, f"gradient's dJ_db has shape {db.shape}; expected a single number"
    return read(dJ_dw, "gradient's dJ_dw", (n,)), float(db.reshape(-1)[0])


def share(subject: Subject, m: int) -> Fraction:
    """The factor c of the batch loss c·Σ(a − y)² under the conventions in force: ½, 1, 1/m or 1/2m."""
    p, q, _, _ = LOSSES[subject.conventions.get("loss", "half_sum")](m)
    return Fraction(p, q)


def loss(a: Array, y: Array, c: Fraction) -> Fraction:
    """c·Σ (a − y)², computed here, exactly, from the implementation's forward."""
    squares = ((Fraction(ai) - Fraction(yi)) ** 2 for ai, yi in zip(a.tolist(), y.tolist(), strict=True))
    return c * sum(squares, Fraction(0))


def loss_bound(a: Array, y: Array, e: Array, c: Fraction) -> Fraction:
    """How far c·Σ(a − y)² may lie from the exact loss when each |a_i − exact a_i| <= e_i.

    c·Σ(2|a_i − y_i|·e_i + e_i²), from (u + d)² − u² = 2ud + d² with |d| <= e.
    """
    rows = zip(a.tolist(), y.tolist(), e.tolist(), strict=True)
    terms = (2 * abs(Fraction(ai) - Fraction(yi)) * Fraction(ei) + Fraction(ei) ** 2 for ai, yi, ei in rows)
    return c * sum(terms, Fraction(0))


def before_and_after(neuron: RemoteNeuron, op: Op) -> Generator[tuple[Op, ...], Pending, Arrays]:
    """w and b read before and after `op`, in one request (a step of a plan: ``yield from`` it)."""
    sent = yield neuron.read("w"), neuron.read("b"), op, neuron.read("w"), neuron.read("b")
    w0, b0, _, w1, b1 = sent.values()
    return (
        read(w0, "w"),
        read(b0, "b"),
        read(w1, "w after update_weights"),
        read(b1, "b after update_weights"),
    )


def unchanged(before: Array, after: Array, precision: str, bitwise: bool) -> bool:
    """`after` is `before` (bit for bit when `bitwise`), or `before` stored in `precision` at last.

    An implementation may keep a parameter as it was set (a float64) until its first update stores it in
    its own precision, which may also flush a subnormal to zero (the error model allows it); for a normal
    float64 that storing is the identity, so nothing but `before` passes there.
    """
    if (after.tobytes() == before.tobytes()) if bitwise else np.array_equal(after, before):
        return True
    p = PRECISIONS[precision]
    for a, b in zip(after.ravel().tolist(), before.ravel().tolist(), strict=True):
        stored = p.round(Fraction(b))
        flushed = abs(Fraction(b)) < p.eta and a == 0
        if not (flushed or (stored is not None and Fraction(a) == stored)):
            return False
    return True


def updates_agree(gots: list[Array], expected: Sequence[Sequence[Any]], precision: str, updates: int) -> None:
    """Assert that each (w, b) got after update k lies within the bound of the exact one (all at once,
    then the first beyond it named) and has its shape."""
    right = gots if not gots or gots[-1].shape == np.shape(expected[0][0]) else gots[:-1]
    wants, limits = (np.array([e[i] for e in expected[: len(right)]]) for i in (0, 1))
    if right and worst(np.array(right), wants, limits)[1] > 1:
        k = next(k for k, got in enumerate(right) if worst(got, wants[k], limits[k])[1] > 1)
        error, ratio, _ = worst(right[k], wants[k], limits[k])
        raise AssertionError(
            f"after update {k + 1} of {updates} on one instance, (w, b) = {right[k].tolist()}; exactly "
            f"{wants[k].tolist()}: error {error!r} is {ratio:.2g} × the {precision} bound"
        )
    if len(right) < len(gots):
        raise AssertionError(f"after update {len(gots)}, w and b have shape {gots[-1].shape}")
