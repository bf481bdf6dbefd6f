"""The catalogue of classic mistakes, and the diagnosis of a failed stage by it.

When a stage fails, the harness works out what each mistake in ``CATALOGUE`` would have produced on that
case, and how far any implementation making that mistake, in the precision judged, may land from it: the
mistaken computation is carried through the same error model as the right one (``oracle.bounds``), so a
float32 or bfloat16 implementation of a mistake is recognised as surely as a float64 one. When the values
got lie within a prediction's bound (and, since the stage failed, not within the right value's), the
outcome carries that mistake: its id and a sentence a learner understands. A mistake with a free constant
(a hard-coded alpha, a learning rate taken c times, a loss scaled by c) infers it from the values got and
names it. A diagnosis is only ever looked for on a failed stage, and a correct implementation never fails
one (the bounds are sound), so no correct implementation is diagnosed. The catalogue is data:
``neuron-oracle mistakes`` prints it.
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
from oracle.backprop import Result
from oracle.bounds import PRECISIONS, Bounded, Model, Precision, StageBounds, bounds, round_up

DECOY = 2.0  # the harness calls forward(DECOY·X) between forward(X) and gradient(X, y): see stale_forward
STAGE_NAMES = ("z", "a", "J", "da_dz", "dJ_dw", "dJ_db", "w_new", "b_new")

Values = Bounded | tuple[Bounded, ...]
Prediction = dict[str, Values]  # per stage, the mistaken values, each with its bound in the precision
# A prediction may use the values got on the failed stage to infer a constant; it says which, by name.
Predict = Callable[["Problem"], tuple[Prediction, dict[str, str]]]


@dataclass(frozen=True)
class Problem:
    """A failed stage to explain: the case, the conventions in force, the precision, and what was got."""

    case: GoldenCase
    conventions: dict[str, str]
    precision: Precision
    stage: str
    got: np.ndarray[Any, Any]

    @property
    def model(self) -> Model:
        """The error model of the precision judged."""
        return Model(self.precision)

    def result(self, **changes: Any) -> Result:
        """The oracle's exact result of the case, under the conventions in force, with `changes` made."""
        inp = self.case.inputs
        args: dict[str, Any] = {"X": inp.X, "y_true": inp.y_true, "w": inp.w, "b": inp.b}
        args |= {"learning_rate": inp.learning_rate, "alpha": inp.alpha, "activation": inp.activation}
        conv = self.conventions | changes.pop("conv", {})
        return create_backprop_test_case(**(args | conv | changes))

    def stages(self, **changes: Any) -> StageBounds:
        """Every stage of `result(**changes)` with its bound in the precision (OutOfRange where none)."""
        return bounds(self.result(**changes), self.precision)[0]


@dataclass(frozen=True)
class Mistake:
    """A classic mistake: its id, what it is, what to say (``{stage}``, ``{m}`` and the constants it names
    are filled in), and how to predict its values on a case."""

    id: str
    summary: str
    message: str
    predict: Predict
    declares: tuple[tuple[str, str], ...] = ()  # a library's convention: what declaring it sets
    inferred: bool = False  # its constant is inferred: looked for only when no other mistake matches

    @property
    def declaration(self) -> str:
        """The class attribute that declares this convention: ``conventions = {"loss": "mean"}``."""
        pairs = ", ".join(f'"{k}": "{v}"' for k, v in self.declares)
        return f"conventions = {{{pairs}}}" if pairs else ""


def _all(s: StageBounds) -> Prediction:
    return {name: getattr(s, name) for name in STAGE_NAMES}


def _with(**changes: Any) -> Predict:
    """The whole computation redone with other inputs, conventions or activation. update_weights is fed
    the case's own gradient whatever the neuron's is, so its stages stay the right ones."""

    def predict(p: Problem) -> tuple[Prediction, dict[str, str]]:
        right = p.stages()
        return _all(p.stages(**changes)) | {"w_new": right.w_new, "b_new": right.b_new}, {}

    return predict


def _columns(s: StageBounds) -> list[list[Bounded]]:
    return [list(column) for column in zip(*s.X, strict=True)]


GradientChange = Callable[[Model, list[Bounded], StageBounds], tuple[Values, Values]]


def _gradient(change: GradientChange) -> Predict:
    """The right forward pass, a gradient put together wrongly from the right delta_i = dJ_da_i·da_dz_i, in
    the same model: change(model, delta, stages) gives (dJ_dw, dJ_db)."""

    def predict(p: Problem) -> tuple[Prediction, dict[str, str]]:
        s, m = p.stages(), p.model
        delta = [m.mul(g, d) for g, d in zip(s.dJ_da, s.slope, strict=True)]
        dJ_dw, dJ_db = change(m, delta, s)
        return _all(s) | {"dJ_dw": dJ_dw, "dJ_db": dJ_db}, {}

    return predict


