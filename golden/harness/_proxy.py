"""The implementation as the parent sees it: a class whose instances' methods are requests to the child.

``Remote`` stands for the class, ``RemoteNeuron`` for one instance. Making an instance and setting its
parameters are queued and sent with the next read or call, so each value the harness needs costs one
round trip. What comes back is a ``protocol.Value``: numbers as exact float64 and the dtype they were
computed in, or a description of what else was returned. The case runner and the properties judge those.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from golden._text import short
from golden.harness import _protocol as protocol
from golden.harness._process import Child, Lost
from golden.harness._where import MAX_WHERE, raised


class Raised(Exception):
    """A call on the implementation raised; ``what`` says which call and what it raised, in one line.

    ``op`` is the kind of call that raised: ``new`` (the constructor), ``set``, ``get`` or ``call``.
    """

    def __init__(self, what: str, not_implemented: bool, op: str = "call") -> None:
        super().__init__(what)
        self.what, self.not_implemented, self.op = what, not_implemented, op


class Remote:
    """The implementation's class, living in the child process."""

    def __init__(self, child: Child, call_timeout: float) -> None:
        self.child = child
        self.call_timeout = call_timeout
        self.deadline = float("inf")  # the end of the current case or property's budget
        self._ids: Iterator[int | str] = itertools.count()
        self._unread: deque[Pending] = deque()  # requests sent whose answers were not read, in order

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
        parameters = [["w", wire(w)], ["b", float(b)], ["alpha", float(alpha)]]  # set in turn, in the child
        neuron.pending.append(["new", neuron.key, n_features, activation, parameters])
        return neuron

    def fresh(self, n_features: int, activation: str) -> RemoteNeuron:
        """A fresh instance as its own constructor leaves it, nothing set (queued until its first use)."""
        neuron = RemoteNeuron(self, next(self._ids))
        neuron.pending.append(["new", neuron.key, n_features, activation])
        return neuron

    def gather(self, *ops: Op) -> list[protocol.Value]:
        """Make every op in one round trip (each neuron's queued set-up first); their values, in order.

        After it, each op's ``changed`` lists the positions of the array arguments it changed in place.
        """
        return self.send(*ops).values()

    def send(self, *ops: Op) -> Pending:
        """Send every op (each neuron's queued set-up first) and return at once; ``Pending.values()``
        awaits their values. The harness works on while the child computes (the oracle's values, say)."""
        return self.send_each([ops])[0]

    def send_each(self, requests: Sequence[Sequence[Op] | bytes]) -> list[Pending]:
        """Send several requests in one message; the child answers each in turn, and each ``Pending``
        awaits its own answer (reading those before it first), each within ``call_timeout`` of being awaited.

        A request is ops, or the bytes of a request sent before (``Pending.data``: ``_kept.Requests``).
        Requests are answered in order: sending more first reads, and drops, every answer not yet read.
        """
        self.drop()
        pending, parts = [], []
        for ops in requests:
            if isinstance(ops, bytes):
                pending.append(Pending(self, (), None, ops))
            else:
                calls = self._calls(ops)
                pending.append(Pending(self, tuple(ops), calls, protocol.dumps(calls)))
            parts.append(pending[-1].data)
        message = b'{"batches":[' + b",".join(parts) + b"]}"  # what protocol.dumps makes of the batches
        self.child.send_body(message, min(time.monotonic() + self.call_timeout, self.deadline))
        self._unread.extend(pending)
        return pending

    def adopt(self, ops: Sequence[Op], sent: Pending) -> Pending | None:
        """The request `sent` as bytes kept, answered, as the request of `ops`, made by its plan started
        on its example after the answer came; None when `ops` are not the very calls sent: nothing is judged
        on the answer to other calls (and `ops` have been taken: their plan is to start again)."""
        calls = self._calls(ops)
        data = protocol.dumps(calls)
        if data != sent.data:
            return None
        adopted = Pending(self, tuple(ops), calls, data)
        adopted.body = sent.body
        return adopted

    @staticmethod
    def _calls(ops: Sequence[Op]) -> list[Any]:
        """The calls of `ops`, each neuron's queued set-up first; each op learns its place among them."""
        calls: list[Any] = []
        for op in ops:
            calls += op.neuron.pending
            op.neuron.pending = []
            op.index = len(calls)
            calls.append(op.call)
        return calls

    @contextlib.contextmanager
    def naming(self, prefix: str) -> Iterator[None]:
        """Within it, the instances made are named `prefix` 0, 1, …, not by the run's count: a plan's
        requests then depend on its example and replies alone, not on what ran before (``_kept.Requests``).
        A name may be used again once its instance is done with: ``new`` replaces what it named."""
        counted, self._ids = self._ids, (f"{prefix}{n}" for n in itertools.count())
        try:
            yield
        finally:
            self._ids = counted

    def drop(self) -> None:
        """Read and drop the answers to requests whose values were never asked for (an example that
        Hypothesis rejected after sending it, say); a call that raised there is no one's concern."""
        while self._unread:
            dropped = self._unread[0]
            dropped.fetch()
            dropped.decoded()  # read as data all the same: a reply that is not stops the child

    def settle(self) -> None:
        """Read the answers no one asked for (``drop``), all within one ``call_timeout``, whatever the
        current item's budget: an item that ended before the calls it made ahead did (``_cases.Ahead``) is
        decided, so answers that take longer, or a call that hangs or ends the process, only stop it (the
        next item starts another): a slow implementation's wrong case costs at most one timeout more."""
        self.deadline = time.monotonic() + self.call_timeout
        with contextlib.suppress(Lost):
            self.drop()
        self.deadline = float("inf")

    def _read(self, calls: list[Any], body: bytes) -> tuple[list[protocol.Value], list[tuple[int, int]]]:
        """The reply `body` to `calls`: the value of each, and (call, argument) positions changed in place.

        A call that raised is a Raised naming it; a reply that is not well-formed stops the child (Lost).
        """
        reply = self.child.read(body)
        try:
            values = [protocol.decode(node) for node in reply["results"]]
            error, changed = reply.get("error"), reply.get("changed", [])
            if error is not None:
                if len(values) >= len(calls):
                    raise protocol.WireError("sent an error for a call it was not asked to make")
                raise _raised(calls[len(values)], error, self.child.isolation.limits.memory)
            pairs = [(int(c), int(a)) for c, a in changed if type(c) is int and type(a) is int]
            if len(values) != len(calls) or len(pairs) != len(changed):
                raise protocol.WireError("sent a reply that does not match the request")
        except (protocol.WireError, AttributeError, TypeError, ValueError) as e:
            self.child.stop()
            raise Lost(f"the implementation's process {e}; it was stopped") from None
        return values, pairs


