"""Rigorous error bounds: how far any correct implementation in precision p may land from the exact value.

The model
---------
An implementation in precision p (``PRECISIONS``: float64, float32, float16, bfloat16, with unit roundoff
u = 2**-bits) receives the case's float64 inputs and may round them to p. It computes every stage with
IEEE round-to-nearest in p or in any higher precision, in any summation order, with or without fused
multiply-add, and stores each stage's result in p. Below the normal range it may keep subnormals or
flush them to zero (XLA on CPU, GPUs, ``-ffast-math`` do); overflow is not allowed: a case whose values
do not fit in p has no bound in p. Sigmoid and tanh may err by
``ULPS_EXP`` = 4 ulps of p beyond the correctly rounded value of their computed argument: glibc's and
numpy's float32 and float64 ``exp`` and ``tanh`` are within 1 to 2 ulps, a float16 or bfloat16 one is a
float32 one rounded once more, and 1/(1 + exp(−z)) adds two roundings; 4 covers each with a margin.

The bound
---------
Every quantity is carried as a ``Bounded(v, e)``: v its exact value (the oracle's), e a bound on
|computed − v| that holds for every implementation the model admits. Inputs: e = |x64 − x| when the
float64 value x64 is exact in p, else |x64 − x| + (2u + u²)|x64| + 2η (two roundings on the way into p).
One operation ∘ on computed operands, stored in p, takes at most two roundings (one in the working
precision, one on storing), each of relative size u plus an absolute η = 2**emin, the smallest normal
number, which covers a result flushed to zero as well as one rounded to a subnormal::

    e(a ∘ b) = |â ∘ b̂ − a ∘ b| + ((1 + u)² − 1)·(|a ∘ b| + |â ∘ b̂ − a ∘ b|) + 2η

with |â ∘ b̂ − a ∘ b| bounded by the operands' e (for ·: |a|e_b + |b|e_a + e_a·e_b). A sum of k terms in
any order, after which the result is stored (Higham's γ_k = k·u / (1 − k·u), the Reference BLAS gauge
G = Σ (|t_i| + e_i))::

    e(Σ t_i) = Σ e_i + γ_k · G + k·η

A product inside a dot product is rounded once (or not at all, with FMA). An operation whose operands are
exact and whose result is 0 or a normal number of p is exact (e = 0); a sum of exact terms is exact when
every partial sum, in every order, is: all terms are multiples of 2**k, k >= emin, and Σ|t_i| < 2**(k + bits).

At a kink (Leaky ReLU, ReLU at z = 0) the computed z may fall on either side when |z| <= e_z; then both
branches' values are admitted, and da_dz may be either slope. Every bound is finally rounded up to a
float64, and the distance between the exact value and the float64 the golden file stores is added, so
``|got − expected| <= bound`` holds for every admissible implementation, compared exactly.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cached_property

from oracle.backprop import LOSSES, Inputs, Result, _firsts, _groups
from oracle.exact import PRECISION, sigmoid, sigmoid_prime, tanh, tanh_prime

ULPS_EXP = 4  # sigmoid and tanh: the error budget of an exp-based activation, in ulps of p
DECIMAL_SLACK = Fraction(1, 10 ** (PRECISION - 5))  # relative error of a 60-digit Decimal exp, and more


@dataclass(frozen=True)
class Precision:
    """An IEEE binary format: significand bits (with the implicit one) and the normal exponent range."""

    name: str
    bits: int
    emin: int
    emax: int

    @cached_property
    def u(self) -> Fraction:
        """Unit roundoff: the largest relative error of one rounding to nearest, 2**-bits."""
        return Fraction(1, 2**self.bits)

    @cached_property
    def eta(self) -> Fraction:
        """The smallest normal number, 2**emin: the largest absolute error below the normal range of one
        rounding to a subnormal (half the subnormal spacing) or of a flush to zero (less than 2**emin)."""
        return Fraction(2) ** self.emin

    def normal(self, x: Fraction) -> bool:
        """Whether x is 0 or a normal value of this format: one that no flush to zero can change."""
        return self.holds(x) and (x == 0 or abs(x) >= self.eta)

    @cached_property
    def largest(self) -> Fraction:
        """The largest finite value."""
        return Fraction((2**self.bits - 1) * 2 ** (self.emax - self.bits + 1))

    def round(self, x: Fraction) -> Fraction | None:
        """x rounded to the nearest value of this format (ties to even); None when it overflows."""
        if x == 0:
            return Fraction(0)
        a = abs(x)
        exponent = max(_floor_log2(a), self.emin)
        spacing = Fraction(2) ** (exponent - self.bits + 1)
        q, r = divmod(a, spacing)
        n = int(q) + (1 if r > spacing / 2 or (r == spacing / 2 and int(q) % 2) else 0)
        rounded = n * spacing
        return None if rounded > self.largest else (rounded if x > 0 else -rounded)

    def holds(self, x: Fraction) -> bool:
        """Whether x is exactly a value of this format: x = m·2**k with m odd, and m's bits fit below the
        leading bit of x's binade (or of the least normal binade, for a subnormal) within ``bits``."""
        d = x.denominator
        if d & (d - 1):  # not dyadic: no binary format holds it
            return False
        if x == 0:
            return True
        n = abs(x.numerator)
        k = (n & -n).bit_length() - 1 - (d.bit_length() - 1)  # x = m·2**k, m odd
        top = (n >> ((n & -n).bit_length() - 1)).bit_length() - 1 + k  # ⌊log2 |x|⌋
        return top <= self.emax and k >= max(top, self.emin) - self.bits + 1


