"""The production Neuron: the seed's final class (sections F.1 and F.2), vectorised with numpy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from neuron import _kernels
from neuron._checks import (
    FLOAT_DTYPES,
    as_float_array,
    as_learning_rate,
    as_matrix,
    as_scalar,
    as_targets,
    check_finite,
)
from neuron.activations import ACTIVATIONS, get_activation

Array = NDArray[Any]


class Neuron:
    """One neuron: ``z = X·w + b``, ``a = f(z)``, ``J = ½ Σ (a − y)²``, trained by gradient descent.

    Parameters
    ----------
    n_features : int
        n, the length of ``w`` and the number of columns of ``X``; at least 1.
    alpha : float, default 0.01
        Slope of Leaky ReLU for ``z < 0``.
    activation : str, default "leaky_relu"
        One of ``neuron.ACTIVATIONS``: leaky_relu, relu, sigmoid, tanh, identity.
    seed : int or None
        Seed for the initial ``w`` and ``b``, drawn uniformly from [0, 1) as in the seed.
    dtype : float64 or float32, default float64
        The arithmetic of ``w`` and of every computation; ``b`` is kept as a Python float.

    Notes
    -----
    Shapes: ``X`` is (m, n), one row of shape (n,) counting as m = 1; ``y_true`` is a scalar
    (broadcast over the batch) or (m,); ``z``, ``a`` and the per-example loss are (m,);
    ``dJ_dw`` is (n,) and ``dJ_db`` a float. Gradients are sums over the batch, not means.
    """

    #: The activations this class implements; the conformance harness runs their golden cases.
    supported_activations: tuple[str, ...] = tuple(ACTIVATIONS)

    def __init__(
        self,
        n_features: int,
        *,
        alpha: float = 0.01,
        activation: str = "leaky_relu",
        seed: int | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        if isinstance(n_features, bool) or not isinstance(n_features, int | np.integer):
            raise TypeError(f"n_features must be an int; got {type(n_features).__name__}")
        if n_features < 1:
            raise ValueError(f"n_features is {n_features}; expected at least 1")
        self.dtype = np.dtype(dtype)
        if self.dtype not in FLOAT_DTYPES:
            raise ValueError(f"dtype is {self.dtype}; expected float64 or float32")
        self.n_features = int(n_features)
        self._activation = get_activation(activation)
        self.alpha = alpha
        rng = np.random.default_rng(seed)
        self.w = rng.random(self.n_features)
        self.b = rng.random()

    # -- parameters ---------------------------------------------------------------------------

    @property
    def activation(self) -> str:
        """The activation's name."""
        return self._activation.name

    @property
    def w(self) -> Array:
        """Weights, shape (n_features,)."""
        return self._w

    @w.setter
    def w(self, value: ArrayLike) -> None:
        w = np.array(as_float_array(value, "w", self.dtype), copy=True)
        if w.shape != (self.n_features,):
            raise ValueError(f"w has shape {w.shape}; expected ({self.n_features},)")
        check_finite(w, "w")
        self._w = w

    @property
    def b(self) -> float:
        """Bias."""
        return self._b

    @b.setter
    def b(self, value: float) -> None:
        self._b = as_scalar(value, "b")

    @property
    def alpha(self) -> float:
        """Leaky ReLU slope for z < 0."""
        return self._alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        self._alpha = as_scalar(value, "alpha")

    def __repr__(self) -> str:
        return f"Neuron(n_features={self.n_features}, activation={self.activation!r}, alpha={self.alpha})"

    # -- forward ------------------------------------------------------------------------------

    def linear(self, X: ArrayLike) -> Array:
        """Linear part ``z = X·w + b``; X (m, n) -> z (m,)."""
        return self._linear(as_matrix(X, self.n_features, self.dtype))

    def forward(self, X: ArrayLike) -> Array:
        """Activation ``a = f(X·w + b)``; X (m, n) -> a (m,)."""
        a: Array = self._activation.f(self.linear(X), self.alpha)
        return a

    def activation_derivative(self, z: ArrayLike) -> Array:
        """``da/dz`` at z, same shape as z; for Leaky ReLU 1 where z >= 0 and alpha where z < 0."""
        z_arr = as_float_array(z, "z", self.dtype)
        check_finite(z_arr, "z")
        return self._activation.df(z_arr, self.alpha)

    def loss(self, X: ArrayLike, y_true: ArrayLike) -> Array:
        """Per-example loss ``J_i = ½ (a_i − y_i)²``, shape (m,); the batch loss is its sum."""
        X = as_matrix(X, self.n_features, self.dtype)
        y = as_targets(y_true, X.shape[0], self.dtype)
        u = self._activation.f(self._linear(X), self.alpha) - y
        J: Array = 0.5 * u * u
        return J

    # -- backward -----------------------------------------------------------------------------

    def gradient(self, X: ArrayLike, y_true: ArrayLike) -> tuple[Array, float]:
        """Gradients of the batch loss, summed over the batch (not the mean).

        ``dJ_dw = Σ_i (a_i − y_i)·f'(z_i)·X_i`` (shape (n,)) and ``dJ_db = Σ_i (a_i − y_i)·f'(z_i)``.
        Runs forward itself, so no state is carried between forward and gradient.
        """
        X = as_matrix(X, self.n_features, self.dtype)
        return self._gradient(X, as_targets(y_true, X.shape[0], self.dtype, finite=False))[:2]

    def update_weights(self, dJ_dw: ArrayLike, dJ_db: float, learning_rate: float) -> None:
        """Gradient-descent step in place: ``w ← w − lr·dJ_dw``, ``b ← b − lr·dJ_db``."""
        g = as_float_array(dJ_dw, "dJ_dw", self.dtype)
        if g.shape != (self.n_features,):
            raise ValueError(f"dJ_dw has shape {g.shape}; expected ({self.n_features},)")
        check_finite(g, "dJ_dw")
        gb = as_scalar(dJ_db, "dJ_db")
        lr = as_learning_rate(learning_rate)
        self._set(self._w - lr * g, self._b - lr * gb)

    def step(self, X: ArrayLike, y_true: ArrayLike, learning_rate: float) -> float:
        """One gradient + update on (X, y_true); returns the batch loss before the step."""
        lr = as_learning_rate(learning_rate)
        X = as_matrix(X, self.n_features, self.dtype)
        return self._step(X, as_targets(y_true, X.shape[0], self.dtype, finite=False), lr)

    def fit(
        self,
        X: ArrayLike,
        y_true: ArrayLike,
        learning_rate: float,
        epochs: int,
        batch_size: int | None = None,
        shuffle_seed: int | None = None,
        tol: float | None = None,
        callback: Callable[[int, float], object] | None = None,
    ) -> list[float]:
        """Gradient descent for at most `epochs` passes; returns each epoch's loss, taken before its steps.

        Full-batch when `batch_size` is None; otherwise mini-batches of `batch_size` rows, in order,
        or in a fresh permutation each epoch drawn from `shuffle_seed`. An epoch's loss is the sum
        of its batches' losses, each taken before that batch's update. With `tol`, training stops
        early once an epoch lowers the loss by less than ``tol`` times the previous epoch's loss.
        `callback(epoch, loss)` is called after every epoch (a progress bar, for instance).
        """
        lr = as_learning_rate(learning_rate)
        X = as_matrix(X, self.n_features, self.dtype)
        m = X.shape[0]
        y = as_targets(y_true, m, self.dtype)
        if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 0:
            raise ValueError(f"epochs is {epochs!r}; expected an int >= 0")
        size = m if batch_size is None else int(batch_size)
        if size < 1:
            raise ValueError(f"batch_size is {batch_size}; expected an int >= 1 or None")
        if tol is not None and not tol >= 0:
            raise ValueError(f"tol is {tol}; expected a number >= 0 or None")
        rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
        history: list[float] = []
        for epoch in range(epochs):
            order = rng.permutation(m) if rng is not None else None
            total = 0.0
            for start in range(0, m, size):
                rows = slice(start, start + size) if order is None else order[start : start + size]
                total += self._step(X[rows], y[rows], lr)
            history.append(total)
            if callback is not None:
                callback(epoch, total)
            if tol is not None and len(history) > 1 and history[-2] - total < tol * history[-2]:
                break
        return history

    # -- internals ----------------------------------------------------------------------------

    def _linear(self, X: Array) -> Array:
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite z is reported below
            z: Array = X @ self._w + self._b
        if not np.isfinite(z).all():
            # A finite z proves X finite (NaN and inf poison every product), so X is read once.
            check_finite(X, "X")
            check_finite(z, "z = X·w + b")
        return z

    def _gradient(self, X: Array, y: Array) -> tuple[Array, float, float]:
        """(dJ_dw, dJ_db, batch loss) in one pass over X (see neuron._kernels)."""
        dJ_dw, dJ_db, loss = _kernels.gradient(X, self._w, self._b, y, self._activation, self.alpha)
        if not (np.isfinite(dJ_dw).all() and np.isfinite(dJ_db) and np.isfinite(loss)):
            check_finite(X, "X")  # NaN or inf in X or y poisons the results, so both are checked only now
            check_finite(y, "y_true")
            self._linear(X)  # names an overflow in z
            raise ValueError(f"the gradient overflowed: dJ_db = {dJ_db}, loss = {loss}; scale X or y down")
        return dJ_dw, dJ_db, loss

    def _step(self, X: Array, y: Array, lr: float) -> float:
        dJ_dw, dJ_db, loss = self._gradient(X, y)
        self._set(self._w - lr * dJ_dw, self._b - lr * dJ_db)
        return loss

    def _set(self, w: Array, b: float) -> None:
        check_finite(w, "w after the update")
        if not np.isfinite(b):
            raise ValueError(f"b after the update is {b}; NaN and infinity are errors")
        self._w, self._b = w, float(b)
