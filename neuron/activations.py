"""Activation functions and their derivatives, one registry.

Every function takes ``z`` (an array of any shape) and ``alpha`` (used only by Leaky ReLU) and
returns an array of the same shape. The derivative convention at a kink follows the seed's
``np.where(z < 0, alpha, 1)``: the right-hand derivative, so 1 at ``z == 0``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]
Fn = Callable[[Array, float], Array]


@dataclass(frozen=True)
class Activation:
    """An activation ``a = f(z)`` with its derivative ``da/dz = df(z)``."""

    name: str
    f: Fn
    df: Fn


def _leaky_relu(z: Array, alpha: float) -> Array:
    return np.where(z < 0, alpha * z, z)


def _leaky_relu_derivative(z: Array, alpha: float) -> Array:
    return np.where(z < 0, alpha, 1.0).astype(z.dtype, copy=False)


def _relu(z: Array, alpha: float) -> Array:
    return np.where(z < 0, 0.0, z).astype(z.dtype, copy=False)


def _relu_derivative(z: Array, alpha: float) -> Array:
    return np.where(z < 0, 0.0, 1.0).astype(z.dtype, copy=False)


def _sigmoid(z: Array, alpha: float) -> Array:
    # exp(-|z|) never overflows: 1/(1+e^-z) for z >= 0, e^z/(1+e^z) for z < 0.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_derivative(z: Array, alpha: float) -> Array:
    s = _sigmoid(z, alpha)
    return s * (1.0 - s)


def _tanh(z: Array, alpha: float) -> Array:
    return np.tanh(z)


def _tanh_derivative(z: Array, alpha: float) -> Array:
    return 1.0 - np.tanh(z) ** 2


def _identity(z: Array, alpha: float) -> Array:
    return z


def _identity_derivative(z: Array, alpha: float) -> Array:
    return np.ones_like(z)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("leaky_relu", _leaky_relu, _leaky_relu_derivative),
        Activation("relu", _relu, _relu_derivative),
        Activation("sigmoid", _sigmoid, _sigmoid_derivative),
        Activation("tanh", _tanh, _tanh_derivative),
        Activation("identity", _identity, _identity_derivative),
    )
}


def get_activation(name: str) -> Activation:
    """Return the registered activation called `name`; an unknown name is a ValueError."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"activation: unknown {name!r}; known: {known}") from None
