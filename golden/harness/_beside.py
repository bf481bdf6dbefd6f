"""The oracle's values for generated problems, computed beside the validating process while it draws more.

Every property compares the implementation's answers with the exact oracle and its bounds
(``oracle.bounds``), which costs about 0.7 ms per problem in Fractions: more than Hypothesis takes to draw
the problem. So a helper process computes them on the machine's other core while Hypothesis draws the next
examples here (``golden.harness._batch`` sends it each chunk's problems, and judges that chunk once the next
one is drawn). A value asked for before it was sent, or after the helper failed, is computed here.

The helper is ours, not the implementation's: a fork of the validating process (``launch.fork``) that runs
the oracle and nothing else. It is undumpable from its first instant, as the process it copies is, and
imports nothing; the session starts it before the implementation's process, so that process cannot
reach its pipes. Its answers are read as data under the wire's caps and checked for form. If it ends,
stalls (for longer than one call's ``--timeout``) or answers out of turn, it is stopped and every value
is computed here: it costs time, never a verdict. It reads only what the parent writes, and ends when
the parent closes the pipe.

Under a fixed seed every implementation of a batch is judged on the same problems, so their values are
kept (``Memo``, by the problem's exact inputs, precision and conventions) and shared by every session of
the process that is given the memo: a grading worker computes each problem once, whatever it grades.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

from golden.harness._memo import Memo
from golden.outcome import FEATURES, ONE, ROWS, STAGES
from oracle import create_backprop_test_case, to_float
from oracle.backprop import Result
from oracle.bounds import PRECISIONS, Model, OutOfRange, bounds, float_bound, to_fraction

COMPUTED = tuple(s for s in STAGES if s.helper)  # the stages the helper computes: z, a, dJ_dw … b_new
WAIT = 10.0  # seconds to await an answer before the helper is given up and values are computed here

# What a problem's oracle values are, on the wire and here: per stage (and w, b), the float64 nearest each
# exact value, the bound around it, and the shape; None when a value does not fit in the precision.
Answer = dict[str, Any] | None


def compute(request: dict[str, Any]) -> Answer:
    """The oracle's values and bounds for the problem in `request`, in its precision, under its conventions.

    `request` holds X, y, w, b, alpha, activation, lr (numbers and lists of numbers), precision, and
    conventions (derivative_at_zero, loss). The answer gives, for z, a, dJ_dw, dJ_db, w_new, b_new, w and b,
    ``[values, bounds, shape]``: each value is the exact one rounded to float64 once, each bound is rounded
    up and covers that rounding too, so that |got − value| <= bound holds for every admissible answer.
    """
    result = solve(request)
    precision = PRECISIONS[request["precision"]]
    model = Model(precision)
    try:
        stages, _ = bounds(result, precision)
        w = tuple(model.input(to_fraction(x)) for x in result.inputs.w)
        held = {"w": w, "b": model.input(to_fraction(result.inputs.b))}
    except OutOfRange:
        return None
    exact = {s.name: getattr(result.first, s.name) for s in COMPUTED}
    exact |= {"w": result.inputs.w, "b": result.inputs.b}
    mine = {s.name: getattr(stages, s.name) for s in COMPUTED} | held
    answer = {}
    done: dict[tuple[int, int], tuple[float, float]] = {}  # a tall batch repeats its rows' values: once each
    for name, v in exact.items():
        pairs = []
        for b, x in zip(_flat(mine[name]), _flat(v), strict=True):
            if (id(b), id(x)) not in done:
                done[id(b), id(x)] = (to_float(x), float_bound(b, x))
            pairs.append(done[id(b), id(x)])
        answer[name] = [
            [p[0] for p in pairs],
            [p[1] for p in pairs],
            [len(v)] if isinstance(v, tuple) else [],
        ]
    return answer


def solve(request: dict[str, Any]) -> Result:
    """The oracle's exact values for the problem in `request` (no bounds: a fifth of ``compute``'s cost)."""
    conventions = request["conventions"]
    return create_backprop_test_case(
        request["X"],
        request["y"],
        request["w"],
        request["b"],
        request["lr"],
        alpha=request["alpha"],
        activation=request["activation"],
        derivative_at_zero=conventions.get("derivative_at_zero", "one"),
        loss=conventions.get("loss", "half_sum"),
    )


def gradient(request: dict[str, Any]) -> tuple[list[float], float]:
    """The exact (dJ_dw, dJ_db) for the problem in `request`, each rounded to float64 once."""
    first = solve(request).first
    return [to_float(x) for x in first.dJ_dw], to_float(first.dJ_db)


def updates(request: dict[str, Any]) -> list[list[list[float]]]:
    """(w, b) after each of `request`'s ``updates`` updates w ← w − lr·g from its w, b, g and lr, exactly,
    each with its bound in the precision (the error model's, ``oracle.bounds.Model``): ``[[values, bounds],
    …]``, as far as they stay in the precision's range."""
    model, done = Model(PRECISIONS[request["precision"]]), []
    try:
        rate = model.input(to_fraction(Fraction(request["lr"])))
        steps = [model.input(to_fraction(Fraction(g))) for g in request["g"]]
        now = [model.input(to_fraction(Fraction(x))) for x in (*request["w"], request["b"])]
        for _ in range(request["updates"]):
            now = [model.sub(x, model.mul(rate, g)) for x, g in zip(now, steps, strict=True)]
            done.append([[to_float(x.v) for x in now], [float_bound(x, x.v) for x in now]])
    except OutOfRange:  # no bound in this precision from here on: the updates bounded so far are the answer
        pass
    return done


