"""The error bounds of oracle/bounds.py are tested, not assumed: correct implementations stay inside them.

For thousands of random small problems, implementations in each precision with different evaluation
orders (numpy, a reversed Python loop, pairwise sums, float32 data with float64 accumulation, a
fused multiply-add emulated exactly) compute every stage; each value must lie within its bound of the
float64 golden value, compared exactly. The largest error/bound ratio seen per precision is printed
(`pytest -s`), and must be <= 1 by construction. The bounds must also stay tight enough that the
classic mistakes stay outside them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from golden.harness._compare import worst
from oracle import create_backprop_test_case, to_float
from oracle.backprop import DERIVATIVES_AT_ZERO, LOSSES
from oracle.bounds import PRECISIONS, Bounded, Model, OutOfRange, Precision, bounds, round_up, to_fraction

Array = np.ndarray[Any, Any]
RATIOS: dict[str, float] = {}


def bf16(x: Any) -> Array:
    """Round float32 values to bfloat16 (to nearest, ties to even), kept as float32: bfloat16 emulated."""
    f = np.asarray(x, dtype=np.float32)
    bits = f.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16, "bfloat16": np.float32}


class Arithmetic:
    """Store-and-round in one precision: numpy float64/32/16, or float32 rounded to bfloat16.

    With `flush`, every stored value below the normal range becomes 0, as XLA on CPU and GPUs do.
    """

    def __init__(self, name: str, flush: bool = False) -> None:
        self.name, self.flush, self.dtype = name, flush, DTYPES[name]
        self.tiny = float(PRECISIONS[name].eta)  # the smallest normal number

    def r(self, x: Any) -> Array:
        """Store in the precision."""
        a = np.asarray(x, dtype=self.dtype)
        a = bf16(a) if self.name == "bfloat16" else a
        return np.where(np.abs(a) < self.tiny, self.dtype(0), a) if self.flush else a


def leaky(z: Array, alpha: Array, ar: Arithmetic) -> Array:
    return np.where(z < 0, ar.r(alpha * z), z)


def slope(z: Array, alpha: Array, at_zero: Array | None = None) -> Array:
    """1 above the kink, alpha below, and `at_zero` (the convention's value; 1 by default) at z = 0."""
    one = np.ones_like(z)
    return np.where(z < 0, alpha, one if at_zero is None else np.where(z == 0, at_zero, one))


def dot_numpy(ar: Arithmetic, x: Array, w: Array) -> Array:
    return ar.r(x @ w)


def dot_reversed(ar: Arithmetic, x: Array, w: Array) -> Array:
    """Python loop over the columns in reverse, storing after every product and every addition."""
    out = []
    for row in np.atleast_2d(x):
        acc = ar.r(0.0)
        for xj, wj in reversed(list(zip(row, w, strict=True))):
            acc = ar.r(acc + ar.r(xj * wj))
        out.append(acc)
    return np.array(out, dtype=ar.dtype)


def dot_pairwise(ar: Arithmetic, x: Array, w: Array) -> Array:
    """Pairwise summation of the rounded products."""

    def pairwise(terms: list[Array]) -> Array:
        if len(terms) == 1:
            return terms[0]
        half = len(terms) // 2
        return ar.r(pairwise(terms[:half]) + pairwise(terms[half:]))

    return np.array(
        [pairwise([ar.r(a * b) for a, b in zip(row, w, strict=True)]) for row in np.atleast_2d(x)]
    )


def dot_wide(ar: Arithmetic, x: Array, w: Array) -> Array:
    """Data in the precision, products and sums in float64, one rounding at the end (a wide accumulator)."""
    return ar.r(np.asarray(x, np.float64) @ np.asarray(w, np.float64))


def dot_fma(ar: Arithmetic, x: Array, w: Array) -> Array:
    """Fused multiply-add, emulated exactly: acc = round(acc + x·w) with the product unrounded."""
    out = []
    for row in np.atleast_2d(x):
        acc = Fraction(0)
        for xj, wj in zip(row, w, strict=True):
            acc = Fraction(float(ar.r(float(acc + Fraction(float(xj)) * Fraction(float(wj))))))
        out.append(float(acc))
    return ar.r(out)


DOTS: dict[str, Callable[[Arithmetic, Array, Array], Array]] = {
    "numpy": dot_numpy,
    "reversed loop": dot_reversed,
    "pairwise": dot_pairwise,
    "float64 accumulation": dot_wide,
    "fma": dot_fma,
}


def implementation(
    ar: Arithmetic, dot: Callable[[Arithmetic, Array, Array], Array], case: dict[str, Any]
) -> dict[str, Array]:
    """Every stage, computed in `ar` with `dot` for each sum, as the harness feeds them."""
    X, y, w, b = ar.r(case["X"]), ar.r(case["y"]), ar.r(case["w"]), ar.r(case["b"])
    lr, alpha = ar.r(case["lr"]), ar.r(case["alpha"])
    z = ar.r(dot(ar, np.column_stack([X, np.ones(len(X), dtype=ar.dtype)]), np.append(w, b)))
    a = leaky(z, alpha, ar)
    u = ar.r(a - y)
    p, q, r, s = LOSSES[case.get("loss", "half_sum")](len(X))
    J = ar.r(ar.r(u * u) * ar.r(p / q))
    dJ_da = u if r == s else ar.r(u * ar.r(r / s))
    at_zero = {"one": ar.r(1.0), "alpha": alpha, "midpoint": ar.r((1 + alpha) / 2)}[
        case.get("at_zero", "one")
    ]
    delta = ar.r(dJ_da * slope(z, alpha, at_zero))
    dJ_dw = np.array([dot(ar, delta[np.newaxis, :], X[:, j])[0] for j in range(X.shape[1])])
    dJ_db = dot(ar, delta[np.newaxis, :], np.ones(len(delta), dtype=ar.dtype))[0]
    golden_z = ar.r(case["golden_z"])
    fed_w, fed_b = ar.r(case["golden_dJ_dw"]), ar.r(case["golden_dJ_db"])
    return {
        "z": z,
        "a": a,
        "J": J,
        "da_dz": slope(golden_z, alpha, at_zero),
        "dJ_dw": dJ_dw,
        "dJ_db": np.array(dJ_db),
        "w_new": ar.r(w - ar.r(lr * fed_w)),
        "b_new": ar.r(b - ar.r(lr * fed_b)),
    }


def within(got: Array, exact: tuple[Any, ...] | Any, bound: tuple[Bounded, ...] | Bounded) -> float:
    """The largest |got − float64(exact)| / bound, the bound widened by the rounding of the expected value."""
    values = exact if isinstance(exact, tuple) else (exact,)
    limits = bound if isinstance(bound, tuple) else (bound,)
    want = np.array([to_float(v) for v in values])
    limit = np.array(
        [
            round_up(Fraction(b.e) + abs(Fraction(to_float(v)) - to_fraction(v)))
            for b, v in zip(limits, values, strict=True)
        ]
    )
    return worst(np.asarray(got, dtype=np.float64).reshape(want.shape), want, limit)[1]


value = st.one_of(
    st.floats(-4, 4, allow_nan=False, allow_subnormal=False),
    st.sampled_from([0.0, 1e-40, -3e-39, 2e-6, 1e-300]),  # near or below the normal range of each format
)


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    m, n = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    return {
        "X": [[draw(value) for _ in range(n)] for _ in range(m)],
        "y": [draw(value) for _ in range(m)],
        "w": [draw(value) for _ in range(n)],
        "b": draw(value),
        "lr": draw(st.sampled_from([0.01, 0.1, 0.001])),
        "alpha": draw(st.sampled_from([0.01, 0.2, 0.5])),
        "at_zero": draw(st.sampled_from(DERIVATIVES_AT_ZERO)),
        "loss": draw(st.sampled_from(list(LOSSES))),
    }


@pytest.mark.parametrize("precision", list(PRECISIONS))
@settings(max_examples=1000, deadline=None, derandomize=True)
@given(case=cases(), data=st.data())
def test_correct_implementations_stay_within_their_bounds(
    precision: str, case: dict[str, Any], data: st.DataObject
) -> None:
    conventions = {"derivative_at_zero": case["at_zero"], "loss": case["loss"]}
    result = create_backprop_test_case(
        case["X"], case["y"], case["w"], case["b"], case["lr"], alpha=case["alpha"], **conventions
    )
    try:
        stages, _ = bounds(result, PRECISIONS[precision])
    except OutOfRange:
        assume(False)
    first = result.first
    case |= {
        "golden_z": [to_float(z) for z in first.z],
        "golden_dJ_dw": [to_float(g) for g in first.dJ_dw],
        "golden_dJ_db": to_float(first.dJ_db),
    }
    name = data.draw(st.sampled_from(list(DOTS)), label="evaluation order")
    flush = data.draw(st.booleans(), label="flush to zero")
    with np.errstate(all="ignore"):
        got = implementation(Arithmetic(precision, flush), DOTS[name], case)
    for stage, values in got.items():
        ratio = within(values, getattr(first, stage), getattr(stages, stage))
        kink = any(abs(z.v) <= z.e and z.e > 0 for z in stages.z)  # either branch admitted there
        key = f"{precision} at a kink" if kink else precision
        RATIOS[key] = max(RATIOS.get(key, 0.0), ratio)
        assert ratio <= 1, f"{name} in {precision}: {stage} {values.tolist()} is {ratio:.3g} × its bound"


def test_zz_report_the_largest_ratio_seen_per_precision(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs after the soundness test (by name): prints how tight the bounds were; checks they were used."""
    if not RATIOS:
        pytest.skip("run together with test_correct_implementations_stay_within_their_bounds")
    with capsys.disabled():
        print("\nlargest error/bound seen: " + ", ".join(f"{p} {r:.3f}" for p, r in RATIOS.items()))
    assert all(0 <= r <= 1 for r in RATIOS.values())
    assert all(RATIOS.get(p, 0) > 0 for p in PRECISIONS)  # away from kinks, every precision was exercised


@pytest.mark.parametrize("precision", list(PRECISIONS))
@pytest.mark.parametrize(
    ("mistake", "stage", "change"),
    [
        ("mean instead of sum, bias", "dJ_db", lambda g, m, alpha: g / m),
        ("mean instead of sum, weights", "dJ_dw", lambda g, m, alpha: g / m),
        ("loss without the ½", "dJ_dw", lambda g, m, alpha: 2 * g),
        ("gradient sign flipped", "dJ_dw", lambda g, m, alpha: -g),
    ],
)
def test_the_bounds_keep_classic_mistakes_visible_in_every_precision(
    precision: str, mistake: str, stage: str, change: Callable[[Array, int, float], Array]
) -> None:
    """On the seed's 4 × 5 batch and a three-row batch, each mistake lands outside its bound."""
    for X, y, w, b in (
        ([[1.0, 2.0], [1.0, -2.0], [0.5, 1.0]], [1.5, 1.5, 0.5], [0.3, 0.4], 0.1),
        (
            [[-1, 2, 3, 1.3, 1.7], [4, -5, 6, 1.4, 1.8], [0.7, 0.8, -0.9, 1.5, 1.9]],
            [10.0, 20, 30],
            [1.0, 0, 0, 0, 0.5],
            -1.0,
        ),
    ):
        result = create_backprop_test_case(X, y, w, b, 0.01)
        stages, _ = bounds(result, PRECISIONS[precision])
        exact = getattr(result.first, stage)
        wrong = change(
            np.array([to_float(v) for v in (exact if isinstance(exact, tuple) else (exact,))]), len(X), 0.01
        )
        assert within(wrong, exact, getattr(stages, stage)) > 1, f"{mistake} passes in {precision}"


def test_an_input_exact_in_the_precision_carries_no_error() -> None:
    model = Model(PRECISIONS["bfloat16"])
    assert model.input(Fraction(3, 4)).e == 0
    assert model.input(Fraction(1, 10)).e > 0


@pytest.mark.parametrize("precision", list(PRECISIONS.values()), ids=list(PRECISIONS))
def test_round_is_round_to_nearest_even_at_the_format_s_resolution(precision: Precision) -> None:
    one_ulp = Fraction(1, 2 ** (precision.bits - 1))
    assert precision.round(1 + one_ulp / 2) == 1  # a tie goes to the even neighbour, 1
    assert precision.round(1 + one_ulp * 3 / 2) == 1 + 2 * one_ulp  # and here to 1 + 2 ulp
    assert precision.round(precision.largest * 2) is None


@pytest.mark.parametrize("precision", list(PRECISIONS.values()), ids=list(PRECISIONS))
@settings(max_examples=300)
@given(
    x=st.floats(allow_nan=False, allow_infinity=False)
    | st.builds(math.ldexp, st.integers(-(2**12), 2**12), st.integers(-160, 140))  # near every format's edges
)
def test_holds_says_exactly_which_float64_values_a_format_represents(precision: Precision, x: float) -> None:
    """holds(x) iff numpy's own cast to the format and back returns x (bfloat16 emulated, see bf16)."""
    with np.errstate(over="ignore"):
        cast = np.asarray(x, dtype=DTYPES[precision.name])
        back = float(bf16(cast) if precision.name == "bfloat16" else cast)
    assert precision.holds(Fraction(x)) == (back == x)
    assert not precision.holds(Fraction(x) + Fraction(1, 3))  # not dyadic: no binary format holds it
