"""fit's early stopping and callback; `neuron-oracle train` on the diabetes data; the benchmark runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO

from golden.cli import main
from neuron import Neuron


def test_fit_stops_early_once_an_epoch_gains_less_than_tol() -> None:
    X = np.linspace(-1, 1, 40).reshape(20, 2)
    y = X @ np.array([1.0, -1.0]) + 2.0
    full = Neuron(2, seed=0).fit(X, y, 0.05, epochs=500)
    early = Neuron(2, seed=0).fit(X, y, 0.05, epochs=500, tol=1e-3)
    assert len(full) == 500 and 1 < len(early) < 500
    assert early == full[: len(early)]  # the same descent, cut short
    assert early[-2] - early[-1] < 1e-3 * early[-2] <= early[-3] - early[-2]


def test_fit_calls_back_after_every_epoch() -> None:
    seen: list[tuple[int, float]] = []
    history = Neuron(1, seed=0).fit(
        [[1.0], [2.0]], [1.0, 2.0], 0.1, epochs=4, callback=lambda e, j: seen.append((e, j))
    )
    assert seen == list(enumerate(history))


def test_train_reaches_the_least_squares_loss_and_writes_the_plot(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    out = subprocess.run(
        [sys.executable, "-m", "golden", "train", "--plot", str(tmp_path / "loss.png")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    final = float(out.stdout.split("final loss J")[1].split()[0])
    optimum = float(out.stdout.split("least squares J")[1].split()[0])
    assert optimum <= final <= 1.05 * optimum  # the least-squares loss is the floor for a linear neuron
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_with_no_epochs_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--epochs", "0"]) == 2
    assert capsys.readouterr().err == "neuron-oracle: error: --epochs is 0; expected at least 1\n"


def test_train_that_diverges_says_the_learning_rate_is_too_large(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sklearn")
    assert main(["train", "--learning-rate", "10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuron-oracle: error: training diverged: J rose from ")
    assert err.endswith("at epoch 2; --learning-rate 10 is too large for this data, try a smaller one\n")


def test_train_without_scikit_learn_says_what_to_install() -> None:
    code = "import sys; sys.modules['sklearn'] = None; from golden.cli import main; sys.exit(main(['train']))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr == (
        "neuron-oracle: error: train needs scikit-learn, which is not installed: "
        "pip install 'neuron-oracle[train]'\n"
    )


def test_benchmark_script_runs_and_prints_its_table() -> None:
    # Runs the script on small shapes to show it works; it asserts no timing (that is the script's job).
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gradient.py"), "--quick", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "floor X@w" in out.stdout and "read X" in out.stdout and "20,000×32" in out.stdout