def _flat(v: Any) -> list[Any]:
    return list(v) if isinstance(v, tuple) else [v]


class Later:
    """The oracle's answer for one problem, to be had with ``get``: kept in the `memo` already, or from the
    helper if it was sent there and answered, else computed here at that moment (and kept)."""

    def __init__(self, request: dict[str, Any], memo: Memo | None = None) -> None:
        self.request = request
        self.answer: Answer = None
        self.known = False
        self.helper: Beside | None = None  # the helper it was sent to, until its answer is read
        self.memo = memo
        if memo is not None:
            self.key = memo.key(request)
            self.known, self.answer = memo.get(self.key)

    def learn(self, answer: Answer) -> None:
        """The answer is `answer` (and is kept, with a memo)."""
        self.answer, self.known = answer, True
        if self.memo is not None:
            self.memo.put(self.key, answer)

    def get(self) -> Answer:
        """The answer (None when a value does not fit in the precision)."""
        if not self.known and self.helper is not None:
            self.helper.collect()
        if not self.known:
            self.learn(compute(self.request))
        return self.answer


class Beside:
    """The helper process, seen from the validating process: ``start``, then ``send`` and ``collect`` in
    turn (one message each way per chunk), then ``stop``. Any failure stops it for good."""

    def __init__(self, memo: Memo | None = None) -> None:
        self.memo = memo  # answers shared with every session given it (under a fixed seed), or none
        self._pid: int | None = None
        self._to = -1
        self._queued: list[Later] = []  # asked for since the last send
        self._batching = False  # whether answers asked for are queued (see batching)
        self.share = 0.5  # of the answers queued, the part sent: balanced so that neither side waits
        self.wait = WAIT  # the longest wait for the helper (the session makes it its --timeout)
        self._sent: list[Later] = []  # sent, answers not read yet

    @property
    def running(self) -> bool:
        """Whether the helper is up and trusted."""
        return self._pid is not None

    @property
    def pid(self) -> int | None:
        """The helper's process id while it runs."""
        return self._pid

    def spawn(self) -> None:
        """Start the helper: a fork of this (guarded) process, so guarded from its first instant, that runs
        ``serve`` and nothing else. Where this process may run on one core only (the helper would only
        compete with it), or the fork fails, run without it."""
        from golden.harness import _launch as launch
        from golden.harness import _protocol as protocol
        from golden.harness import _reap as reap

        if self._pid is not None or _cores() < 2:
            return
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        try:
            self._pid = launch.fork(lambda: serve(requests_r, replies_w), keep=(requests_r, replies_w))
        except OSError:
            os.close(requests_w)
            os.close(replies_r)
            return
        finally:
            os.close(requests_r)
            os.close(replies_w)
        reap.own(self._pid)
        self._to, self._reader = requests_w, protocol.Reader(replies_r)
        os.set_blocking(self._to, False)  # a helper that stops reading must not block us: see send

    def start(self) -> None:
        """Start the helper if need be (it is ready as soon as it exists)."""
        self.spawn()

    def later(self, request: dict[str, Any]) -> Later:
        """A handle on the oracle's answer for `request`, queued for the next ``send`` while batching."""
        handle = Later(request, self.memo)
        if self.running and self._batching and not handle.known:
            self._queued.append(handle)
        return handle

    def recall(self, request: dict[str, Any], kind: str, work: Callable[[dict[str, Any]], Any]) -> Any:
        """``work(request)``, computed here (for work cheaper than a round trip: ``gradient``, a plan's own
        exact values), or kept in the memo under `kind`."""
        return work(request) if self.memo is None else self.memo.recall(request, kind, work)

    @contextlib.contextmanager
    def batching(self) -> Iterator[None]:
        """While in it, the answers asked for are queued for the helper; at its end, those sent are read
        (or given up) and those queued are dropped: each is then computed here if asked for."""
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
            self.collect()
            self._queued = []

    def send(self) -> None:
        """Send every answer asked for since the last send (those already computed here excepted), in one
        message; the answers of the message before must have been collected."""
        from golden.harness import _protocol as protocol

        assert not self._sent, "collect the answers sent for before sending more"
        queued, self._queued = [h for h in self._queued if not h.known], []
        queued = queued[: math.ceil(self.share * len(queued))]  # the rest are computed here when asked for
        if not queued or not self.running:
            return
        try:
            protocol.send(self._to, [h.request for h in queued], time.monotonic() + self.wait)
        except Exception:  # stopped, ended, or not reading: the values are computed here
            self.stop()
            return
        for handle in queued:
            handle.helper = self
        self._sent = queued

    def collect(self) -> None:
        """Read the answers to the last message (each handle learns its own); on failure, stop the helper:
        the handles then compute their answers here."""
        from golden.harness import _protocol as protocol

        sent, self._sent = self._sent, []
        for handle in sent:
            handle.helper = None
        if not sent or not self.running:
            return
        try:
            # the helper answered already: give it a larger share next time; else a smaller one
            poller = select.poll()  # poll, not select: any fd number works
            poller.register(self._reader.fd, select.POLLIN)
            done = bool(poller.poll(0))
            self.share = min(1.0, self.share * 1.2) if done else max(0.05, self.share * 0.8)
            answers = self._reader.receive(time.monotonic() + self.wait)
            if not isinstance(answers, list) or len(answers) != len(sent):
                raise protocol.WireError("answered out of turn")
            for handle, answer in zip(sent, answers, strict=True):
                if answer is not None and not _well_formed(answer, handle.request):
                    raise protocol.WireError("sent an answer of the wrong form")
            for handle, answer in zip(sent, answers, strict=True):
                handle.learn(answer)
        except Exception:  # whatever went wrong with the helper, the values are computed here
            self.stop()

    def stop(self) -> None:
        """End the helper (it ends itself when its pipe closes; this makes sure) and reap it."""
        from golden.harness import _reap as reap

        pid, self._pid = self._pid, None
        for handle in self._sent:
            handle.helper = None
        self._queued, self._sent = [], []
        if self._to >= 0:
            with contextlib.suppress(OSError):
                os.close(self._to)
            self._to = -1
        if pid is None:
            return
        with contextlib.suppress(OSError):
            os.close(self._reader.fd)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        reap.disown(pid)


