"""Deliberately broken neurons, one classic mistake each, for the harness to reject at the right stage.

``Textbook`` is a plain, correct numpy neuron written out here (not the production one); each broken
class changes one line of it. ``EXPECTED`` says, for each, the first case and stage validate must name.
"""

from __future__ import annotations

import inspect
import os
import time
from typing import Any

import numpy as np


class Textbook:
    """A correct Leaky ReLU neuron, the seed's formulas one per line."""

    def __init__(self, n_features: int) -> None:
        self.w = np.zeros(n_features)
        self.b = 0.0
        self.alpha = 0.01

    def linear(self, X: Any) -> Any:
        return np.asarray(X) @ self.w + self.b

    def activation_derivative(self, z: Any) -> Any:
        return np.where(np.asarray(z) < 0, self.alpha, 1.0)

    def forward(self, X: Any) -> Any:
        z = self.linear(X)
        return np.where(z < 0, self.alpha * z, z)

    def loss(self, X: Any, y_true: Any) -> Any:
        return 0.5 * (self.forward(X) - y_true) ** 2

    def gradient(self, X: Any, y_true: Any) -> Any:
        delta = (self.forward(X) - y_true) * self.activation_derivative(self.linear(X))
        return delta @ X, float(delta.sum())

    def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> None:
        self.w = self.w - learning_rate * np.asarray(dJ_dw)
        self.b = self.b - learning_rate * float(dJ_db)


class MeanBiasGradient(Textbook):
    """The seed's warning: the bias gradient averaged over the batch instead of summed."""

    def gradient(self, X: Any, y_true: Any) -> Any:
        delta = (self.forward(X) - y_true) * self.activation_derivative(self.linear(X))
        return delta @ X, float(delta.mean())


class MeanGradient(Textbook):
    """Both gradients divided by the batch size: the mean-squared-error habit."""

    def gradient(self, X: Any, y_true: Any) -> Any:
        dJ_dw, dJ_db = super().gradient(X, y_true)
        m = np.asarray(X).shape[0]
        return dJ_dw / m, dJ_db / m


class MissingActivationDerivative(Textbook):
    """The chain rule stops at a: the activation's derivative is left out of the gradient."""

    def gradient(self, X: Any, y_true: Any) -> Any:
        delta = self.forward(X) - y_true
        return delta @ X, float(delta.sum())


class MissingBiasGradient(Textbook):
    """The seed's first gradient_of_J: only dJ_dw; the bias gradient is never computed (returned as 0)."""

    def gradient(self, X: Any, y_true: Any) -> Any:
        dJ_dw, _ = super().gradient(X, y_true)
        return dJ_dw, 0.0


class WrongUpdateSign(Textbook):
    """Gradient ascent: w + lr·dJ_dw."""

    def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> None:
        self.w = self.w + learning_rate * np.asarray(dJ_dw)
        self.b = self.b + learning_rate * float(dJ_db)


class AlphaAtZero(Textbook):
    """The derivative at z = 0 taken as alpha (np.where(z <= 0, ...)), against the seed's convention."""

    def activation_derivative(self, z: Any) -> Any:
        return np.where(np.asarray(z) <= 0, self.alpha, 1.0)


class HardcodedAlpha(Textbook):
    """alpha fixed at 0.01 in the forward pass, whatever the neuron's alpha."""

    def forward(self, X: Any) -> Any:
        z = self.linear(X)
        return np.where(z < 0, 0.01 * z, z)


class FullSquaredError(Textbook):
    """J = (a − y)² without the ½, so every gradient is doubled."""

    def loss(self, X: Any, y_true: Any) -> Any:
        return (self.forward(X) - y_true) ** 2

    def gradient(self, X: Any, y_true: Any) -> Any:
        dJ_dw, dJ_db = super().gradient(X, y_true)
        return 2 * dJ_dw, 2 * dJ_db


class ForwardAsColumn(Textbook):
    """forward returns shape (m, 1), the column-vector habit."""

    def forward(self, X: Any) -> Any:
        return super().forward(X).reshape(-1, 1)


