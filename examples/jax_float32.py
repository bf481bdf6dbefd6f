"""A neuron in JAX, float32 (JAX's default), its gradient from jax.grad. It passes plain
`neuron-oracle validate`: the precision is detected from the dtype of the array forward returns.

    pip install "jax[cpu]"
    neuron-oracle validate examples/jax_float32.py:Neuron

Leaky ReLU is jnp.where(z < 0, alpha·z, z), whose derivative at z = 0 is 1, the seed's convention.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def _loss(w: Any, b: Any, X: Any, y: Any, alpha: float) -> Any:
    z = X @ w + b
    a = jnp.where(z < 0, alpha * z, z)
    return 0.5 * jnp.sum((a - y) ** 2)


_gradient = jax.jit(jax.grad(_loss, argnums=(0, 1)))


class Neuron:
    """z = X·w + b, a = Leaky ReLU(z), J = ½Σ(a − y)²; dJ/dw and dJ/db by jax.grad, in float32."""

    def __init__(self, n_features: int) -> None:
        self.w = jnp.zeros(n_features, dtype=jnp.float32)
        self.b = 0.0
        self.alpha = 0.01

    @property
    def w(self) -> Any:
        return self._w

    @w.setter
    def w(self, value: Any) -> None:
        self._w = jnp.asarray(value, dtype=jnp.float32)

    @property
    def b(self) -> Any:
        return self._b

    @b.setter
    def b(self, value: Any) -> None:
        self._b = jnp.asarray(value, dtype=jnp.float32)

    def forward(self, X: Any) -> Any:
        z = jnp.asarray(X, dtype=jnp.float32) @ self.w + self.b
        return jnp.where(z < 0, self.alpha * z, z)

    def gradient(self, X: Any, y_true: Any) -> tuple[Any, Any]:
        X, y = jnp.asarray(X, dtype=jnp.float32), jnp.asarray(y_true, dtype=jnp.float32)
        return _gradient(self.w, self.b, X, y, jnp.float32(self.alpha))

    def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> None:
        lr = jnp.float32(learning_rate)
        self.w = self.w - lr * jnp.asarray(dJ_dw, dtype=jnp.float32)
        self.b = self.b - lr * jnp.asarray(dJ_db, dtype=jnp.float32)