class Pending:
    """A request sent by ``Remote.send_each`` whose answer may not have been read yet.

    Its reply is read off the wire in turn (``fetch``: its bytes) and read as data when its values are
    asked for: a plan that is known to pass on exactly these bytes
    (``golden.harness._kept.ENDED``) never needs them read.
    """

    def __init__(self, remote: Remote, ops: tuple[Op, ...], calls: list[Any] | None, data: bytes) -> None:
        self.remote, self.ops, self._calls, self.data = remote, ops, calls, data  # data: the request sent
        self.body: bytes | None = None  # the reply, as it came
        self.answer: tuple[list[protocol.Value], list[tuple[int, int]]] | Raised | None = None
        self.done = False  # whether values() was called

    @property
    def calls(self) -> list[Any]:
        """The calls sent (read from the request's bytes when it was sent as bytes kept: ours)."""
        if self._calls is None:
            self._calls = protocol.parse(self.data)
        return self._calls

    def wait(self) -> bytes:
        """The reply's bytes, once every reply before it and then it have come (Lost if one does not)."""
        while self.body is None:
            self.remote._unread[0].fetch()
        return self.body

    def values(self) -> list[protocol.Value]:
        """The ops' values, in order; each op's ``changed`` is set.

        Raised if a call raised, Lost if the child did not answer whole and in time, or not as data.
        """
        assert not self.done, "a request's values are read once"
        self.done = True
        self.wait()
        answer = self.decoded()
        if isinstance(answer, Raised):
            raise answer
        values, changed = answer
        for op in self.ops:
            op.changed = [arg for call, arg in changed if call == op.index]
        return [values[op.index] for op in self.ops]

    def decoded(self) -> tuple[list[protocol.Value], list[tuple[int, int]]] | Raised:
        """The reply come (``fetch``), read as data once: its values and changed arguments, or the Raised
        it reports; Lost if it is not well-formed."""
        if self.answer is None:
            assert self.body is not None, "a reply is read as data once it has come"
            try:
                self.answer = self.remote._read(self.calls, self.body)
            except Raised as e:
                self.answer = e
        return self.answer

    def fetch(self) -> None:
        """Read this request's reply, the next on the wire, awaiting it at most ``call_timeout``."""
        remote = self.remote
        assert remote._unread and remote._unread[0] is self, "answers are read in the order sent"
        deadline = min(time.monotonic() + remote.call_timeout, remote.deadline)
        try:
            self.body = remote.child.receive(deadline)
        except Lost:
            remote._unread.clear()  # the child was stopped: no answer will come
            raise
        remote._unread.popleft()


