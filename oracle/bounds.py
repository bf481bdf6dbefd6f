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

from oracle.backprop import LOSSES, Inputs, Result
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
    """An exact value v and a bound e on how far any admissible computed value lies from it."""

    v: Fraction
    e: float  # an upper bound, computed with upward-inflated float64 arithmetic (see ``_up``)


def _up(x: float) -> float:
    """x computed by a few float64 operations on non-negative numbers, pushed up past their rounding.

    Each of the at most 30 roundings before it (every caller makes fewer than ten) has relative error
    <= 2**-53 and adds no cancellation (every operand is >= 0); with this multiply's own rounding, 31 of
    them grow x by less than (1 + 2**-48); 1e-320 covers results that underflowed.
    """
    return x * (1 + 2**-48) + 1e-320


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

    def _check(self, v: Fraction, e: float) -> Bounded:
        if _mag(v) + e > self.largest:
            raise OutOfRange(f"{float(v):.6g} does not fit in {self.p.name} (largest {self.largest:g})")
        return Bounded(v, e)

    def _rounded(self, v: Fraction, carried: float, roundings: int) -> Bounded:
        """v from operands whose errors move it by at most `carried`, then rounded `roundings` times."""
        growth = self._growth[roundings]
        return self._check(v, _up(carried + growth * (_mag(v) + carried) + roundings * self.eta))

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
        return self._op(a.v + b.v, _up(a.e + b.e), a.e == b.e == 0)

    def sub(self, a: Bounded, b: Bounded) -> Bounded:
        """a − b, stored."""
        return self._op(a.v - b.v, _up(a.e + b.e), a.e == b.e == 0)

    def mul(self, a: Bounded, b: Bounded, roundings: int = 2) -> Bounded:
        """a · b, stored (two roundings), or inside a dot product (one)."""
        carried = _up(_mag(a.v) * b.e + _mag(b.v) * a.e + a.e * b.e)
        return self._op(a.v * b.v, carried, a.e == b.e == 0, roundings)

    def _op(self, v: Fraction, carried: float, exact_operands: bool, roundings: int = 2) -> Bounded:
        if exact_operands and self.p.normal(v):
            return Bounded(v, 0.0)
        return self._rounded(v, carried, roundings)

    def sum(self, terms: Sequence[Bounded]) -> Bounded:
        """Σ terms in any order, stored: Σ e_i + γ_k·G + k·η, or exact when every partial sum is."""
        if len(terms) == 1:
            return terms[0]
        v = sum((t.v for t in terms), Fraction(0))
        if all(t.e == 0 for t in terms) and self._exact_sum(terms):
            return Bounded(v, 0.0)
        carried = _up(math.fsum(t.e for t in terms))
        gauge = _up(math.fsum(_mag(t.v) + t.e for t in terms))
        k = len(terms)
        if gauge > self.largest:  # a partial sum may reach the gauge: it must fit too
            raise OutOfRange(
                f"a partial sum of up to {gauge:.6g} does not fit in {self.p.name} (largest {self.largest:g})"
            )
        return self._check(v, _up(carried + self._gamma(k) * gauge + k * self.eta))

    def _exact_sum(self, terms: Sequence[Bounded]) -> bool:
        nonzero = [t.v for t in terms if t.v != 0]
        if not nonzero:
            return True
        if any(x.denominator & (x.denominator - 1) for x in nonzero):  # not dyadic
            return False
        k = min(_valuation2(x) for x in nonzero)
        total = sum((abs(x) for x in nonzero), Fraction(0))
        return k >= self.p.emin and total < Fraction(2) ** (k + self.p.bits) and total <= self.p.largest

    def dot(self, xs: Sequence[Bounded], ws: Sequence[Bounded], plus: Bounded | None = None) -> Bounded:
        """Σ x_i·w_i (+ plus) in any order, each product rounded once or fused."""
        single = len(xs) == 1 and plus is None  # a lone product is stored, not summed: two roundings
        terms = [self.mul(x, w, roundings=2 if single else 1) for x, w in zip(xs, ws, strict=True)]
        return self.sum([*terms, *([plus] if plus is not None else [])])

    def exp_based(self, v: Fraction, z: Bounded, lipschitz: float) -> Bounded:
        """f(z) for an exp-based f, exact value v (from Decimal), |f'| <= lipschitz: ULPS_EXP ulps of p."""
        carried = _up(lipschitz * z.e + float(DECIMAL_SLACK) * 2 * _mag(v))
        ulps = _up(2 * ULPS_EXP * self.u * (_mag(v) + carried) + ULPS_EXP * self.eta)
        return self._check(v, _up(carried + ulps))

    def either(self, exact: Fraction, *branches: Bounded) -> Bounded:
        """Where a kink leaves the branch open: a bound around `exact` that holds for either branch."""
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


