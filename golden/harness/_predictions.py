"""What a classic mistake would produce on a golden case, with how far any implementation making it may
land from that: the predictions the catalogue (``golden.harness._mistakes``) is made of.

A mistaken computation is carried through the same error model as the right one (``oracle.bounds``), so
a float32 or bfloat16 implementation of a mistake is recognised as surely as a float64 one. A prediction
gives, per stage, the mistaken values each with its bound in the precision judged; one with a free
constant (a hard-coded alpha, a learning rate taken c times, a loss scaled by c) infers it from the values
got on the failed stage and names it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar, cast

import numpy as np

from golden.files._case import GoldenCase
from golden.harness._compare import worst
from golden.outcome import B_NEW, DA_DZ, DJ_DB, DJ_DW, VALUES, W_NEW, A, J
from oracle import create_backprop_test_case, to_float
from oracle.backprop import Result
from oracle.bounds import Bounded, Model, Precision, StageBounds, bounds, float_bound, round_up

Values = Bounded | tuple[Bounded, ...]
Prediction = dict[str, Values]  # per stage, the mistaken values, each with its bound in the precision
# A prediction may use the values got on the failed stage to infer a constant; it says which, by name.
Predict = Callable[["Problem"], tuple[Prediction, dict[str, str]]]


@dataclass(frozen=True)
class Problem:
    """A failed stage to explain: the case, the conventions in force, the precision, what was got, and the
    factor of the decoy forward call the case runner made before gradient (see ``stale``)."""

    case: GoldenCase
    conventions: dict[str, str]
    precision: Precision
    stage: str
    got: np.ndarray[Any, Any]
    decoy: float

    @property
    def model(self) -> Model:
        """The error model of the precision judged."""
        return Model(self.precision)

    def result(self, **changes: Any) -> Result:
        """The oracle's exact result of the case, under the conventions in force, with `changes` made."""
        return _recall(self, "result", changes, lambda: self._result(**changes))

    def _result(self, **changes: Any) -> Result:
        inp = self.case.inputs
        args: dict[str, Any] = {"X": inp.X, "y_true": inp.y_true, "w": inp.w, "b": inp.b}
        args |= {"learning_rate": inp.learning_rate, "alpha": inp.alpha, "activation": inp.activation}
        conv = self.conventions | changes.pop("conv", {})
        return create_backprop_test_case(**(args | conv | changes))

    def stages(self, **changes: Any) -> StageBounds:
        """Every stage of `result(**changes)` with its bound in the precision (OutOfRange where none)."""
        return _recall(self, "stages", changes, lambda: bounds(self.result(**changes), self.precision)[0])


# What the predictions computed, by case, conventions, precision and changes: every mistake asks for the
# right stages again, and every submission of a batch that fails a case asks for the same predictions
# (only the values got differ). Results are frozen, so one is shared by all who ask.
T = TypeVar("T")
_KEPT: OrderedDict[tuple[Any, ...], tuple[GoldenCase, Any]] = OrderedDict()
KEEP = 512  # entries: a batch's cases under one precision and a few inferred constants each


def _recall(p: Problem, kind: str, changes: dict[str, Any], work: Callable[[], T]) -> T:
    """`work()` for `kind` of `p` with `changes`, computed once while kept, and so is the ValueError or
    ArithmeticError it raises (OutOfRange: no bound in the precision), raised again each time. The case
    is kept beside its entry, so that its id is no other case's while the entry lives."""
    conventions = tuple(sorted(p.conventions.items()))
    key = (kind, id(p.case), conventions, p.precision, repr(sorted(changes.items())))
    if key not in _KEPT:
        try:
            _KEPT[key] = (p.case, (work(), None))
        except (ValueError, ArithmeticError) as e:
            _KEPT[key] = (p.case, (None, e))
        while len(_KEPT) > KEEP:
            _KEPT.popitem(last=False)
    _KEPT.move_to_end(key)
    value, error = _KEPT[key][1]
    if error is not None:
        raise error
    return cast(T, value)


def _all(s: StageBounds) -> Prediction:
    """Every stage that is one value (``outcome.VALUES``), as `s` has it."""
    return {stage.name: getattr(s, stage.name) for stage in VALUES}


