"""Step 1 of the tdd walk: what the class's own constructor stores, before the harness sets anything.

The golden cases set w, b and alpha themselves and read them back, so an ``__init__`` that stores nothing
passes them, though ``Neuron(2).forward(X)`` then raises. This check makes ``Impl(n)`` alone and reads w,
b and alpha as ``__init__`` left them: w must be an array of n real numbers, shape (n,); b one real
number; alpha the seed's default, 0.01, as the precision it is stored in holds it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from golden.harness._compare import Array, Divergence, numbers
from golden.harness._protocol import Value
from golden.harness._proxy import Raised, Remote
from golden.outcome import PARAMETERS, Outcome, Status
from oracle.bounds import PRECISIONS

N_FEATURES = 3  # not the golden cases' 1 or 2: a w of a size written into __init__ shows
DEFAULT_ALPHA = Fraction(1, 100)
EXPECTED = f"w: an array of shape {(N_FEATURES,)}, b: a number, alpha: 0.01"


def own_parameters(remote: Remote) -> Outcome:
    """``Impl(N_FEATURES)`` as its own ``__init__`` leaves it: PASSED, or what is wrong with w, b, alpha.

    Parameters
    ----------
    remote
        The implementation, loaded in its child process.

    Returns
    -------
    Outcome
        Named ``Impl(3)``, at stage ``parameters``. When it is not PASSED, ``message`` holds one problem a
        line (``reading w raised AttributeError: …``, ``alpha is 0.2; expected 0.01 by default``) and
        ``got`` the values that could be read, by name.
    """
    name = f"{remote.name}({N_FEATURES})"
    neuron = remote.fresh(N_FEATURES, "leaky_relu")
    got: dict[str, object] = {}
    problems: list[str] = []
    raised = False
    for attr, judge in JUDGES.items():
        try:
            value = neuron.get(attr)
        except Raised as e:
            if e.op == "new":  # the constructor raised: no instance was made, nothing to read
                return Outcome(
                    name,
                    Status.ERROR,
                    stage=PARAMETERS.name,
                    message=e.what,
                    not_implemented=e.not_implemented,
                )
            problems.append(e.what)
            raised = True
            continue
        array = _numbers(value)
        got[attr] = _describe(value) if array is None else array.tolist()
        problem = judge(value, array)
        if problem:
            problems.append(problem)
    if not problems:
        return Outcome(name, Status.PASSED, agreed=[PARAMETERS.name])
    status = Status.ERROR if raised else Status.FAILED
    return Outcome(name, status, stage=PARAMETERS.name, message="\n".join(problems), got=got or None)


def _w(value: Value, array: Array | None) -> str | None:
    shape = (N_FEATURES,)
    if array is None:
        return f"w is {_describe(value)}; expected an array of shape {shape}"
    if array.ndim == 0:
        return f"w is a single number; expected an array of shape {shape}"
    if array.shape != shape:
        return f"w has shape {array.shape}; expected {shape}, one weight per feature"
    if not np.isfinite(array).all():
        return f"w is {array.tolist()}; expected real numbers (no NaN or infinity)"
    return None


def _b(value: Value, array: Array | None) -> str | None:
    if array is None:
        return f"b is {_describe(value)}; expected a single number"
    if array.ndim != 0:
        return f"b is an array of shape {array.shape}; expected a single number"
    if not np.isfinite(array):
        return f"b is {float(array)}; expected a real number"
    return None


def _alpha(value: Value, array: Array | None) -> str | None:
    if array is None or array.ndim != 0:
        shown = _describe(value) if array is None else f"an array of shape {array.shape}"
        return f"alpha is {shown}; expected 0.01 by default"
    if not is_default_alpha(float(array), value.dtype):
        return f"alpha is {float(array)!r}; expected 0.01 by default"
    return None


JUDGES: dict[str, Callable[[Value, Array | None], str | None]] = {"w": _w, "b": _b, "alpha": _alpha}


def is_default_alpha(alpha: float, dtype: str | None) -> bool:
    """Whether `alpha` is 0.01 rounded to nearest in `dtype` (float64 for Python floats and integers).

    A float32 ``np.float32(0.01)`` is 0.009999999776482582: within one rounding of 0.01, so it counts.
    """
    u = PRECISIONS[dtype if dtype in PRECISIONS else "float64"].u
    return math.isfinite(alpha) and abs(Fraction(alpha) - DEFAULT_ALPHA) <= u * DEFAULT_ALPHA


def _numbers(value: Value) -> Array | None:
    try:
        return numbers(value, PARAMETERS.name, "")
    except Divergence:
        return None


def _describe(value: Value) -> str:
    return value.description or "not a number"
