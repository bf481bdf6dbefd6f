"""The gradient in one pass over X: each row serves z = x·w + b and dJ_dw += δ·x while it is in cache.

``gradient(X, w, b, y, activation, alpha) -> (dJ_dw, dJ_db, loss)`` has two implementations:

- numpy, over blocks of rows sized to stay in cache (``BLOCK_BYTES``); always available;
- numba, one fused loop per row, parallel over row ranges; used for large X when numba is installed
  (``pip install neuron-oracle[fast]``). It is imported and compiled on first use only, and cached on
  disk, so importing the Neuron (and starting the CLI) never pays for it.

Both accumulate in float64 whatever X's dtype, and allocate nothing of X's size. fastmath is limited to
reassociation and contraction (vectorised sums, FMA): NaN and infinity still propagate, so the caller's
finiteness check holds. ``NEURON_ORACLE_KERNEL=numpy`` (or ``numba``) forces one implementation.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from neuron.activations import Activation

Array = NDArray[Any]
Result = tuple[Array, float, float]

BLOCK_BYTES = 1 << 22  # 4 MiB of X per block: the fastest of 256 KiB to 8 MiB measured by benchmarks/
NUMBA_MIN_SIZE = 1 << 16  # below this many elements of X, compiled code does not pay for its call
CODES = {"leaky_relu": 0, "relu": 1, "identity": 2, "sigmoid": 3, "tanh": 4}

_numba_kernel: Callable[..., None] | None = None
_numba_missing = False


def gradient(X: Array, w: Array, b: float, y: Array, activation: Activation, alpha: float) -> Result:
    """dJ_dw (X's dtype), dJ_db and the batch loss ½Σ(a − y)², reading X once."""
    choice = os.environ.get("NEURON_ORACLE_KERNEL", "auto")
    if choice == "numba" or (choice == "auto" and X.size >= NUMBA_MIN_SIZE):
        kernel = numba_kernel(required=choice == "numba")
        if kernel is not None:
            return gradient_numba(kernel, X, w, b, y, activation, alpha)
    return gradient_numpy(X, w, b, y, activation, alpha)


def gradient_numpy(X: Array, w: Array, b: float, y: Array, activation: Activation, alpha: float) -> Result:
    """The numpy kernel: blocks of rows, each used for z and for δᵀ·X_block while in cache."""
    m, n = X.shape
    rows = max(1, BLOCK_BYTES // (n * X.itemsize))
    dJ_dw = np.zeros(n)
    dJ_db = loss = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite results are the caller's to report
        for start in range(0, m, rows):
            block = X[start : start + rows]
            z = block @ w + b
            u = activation.f(z, alpha) - y[start : start + rows]
            delta = u * activation.df(z, alpha)
            dJ_dw += delta @ block
            dJ_db += float(delta.sum())
            loss += 0.5 * float(u @ u)
    return dJ_dw.astype(X.dtype), dJ_db, loss


def gradient_numba(
    kernel: Callable[..., None], X: Array, w: Array, b: float, y: Array, activation: Activation, alpha: float
) -> Result:
    """The numba kernel: one fused loop per row, one partial sum per thread, added up here."""
    import numba

    n = X.shape[1]
    partial = np.zeros((numba.get_num_threads(), n + 2))
    kernel(np.ascontiguousarray(X), w, float(b), y, CODES[activation.name], float(alpha), partial)
    total = partial.sum(axis=0)
    return total[:n].astype(X.dtype), float(total[n]), float(total[n + 1])


def numba_kernel(required: bool = False) -> Callable[..., None] | None:
    """The compiled kernel, built on first call; None when numba is not installed (unless `required`)."""
    global _numba_kernel, _numba_missing
    if _numba_kernel is None and not _numba_missing:
        try:
            import numba  # noqa: F401
        except ImportError:
            _numba_missing = True
        else:
            _numba_kernel = _build()
    if _numba_kernel is None and required:
        raise ImportError("NEURON_ORACLE_KERNEL=numba needs numba: pip install 'neuron-oracle[fast]'")
    return _numba_kernel


def _build() -> Callable[..., None]:
    import math

    import numba

    @numba.njit(parallel=True, fastmath={"reassoc", "contract"}, cache=True, nogil=True)
    def fused(X, w, b, y, code, alpha, partial):  # type: ignore[no-untyped-def]  # pragma: no cover
        m, n = X.shape
        chunks = partial.shape[0]
        size = (m + chunks - 1) // chunks
        for c in numba.prange(chunks):
            acc = np.zeros(n + 2)
            for i in range(c * size, min(m, (c + 1) * size)):
                z = b
                for j in range(n):
                    z += X[i, j] * w[j]
                if code == 0:  # leaky_relu; derivative 1 at z = 0, as the seed decided
                    a, d = (z, 1.0) if z >= 0 else (alpha * z, alpha)
                elif code == 1:  # relu
                    a, d = (z, 1.0) if z >= 0 else (0.0, 0.0)
                elif code == 2:  # identity
                    a, d = z, 1.0
                elif code == 3:  # sigmoid, stable for large |z|
                    e = math.exp(-abs(z))
                    a = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
                    d = a * (1.0 - a)
                else:  # tanh
                    a = math.tanh(z)
                    d = 1.0 - a * a
                u = a - y[i]
                delta = u * d
                for j in range(n):
                    acc[j] += delta * X[i, j]
                acc[n] += delta
                acc[n + 1] += 0.5 * u * u
            partial[c, :] = acc

    return fused
