"""A numpy neuron that computes in float32 (and, as Float16Neuron, in float16). It passes plain
`neuron-oracle validate`: its precision is detected from the dtype forward returns, and every value is
judged against golden v2's float32 (or float16) bounds.

    neuron-oracle validate examples/numpy_float32.py:Neuron
    neuron-oracle validate examples/numpy_float32.py:Float16Neuron
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Neuron:
    """z = X·w + b, Leaky ReLU, J = ½Σ(a − y)², every array and every operation in `dtype`."""

    dtype: Any = np.float32

    def __init__(self, n_features: int) -> None:
        self.w = np.zeros(n_features)
        self.b = 0.0
        self.alpha = 0.01

    @property
    def w(self) -> Any:
        return self._w

    @w.setter
    def w(self, value: Any) -> None:
        self._w = np.asarray(value, dtype=self.dtype)

    @property
    def b(self) -> Any:
        return self._b

    @b.setter
    def b(self, value: Any) -> None:
        self._b = self.dtype(value)

    def linear(self, X: Any) -> Any:
        return np.asarray(X, dtype=self.dtype) @ self.w + self.b

    def forward(self, X: Any) -> Any:
        z = self.linear(X)
        return np.where(z < 0, self.dtype(self.alpha) * z, z)

    def activation_derivative(self, z: Any) -> Any:
        z = np.asarray(z, dtype=self.dtype)
        return np.where(z < 0, self.dtype(self.alpha), self.dtype(1))

    def loss(self, X: Any, y_true: Any) -> Any:
        u = self.forward(X) - np.asarray(y_true, dtype=self.dtype)
        return self.dtype(0.5) * u * u

    def gradient(self, X: Any, y_true: Any) -> tuple[Any, Any]:
        X = np.asarray(X, dtype=self.dtype)
        z = self.linear(X)
        delta = (self.forward(X) - np.asarray(y_true, dtype=self.dtype)) * self.activation_derivative(z)
        return delta @ X, delta.sum()

    def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> None:
        lr = self.dtype(learning_rate)
        self.w = self.w - lr * np.asarray(dJ_dw, dtype=self.dtype)
        self.b = self.b - lr * self.dtype(dJ_db)


class Float16Neuron(Neuron):
    """The same neuron in float16: golden v2's float16 bounds; cases whose values exceed 65504 are skipped."""

    dtype = np.float16
