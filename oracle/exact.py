"""Exact numbers and exact activations: the arithmetic the oracle computes in.

How a number is read
--------------------
A Python float (and so a JSON number) is read as the decimal its shortest ``repr`` spells: ``0.1`` is
exactly one tenth, not the binary64 value 0.1000000000000000055511151231257827… . That is the number the
case's author wrote, and the one a golden file shows; it is what makes the seed's claim "the prediction
equals y_true, so the gradient is exactly 0" true. A float64 implementation computes on the nearest
binary64 values instead; that representation error, relative 2**-53 at most per input, is what each
golden file's tolerance allows for. Strings are read as the decimal they spell; ints are exact.

Arithmetic
----------
Piecewise-linear activations (identity, relu, leaky_relu) need only + − × and comparisons, so they are
computed in ``fractions.Fraction``: no rounding at all. Sigmoid and tanh need ``exp``, so they are
computed in ``decimal.Decimal`` with ``PRECISION`` significant digits, and more where a formula cancels
(``_guarded``); the accumulated error is below 1e-55 relative, 10**39 times smaller than float64
resolution. Either way a result is
rounded to float64 once, at the end, by ``to_float`` (``float()`` of a Fraction or Decimal rounds
correctly).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeAlias

PRECISION = 60

# A Fraction, or a Decimal for the exp-based activations; one type throughout a case, never mixed,
# which a Union cannot say, hence Any.
Exact: TypeAlias = Any


def spelled(x: object) -> str:
    """The decimal text a number spells: the shortest repr for a float, the text itself for a str."""
    if isinstance(x, bool):
        raise TypeError(f"expected a number, got {x!r}")
    if isinstance(x, float):
        if x != x or x in (float("inf"), float("-inf")):
            raise ValueError(f"expected a finite number, got {x!r}")
        return repr(x)
    if isinstance(x, int | str | Fraction | Decimal):
        return str(x)
    raise TypeError(f"expected a number, got {type(x).__name__} {x!r}")


def to_float(x: Exact) -> float:
    """Round an exact value to the nearest float64, once."""
    return float(x)


@dataclass(frozen=True)
class ExactActivation:
    """An activation ``a = f(z)`` and ``da/dz = df(z)`` over one exact number type."""

    name: str
    number: Callable[[Any], Exact]
    f: Callable[[Any, Any], Any]
    df: Callable[[Any, Any], Any]

    def context(self) -> decimal.Context:
        """The decimal context to compute in (used by the Decimal activations only)."""
        return decimal.Context(prec=PRECISION, rounding=decimal.ROUND_HALF_EVEN)


def _fraction(x: object) -> Fraction:
    return x if isinstance(x, Fraction) else Fraction(spelled(x))


def _decimal(x: object) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(spelled(x))


# Kinks follow the seed's np.where(z < 0, alpha, 1): the derivative at z == 0 is the right-hand one, 1.


def _guarded(f: Callable[[Decimal], Decimal]) -> Callable[[Decimal], Decimal]:
    """Compute f(z) with as many more digits as z has leading zeros, then round to the context's digits.

    That keeps every result to about PRECISION significant digits even where a formula subtracts
    nearly equal numbers (e^2z − 1 for a tiny z), which a fixed precision would turn into 0.
    """

    def guarded(z: Decimal) -> Decimal:
        outer = decimal.getcontext()
        extra = max(0, -z.adjusted()) + 5 if z else 5
        with decimal.localcontext(decimal.Context(prec=outer.prec + extra, rounding=decimal.ROUND_HALF_EVEN)):
            value = f(z)
        return +value  # rounded to the outer context

    return guarded


@_guarded
def sigmoid(z: Decimal) -> Decimal:
    """1 / (1 + e^−z)."""
    return 1 / (1 + (-z).exp())


@_guarded
def sigmoid_prime(z: Decimal) -> Decimal:
    """σ(z)·(1 − σ(z)), as σ(z)·σ(−z): no 1 − σ to cancel when z is large."""
    return 1 / ((1 + (-z).exp()) * (1 + z.exp()))


@_guarded
def tanh(z: Decimal) -> Decimal:
    """(e^2z − 1) / (e^2z + 1), with the digits the subtraction needs for a small z."""
    e = (2 * z).exp()
    return (e - 1) / (e + 1)


@_guarded
def tanh_prime(z: Decimal) -> Decimal:
    """1 − tanh², as 4 / (e^z + e^−z)²: no 1 − tanh² to cancel when |z| is large."""
    return 4 / (z.exp() + (-z).exp()) ** 2


ACTIVATIONS: dict[str, ExactActivation] = {
    "leaky_relu": ExactActivation(
        "leaky_relu",
        _fraction,
        f=lambda z, alpha: z if z >= 0 else alpha * z,
        df=lambda z, alpha: Fraction(1) if z >= 0 else alpha,
    ),
    "relu": ExactActivation(
        "relu",
        _fraction,
        f=lambda z, alpha: z if z >= 0 else Fraction(0),
        df=lambda z, alpha: Fraction(1) if z >= 0 else Fraction(0),
    ),
    "identity": ExactActivation(
        "identity",
        _fraction,
        f=lambda z, alpha: z,
        df=lambda z, alpha: Fraction(1),
    ),
    "sigmoid": ExactActivation(
        "sigmoid", _decimal, f=lambda z, alpha: sigmoid(z), df=lambda z, alpha: sigmoid_prime(z)
    ),
    "tanh": ExactActivation("tanh", _decimal, f=lambda z, alpha: tanh(z), df=lambda z, alpha: tanh_prime(z)),
}