PRECISIONS = {
    "float64": Precision("float64", 53, -1022, 1023),
    "float32": Precision("float32", 24, -126, 127),
    "float16": Precision("float16", 11, -14, 15),
    "bfloat16": Precision("bfloat16", 8, -126, 127),
}


class OutOfRange(ArithmeticError):
    """A value of the case does not fit in the precision: no bound exists there."""


@dataclass(frozen=True)
class Bounded:
    """An exact value v and a bound e on how far any admissible computed value lies from it.

    ``i`` is the part of e carried from the uncertainty of a step's starting parameters (see
    ``trajectory``): e − i bounds the rounding that the step itself adds, at any starting point the
    uncertainty allows. For a case's own inputs it is 0.
    """

    v: Fraction
    e: float  # an upper bound, computed with upward-inflated float64 arithmetic (see ``_up``)
    i: float = 0.0


def _up(x: float) -> float:
    """x computed by a few float64 operations on non-negative numbers, pushed up past their rounding.

    Each of the at most 30 roundings before it (every caller makes fewer than ten) has relative error
    <= 2**-53 and adds no cancellation (every operand is >= 0); with this multiply's own rounding, 31 of
    them grow x by less than (1 + 2**-48); 1e-320 covers results that underflowed.
    """
    return x * (1 + 2**-48) + 1e-320


def _times(count: int, x: float) -> float:
    """count·x for a term that stands for `count` equal ones, pushed up past its rounding (x itself for 1)."""
    return x if count == 1 else _up(count * x)


def _mag(v: Fraction) -> float:
    """|v| as a float64 at or above it.

    float() of a Fraction is correctly rounded: off by at most 2**-53 relative for a normal result, and by
    at most half the least subnormal, 2**-1075, below that (where a nonzero |v| can even round to 0).
    """
    if not v:
        return 0.0
    f = abs(float(v))
    return f * (1 + 2**-52) if f >= 2.0**-1022 else f + 5e-324