class GradientOfWeightsOnly(Textbook):
    """gradient returns dJ_dw alone, not the pair (dJ_dw, dJ_db)."""

    def gradient(self, X: Any, y_true: Any) -> Any:
        return super().gradient(X, y_true)[0]


class ScalesXInPlace(Textbook):
    """gradient normalises X in place, changing the caller's data."""

    def gradient(self, X: Any, y_true: Any) -> Any:
        result = super().gradient(X, y_true)
        X /= 2
        return result


class ReturnsNaN(Textbook):
    """forward divides 0 by 0 on the leaky branch."""

    def forward(self, X: Any) -> Any:
        a = super().forward(X)
        with np.errstate(invalid="ignore"):
            return np.where(a < 0, a * (0.0 / np.zeros_like(a)), a)


class RaisesInForward(Textbook):
    """forward raises."""

    def forward(self, X: Any) -> Any:
        raise RuntimeError("forward exploded")


class SleepsForever(Textbook):
    """forward never returns."""

    def forward(self, X: Any) -> Any:
        while True:
            time.sleep(3600)


class LowerPrecisionInside(Textbook):
    """Computes in float32 but returns float64: held to float64, as the dtype it returns promises."""

    def linear(self, X: Any) -> Any:
        z32 = np.asarray(X, np.float32) @ np.asarray(self.w, np.float32) + np.float32(self.b)
        return z32.astype(np.float64)

    def forward(self, X: Any) -> Any:
        z = self.linear(X)
        return np.where(z < 0, self.alpha * z, z)


class MidpointAtZero(Textbook):
    """da/dz at z = 0 taken as (1 + alpha)/2, as HIPS autograd's np.maximum gives, without declaring it."""

    def activation_derivative(self, z: Any) -> Any:
        z = np.asarray(z)
        return np.where(z < 0, self.alpha, np.where(z == 0, (1 + self.alpha) / 2, 1.0))


class ZeroAtZero(Textbook):
    """da/dz at z = 0 taken as 0, as relu(z) − alpha·relu(−z) gives under autodiff."""

    def activation_derivative(self, z: Any) -> Any:
        z = np.asarray(z)
        return np.where(z < 0, self.alpha, np.where(z == 0, 0.0, 1.0))


class ReluInsteadOfLeaky(Textbook):
    """Plain ReLU: 0 below the kink, and slope 0 there."""

    def forward(self, X: Any) -> Any:
        return np.maximum(self.linear(X), 0.0)

    def activation_derivative(self, z: Any) -> Any:
        return np.where(np.asarray(z) < 0, 0.0, 1.0)


class BiasMissingInForward(Textbook):
    """z = X·w, the bias forgotten."""

    def linear(self, X: Any) -> Any:
        return np.asarray(X) @ self.w


class MSELossGradient(Textbook):
    """The gradients of the mean squared error, nn.MSELoss's: 2/m times the seed's."""

    def gradient(self, X: Any, y_true: Any) -> Any:
        dJ_dw, dJ_db = super().gradient(X, y_true)
        m = np.asarray(X).shape[0]
        return 2 * dJ_dw / m, 2 * dJ_db / m


class BiasGradientFirstRow(Textbook):
    """dJ_db from the first row only."""

    def gradient(self, X: Any, y_true: Any) -> Any:
        delta = (self.forward(X) - y_true) * self.activation_derivative(self.linear(X))
        return delta @ X, float(delta[0])


class FirstRowOnly(Textbook):
    """The gradient of the first row only, as if the batch were one example."""

    def gradient(self, X: Any, y_true: Any) -> Any:
        X, y = np.asarray(X)[:1], np.broadcast_to(np.asarray(y_true, dtype=float), (len(np.asarray(X)),))[:1]
        return super().gradient(X, y)


