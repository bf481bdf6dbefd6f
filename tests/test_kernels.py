"""The one-pass gradient kernels agree with the plain formula to rounding error, on both paths.

The plain formula below is the seed's, over the whole batch in float64. The kernels sum the same terms
in another order (blocks, threads, vector lanes), so float64 results may differ by about m·eps times the
largest term: with m <= 5,000 and terms below 100, that is under 1e-10; atol = 1e-8 leaves 100× room.
float32 data is compared with its float64 formula at rtol = atol = 1e-4 (float32 eps is 6e-8; z sums
up to 64 products).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

from neuron import ACTIVATIONS, Neuron, _kernels

numba = pytest.importorskip("numba", reason="the fused kernel needs numba: pip install 'neuron-oracle[fast]'")


def plain(X: np.ndarray, w: np.ndarray, b: float, y: np.ndarray, name: str, alpha: float):  # type: ignore[no-untyped-def]
    act = ACTIVATIONS[name]
    X64, w64, y64 = X.astype(np.float64), w.astype(np.float64), y.astype(np.float64)
    z = X64 @ w64 + b
    u = act.f(z, alpha) - y64
    delta = u * act.df(z, alpha)
    return delta @ X64, delta.sum(), 0.5 * u @ u


def data(m: int, n: int, dtype: type = np.float64, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((m, n)).astype(dtype),
        rng.standard_normal(n).astype(dtype),
        0.3,
        rng.standard_normal(m).astype(dtype),
    )


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("path", ["numpy", "numba"])
def test_kernel_agrees_with_the_plain_formula(path: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    X, w, b, y = data(5_000, 24)
    monkeypatch.setattr(_kernels, "BLOCK_BYTES", 24 * 8 * 333)  # 333 rows a block: 16 blocks, the last ragged
    if path == "numpy":
        got = _kernels.gradient_numpy(X, w, b, y, ACTIVATIONS[name], 0.05)
    else:
        got = _kernels.gradient_numba(_kernels.numba_kernel(True), X, w, b, y, ACTIVATIONS[name], 0.05)
    want = plain(X, w, b, y, name, 0.05)
    assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-8)
    assert got[1] == pytest.approx(want[1], rel=1e-12, abs=1e-8)
    assert got[2] == pytest.approx(want[2], rel=1e-12, abs=1e-8)


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_float32_data_stays_float32_and_agrees(kernel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEURON_ORACLE_KERNEL", kernel)
    X, w, b, y = data(3_000, 64, np.float32)
    n = Neuron(64, dtype=np.float32)
    n.w, n.b = w, b
    dJ_dw, dJ_db = n.gradient(X, y)
    assert dJ_dw.dtype == np.float32
    want = plain(X, w, b, y, "leaky_relu", 0.01)
    assert_allclose(dJ_dw, want[0], rtol=1e-4, atol=1e-4)
    assert dJ_db == pytest.approx(want[1], rel=1e-4, abs=1e-4)


def test_both_paths_of_the_neuron_agree_on_a_large_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    X, w, b, y = data(40_000, 8)  # 320,000 elements: the numba path in "auto"
    n = Neuron(8)
    n.w, n.b = w, b
    results = {}
    for kernel in ("numpy", "numba", "auto"):
        monkeypatch.setenv("NEURON_ORACLE_KERNEL", kernel)
        results[kernel] = n.gradient(X, y)
    for kernel in ("numba", "auto"):
        assert_allclose(results[kernel][0], results["numpy"][0], rtol=1e-12, atol=1e-8)
        assert results[kernel][1] == pytest.approx(results["numpy"][1], rel=1e-12, abs=1e-8)


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
@pytest.mark.parametrize(
    ("where", "message"),
    [("X", r"X contains nan at index \(12345, 3\)"), ("y", r"y_true contains inf at index \(777,\)")],
)
def test_nan_in_a_large_batch_is_named_on_either_path(
    kernel: str, where: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEURON_ORACLE_KERNEL", kernel)
    X, _, _, y = data(20_000, 8)
    if where == "X":
        X[12345, 3] = np.nan
    else:
        y[777] = np.inf
    n = Neuron(8)
    w0 = n.w.copy()
    with pytest.raises(ValueError, match=message):
        n.step(X, y, 0.01)
    assert np.array_equal(n.w, w0)


def test_importing_the_neuron_and_the_cli_does_not_import_numba() -> None:
    code = (
        "import neuron, golden.cli, sys; neuron.Neuron(2).gradient([[1.0, 2.0]], 1.0); "
        "print('numba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_forcing_numba_without_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_kernels, "_numba_kernel", None)
    monkeypatch.setattr(_kernels, "_numba_missing", True)
    with pytest.raises(ImportError, match=r"needs numba: pip install 'neuron-oracle\[fast\]'"):
        _kernels.numba_kernel(required=True)
