"""A neuron in pure Python: lists and the math module, no numpy. It passes `neuron-oracle validate`.

neuron-oracle validate examples/pure_python.py:Neuron
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

Activation = tuple[Callable[[float, float], float], Callable[[float, float], float]]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


# (f(z, alpha), f'(z, alpha)); at a kink the derivative is the right-hand one, 1 at z = 0 as in the seed
ACTIVATIONS: dict[str, Activation] = {
    "leaky_relu": (lambda z, a: z if z >= 0 else a * z, lambda z, a: 1.0 if z >= 0 else a),
    "relu": (lambda z, a: z if z >= 0 else 0.0, lambda z, a: 1.0 if z >= 0 else 0.0),
    "identity": (lambda z, a: z, lambda z, a: 1.0),
    "sigmoid": (lambda z, a: _sigmoid(z), lambda z, a: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "tanh": (lambda z, a: math.tanh(z), lambda z, a: 1.0 - math.tanh(z) ** 2),
}


class Neuron:
    """z = X·w + b, a = f(z), J = ½Σ(a − y)², with scalar loops."""

    supported_activations = tuple(ACTIVATIONS)

    def __init__(self, n_features: int, activation: str = "leaky_relu") -> None:
        self.w = [0.0] * n_features
        self.b = 0.0
        self.alpha = 0.01
        self.f, self.df = ACTIVATIONS[activation]

    @property
    def w(self) -> list[float]:
        return self._w

    @w.setter
    def w(self, value: Iterable[float]) -> None:
        self._w = [float(x) for x in value]

    def linear(self, X: Sequence[Sequence[float]]) -> list[float]:
        return [sum(x * w for x, w in zip(row, self.w, strict=True)) + self.b for row in X]

    def forward(self, X: Sequence[Sequence[float]]) -> list[float]:
        return [self.f(z, self.alpha) for z in self.linear(X)]

    def activation_derivative(self, z: Iterable[float]) -> list[float]:
        return [self.df(float(v), self.alpha) for v in z]

    def loss(self, X: Sequence[Sequence[float]], y_true: Sequence[float]) -> list[float]:
        return [0.5 * (a - y) ** 2 for a, y in zip(self.forward(X), y_true, strict=True)]

    def gradient(self, X: Sequence[Sequence[float]], y_true: Sequence[float]) -> tuple[list[float], float]:
        z = self.linear(X)
        delta = [
            (self.f(zi, self.alpha) - y) * self.df(zi, self.alpha) for zi, y in zip(z, y_true, strict=True)
        ]
        dJ_dw = [sum(d * row[j] for d, row in zip(delta, X, strict=True)) for j in range(len(self.w))]
        return dJ_dw, sum(delta)

    def update_weights(self, dJ_dw: Sequence[float], dJ_db: float, learning_rate: float) -> None:
        self.w = [w - learning_rate * g for w, g in zip(self.w, dJ_dw, strict=True)]
        self.b = self.b - learning_rate * float(dJ_db)