def _dot(m: Model, delta: list[Bounded], s: StageBounds) -> tuple[Bounded, ...]:
    return tuple(m.dot(delta, column) for column in _columns(s))


def _mean(m: Model, x: Bounded, rows: int) -> Bounded:
    """x / rows, as an implementation divides: no better than a multiplication by 1/rows held in p."""
    return m.mul(x, m.input(Fraction(1, rows)))


def _negated(x: Values) -> Values:
    if isinstance(x, tuple):
        return tuple(Bounded(-b.v, b.e) for b in x)
    return Bounded(-x.v, x.e)


UpdateChange = Callable[[Model, Bounded, Bounded, Bounded], Bounded]


def _update(change: UpdateChange) -> Predict:
    """The golden gradient fed to an update put together wrongly: change(model, param, gradient, lr)."""

    def predict(p: Problem) -> tuple[Prediction, dict[str, str]]:
        s, m = p.stages(), p.model
        w_new = tuple(change(m, w, g, s.lr) for w, g in zip(s.w, s.fed_dJ_dw, strict=True))
        return _all(s) | {"w_new": w_new, "b_new": change(m, s.b, s.fed_dJ_db, s.lr)}, {}

    return predict


def _zero_at_kink(p: Problem) -> tuple[Prediction, dict[str, str]]:
    """da/dz = 0 wherever z = 0 exactly (at the golden z and at the computed one alike)."""
    s, m = p.stages(), p.model
    zero = Bounded(Fraction(0), 0.0)
    da_dz = tuple(zero if z.v == 0 else d for z, d in zip(s.z, s.da_dz, strict=True))
    slope = [zero if z.v == 0 else d for z, d in zip(s.z, s.slope, strict=True)]
    delta = [m.mul(g, d) for g, d in zip(s.dJ_da, slope, strict=True)]
    return _all(s) | {"da_dz": da_dz, "dJ_dw": _dot(m, delta, s), "dJ_db": m.sum(delta)}, {}


def _stale(p: Problem) -> tuple[Prediction, dict[str, str]]:
    """gradient(X, y) uses the a of the forward call before it, forward(DECOY·X), with da/dz at z(X)."""
    s, m = p.stages(), p.model
    decoy = p.stages(X=[[DECOY * x for x in row] for row in p.case.inputs.X])
    delta = [m.mul(g, d) for g, d in zip(decoy.dJ_da, s.slope, strict=True)]
    return _all(s) | {"dJ_dw": _dot(m, delta, s), "dJ_db": m.sum(delta)}, {}


def _nice(x: float, fits: Callable[[Fraction], bool]) -> str | None:
    """The shortest decimal, of at most 6 significant digits, near `x` for which `fits` holds."""
    if not np.isfinite(x):
        return None
    for digits in range(1, 7):
        text = f"{x:.{digits}g}"
        if fits(Fraction(text)):
            return text
    return None


def _matches(p: Problem, values: Values | None) -> bool:
    """Whether the values got lie within `values`' bounds on the failed stage."""
    if values is None:
        return False
    want, limit = _floats(values)
    return want.shape == p.got.shape and worst(p.got, want, limit)[1] <= 1


def _hard_coded_alpha(p: Problem) -> tuple[Prediction, dict[str, str]]:
    """Leaky ReLU with an alpha of its own, inferred from a on a row where z < 0 (or from da_dz there)."""
    exact, own = p.result().first, Fraction(str(p.case.inputs.alpha))
    negative = [i for i, z in enumerate(exact.z) if z < 0]
    if p.case.inputs.activation != "leaky_relu" or not negative or p.stage not in ("a", "da_dz"):
        return {}, {}
    i = max(negative, key=lambda k: abs(exact.z[k]))
    guess = float(p.got[i]) / to_float(exact.z[i]) if p.stage == "a" else float(p.got[i])
    # alpha = 0 is ReLU's, a mistake of its own (relu_instead_of_leaky_relu)
    used = _nice(guess, lambda c: c not in (0, own) and _matches(p, getattr(p.stages(alpha=c), p.stage)))
    if used is None:
        return {}, {}
    return {p.stage: getattr(p.stages(alpha=Fraction(used)), p.stage)}, {
        "alpha": used,
        "own": f"{to_float(own):g}",
    }