class GradientSignFlipped(Textbook):
    """The error taken as y − a: every gradient's sign flipped."""

    def gradient(self, X: Any, y_true: Any) -> Any:
        dJ_dw, dJ_db = super().gradient(X, y_true)
        return -dJ_dw, -dJ_db


class BiasNotScaledByLearningRate(Textbook):
    """b ← b − dJ_db, the learning rate forgotten on the bias."""

    def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> None:
        self.w = self.w - learning_rate * np.asarray(dJ_dw)
        self.b = self.b - float(dJ_db)


class UpdateNotInPlace(Textbook):
    """update_weights computes the new parameters and returns them, leaving the neuron as it was."""

    def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> Any:
        return self.w - learning_rate * np.asarray(dJ_dw), self.b - learning_rate * float(dJ_db)


class StaleForward(Textbook):
    """The seed's "self.forward dependency problem": gradient reuses the a of the last forward call."""

    def forward(self, X: Any) -> Any:
        self.a = super().forward(X)
        return self.a

    def gradient(self, X: Any, y_true: Any) -> Any:
        a = getattr(self, "a", None)
        if a is None or len(a) != len(np.asarray(X)):
            a = self.forward(X)
        delta = (a - y_true) * self.activation_derivative(self.linear(X))
        return delta @ X, float(delta.sum())


class ExitsTheProcess(Textbook):
    """gradient ends the whole process."""

    def gradient(self, X: Any, y_true: Any) -> Any:
        os._exit(3)


def hard_coded_alpha(alpha: float) -> type:
    """Leaky ReLU with its own alpha in the forward pass, whatever the neuron's alpha."""

    class HardcodedAlphaOf(Textbook):
        def forward(self, X: Any) -> Any:
            z = self.linear(X)
            return np.where(z < 0, alpha * z, z)

    HardcodedAlphaOf.__name__ = HardcodedAlphaOf.__qualname__ = (
        f"HardcodedAlpha{str(alpha).replace('.', '_')}"
    )
    return HardcodedAlphaOf


HARD_CODED = {f"HardcodedAlpha{str(a).replace('.', '_')}": hard_coded_alpha(a) for a in (0.1, 0.2, 0.05)}
globals().update(HARD_CODED)


class LearningRateTwice(Textbook):
    """The learning rate applied twice over: w ← w − 2·lr·dJ_dw."""

    def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> None:
        super().update_weights(dJ_dw, dJ_db, 2 * learning_rate)


class LossTimesFour(Textbook):
    """J = 2(a − y)², so every gradient is four times the seed's."""

    def loss(self, X: Any, y_true: Any) -> Any:
        return 2 * (self.forward(X) - y_true) ** 2

    def gradient(self, X: Any, y_true: Any) -> Any:
        dJ_dw, dJ_db = super().gradient(X, y_true)
        return 4 * dJ_dw, 4 * dJ_db


# -- mistakes that live at block, tile and call-count edges (golden v3 and the properties find them) ----


def drops_last_partial_block(rows: int) -> type:
    """A gradient that accumulates rows in blocks of `rows` and forgets the last partial block."""

    class DropsLastPartialBlock(Textbook):
        def gradient(self, X: Any, y_true: Any) -> Any:
            X = np.asarray(X)
            y = np.broadcast_to(np.asarray(y_true, dtype=np.float64), (X.shape[0],))
            whole = X.shape[0] // rows * rows if X.shape[0] >= rows else X.shape[0]
            return super().gradient(X[:whole], y[:whole])

    DropsLastPartialBlock.__name__ = DropsLastPartialBlock.__qualname__ = f"DropsLastPartialBlockOf{rows}"
    return DropsLastPartialBlock


def ignores_features_past(features: int) -> type:
    """A dot product that tiles its features and stops after the first `features`."""

    class IgnoresFeaturesPast(Textbook):
        def linear(self, X: Any) -> Any:
            X = np.asarray(X)
            return X[:, :features] @ np.asarray(self.w)[:features] + self.b

    IgnoresFeaturesPast.__name__ = IgnoresFeaturesPast.__qualname__ = f"IgnoresFeaturesPast{features}"
    return IgnoresFeaturesPast


