"""The seed's ``create_backprop_test_case``, computed exactly with scalar loops a person can check by hand.

For X of shape (m, n), w of length n and targets y of length m, one gradient-descent step is::

    z_i     = Σ_j X_ij·w_j + b          linear part            (m values)
    a_i     = f(z_i)                    activation             (m)
    J_i     = ½ (a_i − y_i)²            per-example loss       (m); the batch loss is Σ_i J_i
    dJ_da_i = a_i − y_i                                        (m)
    da_dz_i = f'(z_i)                   1 at z = 0 for the kinked activations, as the seed decided
    dJ_dw_j = Σ_i dJ_da_i·da_dz_i·X_ij  sums over the batch, not means   (n)
    dJ_db   = Σ_i dJ_da_i·da_dz_i       since dz/db = 1
    w_new_j = w_j − lr·dJ_dw_j,   b_new = b − lr·dJ_db

With ``steps`` > 1 the step is repeated from (w_new, b_new), each step recorded.

Conventions other libraries use can be asked for: ``derivative_at_zero`` ("one", the seed's; "alpha",
PyTorch's and TensorFlow's; "midpoint", (1 + alpha)/2) and ``loss`` (``LOSSES``: "half_sum", the seed's
½Σ(a − y)²; "sum", Σ(a − y)²; "mean", (1/m)Σ(a − y)², nn.MSELoss's; "half_mean", (1/2m)Σ(a − y)², CS229's).
Each per-example J_i is then that loss's share of the batch loss, and dJ_da_i its derivative.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from oracle.exact import ACTIVATIONS, Exact, ExactActivation

LOSS = "half_squared_error"
DERIVATIVES_AT_ZERO = ("one", "alpha", "midpoint")
# name: for a batch of m rows, J_i = u²·p/q and dJ_da_i = u·r/s with u = a_i − y_i, as (p, q, r, s)
LOSSES: dict[str, Callable[[int], tuple[int, int, int, int]]] = {
    "half_sum": lambda m: (1, 2, 1, 1),
    "sum": lambda m: (1, 1, 2, 1),
    "mean": lambda m: (1, m, 2, m),
    "half_mean": lambda m: (1, 2 * m, 1, m),
}


@dataclass(frozen=True)
class Inputs:
    """A case's inputs, read exactly (see ``oracle.exact``); y_true has one target per row."""

    X: tuple[tuple[Exact, ...], ...]
    y_true: tuple[Exact, ...]
    w: tuple[Exact, ...]
    b: Exact
    learning_rate: Exact
    alpha: Exact
    activation: str
    steps: int
    derivative_at_zero: str = "one"
    loss: str = "half_sum"


@dataclass(frozen=True)
class Step:
    """Every intermediate of one gradient-descent step, exact."""

    z: tuple[Exact, ...]
    a: tuple[Exact, ...]
    J: tuple[Exact, ...]
    dJ_da: tuple[Exact, ...]
    da_dz: tuple[Exact, ...]
    dJ_dw: tuple[Exact, ...]
    dJ_db: Exact
    w_new: tuple[Exact, ...]
    b_new: Exact

    @property
    def loss(self) -> Exact:
        """The batch loss Σ J_i, before this step's update."""
        return sum(self.J, start=self.J[0] * 0)


@dataclass(frozen=True)
class Result:
    """A case computed: its exact inputs and one ``Step`` per update."""

    inputs: Inputs
    steps: tuple[Step, ...]

    @property
    def first(self) -> Step:
        """The first step: the intermediates the seed's test case records."""
        return self.steps[0]

    def loss_at(self, w: tuple[Exact, ...], b: Exact) -> Exact:
        """The batch loss Σ J_i on this case's data with parameters (w, b)."""
        act = ACTIVATIONS[self.inputs.activation]
        with decimal.localcontext(act.context()):
            return _step(self.inputs, w, b, act).loss