def _learning_rate_factor(p: Problem) -> tuple[Prediction, dict[str, str]]:
    """An update that moves c·lr·dJ_dw, c inferred from the parameter that moved the most."""
    if p.stage not in ("w_new", "b_new"):
        return {}, {}
    s, m = p.stages(), p.model
    params, fed = (s.w, s.fed_dJ_dw) if p.stage == "w_new" else ((s.b,), (s.fed_dJ_db,))
    lr = Fraction(str(p.case.inputs.learning_rate))
    j = max(range(len(fed)), key=lambda k: abs(fed[k].v))
    if lr == 0 or fed[j].v == 0:
        return {}, {}
    guess = float((params[j].v - Fraction(float(p.got.reshape(-1)[j]))) / (lr * fed[j].v))

    def moved(c: Fraction) -> Values:
        rate = m.mul(m.input(c), s.lr)
        new = tuple(m.sub(x, m.mul(rate, g)) for x, g in zip(params, fed, strict=True))
        return new if p.stage == "w_new" else new[0]

    factor = _nice(guess, lambda c: c not in (0, 1) and _matches(p, moved(c)))
    if factor is None:
        return {}, {}
    return _all(s) | {p.stage: moved(Fraction(factor))}, {"c": factor}


def _loss_scale(p: Problem) -> tuple[Prediction, dict[str, str]]:
    """A loss, or its derivative, scaled by a constant c (inferred): every stage from J on is c times."""
    if p.stage not in ("J", "dJ_dw", "dJ_db"):
        return {}, {}
    s, u = p.stages(), float(p.precision.u)
    right = getattr(s, p.stage)
    flat = right if isinstance(right, tuple) else (right,)
    j = max(range(len(flat)), key=lambda k: abs(flat[k].v))
    if flat[j].v == 0:
        return {}, {}

    def scaled(c: Fraction) -> Values:  # c times the right value: its bound times |c|, and one rounding more
        out = tuple(
            Bounded(
                c * b.v,
                round_up(abs(c) * Fraction(b.e) + 2 * Fraction(u) * abs(c * b.v))
                + 2 * float(p.precision.eta),
            )
            for b in flat
        )
        return out if isinstance(right, tuple) else out[0]

    factor = _nice(
        float(p.got.reshape(-1)[j]) / to_float(flat[j].v),
        lambda c: c not in (0, 1) and _matches(p, scaled(c)),
    )
    if factor is None:
        return {}, {}
    return {p.stage: scaled(Fraction(factor))}, {"c": factor}


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
        _gradient(lambda m, delta, s: (_dot(m, list(s.dJ_da), s), m.sum(list(s.dJ_da)))),
    ),
    Mistake(
        "relu_instead_of_leaky_relu",
        "plain ReLU where Leaky ReLU belongs: 0 instead of alpha·z below the kink",
        "{stage} is ReLU's: for z < 0 Leaky ReLU gives alpha·z (and slope alpha), not 0",
        _with(activation="relu"),
    ),
    Mistake(
        "hard_coded_alpha",
        "alpha fixed (0.01, 0.1 …: inferred from the values) instead of the neuron's own self.alpha",
        "{stage} uses alpha = {alpha}, not self.alpha ({own} here): use self.alpha",
        _hard_coded_alpha,
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
        _gradient(lambda m, delta, s: (s.dJ_dw, _mean(m, m.sum(delta), len(delta)))),
    ),
    Mistake(
        "weight_gradient_mean",
        "dJ_dw averaged over the batch instead of summed",
        "dJ_dw equals the mean over the {m} rows instead of the sum: every example adds its share",
        _gradient(lambda m, delta, s: (tuple(_mean(m, g, len(delta)) for g in _dot(m, delta, s)), s.dJ_db)),
    ),
    Mistake(
        "bias_gradient_first_row",
        "dJ_db from the first row only",
        "dJ_db is the first row's alone: sum delta_i over all {m} rows",
        _gradient(lambda m, delta, s: (s.dJ_dw, delta[0])),
    ),
    Mistake(
        "first_row_only",
        "the gradient of the first row only, as if the batch had one example",
        "{stage} is the first row's alone: a batch's gradient sums every row's",
        _gradient(lambda m, delta, s: (tuple(m.mul(delta[0], x) for x in s.X[0]), delta[0])),
    ),
    Mistake(
        "gradient_sign_flipped",
        "the gradient's sign flipped: (y − a) instead of (a − y)",
        "{stage} has the wrong sign: the error is a − y, so dJ/dw = (a − y)·da/dz·x",
        _gradient(lambda m, delta, s: (_negated(s.dJ_dw), _negated(s.dJ_db))),
    ),
    Mistake(
        "update_sign_flipped",
        "gradient ascent: w + lr·dJ_dw",
        "{stage} moves up the gradient: descent is w ← w − lr·dJ_dw",
        _update(lambda m, x, g, lr: m.add(x, m.mul(lr, g))),
    ),
    Mistake(
        "bias_not_scaled_by_learning_rate",
        "b ← b − dJ_db, without the learning rate",
        "{stage} leaves out the learning rate on the bias: b ← b − lr·dJ_db",
        _update(lambda m, x, g, lr: m.sub(x, g)),
    ),
    Mistake(
        "update_not_in_place",
        "update_weights computes new values but does not store them",
        "{stage} did not change: update_weights must store the new w and b on the neuron (self.w = …)",
        _update(lambda m, x, g, lr: x),
    ),
    Mistake(
        "stale_forward",
        "gradient reuses the a of an earlier forward call (the seed's 'self.forward dependency problem')",
        "{stage} uses the values of the previous forward call, not of this X: call forward inside "
        "gradient, as the seed decided",
        _stale,
    ),
    Mistake(
        "learning_rate_factor",
        "an update that moves c·lr·dJ_dw (c inferred): the learning rate scaled, or applied twice",
        "{stage} moves {c} times as far as lr·dJ_dw: w ← w − lr·dJ_dw takes the learning rate once, as given",
        _learning_rate_factor,
        inferred=True,
    ),
    Mistake(
        "loss_scale",
        "every gradient c times the seed's (c inferred, such as 1/m, 2/m or 4): a factor in the loss",
        "{stage} is {c} times the expected: a factor in the loss or in its derivative; the seed's "
        "J = ½Σ(a − y)² has dJ/da = a − y",
        _loss_scale,
        inferred=True,
    ),
)
LOWER_PRECISION = Mistake(
    "lower_precision",
    "the values of a lower precision than the dtype returned (float32 math returned as float64)",
    "{stage} is {lower}-accurate, not {precision}: compute in the precision you return, or return {lower} "
    'and be judged by its bounds (or declare precision = "{lower}")',
    lambda p: ({}, {}),
)
BY_ID = {m.id: m for m in (*CATALOGUE, LOWER_PRECISION)}
ORDER = ("float64", "float32", "float16", "bfloat16")  # by unit roundoff: 2**-53, -24, -11, -8


