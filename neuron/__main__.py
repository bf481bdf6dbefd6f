"""``python -m neuron``: train the Neuron on a small learnable problem and print its losses."""

import numpy as np

from neuron import Neuron


def main() -> None:
    """Fit y = 2·x₁ − x₂ + 0.5 (kept positive) with full-batch gradient descent."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(32, 2))
    y = X @ np.array([2.0, -1.0]) + 1.5
    n = Neuron(2, seed=0)
    print(f"{n}: learning y = 2·x1 − x2 + 1.5 on 32 rows, lr = 0.02")
    history = n.fit(X, y, learning_rate=0.02, epochs=300)
    for epoch in (0, 1, 10, 50, 100, 299):
        print(f"  epoch {epoch:3d}  J = {history[epoch]:.6g}")
    print(f"  learned w = {np.round(n.w, 4)}, b = {n.b:.4f}")


if __name__ == "__main__":
    main()
