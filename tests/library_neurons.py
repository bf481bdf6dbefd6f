"""Neurons written the way each framework's users write them, to measure the conventions they carry.

Each class is loaded by spec (``tests/library_neurons.py:TorchLeakyRelu``) and imports its library only
when it is made, so the module loads wherever the libraries are missing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np


class _Torch:
    """A float64 PyTorch neuron; gradients by autograd of `loss_of(a, y)`."""

    def __init__(self, n_features: int) -> None:
        import torch

        self.torch = torch
        self.w = torch.zeros(n_features, dtype=torch.float64)
        self.b = torch.zeros((), dtype=torch.float64)
        self.alpha = 0.01

    def activation(self, z: Any) -> Any:
        return self.torch.where(z < 0, self.alpha * z, z)

    def loss_of(self, a: Any, y: Any) -> Any:
        return 0.5 * ((a - y) ** 2).sum()

    def forward(self, X: Any) -> Any:
        with self.torch.no_grad():
            t = self.torch.as_tensor(X, dtype=self.torch.float64)
            f64 = self.torch.float64
            return self.activation(
                t @ self.torch.as_tensor(self.w, dtype=f64) + self.torch.as_tensor(self.b, dtype=f64)
            )

    def gradient(self, X: Any, y_true: Any) -> tuple[Any, Any]:
        torch = self.torch
        w = torch.as_tensor(self.w, dtype=torch.float64).clone().requires_grad_(True)
        b = torch.as_tensor(self.b, dtype=torch.float64).clone().requires_grad_(True)
        a = self.activation(torch.as_tensor(X, dtype=torch.float64) @ w + b)
        self.loss_of(a, torch.as_tensor(y_true, dtype=torch.float64)).backward()
        return w.grad, b.grad

    def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> None:
        torch = self.torch
        self.w = torch.as_tensor(self.w, dtype=torch.float64) - learning_rate * torch.as_tensor(
            dJ_dw, dtype=torch.float64
        )
        self.b = torch.as_tensor(self.b, dtype=torch.float64) - learning_rate * torch.as_tensor(
            dJ_db, dtype=torch.float64
        )


class TorchLeakyRelu(_Torch):
    """torch.nn.functional.leaky_relu: PyTorch's derivative at z = 0 is alpha."""

    def activation(self, z: Any) -> Any:
        return self.torch.nn.functional.leaky_relu(z, self.alpha)


class TorchLeakyReluDeclared(TorchLeakyRelu):
    """The same, declaring PyTorch's convention."""

    conventions: ClassVar[dict[str, str]] = {"derivative_at_zero": "alpha"}


class TorchMSELoss(_Torch):
    """nn.MSELoss(): the mean of (a − y)² over the batch."""

    def loss_of(self, a: Any, y: Any) -> Any:
        return self.torch.nn.MSELoss()(a, y)


class TorchMSELossDeclared(TorchMSELoss):
    """The same, declaring the mean loss."""

    conventions: ClassVar[dict[str, str]] = {"loss": "mean"}


class AutogradMaximum:
    """HIPS autograd with Leaky ReLU as np.maximum(alpha·z, z), whose gradient splits the tie at z = 0."""

    conventions: ClassVar[dict[str, str]] = {"derivative_at_zero": "midpoint"}

    def __init__(self, n_features: int) -> None:
        self.w = np.zeros(n_features)
        self.b = 0.0
        self.alpha = 0.01

    def forward(self, X: Any) -> Any:
        z = np.asarray(X) @ np.asarray(self.w) + self.b
        return np.maximum(self.alpha * z, z)

    def gradient(self, X: Any, y_true: Any) -> tuple[Any, Any]:
        import autograd.numpy as anp
        from autograd import grad

        X, y = np.asarray(X), np.asarray(y_true)

        def loss(w: Any, b: Any) -> Any:
            z = anp.dot(X, w) + b
            return 0.5 * anp.sum((anp.maximum(self.alpha * z, z) - y) ** 2)

        return grad(loss, 0)(np.asarray(self.w, dtype=float), float(self.b)), grad(loss, 1)(
            np.asarray(self.w, dtype=float), float(self.b)
        )

    def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> None:
        self.w = np.asarray(self.w) - learning_rate * np.asarray(dJ_dw)
        self.b = self.b - learning_rate * float(dJ_db)


class AutogradMaximumUndeclared(AutogradMaximum):
    """The same, without declaring its convention."""

    conventions: ClassVar[dict[str, str]] = {}


class MicrogradRelu:
    """micrograd Values, Leaky ReLU composed as relu(z) − alpha·relu(−z): its derivative at 0 is 0."""

    def __init__(self, n_features: int) -> None:
        self.w = [0.0] * n_features
        self.b = 0.0
        self.alpha = 0.01

    def _forward(self, X: Any, w: Any, b: Any) -> list[Any]:
        out = []
        for row in np.asarray(X).tolist():
            z = sum((wj * float(x) for wj, x in zip(w, row, strict=True)), b)
            out.append(z.relu() - self.alpha * (-z).relu())
        return out

    def forward(self, X: Any) -> Any:
        from micrograd.engine import Value

        return [a.data for a in self._forward(X, [Value(float(x)) for x in self.w], Value(float(self.b)))]

    def gradient(self, X: Any, y_true: Any) -> tuple[Any, Any]:
        from micrograd.engine import Value

        w, b = [Value(float(x)) for x in self.w], Value(float(self.b))
        J = sum(
            (
                (a - float(y)) ** 2 * 0.5
                for a, y in zip(self._forward(X, w, b), np.asarray(y_true).tolist(), strict=True)
            ),
            Value(0.0),
        )
        J.backward()
        return [wj.grad for wj in w], b.grad

    def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> None:
        self.w = [float(x) - learning_rate * float(g) for x, g in zip(self.w, dJ_dw, strict=True)]
        self.b = float(self.b) - learning_rate * float(dJ_db)


class MicrogradReluDeclaresAlpha(MicrogradRelu):
    """The same, declaring alpha at zero: still wrong, 0 is no declared convention."""

    conventions: ClassVar[dict[str, str]] = {"derivative_at_zero": "alpha"}