class Model:
    """The rounding model of ``precision``: the bound of each operation an implementation performs."""

    def __init__(self, precision: Precision) -> None:
        self.p = precision
        u = float(precision.u)
        self.u, self.eta = u, max(float(precision.eta), 5e-324)  # 5e-324: float64's own least, >= η
        self.largest = float(precision.largest)
        self._growth = {1: _up(u), 2: _up(2 * u + u * u)}  # (1 + u)^k − 1

    def _gamma(self, k: int) -> float:
        if k * self.u >= 0.5:  # γ_k holds only for k·u < 1; such a sum says nothing in this precision
            raise OutOfRange(f"a sum of {k} terms is too long for {self.p.name} (k·u = {k * self.u:g})")
        return _up(k * self.u / (1 - k * self.u))

    def _check(self, v: Fraction, e: float, i: float = 0.0) -> Bounded:
        if _mag(v) + e > self.largest:
            raise OutOfRange(f"{float(v):.6g} does not fit in {self.p.name} (largest {self.largest:g})")
        return Bounded(v, e, i)

    def _rounded(self, v: Fraction, carried: float, roundings: int, inherited: float = 0.0) -> Bounded:
        """v from operands whose errors move it by at most `carried` (`inherited` of it from a step's
        starting parameters), then rounded `roundings` times."""
        growth = self._growth[roundings]
        e = _up(carried + growth * (_mag(v) + carried) + roundings * self.eta)
        return self._check(v, e, inherited)

    def input(self, x: Fraction) -> Bounded:
        """A case's input: read as the decimal it spells, handed over as float64, maybe rounded to p."""
        x64 = Fraction(float(x))
        represented = _mag(x64 - x)
        if self.p.normal(x64):
            return self._check(x, represented)
        return self._check(x, _up(represented + self._growth[2] * _mag(x64) + 2 * self.eta))

    def exact(self, x: Fraction) -> Bounded:
        """A constant the implementation holds exactly (1, ½)."""
        return Bounded(x, 0.0)

    def add(self, a: Bounded, b: Bounded) -> Bounded:
        """a + b, stored."""
        return self._op(a.v + b.v, _up(a.e + b.e), a.e == b.e == 0, inherited=_up(a.i + b.i))

    def sub(self, a: Bounded, b: Bounded) -> Bounded:
        """a − b, stored."""
        return self._op(a.v - b.v, _up(a.e + b.e), a.e == b.e == 0, inherited=_up(a.i + b.i))

    def mul(self, a: Bounded, b: Bounded, roundings: int = 2) -> Bounded:
        """a · b, stored (two roundings), or inside a dot product (one)."""
        carried = _up(_mag(a.v) * b.e + _mag(b.v) * a.e + a.e * b.e)
        inherited = _up(_mag(a.v) * b.i + _mag(b.v) * a.i + a.i * b.i)
        return self._op(a.v * b.v, carried, a.e == b.e == 0, roundings, inherited)

    def _op(
        self, v: Fraction, carried: float, exact_operands: bool, roundings: int = 2, inherited: float = 0.0
    ) -> Bounded:
        if exact_operands and self.p.normal(v):
            return Bounded(v, 0.0)
        return self._rounded(v, carried, roundings, inherited)

    def sum(self, terms: Sequence[Bounded], counts: Sequence[int] | None = None) -> Bounded:
        """Σ terms in any order, stored: Σ e_i + γ_k·G + k·η, or exact when every partial sum is.

        With `counts`, term i stands for counts[i] equal terms: the sum of all of them is bounded."""
        counts = counts or [1] * len(terms)
        k = sum(counts)
        if k == 1:
            return terms[0]
        v = sum((c * t.v for t, c in zip(terms, counts, strict=True)), Fraction(0))
        if all(t.e == 0 for t in terms) and self._exact_sum(terms, counts):
            return Bounded(v, 0.0)
        carried = _up(math.fsum(_times(c, t.e) for t, c in zip(terms, counts, strict=True)))
        gauge = _up(math.fsum(_times(c, _mag(t.v) + t.e) for t, c in zip(terms, counts, strict=True)))
        if gauge > self.largest:  # a partial sum may reach the gauge: it must fit too
            raise OutOfRange(
                f"a partial sum of up to {gauge:.6g} does not fit in {self.p.name} (largest {self.largest:g})"
            )
        inherited = _up(math.fsum(_times(c, t.i) for t, c in zip(terms, counts, strict=True)))
        return self._check(v, _up(carried + self._gamma(k) * gauge + k * self.eta), inherited)

    def _exact_sum(self, terms: Sequence[Bounded], counts: Sequence[int]) -> bool:
        nonzero = [(t.v, c) for t, c in zip(terms, counts, strict=True) if t.v != 0]
        if not nonzero:
            return True
        if any(x.denominator & (x.denominator - 1) for x, _ in nonzero):  # not dyadic
            return False
        k = min(_valuation2(x) for x, _ in nonzero)
        total = sum((c * abs(x) for x, c in nonzero), Fraction(0))
        return k >= self.p.emin and total < Fraction(2) ** (k + self.p.bits) and total <= self.p.largest

    def dot(
        self,
        xs: Sequence[Bounded],
        ws: Sequence[Bounded],
        plus: Bounded | None = None,
        counts: Sequence[int] | None = None,
    ) -> Bounded:
        """Σ x_i·w_i (+ plus) in any order, each product rounded once or fused; with `counts`, product i
        stands for counts[i] equal products."""
        counts = list(counts or [1] * len(xs))
        single = sum(counts) == 1 and plus is None  # a lone product is stored, not summed: two roundings
        terms = [self.mul(x, w, roundings=2 if single else 1) for x, w in zip(xs, ws, strict=True)]
        if plus is None:
            return self.sum(terms, counts)
        return self.sum([*terms, plus], [*counts, 1])

    def exp_based(self, v: Fraction, z: Bounded, lipschitz: float) -> Bounded:
        """f(z) for an exp-based f, exact value v (from Decimal), |f'| <= lipschitz: ULPS_EXP ulps of p."""
        carried = _up(lipschitz * z.e + float(DECIMAL_SLACK) * 2 * _mag(v))
        ulps = _up(2 * ULPS_EXP * self.u * (_mag(v) + carried) + ULPS_EXP * self.eta)
        return self._check(v, _up(carried + ulps), _up(lipschitz * z.i))

    def either(self, exact: Fraction, *branches: Bounded) -> Bounded:
        """Where a kink leaves the branch open: a bound around `exact` that holds for either branch.

        None of it counts as inherited (i = 0): e − i then over-states a step's own rounding, which is safe.
        """
        return Bounded(exact, _up(max(_mag(b.v - exact) + b.e for b in branches)))


