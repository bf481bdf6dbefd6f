"""The catalogue of classic mistakes, and the diagnosis of a failed stage by it.

When a stage fails, the harness asks the oracle what each mistake in ``CATALOGUE`` would have produced
on that case, exactly. When the values got match one prediction within the stage's bound (and, since
the stage failed, not the right value), the outcome carries that mistake: its id and a sentence a
learner understands. A diagnosis is only ever looked for on a failed stage, and a correct
implementation never fails one (the bounds are sound), so no correct implementation is diagnosed.
The catalogue is data: ``neuron-oracle mistakes`` prints it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from golden.files.case import GoldenCase
from golden.harness.compare import worst
from oracle import create_backprop_test_case, to_float

Predict = Callable[[GoldenCase, dict[str, str]], dict[str, Any]]
DECOY = 2.0  # the harness calls forward(DECOY·X) between forward(X) and gradient(X, y): see stale_forward


@dataclass(frozen=True)
class Mistake:
    """A classic mistake: its id, what it is, what to say (``{stage}`` and ``{m}`` are filled in), and how to
    predict its values on a case."""

    id: str
    summary: str
    message: str
    predict: Predict
    declares: tuple[tuple[str, str], ...] = ()  # a library's convention: what declaring it sets

    @property
    def declaration(self) -> str:
        """The class attribute that declares this convention: ``conventions = {"loss": "mean"}``."""
        pairs = ", ".join(f'"{k}": "{v}"' for k, v in self.declares)
        return f"conventions = {{{pairs}}}" if pairs else ""


def _oracle(case: GoldenCase, conventions: dict[str, str], **changes: Any) -> Any:
    inp = case.inputs
    args: dict[str, Any] = {"X": inp.X, "y_true": inp.y_true, "w": inp.w, "b": inp.b}
    args |= {"learning_rate": inp.learning_rate, "alpha": inp.alpha, "activation": inp.activation}
    args |= conventions | changes
    return create_backprop_test_case(**args).first


def _values(step: Any, **override: Any) -> dict[str, Any]:
    out = {k: getattr(step, k) for k in ("z", "a", "J", "da_dz", "dJ_dw", "dJ_db", "w_new", "b_new")}
    out.update(override)
    return out


def _with(**changes: Any) -> Predict:
    """The whole computation redone with other inputs or conventions."""
    return lambda case, conventions: _values(_oracle(case, conventions | changes.get("conv", {}), **{
        k: v for k, v in changes.items() if k != "conv"
    }))  # fmt: skip


def _gradient(change: Callable[[list[Fraction], list[list[Fraction]], Any], tuple[Any, Any]]) -> Predict:
    """The right forward pass, a gradient put together wrongly from the right delta_i = dJ_da_i·da_dz_i."""

    def predict(case: GoldenCase, conventions: dict[str, str]) -> dict[str, Any]:
        step = _oracle(case, conventions)
        delta = [g * d for g, d in zip(step.dJ_da, step.da_dz, strict=True)]
        X = [[Fraction(str(x)) for x in row] for row in case.inputs.X]
        dJ_dw, dJ_db = change(delta, X, step)
        return _values(step, dJ_dw=dJ_dw, dJ_db=dJ_db)

    return predict


def _dot(delta: list[Any], X: list[list[Fraction]]) -> list[Any]:
    return [sum((d * row[j] for d, row in zip(delta, X, strict=True)), Fraction(0)) for j in range(len(X[0]))]


def _update(change: Callable[[Any, Any, Any], Any]) -> Predict:
    """The right gradient fed to an update put together wrongly: change(param, gradient, lr) -> new."""

    def predict(case: GoldenCase, conventions: dict[str, str]) -> dict[str, Any]:
        step = _oracle(case, conventions)
        lr, w, b = Fraction(str(case.inputs.learning_rate)), case.inputs.w, case.inputs.b
        g_w = [Fraction(str(to_float(g))) for g in step.dJ_dw]
        w_new = [change(Fraction(str(x)), g, lr) for x, g in zip(w, g_w, strict=True)]
        b_new = change(Fraction(str(b)), Fraction(str(to_float(step.dJ_db))), lr)
        return _values(step, w_new=w_new, b_new=b_new)

    return predict


def _zero_at_kink(case: GoldenCase, conventions: dict[str, str]) -> dict[str, Any]:
    step = _oracle(case, conventions)
    da_dz = [Fraction(0) if z == 0 else d for z, d in zip(step.z, step.da_dz, strict=True)]
    delta = [g * d for g, d in zip(step.dJ_da, da_dz, strict=True)]
    X = [[Fraction(str(x)) for x in row] for row in case.inputs.X]
    return _values(step, da_dz=da_dz, dJ_dw=_dot(delta, X), dJ_db=sum(delta, Fraction(0)))


def _stale(case: GoldenCase, conventions: dict[str, str]) -> dict[str, Any]:
    """gradient(X, y) uses the a of the forward call before it, forward(DECOY·X), with da/dz at z(X)."""
    step = _oracle(case, conventions)
    decoy = _oracle(case, conventions, X=[[DECOY * x for x in row] for row in case.inputs.X])
    delta = [u * d for u, d in zip(decoy.dJ_da, step.da_dz, strict=True)]
    X = [[Fraction(str(x)) for x in row] for row in case.inputs.X]
    return _values(step, dJ_dw=_dot(delta, X), dJ_db=sum(delta, Fraction(0)))


CATALOGUE: tuple[Mistake, ...] = (
    Mistake(
        "derivative_alpha_at_zero",
        "da/dz at z = 0 taken as alpha (PyTorch's F.leaky_relu, TensorFlow)",
        "{stage} takes da/dz = alpha at z = 0, as PyTorch and TensorFlow do; the seed takes 1. If that is "
        'your library\'s convention, declare it: conventions = {{"derivative_at_zero": "alpha"}}',
        _with(conv={"derivative_at_zero": "alpha"}),
        declares=(("derivative_at_zero", "alpha"),),
    ),
    Mistake(
        "derivative_midpoint_at_zero",
        "da/dz at z = 0 taken as (1 + alpha)/2 (HIPS autograd's np.maximum splits the tie)",
        "{stage} takes da/dz = (1 + alpha)/2 at z = 0, as autograd's np.maximum does; the seed takes 1. If "
        'that is your library\'s convention, declare it: conventions = {{"derivative_at_zero": "midpoint"}}',
        _with(conv={"derivative_at_zero": "midpoint"}),
        declares=(("derivative_at_zero", "midpoint"),),
    ),
    Mistake(
        "derivative_zero_at_zero",
        "da/dz at z = 0 taken as 0 (micrograd's relu(z) − alpha·relu(−z)): no subgradient of Leaky ReLU",
        "{stage} takes da/dz = 0 at z = 0, as relu(z) − alpha·relu(−z) does under autodiff; no convention "
        "allows that: Leaky ReLU's slopes either side are alpha and 1; take one, np.where(z < 0, alpha, 1)",
        _zero_at_kink,
    ),
    Mistake(
        "mean_loss",
        "the mean squared error (nn.MSELoss, Keras 'mse'): every gradient × 2/m",
        "{stage} is that of the mean squared error (1/m)Σ(a − y)², nn.MSELoss's: 2/m times the seed's ½Σ. "
        'If your library uses it, declare it: conventions = {{"loss": "mean"}}',
        _with(conv={"loss": "mean"}),
        declares=(("loss", "mean"),),
    ),
    Mistake(
        "loss_without_half",
        "J = Σ(a − y)² without the ½: every gradient doubled",
        "{stage} is twice the expected: J = (a − y)² without the ½, whose derivative is 2(a − y); the seed's "
        'J = ½Σ(a − y)² has derivative a − y (or declare conventions = {{"loss": "sum"}})',
        _with(conv={"loss": "sum"}),
        declares=(("loss", "sum"),),
    ),
    Mistake(
        "missing_activation_derivative",
        "the chain rule stops at a: da/dz left out of the gradient",
        "{stage} leaves out da/dz: the chain rule is dJ/dw = (a − y)·da/dz·x, and on the leaky branch da/dz "
        "is alpha, not 1",
        _gradient(lambda delta, X, step: (_dot(list(step.dJ_da), X), sum(step.dJ_da, Fraction(0)))),
    ),
    Mistake(
        "relu_instead_of_leaky_relu",
        "plain ReLU where Leaky ReLU belongs: 0 instead of alpha·z below the kink",
        "{stage} is ReLU's: for z < 0 Leaky ReLU gives alpha·z (and slope alpha), not 0",
        _with(activation="relu"),
    ),
    Mistake(
        "hard_coded_alpha",
        "alpha fixed at 0.01 instead of the neuron's own self.alpha",
        "{stage} uses alpha = 0.01 whatever the neuron's alpha is: use self.alpha",
        _with(alpha="0.01"),
    ),
    Mistake(
        "bias_missing_in_forward",
        "z = X·w without + b",
        "{stage} leaves the bias out: z = X·w + b",
        _with(b="0"),
    ),
    Mistake(
        "bias_gradient_mean",
        "dJ_db averaged over the batch instead of summed",
        "dJ_db equals the mean over the {m} rows instead of the sum: the bias is shared by every example, so "
        "its gradient adds up",
        _gradient(lambda delta, X, step: (step.dJ_dw, sum(delta, Fraction(0)) / len(delta))),
    ),
    Mistake(
        "weight_gradient_mean",
        "dJ_dw averaged over the batch instead of summed",
        "dJ_dw equals the mean over the {m} rows instead of the sum: every example adds its share",
        _gradient(lambda delta, X, step: ([g / len(delta) for g in _dot(delta, X)], step.dJ_db)),
    ),
    Mistake(
        "bias_gradient_first_row",
        "dJ_db from the first row only",
        "dJ_db is the first row's alone: sum delta_i over all {m} rows",
        _gradient(lambda delta, X, step: (step.dJ_dw, delta[0])),
    ),
    Mistake(
        "first_row_only",
        "the gradient of the first row only, as if the batch had one example",
        "{stage} is the first row's alone: a batch's gradient sums every row's",
        _gradient(lambda delta, X, step: (_dot(delta[:1], X[:1]), delta[0])),
    ),
    Mistake(
        "gradient_sign_flipped",
        "the gradient's sign flipped: (y − a) instead of (a − y)",
        "{stage} has the wrong sign: the error is a − y, so dJ/dw = (a − y)·da/dz·x",
        _gradient(lambda delta, X, step: ([-g for g in _dot(delta, X)], -sum(delta, Fraction(0)))),
    ),
    Mistake(
        "update_sign_flipped",
        "gradient ascent: w + lr·dJ_dw",
        "{stage} moves up the gradient: descent is w ← w − lr·dJ_dw",
        _update(lambda p, g, lr: p + lr * g),
    ),
    Mistake(
        "bias_not_scaled_by_learning_rate",
        "b ← b − dJ_db, without the learning rate",
        "{stage} leaves out the learning rate on the bias: b ← b − lr·dJ_db",
        _update(lambda p, g, lr: p - g),
    ),
    Mistake(
        "update_not_in_place",
        "update_weights computes new values but does not store them",
        "{stage} did not change: update_weights must store the new w and b on the neuron (self.w = …)",
        _update(lambda p, g, lr: p),
    ),
    Mistake(
        "stale_forward",
        "gradient reuses the a of an earlier forward call (the seed's 'self.forward dependency problem')",
        "{stage} uses the values of the previous forward call, not of this X: call forward inside "
        "gradient, as the seed decided",
        _stale,
    ),
)
LOWER_PRECISION = Mistake(
    "lower_precision",
    "the values of a lower precision than the dtype returned (float32 math returned as float64)",
    "{stage} is {lower}-accurate, not {precision}: compute in the precision you return, or return {lower} "
    'and be judged by its bounds (or declare precision = "{lower}")',
    lambda case, conventions: {},
)
BY_ID = {m.id: m for m in (*CATALOGUE, LOWER_PRECISION)}
ORDER = ("float64", "float32", "float16", "bfloat16")  # by unit roundoff: 2**-53, -24, -11, -8


def diagnose(
    case: GoldenCase,
    stage: str,
    got: np.ndarray[Any, Any],
    bound: Any,
    precision: str,
    conventions: dict[str, str],
) -> dict[str, str] | None:
    """The first mistake whose prediction for `stage` on `case` matches `got` within `bound`, as
    ``{"id", "message"}``; None when none does. Conventions already declared are not mistakes."""
    if stage not in ("z", "a", "J", "da_dz", "dJ_dw", "dJ_db", "w_new", "b_new") or bound is None:
        return None
    limit = np.asarray(bound, dtype=np.float64)
    m = len(case.inputs.X)
    found: list[Mistake] = []
    for mistake in CATALOGUE:
        if mistake.declares and all(conventions.get(k) == v for k, v in mistake.declares):
            continue  # declared: not a mistake
        try:
            predicted = mistake.predict(case, conventions).get(stage)
        except (ValueError, ZeroDivisionError, ArithmeticError):
            continue
        if predicted is None:
            continue
        want = np.array(
            [to_float(v) for v in predicted] if isinstance(predicted, list | tuple) else to_float(predicted)
        )
        if want.shape == got.shape and worst(got, want, limit)[1] <= 1:
            found.append(mistake)
    if not found:
        return _lower_precision(case, stage, got, precision)
    message = found[0].message.format(stage=stage, m=m)
    if len(found) > 1:  # on this case several mistakes give the same values: say so
        message += f" (on this case, {', '.join(f.id for f in found[1:])} would give the same values)"
    return {"id": found[0].id, "message": message}


def _lower_precision(
    case: GoldenCase, stage: str, got: np.ndarray[Any, Any], precision: str
) -> dict[str, str] | None:
    if case.bounds is None or precision not in ORDER:
        return None
    want = np.asarray(getattr(case.expected, stage), dtype=np.float64)
    for lower in ORDER[ORDER.index(precision) + 1 :]:
        per = case.bounds.get(lower, {})
        if stage in per and want.shape == got.shape and worst(got, want, np.asarray(per[stage]))[1] <= 1:
            message = LOWER_PRECISION.message.format(stage=stage, lower=lower, precision=precision)
            return {"id": LOWER_PRECISION.id, "message": message}
    return None


def catalogue() -> list[str]:
    """The catalogue as lines: id, what it is, and for a library's convention how to declare it."""
    lines = []
    for mistake in (*CATALOGUE, LOWER_PRECISION):
        declare = f"  (a convention: {mistake.declaration})" if mistake.declares else ""
        lines.append(f"{mistake.id:<34} {mistake.summary}{declare}")
    return lines
