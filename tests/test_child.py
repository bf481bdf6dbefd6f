"""The child's side of a call: the arguments it changed in place (``serve``'s ``changed``), by value,
whatever it did to them; and a new instance's attributes, set in the call that makes it, each named when
setting it raises."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import inprocess
import numpy as np
import pytest

from golden.harness import _child as child
from golden.harness import _protocol as protocol
from golden.harness._proxy import Raised, _raised, wire


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


class UnsettableW:
    """A neuron whose w refuses every value."""

    def __init__(self, n: int) -> None:
        self.b = self.alpha = 0.0

    @property
    def w(self) -> Any:
        return np.zeros(1)

    @w.setter
    def w(self, value: Any) -> None:
        raise ValueError("w is read-only here")

    def forward(self, X: Any) -> Any:
        return np.zeros(len(X))


def test_a_new_instance_whose_attribute_cannot_be_set_names_that_attribute() -> None:
    calls = [["new", 0, 1, "leaky_relu", [["w", wire(np.ones(1))], ["b", 0.0]]], ["call", 0, "forward", []]]
    reply = child.serve(UnsettableW, calls)
    assert reply["results"] == []
    assert (reply["error"]["type"], reply["error"]["setting"]) == ("ValueError", "w")


def test_the_parent_words_it_as_setting_that_attribute() -> None:
    neuron = inprocess.subject(UnsettableW).remote.new(1, "leaky_relu", np.ones(1), 0.0, 0.01)
    with pytest.raises(Raised) as raised:
        neuron.call("forward", np.ones((2, 1)))
    assert raised.value.what.startswith("setting w raised ValueError")
    assert raised.value.op == "set"


def test_an_error_naming_an_attribute_it_was_not_asked_to_set_is_malformed() -> None:
    call = ["new", 0, 1, "leaky_relu", [["w", 1.0]]]
    error = {"type": "ValueError", "message": "no", "not_implemented": False, "setting": "__class__"}
    with pytest.raises(protocol.WireError, match="not asked to set"):
        _raised(call, error, 1 << 30)