def create_backprop_test_case(
    X: Any,
    y_true: Any,
    w: Any,
    b: Any,
    learning_rate: Any,
    *,
    alpha: Any = "0.01",
    activation: str = "leaky_relu",
    steps: int = 1,
    derivative_at_zero: str = "one",
    loss: str = "half_sum",
) -> Result:
    """Compute every intermediate of `steps` gradient-descent steps, exactly.

    Parameters
    ----------
    X : sequence of m rows of n numbers
    y_true : a number (the same target for every row, as in the seed) or m numbers
    w : n numbers
    b, learning_rate, alpha : numbers
    activation : one of ``oracle.exact.ACTIVATIONS``
    steps : int >= 1
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: unknown {activation!r}; known: {', '.join(sorted(ACTIVATIONS))}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps is {steps!r}; expected an int >= 1")
    if derivative_at_zero not in DERIVATIVES_AT_ZERO:
        raise ValueError(
            f"derivative_at_zero: unknown {derivative_at_zero!r}; known: {', '.join(DERIVATIVES_AT_ZERO)}"
        )
    if loss not in LOSSES:
        raise ValueError(f"loss: unknown {loss!r}; known: {', '.join(LOSSES)}")
    act = ACTIVATIONS[activation]
    with decimal.localcontext(act.context()):
        inputs = replace(
            _read(X, y_true, w, b, learning_rate, alpha, act, steps),
            derivative_at_zero=derivative_at_zero,
            loss=loss,
        )
        trajectory = []
        w_i, b_i = inputs.w, inputs.b
        for _ in range(steps):
            step = _step(inputs, w_i, b_i, act)
            trajectory.append(step)
            w_i, b_i = step.w_new, step.b_new
    return Result(inputs, tuple(trajectory))


def _step(inp: Inputs, w: tuple[Exact, ...], b: Exact, act: ExactActivation) -> Step:
    """One step of the module's formulas. A row that repeats, with its target, is computed once and counted
    in the sums, and so is a feature that repeats, its column of X with its weight: a batch of 1025 rows
    made of a few distinct ones costs what those cost. Exact arithmetic: the values are those of the loops
    over every row and every feature. (Rows are told apart by the identity of their numbers, which the
    reader gives one object per distinct value: equal rows not told apart are only computed twice.)"""
    X, y, alpha, lr = inp.X, inp.y_true, inp.alpha, inp.learning_rate
    p, q, r, s = LOSSES[inp.loss](len(X))
    rows = _groups([(*map(id, x), id(t)) for x, t in zip(X, y, strict=True)])  # first i -> rows like it
    features = _groups([(*(id(x[j]) for x in X), id(w_j)) for j, w_j in enumerate(w)])
    one = {}  # each distinct row's z, a, J, dJ_da, da_dz and dJ_dz = dJ_da·da_dz
    for i in rows:
        x, t = X[i], y[i]
        z = sum((len(same) * x[j] * w[j] for j, same in features.items()), start=b)  # Σ_j x_j·w_j + b
        a = act.f(z, alpha)
        dJ_da, da_dz = (a - t) * r / s, slope(act, z, alpha, inp.derivative_at_zero)
        one[i] = (z, a, (a - t) * (a - t) * p / q, dJ_da, da_dz, dJ_da * da_dz)
    zero = b * 0
    each = [one[first] for first in _firsts(rows)]
    dJ_dw_of = {
        j: sum((len(same) * one[i][5] * X[i][j] for i, same in rows.items()), start=zero) for j in features
    }
    dJ_dw = tuple(dJ_dw_of[first] for first in _firsts(features))
    dJ_db = sum((len(same) * one[i][5] for i, same in rows.items()), start=zero)
    z, a, J, dJ_da, da_dz = (tuple(v[stage] for v in each) for stage in range(5))  # row by row
    w_new = tuple(w_j - lr * g for w_j, g in zip(w, dJ_dw, strict=True))
    return Step(z, a, J, dJ_da, da_dz, dJ_dw, dJ_db, w_new, b - lr * dJ_db)


def _groups(keys: list[tuple[int, ...]]) -> dict[int, list[int]]:
    """The positions of equal keys, grouped: the first position of each -> every position with that key."""
    found: dict[tuple[int, ...], list[int]] = {}
    for position, key in enumerate(keys):
        found.setdefault(key, []).append(position)
    return {same[0]: same for same in found.values()}


def _firsts(groups: dict[int, list[int]]) -> list[int]:
    """For every position, the first position of its group."""
    out = [0] * sum(len(same) for same in groups.values())
    for first, same in groups.items():
        for position in same:
            out[position] = first
    return out


def slope(act: ExactActivation, z: Exact, alpha: Exact, at_zero: str) -> Exact:
    """da/dz at z; at the kink z = 0 of Leaky ReLU and ReLU, the convention `at_zero` decides."""
    if z != 0 or act.name not in ("leaky_relu", "relu"):
        return act.df(z, alpha)
    left = alpha if act.name == "leaky_relu" else z * 0
    return {"one": left * 0 + 1, "alpha": left, "midpoint": (1 + left) / 2}[at_zero]


def _read(
    X: Any, y_true: Any, w: Any, b: Any, lr: Any, alpha: Any, act: ExactActivation, steps: int
) -> Inputs:
    read: dict[Any, Exact] = {}  # each distinct number read once: a tall X repeats its values

    def num(x: Any) -> Exact:
        key = (type(x), x)  # 1 and 1.0 spell different decimals
        if key not in read:
            read[key] = act.number(x)
        return read[key]

    rows = tuple(tuple(num(x) for x in row) for row in X)
    weights = tuple(num(x) for x in w)
    m, n = len(rows), len(weights)
    if m < 1 or n < 1:
        raise ValueError(f"X has {m} rows and w {n} weights; expected at least one of each")
    for i, row in enumerate(rows):
        if len(row) != n:
            raise ValueError(f"X[{i}] has {len(row)} numbers; expected {n}, the length of w")
    if isinstance(y_true, list | tuple):
        targets = tuple(num(y) for y in y_true)
        if len(targets) != m:
            raise ValueError(f"y_true has {len(targets)} numbers; expected {m}, one per row of X")
    else:
        targets = (num(y_true),) * m
    rate = num(lr)
    if rate < 0:
        raise ValueError(f"learning_rate is {lr}; expected >= 0")
    return Inputs(rows, targets, weights, num(b), rate, num(alpha), act.name, steps)