def _floor_log2(a: Fraction) -> int:
    """⌊log2 a⌋ for a > 0, exactly."""
    e = a.numerator.bit_length() - a.denominator.bit_length()
    return e if Fraction(2) ** e <= a else e - 1


def _valuation2(x: Fraction) -> int:
    """The exponent k of the largest power of two that divides the dyadic x: x = m·2**k, m odd."""
    n, d = abs(x.numerator), x.denominator
    return (n & -n).bit_length() - 1 - (d.bit_length() - 1)


def to_fraction(x: Fraction | Decimal) -> Fraction:
    """The oracle's exact number (a Fraction, or a Decimal of the exp-based activations) as a Fraction."""
    return x if isinstance(x, Fraction) else Fraction(x)


def round_up(x: Fraction) -> float:
    """The least float64 >= x."""
    f = float(x)
    return f if Fraction(f) >= x else math.nextafter(f, math.inf)


def float_bound(b: Bounded, exact: Fraction | Decimal) -> float:
    """The bound around the float64 nearest `exact` (the value a golden file or an answer holds) rather
    than around b.v, which b.e is measured around: b.e plus how far that float lies from b.v, rounded up.

    For every computed value x that b admits, |x − float64(exact)| <= the result.
    """
    return round_up(Fraction(b.e) + abs(Fraction(float(exact)) - b.v))


# -- the stages -------------------------------------------------------------------------------------


Vector = tuple[Bounded, ...]


@dataclass(frozen=True)
class StageBounds:
    """Bounds of the first step's stages, each the same shape as its value."""

    z: tuple[Bounded, ...]
    a: tuple[Bounded, ...]
    J: tuple[Bounded, ...]
    dJ_da: tuple[Bounded, ...]
    da_dz: tuple[Bounded, ...]
    dJ_dw: tuple[Bounded, ...]
    dJ_db: Bounded
    w_new: tuple[Bounded, ...]
    b_new: Bounded
    # what they are computed from, for predicting a mistaken computation in the same model (diagnosis)
    X: tuple[tuple[Bounded, ...], ...] = ()
    w: tuple[Bounded, ...] = ()
    b: Bounded = Bounded(Fraction(0), 0.0)
    lr: Bounded = Bounded(Fraction(0), 0.0)
    slope: tuple[Bounded, ...] = ()  # da/dz at the computed z (the gradient's, not the golden z's)
    fed_dJ_dw: tuple[Bounded, ...] = ()  # the golden gradient, as update_weights is handed it
    fed_dJ_db: Bounded = Bounded(Fraction(0), 0.0)


