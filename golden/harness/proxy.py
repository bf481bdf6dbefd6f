"""The implementation as the parent sees it: a class whose instances' methods are requests to the child.

``Remote`` stands for the class, ``RemoteNeuron`` for one instance. Making an instance and setting its
parameters are queued and sent with the next read or call, so each value the harness needs costs one
round trip. What comes back is a ``protocol.Value``: numbers as exact float64 and the dtype they were
computed in, or a description of what else was returned. The case runner and the properties judge those.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

from golden.harness import protocol
from golden.harness.process import Child, Lost


class Raised(Exception):
    """A call on the implementation raised; ``what`` says which call and what it raised, in one line."""

    def __init__(self, what: str, not_implemented: bool) -> None:
        super().__init__(what)
        self.what, self.not_implemented = what, not_implemented


class Remote:
    """The implementation's class, living in the child process."""

    def __init__(self, child: Child, call_timeout: float) -> None:
        self.child = child
        self.call_timeout = call_timeout
        self.deadline = float("inf")  # the end of the current case or property's budget
        self._ids = itertools.count()

    @property
    def name(self) -> str:
        """The class's name."""
        return str(self.child.info["name"])

    @property
    def optional(self) -> frozenset[str]:
        """The optional protocol methods the class defines as methods."""
        return frozenset(self.child.info["optional"])

    @property
    def activations(self) -> tuple[str, ...]:
        """The activations the class declares (Leaky ReLU when it declares none)."""
        return tuple(self.child.info["activations"])

    def new(self, n_features: int, activation: str, w: Any, b: float, alpha: float) -> RemoteNeuron:
        """A fresh instance with w, b and alpha set as given (queued until its first use)."""
        neuron = RemoteNeuron(self, next(self._ids))
        neuron.pending += [
            ["new", neuron.key, n_features, activation],
            ["set", neuron.key, "w", wire(w)],
            ["set", neuron.key, "b", float(b)],
            ["set", neuron.key, "alpha", float(alpha)],
        ]
        return neuron

    def ask(self, calls: list[Any]) -> tuple[list[protocol.Value], list[int]]:
        """Make `calls` in the child; the values of all of them, and the arguments the last one changed."""
        deadline = min(time.monotonic() + self.call_timeout, self.deadline)
        reply = self.child.ask(calls, deadline)
        try:
            values = [protocol.decode(node) for node in reply["results"]]
            error, changed = reply.get("error"), reply.get("changed", [])
            if error is not None:
                if len(values) >= len(calls):
                    raise protocol.WireError("sent an error for a call it was not asked to make")
                kind, message, flag = error.get("type"), error.get("message"), error.get("not_implemented")
                if not (isinstance(kind, str) and isinstance(message, str) and isinstance(flag, bool)):
                    raise protocol.WireError("sent a malformed error")
                what = describe_call(calls[len(values)])
                if flag:
                    raise Raised(f"{what} is not implemented yet", True)
                detail = (
                    f"{protocol.short(kind, 80)}: {protocol.short(message)}"
                    if message
                    else protocol.short(kind, 80)
                )
                raise Raised(f"{what} raised {detail}", False)
            if len(values) != len(calls) or not all(type(i) is int and i >= 0 for i in changed):
                raise protocol.WireError("sent a reply that does not match the request")
        except (protocol.WireError, AttributeError, TypeError) as e:
            self.child.stop()
            raise Lost(f"the implementation's process {e}; it was stopped") from None
        return values, changed


class RemoteNeuron:
    """One instance of the implementation, in the child."""

    def __init__(self, remote: Remote, key: int) -> None:
        self.remote, self.key = remote, key
        self.pending: list[Any] = []
        self.changed: list[int] = []  # positions of array arguments the last call changed in place

    def get(self, attr: str) -> protocol.Value:
        """The instance's attribute `attr` (w, b, alpha)."""
        return self._ask(["get", self.key, attr])

    def set(self, attr: str, value: Any) -> None:
        """Set `attr` (queued)."""
        self.pending.append(["set", self.key, attr, wire(value)])

    def call(self, method: str, *args: Any) -> protocol.Value:
        """``instance.method(*args)``: arrays are handed over as fresh float64 arrays, numbers as floats."""
        return self._ask(["call", self.key, method, [wire(a) for a in args]])

    def _ask(self, call: list[Any]) -> protocol.Value:
        calls, self.pending = [*self.pending, call], []
        values, self.changed = self.remote.ask(calls)
        return values[-1]


def describe_call(call: list[Any]) -> str:
    """How a message names a call: ``the constructor``, ``setting w``, ``reading b``, ``forward``."""
    op = call[0]
    return {"new": "the constructor", "set": f"setting {call[2]}", "get": f"reading {call[2]}"}.get(
        op, str(call[2])
    )


def wire(value: Any) -> Any:
    """An argument as the child reads it: an array as ``{"a": nested lists}``, a number as a float."""
    if isinstance(value, np.ndarray):
        return {"a": value.astype(np.float64).tolist()}
    if isinstance(value, list | tuple):
        return {"a": np.asarray(value, dtype=np.float64).tolist()}
    return float(value)
