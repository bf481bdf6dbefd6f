"""The examples a seed gives depend on the seed, not on which modules this process has imported.

Hypothesis draws a number now and then (about one in twenty) from the constants written in the *local*
modules imported so far: any module outside the standard library and site-packages. Which modules those
are depends on the process, not on the seed: the toolkit's own modules in a checkout but not once it is
installed, a user's modules in a pytest session, a grading worker's folder. So one seed gave a checkout
and an installed toolkit (a teacher's laptop and a Dask worker) different examples, and so, at times,
different grades; and reading every such module's source cost a validate about 0.3 s of parsing.

``no_local_constants`` turns that source off while the properties draw, and on again after: Hypothesis's
own constants (0, ±1, the float edges, NaN …) still come, the same in every process. It reaches into
Hypothesis's providers, which have no setting for it: where that hook is missing (another Hypothesis),
it does nothing, and ``tests/test_seed.py`` finds out.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants

_LOCK = threading.Lock()
_ORIGINAL: Any = getattr(providers, "_get_local_constants", None)
_depth = 0  # how many draws (in any thread) are inside no_local_constants now


def _none() -> Any:
    """No local constants: an empty pool of Hypothesis's own kind."""
    return Constants()


@contextlib.contextmanager
def no_local_constants() -> Iterator[None]:
    """Within it, Hypothesis draws no constant from the local modules' source (see the module's docstring).
    Nested and concurrent uses share one switch: it is off while any of them is inside."""
    global _depth
    if _ORIGINAL is None or not hasattr(providers, "CONSTANTS_CACHE"):
        yield
        return
    with _LOCK:
        _depth += 1
        if _depth == 1:
            providers._get_local_constants = _none
            providers.CONSTANTS_CACHE.cache.clear()  # the permitted constants, computed with the others
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0:
                providers._get_local_constants = _ORIGINAL
                providers.CONSTANTS_CACHE.cache.clear()
