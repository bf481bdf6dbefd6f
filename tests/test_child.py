"""The child's record of arguments a call changed in place (``serve``'s ``changed``): by value, whatever
the call did to the array it was given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from golden.harness import _child as child
from golden.harness._proxy import wire


def served(does: Callable[[Any], None], X: Any) -> list[list[int]]:
    """The ``changed`` of serving one forward(X) by a class whose forward does `does` to X."""

    class Neuron:
        def __init__(self, n: int) -> None:
            pass

        def forward(self, X: Any, scale: float) -> None:
            does(X)

    calls = [["new", 0, 1, "leaky_relu"], ["call", 0, "forward", [wire(X), 2.0]]]
    reply = child.serve(Neuron, calls)
    assert reply["error"] is None, reply
    changed: list[list[int]] = reply["changed"]
    return changed


def scale(X: Any) -> None:
    X *= 2


def add_zero(X: Any) -> None:
    X += 0.0


def flatten(X: Any) -> None:
    X.shape = (X.size,)


def view_as_ints(X: Any) -> None:
    X.dtype = np.int64


def nothing(X: Any) -> None:
    X.sum()


@pytest.mark.parametrize(
    ("does", "changed"),
    [(scale, [[1, 0]]), (flatten, [[1, 0]]), (view_as_ints, [[1, 0]]), (add_zero, []), (nothing, [])],
)
def test_a_call_that_changes_its_array_argument_is_recorded_and_no_other(
    does: Callable[[Any], None], changed: list[list[int]]
) -> None:
    """Scaled, reshaped or reinterpreted in place is a change; -0.0 turned into 0.0 (x + 0.0) is none."""
    assert served(does, np.array([[-0.0, 1.5], [2.0, -3.0]])) == changed