def _cores() -> int:
    """How many cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _well_formed(answer: Any, request: dict[str, Any]) -> bool:
    """An answer has, for each stage and w, b, finite float values, as many finite bounds >= 0, and the
    shape the request's problem gives that stage (m rows for z and a, n weights for the weights)."""
    m, n = len(request["X"]), len(request["w"])
    dims: dict[str | None, list[int]] = {ROWS: [m], FEATURES: [n], ONE: []}
    shapes = {s.name: dims[s.size] for s in COMPUTED} | {"w": [n], "b": []}
    if not isinstance(answer, dict) or set(answer) != set(shapes):
        return False
    for name, entry in answer.items():
        if not (isinstance(entry, list) and len(entry) == 3 and all(isinstance(x, list) for x in entry)):
            return False
        values, limits, shape = entry
        if shape != shapes[name] or len(values) != len(limits) or len(values) != (shape or [1])[0]:
            return False
        if not all(type(x) is float and math.isfinite(x) for x in values + limits) or min(limits) < 0:
            return False
    return True


def serve(requests: int, replies: int) -> None:
    """The helper's loop: answer each message of requests with their answers, until the pipe closes."""
    from golden.harness import _protocol as protocol

    reader = protocol.Reader(requests)
    while True:
        try:
            message = reader.receive()
        except protocol.WireError:
            return
        protocol.send(replies, [compute(request) for request in message])