@dataclass(frozen=True)
class StepBounds:
    """Bounds of one step of a trajectory: the gradient at the step's parameters, and the update."""

    dJ_dw: tuple[Bounded, ...]
    dJ_db: Bounded
    w_new: tuple[Bounded, ...]
    b_new: Bounded


def bounds(
    result: Result, precision: Precision, contraction: bool = False
) -> tuple[StageBounds, tuple[StepBounds, ...]]:
    """Bounds for every stage of `result`, and for every step of its trajectory, in `precision`.

    Each stage is fed what the harness feeds it: ``da_dz`` is taken at the golden z (activation_derivative
    is handed it), ``w_new`` and ``b_new`` come from the golden gradient (update_weights is handed it);
    the gradient and every trajectory step come from the implementation's own values, step after step
    (``trajectory``; with `contraction`, as the oracle of golden v3 bounds them). Raises OutOfRange when a
    value does not fit in `precision`.
    """
    m = Model(precision)
    inp, first = result.inputs, result.first
    read: dict[Fraction, Bounded] = {}  # each distinct input bounded once: a tall X repeats its values
    X = [[read.get(x) or read.setdefault(x, m.input(to_fraction(x))) for x in row] for row in inp.X]
    y = [read.get(t) or read.setdefault(t, m.input(to_fraction(t))) for t in inp.y_true]
    lr, alpha = m.input(to_fraction(inp.learning_rate)), m.input(to_fraction(inp.alpha))
    w = [read.get(x) or read.setdefault(x, m.input(to_fraction(x))) for x in inp.w]
    b = m.input(to_fraction(inp.b))
    z, a, dJ_da, J, slope, dJ_dw, dJ_db = _forward_backward(m, inp, X, y, w, b, alpha)
    golden_z = [read.get(zi) or read.setdefault(zi, m.input(to_fraction(zi))) for zi in first.z]
    act, at_zero = inp.activation, inp.derivative_at_zero
    slope_at: dict[int, Bounded] = {}  # da/dz at each distinct golden z, once

    def derivative(zi: Bounded) -> Bounded:
        if id(zi) not in slope_at:
            slope_at[id(zi)] = _derivative(m, act, zi, _activation(m, act, zi, alpha), alpha, at_zero)
        return slope_at[id(zi)]

    da_dz = tuple(derivative(zi) for zi in golden_z)
    fed_w = tuple(m.input(to_fraction(g)) for g in first.dJ_dw)
    fed_b = m.input(to_fraction(first.dJ_db))
    w_new = tuple(m.sub(wj, m.mul(lr, g)) for wj, g in zip(w, fed_w, strict=True))
    b_new = m.sub(b, m.mul(lr, fed_b))
    stages = StageBounds(
        z, a, J, dJ_da, da_dz, dJ_dw, dJ_db, w_new, b_new,
        X=tuple(map(tuple, X)), w=tuple(w), b=b, lr=lr, slope=slope, fed_dJ_dw=fed_w, fed_dJ_db=fed_b,
    )  # fmt: skip
    steps = trajectory(m, result, X, y, alpha, contraction) if len(result.steps) > 1 else []
    _agree(result, stages, steps)
    return stages, tuple(steps)


def trajectory(
    m: Model, result: Result, X: list[list[Bounded]], y: list[Bounded], alpha: Bounded, contraction: bool
) -> list[StepBounds]:
    """Each step's bounds, each step starting from the parameters the implementation computed before.

    A step starts from parameters known within e_j of the exact ones (the inputs' rounding, at first).
    Its gradient's bound is the model's. Its update's bound, the model's too, adds the step's rounding to
    every error it carries, and so grows at every step, even where gradient descent shrinks errors. With
    `contraction`, where the step is affine on all its starting points (every row's z on one side of the
    kink, or no kink) and its map θ ↦ θ − lr·∇J(θ) = M·θ + c contracts, ρ = ||M||_∞ < 1 (computed
    exactly), the bound is also at most ρ·max_j e_j plus the largest rounding the step adds itself (e − i
    of each parameter), and the least of the two holds: |θ̂' − θ'| ≤ |F̂(θ̂) − F(θ̂)| + |F(θ̂) − F(θ)|.
    """
    inp = result.inputs
    lr = m.input(to_fraction(inp.learning_rate))
    start = [m.input(to_fraction(x)) for x in [*inp.w, inp.b]]
    out = []
    for step in result.steps:
        w = [Bounded(s.v, s.e, s.e) for s in start[:-1]]  # every point within e of the exact ones
        b = Bounded(start[-1].v, start[-1].e, start[-1].e)
        z, _, _, _, slope, g_w, g_b = _forward_backward(m, inp, X, y, w, b, alpha)
        new = [m.sub(wj, m.mul(lr, g)) for wj, g in zip(w, g_w, strict=True)] + [m.sub(b, m.mul(lr, g_b))]
        rho = _contraction(inp, X, slope) if contraction and all(_side(zi) for zi in z) else None
        if rho is not None and rho < 1:
            most = _up(float(rho) * max(s.e for s in start) + max(p.e - p.i * (1 - 2**-40) for p in new))
            new = [Bounded(p.v, min(p.e, most)) for p in new]
        out.append(StepBounds(g_w, g_b, tuple(new[:-1]), new[-1]))
        start = new
        del step  # the exact values are the Bounded values' own (``_agree`` checks them)
    return out


