"""Argument checks for the Neuron: each failure names the argument, what was expected and what was got."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def as_float_array(value: Any, name: str, dtype: np.dtype[Any]) -> NDArray[Any]:
    """Convert `value` to an array of `dtype` without copying when it already is one."""
    try:
        return np.asarray(value, dtype=dtype)
    except ValueError as e:
        if _ragged(value):
            raise ValueError(f"{name} is ragged: its rows have different lengths") from None
        raise TypeError(f"{name} must hold numbers: {e}") from None
    except TypeError as e:
        raise TypeError(f"{name} must hold numbers: {e}") from None


def _ragged(value: Any, depth: int = 0) -> bool:
    """Whether `value` holds rows of different lengths (or a number beside rows), at any depth up to 32."""
    rows = _rows(value)
    if rows is None or depth > 32:
        return False
    inner = [_rows(row) for row in rows]
    if len({None if r is None else len(r) for r in inner}) > 1:
        return True
    return any(_ragged(row, depth + 1) for row, r in zip(rows, inner, strict=True) if r is not None)


def _rows(value: Any) -> list[Any] | None:
    """The items of a sized sequence (list, tuple, range, array, tensor …); None for a number or a string."""
    if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
        return None
    if isinstance(value, np.ndarray):
        return list(value.tolist()) if value.ndim else None
    try:
        return list(value)
    except Exception:  # a 0-d tensor, an object that only looks like a sequence
        return None


def check_finite(value: NDArray[Any], name: str) -> None:
    """Raise ValueError naming the first NaN or infinity in `value`."""
    if value.size and not np.isfinite(value).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        bad = value[where] if where else value
        raise ValueError(f"{name} contains {bad} at index {where}; NaN and infinity are errors")


def as_matrix(X: Any, n_features: int, dtype: np.dtype[Any]) -> NDArray[Any]:
    """Return X as an (m, n_features) array; one row of shape (n_features,) counts as m = 1."""
    arr = as_float_array(X, "X", dtype)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2:
        raise ValueError(
            f"X has shape {arr.shape}; expected (m, {n_features}) or one row of shape ({n_features},)"
        )
    if arr.shape[1] != n_features:
        raise ValueError(f"X has {arr.shape[1]} features (shape {arr.shape}); expected {n_features}")
    if arr.shape[0] == 0:
        raise ValueError(f"X has no rows (shape {arr.shape}); expected at least one")
    return arr


def as_targets(y_true: Any, m: int, dtype: np.dtype[Any], finite: bool = True) -> NDArray[Any]:
    """Return y_true as shape (m,): a scalar is broadcast over the batch, as in the seed's cases.

    With ``finite=False`` the NaN check is left to the caller, who sees NaN in its results anyway.
    """
    y = as_float_array(y_true, "y_true", dtype)
    if y.ndim == 0:
        y = np.full(m, y, dtype=dtype)
    elif y.shape != (m,):
        raise ValueError(f"y_true has shape {y.shape}; expected a scalar or shape ({m},)")
    if finite:
        check_finite(y, "y_true")
    return y


def as_scalar(value: Any, name: str) -> float:
    """Return a finite Python float; a numpy scalar or an array of one element is accepted."""
    arr = as_float_array(value, name, np.dtype(np.float64))
    if arr.size != 1 or arr.ndim > 1:
        raise ValueError(f"{name} has shape {arr.shape}; expected a scalar")
    x = float(arr.reshape(()))
    if not math.isfinite(x):
        raise ValueError(f"{name} is {x}; NaN and infinity are errors")
    return x


def as_learning_rate(value: Any) -> float:
    """Return a finite, non-negative learning rate."""
    lr = as_scalar(value, "learning_rate")
    if lr < 0:
        raise ValueError(f"learning_rate is {lr}; expected a finite number >= 0")
    return lr