def redone(**changes: Any) -> Predict:
    """The whole computation redone with other inputs, conventions or activation. update_weights is fed
    the case's own gradient whatever the neuron's is, so its stages stay the right ones."""

    def predict(p: Problem) -> tuple[Prediction, dict[str, str]]:
        right = p.stages()
        return _all(p.stages(**changes)) | {W_NEW.name: right.w_new, B_NEW.name: right.b_new}, {}

    return predict


def _columns(s: StageBounds) -> list[list[Bounded]]:
    return [list(column) for column in zip(*s.X, strict=True)]


GradientChange = Callable[[Model, list[Bounded], StageBounds], tuple[Values, Values]]


def gradient(change: GradientChange) -> Predict:
    """The right forward pass, a gradient put together wrongly from the right delta_i = dJ_da_i·da_dz_i, in
    the same model: change(model, delta, stages) gives (dJ_dw, dJ_db)."""

    def predict(p: Problem) -> tuple[Prediction, dict[str, str]]:
        s, m = p.stages(), p.model
        delta = [m.mul(g, d) for g, d in zip(s.dJ_da, s.slope, strict=True)]
        dJ_dw, dJ_db = change(m, delta, s)
        return _all(s) | {DJ_DW.name: dJ_dw, DJ_DB.name: dJ_db}, {}

    return predict


def dot(m: Model, delta: list[Bounded], s: StageBounds) -> tuple[Bounded, ...]:
    return tuple(m.dot(delta, column) for column in _columns(s))


def mean(m: Model, x: Bounded, rows: int) -> Bounded:
    """x / rows, as an implementation divides: no better than a multiplication by 1/rows held in p."""
    return m.mul(x, m.input(Fraction(1, rows)))


def negated(x: Values) -> Values:
    if isinstance(x, tuple):
        return tuple(Bounded(-b.v, b.e) for b in x)
    return Bounded(-x.v, x.e)


UpdateChange = Callable[[Model, Bounded, Bounded, Bounded], Bounded]


def update(change: UpdateChange) -> Predict:
    """The golden gradient fed to an update put together wrongly: change(model, param, gradient, lr)."""

    def predict(p: Problem) -> tuple[Prediction, dict[str, str]]:
        s, m = p.stages(), p.model
        w_new = tuple(change(m, w, g, s.lr) for w, g in zip(s.w, s.fed_dJ_dw, strict=True))
        return _all(s) | {W_NEW.name: w_new, B_NEW.name: change(m, s.b, s.fed_dJ_db, s.lr)}, {}

    return predict


def zero_at_kink(p: Problem) -> tuple[Prediction, dict[str, str]]:
    """da/dz = 0 wherever z = 0 exactly (at the golden z and at the computed one alike)."""
    s, m = p.stages(), p.model
    zero = Bounded(Fraction(0), 0.0)
    da_dz = tuple(zero if z.v == 0 else d for z, d in zip(s.z, s.da_dz, strict=True))
    slope = [zero if z.v == 0 else d for z, d in zip(s.z, s.slope, strict=True)]
    delta = [m.mul(g, d) for g, d in zip(s.dJ_da, slope, strict=True)]
    return _all(s) | {DA_DZ.name: da_dz, DJ_DW.name: dot(m, delta, s), DJ_DB.name: m.sum(delta)}, {}


def stale(p: Problem) -> tuple[Prediction, dict[str, str]]:
    """gradient(X, y) uses the a of the forward call before it, forward(decoy·X), with da/dz at z(X)."""
    s, m = p.stages(), p.model
    decoy = p.stages(X=[[p.decoy * x for x in row] for row in p.case.inputs.X])
    delta = [m.mul(g, d) for g, d in zip(decoy.dJ_da, s.slope, strict=True)]
    return _all(s) | {DJ_DW.name: dot(m, delta, s), DJ_DB.name: m.sum(delta)}, {}


def _nice(x: float, fits: Callable[[Fraction], bool]) -> str | None:
    """The shortest decimal, of at most 6 significant digits, near `x` for which `fits` holds."""
    if not np.isfinite(x):
        return None
    for digits in range(1, 7):
        text = f"{x:.{digits}g}"
        if fits(Fraction(text)):
            return text
    return None


