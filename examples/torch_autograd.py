"""A neuron in PyTorch whose gradient comes from autograd. It passes `neuron-oracle validate` in float64
(Neuron), float32, PyTorch's default (Float32Neuron) and bfloat16 (BFloat16Neuron): the precision is
detected from the dtype of the tensor forward returns, and each is held to golden v2's bounds for it.

    pip install torch==2.13.0          # or any CPU build: https://pytorch.org/get-started/locally/
    neuron-oracle validate examples/torch_autograd.py:Neuron
    neuron-oracle validate examples/torch_autograd.py:BFloat16Neuron

Leaky ReLU is written with torch.where(z < 0, alpha·z, z), whose autograd derivative at z = 0 is 1, the
seed's convention. torch.nn.functional.leaky_relu differs there: its derivative at 0 is alpha, and the
golden case zero_z_takes_derivative_one rejects it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

ACTIVATIONS: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "leaky_relu": lambda z, alpha: torch.where(z < 0, alpha * z, z),
    "relu": lambda z, alpha: torch.where(z < 0, torch.zeros_like(z), z),
    "identity": lambda z, alpha: z,
    "sigmoid": lambda z, alpha: torch.sigmoid(z),
    "tanh": lambda z, alpha: torch.tanh(z),
}


class Neuron:
    """z = X·w + b, a = f(z), J = ½Σ(a − y)²; dJ/dw and dJ/db by autograd."""

    supported_activations = tuple(ACTIVATIONS)
    dtype = torch.float64

    def __init__(self, n_features: int, activation: str = "leaky_relu") -> None:
        self.w = torch.zeros(n_features, dtype=self.dtype)
        self.b = 0.0
        self.alpha = 0.01
        self.f = ACTIVATIONS[activation]

    @property
    def w(self) -> torch.Tensor:
        return self._w

    @w.setter
    def w(self, value: Any) -> None:
        self._w = torch.as_tensor(value, dtype=self.dtype).clone()

    @property
    def b(self) -> torch.Tensor:
        return self._b

    @b.setter
    def b(self, value: Any) -> None:
        self._b = torch.as_tensor(value, dtype=self.dtype).clone()

    def forward(self, X: Any) -> torch.Tensor:
        with torch.no_grad():
            return self.f(torch.as_tensor(X, dtype=self.dtype) @ self.w + self.b, self.alpha)

    def gradient(self, X: Any, y_true: Any) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.w.clone().requires_grad_(True)
        b = self.b.clone().requires_grad_(True)
        a = self.f(torch.as_tensor(X, dtype=self.dtype) @ w + b, self.alpha)
        J = 0.5 * ((a - torch.as_tensor(y_true, dtype=self.dtype)) ** 2).sum()
        J.backward()
        return w.grad.detach(), b.grad.detach()

    def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> None:
        self.w = self.w - learning_rate * torch.as_tensor(dJ_dw, dtype=self.dtype)
        self.b = self.b - learning_rate * torch.as_tensor(dJ_db, dtype=self.dtype)


class Float32Neuron(Neuron):
    """The same neuron in float32, PyTorch's default dtype."""

    dtype = torch.float32


class BFloat16Neuron(Neuron):
    """The same neuron in bfloat16: 8 significant bits, held to golden v2's bfloat16 bounds."""

    dtype = torch.bfloat16
