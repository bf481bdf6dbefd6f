"""Train the Neuron on scikit-learn's diabetes data and compare with least squares (``neuron-oracle train``).

The 442 × 10 features are standardized (zero mean, unit variance); the targets stay in their units.
The least-squares optimum is numpy.linalg.lstsq on [X, 1], the best any linear neuron can do, scored
with the same loss, J = ½ Σ (ŷ − y)². Needs the ``train`` extra: scikit-learn, matplotlib, tqdm.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from neuron.neuron import Neuron


class Missing(ImportError):
    """An optional dependency of training is not installed; the message names it."""


@dataclass
class Training:
    """The outcome of a training run."""

    history: list[float]
    optimum: float
    neuron: Neuron

    @property
    def ratio(self) -> float:
        """Final loss over the least-squares loss: 1 is the optimum."""
        return self.history[-1] / self.optimum


def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's diabetes data, features standardized."""
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:
        raise Missing("train needs scikit-learn") from None
    X, y = load_diabetes(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y.astype(np.float64)


def least_squares_loss(X: np.ndarray, y: np.ndarray) -> float:
    """½ Σ r² of the least-squares fit of y on [X, 1]."""
    design = np.column_stack([X, np.ones(len(X))])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    r = design @ coef - y
    return float(0.5 * r @ r)


def train(epochs: int, learning_rate: float, activation: str, seed: int, tol: float | None) -> Training:
    """Full-batch gradient descent on the diabetes data, with a progress bar on a terminal."""
    X, y = diabetes()
    try:
        from tqdm import tqdm
    except ImportError:
        raise Missing("train needs tqdm") from None
    neuron = Neuron(X.shape[1], activation=activation, seed=seed)
    with tqdm(total=epochs, unit="epoch", disable=None, leave=False) as bar:  # None: only on a terminal
        history = neuron.fit(X, y, learning_rate, epochs, tol=tol, callback=lambda e, loss: bar.update(1))
    return Training(history, least_squares_loss(X, y), neuron)


def plot_png(training: Training) -> bytes:
    """The loss curve as PNG bytes, with the least-squares loss as a line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise Missing("--plot needs matplotlib") from None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(range(1, len(training.history) + 1), training.history, label="Neuron, J before each epoch")
    ax.axhline(training.optimum, color="black", linestyle="--", label="least squares (numpy.linalg.lstsq)")
    ax.set(xlabel="epoch", ylabel="J = ½ Σ (a − y)²", title="Neuron on the diabetes data (442 × 10)")
    ax.legend()
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    return png.getvalue()
