"""When grading, the implementation's process runs each numerical library's thread pool with one thread:
--jobs implementations run at once on problems of a few rows, so a pool per CPU in each only costs its
start. A thread count the user set wins; a single validate leaves the pools to the libraries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from golden.files.store import load_set
from golden.harness._process import _environment
from golden.harness._sandbox import THREADS, Limits
from golden.harness.session import Session
from golden.options import Options

TELLS = '''
import os
import numpy as np

class Neuron:
    """forward returns, for each row, the thread count the environment gives OpenBLAS (-1: none)."""

    def __init__(self, n_features, activation="leaky_relu"):
        self.w, self.b, self.alpha = np.zeros(n_features), 0.0, 0.01

    def forward(self, X):
        return np.full(len(X), float(os.environ.get("OPENBLAS_NUM_THREADS", "-1")))

    def gradient(self, X, y):
        return np.zeros(X.shape[1]), 0.0

    def update_weights(self, dJ_dw, dJ_db, learning_rate):
        pass
'''


def threads_seen(tmp_path: Path, grading: bool, sandbox: str = "off") -> float:
    """What the implementation's process, started as validate or a grading worker starts it, was given."""
    (tmp_path / "tells.py").write_text(TELLS)
    with Session(
        f"{tmp_path / 'tells.py'}:Neuron", Options(sandbox=sandbox), load_set(), grading=grading
    ) as s:
        value = s.remote().new(1, "leaky_relu", np.array([0.5]), 0.0, 0.01).call("forward", np.array([[1.0]]))
    assert value.array is not None
    return float(value.array[0])


@pytest.fixture(autouse=True)
def unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in THREADS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("sandbox", ["off", "auto"])
def test_a_graded_implementation_runs_one_thread_per_numerical_library(tmp_path: Path, sandbox: str) -> None:
    assert threads_seen(tmp_path, grading=True, sandbox=sandbox) == 1.0


def test_a_single_validate_leaves_the_thread_pools_to_the_libraries(tmp_path: Path) -> None:
    assert threads_seen(tmp_path, grading=False) == -1.0
    assert Options().isolation(grading=False).limits.threads is None


def test_a_thread_count_the_user_set_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert threads_seen(tmp_path, grading=True) == 3.0
    for sandboxed in (False, True):
        env = _environment(sandboxed, str(tmp_path), Limits(threads=1))
        assert env["OPENBLAS_NUM_THREADS"] == "3" and env["OMP_NUM_THREADS"] == "1"


def test_the_report_names_the_thread_limit_only_when_there_is_one() -> None:
    assert Limits(threads=1).describe(False).endswith(", 1 BLAS/OpenMP thread")
    assert "thread" not in Limits().describe(True)