def _contraction(inp: Inputs, X: list[list[Bounded]], slope: Vector) -> Fraction | None:
    """ρ = ||I − lr·A||_∞ for the affine step's map, exactly; None where the step is not affine.

    On a fixed branch, a_i = s_i·z_i (s_i = 1, alpha or 0), so ∇J(θ) = c·Σ_i s_i·(s_i·x̃_i·θ − y_i)·x̃_i
    with x̃_i = (x_i, 1) and c the loss's factor on dJ_da: A = c·Σ_i s_i²·x̃_i·x̃_iᵀ.
    """
    if inp.activation not in ("identity", "leaky_relu", "relu") or any(s.e for s in slope):
        return None
    _, _, r, q = LOSSES[inp.loss](len(X))
    c, lr = Fraction(r, q), to_fraction(inp.learning_rate)
    rows = [[x.v for x in row] + [Fraction(1)] for row in X]
    k = len(rows[0])
    A = [[c * sum((s.v**2 * row[p] * row[q_] for s, row in zip(slope, rows, strict=True)), Fraction(0))
          for q_ in range(k)] for p in range(k)]  # fmt: skip
    return max(sum((abs((p == q_) - lr * A[p][q_]) for q_ in range(k)), Fraction(0)) for p in range(k))


def _forward_backward(
    m: Model,
    inp: Inputs,
    X: list[list[Bounded]],
    y: list[Bounded],
    w: list[Bounded],
    b: Bounded,
    alpha: Bounded,
) -> tuple[Vector, Vector, Vector, Vector, Vector, Vector, Bounded]:
    """z, a, dJ_da, J, da_dz, dJ_dw and dJ_db of one step, as the implementation computes them.

    The loss's factors (½, 2/m …) are constants the implementation may hold rounded, so they enter as
    inputs; the seed's ½Σ needs none on dJ_da. A row that repeats (with its target), and a feature that
    repeats (its column with its weight), is bounded once and counted in the sums, as ``oracle.backprop``
    computes it: the bounds are those of every row and feature, at the cost of the distinct ones. Rows are
    told apart by the identity of their Bounded inputs, one object per distinct value (``bounds``).
    """
    activation, at_zero = inp.activation, inp.derivative_at_zero
    p, q, r, s = LOSSES[inp.loss](len(X))
    per_J, per_dJ = m.input(Fraction(p, q)), m.input(Fraction(r, s))
    rows = _groups([(*map(id, x), id(t)) for x, t in zip(X, y, strict=True)])
    features = _groups([(*(id(x[j]) for x in X), id(w_j)) for j, w_j in enumerate(w)])
    counts = [len(same) for same in features.values()]
    one = {}
    for i in rows:
        x = X[i]
        z = m.dot([x[j] for j in features], [w[j] for j in features], plus=b, counts=counts)
        a = _activation(m, activation, z, alpha)
        u = m.sub(a, y[i])
        dJ_da = u if r == s else m.mul(per_dJ, u)
        slope = _derivative(m, activation, z, a, alpha, at_zero)
        one[i] = (z, a, dJ_da, m.mul(per_J, m.mul(u, u)), slope, m.mul(dJ_da, slope))
    each = [one[first] for first in _firsts(rows)]
    z_, a_, dJ_da_, J_, slope_ = (tuple(v[stage] for v in each) for stage in range(5))
    deltas, times = [one[i][5] for i in rows], [len(same) for same in rows.values()]
    dJ_dw_of = {j: m.dot(deltas, [X[i][j] for i in rows], counts=times) for j in features}
    dJ_dw = tuple(dJ_dw_of[first] for first in _firsts(features))
    return z_, a_, dJ_da_, J_, slope_, dJ_dw, m.sum(deltas, times)