class BiasGradientMeanFromFiveRows(Textbook):
    """The bias gradient becomes the mean once a batch has 5 rows or more."""

    def gradient(self, X: Any, y_true: Any) -> Any:
        dJ_dw, dJ_db = super().gradient(X, y_true)
        m = np.asarray(X).shape[0]
        return dJ_dw, dJ_db / m if m >= 5 else dJ_db


def wrong_after_calls(calls: int) -> type:
    """An update that counts its calls and flips its sign after the first `calls`."""

    class WrongAfterCalls(Textbook):
        def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> None:
            self.calls = getattr(self, "calls", 0) + 1
            sign = -1.0 if self.calls > calls else 1.0
            super().update_weights(sign * np.asarray(dJ_dw), sign * float(dJ_db), learning_rate)

    WrongAfterCalls.__name__ = WrongAfterCalls.__qualname__ = f"WrongAfter{calls}Calls"
    return WrongAfterCalls


EDGES = {
    **{f"DropsLastPartialBlockOf{k}": drops_last_partial_block(k) for k in (8, 16, 64, 1000)},
    **{f"IgnoresFeaturesPast{k}": ignores_features_past(k) for k in (32, 128, 256)},
    "BiasGradientMeanFromFiveRows": BiasGradientMeanFromFiveRows,
    **{f"WrongAfter{k}Calls": wrong_after_calls(k) for k in (5, 10, 40)},
}
globals().update(EDGES)


# (first case that fails, stage named, words the message must contain) for each classic mistake; no words
# hold a value the neuron computed in floating point (it depends on the machine), only what it returned as is
def _raise_line(method: Any) -> int:
    """The number of the line of `method` that raises: where an error it raises is named, by its path as
    imported (validate named with this file's absolute path shows that path)."""
    lines, first = inspect.getsourcelines(method)
    (offset,) = [i for i, line in enumerate(lines) if line.lstrip().startswith("raise ")]
    return first + offset


EXPECTED = {
    "MeanBiasGradient": ("batch_input_gradients", "dJ_db", "dJ_db expected -0.45, got "),
    "MeanGradient": (
        "batch_input_gradients",
        "dJ_dw",
        "dJ_dw expected [-0.375, -0.75], got ",
    ),
    "MissingActivationDerivative": ("leaky_branch_negative_z", "dJ_dw", "dJ_dw expected [-0.01504, 0.03008]"),
    "MissingBiasGradient": ("negative_gradients_increase_weights", "dJ_db", "dJ_db expected -0.3, got 0.0"),
    "WrongUpdateSign": ("negative_gradients_increase_weights", "w_new", "w_new expected [0.303, 0.406]"),
    "AlphaAtZero": ("zero_z_takes_derivative_one", "da_dz", "da_dz expected [1.0], got [0.01]"),
    "HardcodedAlpha": ("non_default_alpha", "a", "a expected [-0.08], got "),
    "FullSquaredError": ("negative_gradients_increase_weights", "J", "J expected [0.045"),
    "ForwardAsColumn": (
        "negative_gradients_increase_weights",
        "a",
        "forward returned shape (1, 1); expected (1,)",
    ),
    "GradientOfWeightsOnly": (
        "negative_gradients_increase_weights",
        "dJ_dw",
        "gradient returned one array of shape (2,); expected a pair (dJ_dw, dJ_db)",
    ),
    "ScalesXInPlace": (
        "negative_gradients_increase_weights",
        "dJ_dw",
        "gradient changed its argument 1 in place",
    ),
    "ReturnsNaN": ("leaky_branch_negative_z", "a", "forward returned nan at index (0,)"),
    "LowerPrecisionInside": (
        "negative_gradients_increase_weights",
        "z",
        "z expected [1.2], got ",
    ),
    "RaisesInForward": (
        "negative_gradients_increase_weights",
        "a",
        f"forward raised RuntimeError at {__file__}:{_raise_line(RaisesInForward.forward)}: forward exploded",
    ),
}