def _raised(call: list[Any], error: Any, memory: int) -> Raised:
    """The Raised for `error`, as the child described it; a MemoryError names the limit in force."""
    kind, message, flag = error.get("type"), error.get("message"), error.get("not_implemented")
    where = error.get("where")
    well_formed = isinstance(kind, str) and isinstance(message, str) and isinstance(flag, bool)
    if not (well_formed and (where is None or isinstance(where, str))):
        raise protocol.WireError("sent a malformed error")
    what, op = describe_call(call), call[0]
    setting = error.get("setting")
    if setting is not None:  # a new instance's attribute, which the call names
        if op != "new" or len(call) < 5 or setting not in [attr for attr, _ in call[4]]:
            raise protocol.WireError("sent an error for an attribute it was not asked to set")
        what, op = f"setting {setting}", "set"
    if flag:
        return Raised(f"{what} is not implemented yet", True, op)
    detail = raised(short(kind, 80), where and short(where, MAX_WHERE), message and short(message))
    if error.get("memory") is True:
        detail += f" (its process may use at most {memory / (1 << 30):g} GiB of memory: --max-memory)"
    return Raised(f"{what} raised {detail}", False, op)


class Op:
    """One call on one instance, to be made by ``Remote.gather``."""

    def __init__(self, neuron: RemoteNeuron, call: list[Any]) -> None:
        self.neuron, self.call = neuron, call
        self.index = -1
        self.changed: list[int] = []


class RemoteNeuron:
    """One instance of the implementation, in the child."""

    def __init__(self, remote: Remote, key: int | str) -> None:
        self.remote, self.key = remote, key
        self.pending: list[Any] = []

    def read(self, attr: str) -> Op:
        """Reading attribute `attr` (w, b, alpha), as an op to gather."""
        return Op(self, ["get", self.key, attr])

    def op(self, method: str, *args: Any) -> Op:
        """``instance.method(*args)`` as an op to gather (arrays go as fresh float64 arrays)."""
        return Op(self, ["call", self.key, method, [wire(a) for a in args]])

    def set(self, attr: str, value: Any) -> None:
        """Set `attr` (queued until the next round trip)."""
        self.pending.append(["set", self.key, attr, wire(value)])

    def get(self, attr: str) -> protocol.Value:
        """The instance's attribute `attr`, in a round trip of its own."""
        return self._one(self.read(attr))

    def call(self, method: str, *args: Any) -> protocol.Value:
        """``instance.method(*args)``, in a round trip of its own."""
        return self._one(self.op(method, *args))

    def _one(self, op: Op) -> protocol.Value:
        (value,) = self.remote.gather(op)
        return value


def describe_call(call: list[Any]) -> str:
    """How a message names a call: ``the constructor``, ``setting w``, ``reading b``, ``forward``."""
    op = call[0]
    return {"new": "the constructor", "set": f"setting {call[2]}", "get": f"reading {call[2]}"}.get(
        op, str(call[2])
    )


def wire(value: Any) -> Any:
    """An argument as the child reads it: an array as ``{"f64": its little-endian float64 bytes in base64,
    "shape": […]}`` (a tall X costs one string, not thousands of numbers, in JSON each way), a number as a
    float."""
    if isinstance(value, _SEQUENCES):
        array = np.asarray(value, dtype=protocol.F8)
        return {"f64": protocol.to_f64(array), "shape": list(array.shape)}
    return float(value)


_SEQUENCES = (np.ndarray, list, tuple)