def _activation(m: Model, name: str, z: Bounded, alpha: Bounded) -> Bounded:
    if name == "identity":
        return z
    if name in ("leaky_relu", "relu"):
        slope = alpha if name == "leaky_relu" else m.exact(Fraction(0))
        right = z
        left = m.mul(slope, z)
        if _side(z) > 0:
            return right
        if _side(z) < 0:
            return left
        exact = z.v if z.v >= 0 else left.v
        return m.either(exact, right, left)
    f = sigmoid if name == "sigmoid" else tanh
    return m.exp_based(_decimal_call(f, z.v), z, 0.25 if name == "sigmoid" else 1.0)


def _decimal_call(f: Callable[[Decimal], Decimal], x: Fraction) -> Fraction:
    """f at the exact rational x, in PRECISION-digit Decimal arithmetic, as a Fraction."""
    with decimal.localcontext(decimal.Context(prec=PRECISION + 20, rounding=decimal.ROUND_HALF_EVEN)):
        xd = Decimal(x.numerator) / Decimal(x.denominator)
    with decimal.localcontext(decimal.Context(prec=PRECISION, rounding=decimal.ROUND_HALF_EVEN)):
        return Fraction(f(xd))


def _side(z: Bounded) -> int:
    """+1 or −1 when every admissible computed z is on that side of the kink (z = 0 counts as +), else 0."""
    if z.e == 0:
        return 1 if z.v >= 0 else -1
    return 1 if z.v > z.e else -1 if z.v < -z.e else 0


def _derivative(m: Model, name: str, z: Bounded, a: Bounded, alpha: Bounded, at_zero: str) -> Bounded:
    one = m.exact(Fraction(1))
    if name == "identity":
        return one
    if name in ("leaky_relu", "relu"):
        left = alpha if name == "leaky_relu" else m.exact(Fraction(0))
        # at z = 0 exactly: the convention's value (the seed's np.where(z < 0, alpha, 1) takes 1)
        kink = {"one": one, "alpha": left, "midpoint": m.mul(m.add(one, left), m.exact(Fraction(1, 2)))}[
            at_zero
        ]
        if z.e == 0 and z.v == 0:
            return kink
        if _side(z) > 0:
            return one
        if _side(z) < 0:
            return left
        exact = Fraction(1) if z.v > 0 else left.v if z.v < 0 else kink.v
        return m.either(exact, one, left, kink)
    # computed from a as σ(1 − σ) or 1 − tanh²; its exact value from the cancellation-free formulas
    formula = m.mul(a, m.sub(one, a)) if name == "sigmoid" else m.sub(one, m.mul(a, a))
    f = sigmoid_prime if name == "sigmoid" else tanh_prime
    v = _decimal_call(f, z.v)
    return Bounded(v, _up(formula.e + _mag(formula.v - v) + float(DECIMAL_SLACK) * 2 * _mag(v)))


def _agree(result: Result, stages: StageBounds, steps: list[StepBounds]) -> None:
    """The bounded pipeline computes the oracle's own exact values (a self-check of this module)."""
    slack = Fraction(0) if result.inputs.activation not in ("sigmoid", "tanh") else DECIMAL_SLACK * 100
    pairs = [(stages.z, result.first.z), (stages.a, result.first.a), (stages.dJ_dw, result.first.dJ_dw)]
    pairs += [(s.w_new, exact.w_new) for s, exact in zip(steps, result.steps, strict=False)]
    for mine, theirs in pairs:
        for b, x in zip(mine, theirs, strict=True):
            if b.v != x and abs(b.v - to_fraction(x)) > slack * (1 + abs(b.v)):
                raise AssertionError(
                    f"the bounded value {float(b.v)!r} differs from the oracle's {float(x)!r}"
                )