@dataclass(frozen=True)
class StepBounds:
    """Bounds of one step of a trajectory: the gradient at the step's parameters, and the update."""

    dJ_dw: tuple[Bounded, ...]
    dJ_db: Bounded
    w_new: tuple[Bounded, ...]
    b_new: Bounded


def bounds(result: Result, precision: Precision) -> tuple[StageBounds, tuple[StepBounds, ...]]:
    """Bounds for every stage of `result`, and for every step of its trajectory, in `precision`.

    Each stage is fed what the harness feeds it: ``da_dz`` is taken at the golden z (activation_derivative
    is handed it), ``w_new`` and ``b_new`` come from the golden gradient (update_weights is handed it);
    the gradient and every trajectory step come from the implementation's own values, step after step.
    Raises OutOfRange when a value does not fit in `precision`.
    """
    m = Model(precision)
    inp, first = result.inputs, result.first
    X = [[m.input(to_fraction(x)) for x in row] for row in inp.X]
    y = [m.input(to_fraction(t)) for t in inp.y_true]
    lr, alpha = m.input(to_fraction(inp.learning_rate)), m.input(to_fraction(inp.alpha))
    w, b = [m.input(to_fraction(x)) for x in inp.w], m.input(to_fraction(inp.b))
    z, a, dJ_da, J, _, dJ_dw, dJ_db = _forward_backward(m, inp, X, y, w, b, alpha)
    golden_z = [m.input(to_fraction(zi)) for zi in first.z]
    act, at_zero = inp.activation, inp.derivative_at_zero
    da_dz = tuple(_derivative(m, act, zi, _activation(m, act, zi, alpha), alpha, at_zero) for zi in golden_z)
    fed_w = [m.input(to_fraction(g)) for g in first.dJ_dw]
    w_new = tuple(m.sub(wj, m.mul(lr, g)) for wj, g in zip(w, fed_w, strict=True))
    b_new = m.sub(b, m.mul(lr, m.input(to_fraction(first.dJ_db))))
    stages = StageBounds(z, a, J, dJ_da, da_dz, dJ_dw, dJ_db, w_new, b_new)
    steps = []
    for _ in result.steps if len(result.steps) > 1 else ():
        *_, g_w, g_b = _forward_backward(m, inp, X, y, w, b, alpha)
        w = [m.sub(wj, m.mul(lr, g)) for wj, g in zip(w, g_w, strict=True)]
        b = m.sub(b, m.mul(lr, g_b))
        steps.append(StepBounds(g_w, g_b, tuple(w), b))
    _agree(result, stages, steps)
    return stages, tuple(steps)


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
    inputs; the seed's ½Σ needs none on dJ_da.
    """
    activation = inp.activation
    z = tuple(m.dot(row, w, plus=b) for row in X)
    a = tuple(_activation(m, activation, zi, alpha) for zi in z)
    u = tuple(m.sub(ai, yi) for ai, yi in zip(a, y, strict=True))
    p, q, r, s = LOSSES[inp.loss](len(X))
    per_J, per_dJ = m.input(Fraction(p, q)), m.input(Fraction(r, s))
    dJ_da = u if r == s else tuple(m.mul(per_dJ, ui) for ui in u)
    J = tuple(m.mul(per_J, m.mul(ui, ui)) for ui in u)
    at_zero = inp.derivative_at_zero
    slope = tuple(_derivative(m, activation, zi, ai, alpha, at_zero) for zi, ai in zip(z, a, strict=True))
    delta = [m.mul(g, d) for g, d in zip(dJ_da, slope, strict=True)]
    dJ_dw = tuple(m.dot(delta, [row[j] for row in X]) for j in range(len(w)))
    return z, a, dJ_da, J, slope, dJ_dw, m.sum(delta)


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