def diagnose(
    case: GoldenCase, stage: str, got: np.ndarray[Any, Any], precision: str, conventions: dict[str, str]
) -> dict[str, str] | None:
    """The first mistake whose prediction for `stage` on `case` matches `got` within that prediction's
    own bound in `precision`, as ``{"id", "message"}``; None when none does. Conventions already declared
    are not mistakes."""
    if stage not in STAGE_NAMES or precision not in PRECISIONS:
        return None
    problem = Problem(case, conventions, PRECISIONS[precision], stage, np.asarray(got, dtype=np.float64))
    found: list[tuple[Mistake, dict[str, str]]] = []
    for mistake in CATALOGUE:
        if mistake.declares and all(conventions.get(k) == v for k, v in mistake.declares):
            continue  # declared: not a mistake
        if mistake.inferred and found:
            continue  # a mistake of the catalogue's own constant explains it already
        try:
            predicted, named = mistake.predict(problem)
        except (ValueError, ZeroDivisionError, ArithmeticError):  # OutOfRange: no bound in the precision
            continue
        if _matches(problem, predicted.get(stage)):
            found.append((mistake, named))
    if not found:
        return _lower_precision(case, stage, got, precision)
    (first, named), others = found[0], [m.id for m, _ in found[1:]]
    message = first.message.format(stage=stage, m=len(case.inputs.X), **named)
    if others:  # on this case several mistakes give the same values: say so
        message += f" (on this case, {', '.join(others)} would give the same values)"
    return {"id": first.id, "message": message}


def _floats(values: Values) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Predicted values as float64 (each exact value rounded once) and their bounds around those floats."""
    flat = values if isinstance(values, tuple) else (values,)
    want = [to_float(b.v) for b in flat]
    limit = [round_up(Fraction(b.e) + abs(Fraction(x) - b.v)) for b, x in zip(flat, want, strict=True)]
    shape = (len(flat),) if isinstance(values, tuple) else ()
    return np.array(want).reshape(shape), np.array(limit).reshape(shape)


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