# Each classic mistake of golden.harness._diagnosis, and the broken neuron it must be diagnosed in.
DIAGNOSED = {
    "derivative_alpha_at_zero": "AlphaAtZero",
    "derivative_midpoint_at_zero": "MidpointAtZero",
    "derivative_zero_at_zero": "ZeroAtZero",
    "missing_activation_derivative": "MissingActivationDerivative",
    "relu_instead_of_leaky_relu": "ReluInsteadOfLeaky",
    "hard_coded_alpha": "HardcodedAlpha",
    "bias_missing_in_forward": "BiasMissingInForward",
    "loss_without_half": "FullSquaredError",
    "mean_loss": "MSELossGradient",
    "bias_gradient_mean": "MeanBiasGradient",
    "weight_gradient_mean": "MeanGradient",
    "bias_gradient_first_row": "BiasGradientFirstRow",
    "first_row_only": "FirstRowOnly",
    "gradient_sign_flipped": "GradientSignFlipped",
    "update_sign_flipped": "WrongUpdateSign",
    "bias_not_scaled_by_learning_rate": "BiasNotScaledByLearningRate",
    "update_not_in_place": "UpdateNotInPlace",
    "lower_precision": "LowerPrecisionInside",
    "stale_forward": "StaleForward",
    "learning_rate_factor": "LearningRateTwice",
    "loss_scale": "LossTimesFour",
}


# -- the same neurons in lower precisions ------------------------------------------------------------
#
# ``MeanBiasGradient_float16`` is MeanBiasGradient with its inputs rounded to float16 and every result
# stored in float16 (its arithmetic in float64 between: a higher precision, as the error model allows).
# Each keeps its mistake, so each must be rejected at every precision; Textbook_<precision> must pass.

PRECISIONS = ("float32", "float16", "bfloat16")


def _store(value: Any, precision: str) -> Any:
    """A result stored in `precision`: a numpy array of it (bfloat16 through ml_dtypes, JAX's numpy dtype,
    rounded from float32 as torch's ``.to(torch.bfloat16)`` does; a child importing it takes 0.2 s, where
    importing torch takes 2). The PyTorch examples hold the harness to torch's own bfloat16 tensors."""
    if isinstance(value, tuple):
        return tuple(_store(v, precision) for v in value)
    array = np.asarray(value, dtype=np.float64)
    if precision != "bfloat16":
        return array.astype(precision)
    import ml_dtypes

    return array.astype(np.float32).astype(ml_dtypes.bfloat16)


def _round(value: Any, precision: str) -> Any:
    """An argument rounded to `precision`, handed on as float64."""
    if not isinstance(value, np.ndarray):
        return value
    return np.asarray(_store(value, precision), dtype=np.float64)


def in_precision(base: type, precision: str) -> type:
    """`base` with its inputs rounded to `precision` and each result stored in it."""

    def wrap(name: str) -> Any:
        method = getattr(base, name)

        def wrapped(self: Any, *args: Any) -> Any:
            if getattr(self, "_inside", False):  # a call from within another method: plain numpy
                return method(self, *args)
            self._inside = True
            try:
                result = method(self, *(_round(a, precision) for a in args))
            finally:
                self._inside = False
            return None if result is None else _store(result, precision)

        return wrapped

    methods = ("linear", "forward", "activation_derivative", "loss", "gradient")
    body = {name: wrap(name) for name in methods if name in dir(base)}
    return type(f"{base.__name__}_{precision}", (base,), {**body, "__doc__": f"{base.__doc__} ({precision})"})


_VARIED = {"Textbook", *EXPECTED, *DIAGNOSED.values(), *HARD_CODED} - {
    "ScalesXInPlace",
    "LowerPrecisionInside",
}
for _precision in PRECISIONS:
    for _name in sorted(_VARIED):
        globals()[f"{_name}_{_precision}"] = in_precision(globals()[_name], _precision)