def matches(p: Problem, values: Values | None) -> bool:
    """Whether the values got lie within `values`' bounds on the failed stage."""
    return within(p, None if values is None else floats(values))


def within(p: Problem, predicted: Floats | None) -> bool:
    """Whether the values got lie within the `predicted` floats' bounds on the failed stage."""
    if predicted is None:
        return False
    want, limit = predicted
    return want.shape == p.got.shape and worst(p.got, want, limit)[1] <= 1


def hard_coded_alpha(p: Problem) -> tuple[Prediction, dict[str, str]]:
    """Leaky ReLU with an alpha of its own, inferred from a on a row where z < 0 (or from da_dz there)."""
    exact, own = p.result().first, Fraction(str(p.case.inputs.alpha))
    negative = [i for i, z in enumerate(exact.z) if z < 0]
    if p.case.inputs.activation != "leaky_relu" or not negative or p.stage not in (A.name, DA_DZ.name):
        return {}, {}
    i = max(negative, key=lambda k: abs(exact.z[k]))
    guess = float(p.got[i]) / to_float(exact.z[i]) if p.stage == A.name else float(p.got[i])
    # alpha = 0 is ReLU's, a mistake of its own (relu_instead_of_leaky_relu)
    used = _nice(guess, lambda c: c not in (0, own) and matches(p, getattr(p.stages(alpha=c), p.stage)))
    if used is None:
        return {}, {}
    return {p.stage: getattr(p.stages(alpha=Fraction(used)), p.stage)}, {
        "alpha": used,
        "own": f"{to_float(own):g}",
    }


def learning_rate_factor(p: Problem) -> tuple[Prediction, dict[str, str]]:
    """An update that moves c·lr·dJ_dw, c inferred from the parameter that moved the most."""
    if p.stage not in (W_NEW.name, B_NEW.name):
        return {}, {}
    s, m = p.stages(), p.model
    params, fed = (s.w, s.fed_dJ_dw) if p.stage == W_NEW.name else ((s.b,), (s.fed_dJ_db,))
    lr = Fraction(str(p.case.inputs.learning_rate))
    j = max(range(len(fed)), key=lambda k: abs(fed[k].v))
    if lr == 0 or fed[j].v == 0:
        return {}, {}
    guess = float((params[j].v - Fraction(float(p.got.reshape(-1)[j]))) / (lr * fed[j].v))

    def moved(c: Fraction) -> Values:
        rate = m.mul(m.input(c), s.lr)
        new = tuple(m.sub(x, m.mul(rate, g)) for x, g in zip(params, fed, strict=True))
        return new if p.stage == W_NEW.name else new[0]

    factor = _nice(guess, lambda c: c not in (0, 1) and matches(p, moved(c)))
    if factor is None:
        return {}, {}
    return _all(s) | {p.stage: moved(Fraction(factor))}, {"c": factor}


def loss_scale(p: Problem) -> tuple[Prediction, dict[str, str]]:
    """A loss, or its derivative, scaled by a constant c (inferred): every stage from J on is c times."""
    if p.stage not in (J.name, DJ_DW.name, DJ_DB.name):
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
        lambda c: c not in (0, 1) and matches(p, scaled(c)),
    )
    if factor is None:
        return {}, {}
    return {p.stage: scaled(Fraction(factor))}, {"c": factor}


Floats = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]


def floats(values: Values) -> Floats:
    """Predicted values as float64 (each exact value rounded once) and their bounds around those floats."""
    flat = values if isinstance(values, tuple) else (values,)
    want = [to_float(b.v) for b in flat]
    limit = [float_bound(b, b.v) for b in flat]
    shape = (len(flat),) if isinstance(values, tuple) else ()
    return np.array(want).reshape(shape), np.array(limit).reshape(shape)


# The predictions that read the values got or the stage that failed (to infer a constant): the others
# depend on the case, the conventions and the precision alone, and are kept (``diagnosis._predicted``).
READS_GOT = frozenset({hard_coded_alpha, learning_rate_factor, loss_scale})
