"""Grading workers: guarded copies of the validating process, each grading one IMPL at a time.

A worker is a ``fork`` of the process that starts the batch (``launch.fork``), made once that process is
guarded and has imported everything grading needs: undumpable from its first instant, importing nothing,
so no submission can reach its pipes or slip it a module while it starts. Each IMPL still runs in an
isolated child of the worker's own (``golden.harness._process``). Requests and answers use the one framing
of ``golden.harness._protocol``; an answer must carry its request's nonce.

This process stays single-threaded, so forking a new worker is safe at any time. It watches every
worker: one that ends, breaks its protocol, runs past its deadline or is stopped (``SIGSTOP``: what a
submission may do to a process of its user) is killed, whatever it left is swept, its IMPL is graded once
more by a fresh worker (a submission may have stopped another's worker), and then reported as not graded.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import select
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from golden.harness import _launch as launch
from golden.harness import _protocol as protocol
from golden.harness import _reap as reap
from golden.harness import _share as share

MAX_ANSWER = 64 * 1024 * 1024  # bytes of one worker's answer: the outcomes of one IMPL
MAX_GIVEN = 16 * 1024 * 1024  # characters of the others' kept work given with one IMPL (``_share``)
GRACE = 2.0  # seconds a worker gets to stop its IMPL's child after SIGTERM, before SIGKILL
POLL = 0.2  # seconds between looks at the workers

Grade = Callable[[str, int], dict[str, Any]]  # (IMPL, slot) -> the answer of run_one
Done = Callable[[int, "dict[str, Any] | None", str], None]  # (index, answer or None, why not)


@dataclass
class Worker:
    """One worker process and its two pipe ends, and what it grades now."""

    pid: int
    slot: int
    to: int
    reader: protocol.Reader
    index: int = -1  # the IMPL it grades, or -1 when idle
    nonce: str = ""
    deadline: float = 0.0
    seen: int = 0  # how much of the batch's kept log (``_share``) it has been given


def distribute(
    impls: list[str], jobs: int, grade: Grade, deadline: float, done: Done, retries: int = 1
) -> None:
    """Grade every IMPL of `impls` with `grade`, in up to `jobs` workers; `done` is called as each ends,
    with its answer, or None and why it could not be graded. Each IMPL may take `deadline` seconds.

    Ctrl-C (or any error here) stops every worker, which stops its IMPL's child, and is raised.
    """
    todo = deque(range(len(impls)))
    tries = [0] * len(impls)
    count = max(1, min(jobs, len(impls)))
    shared = count > 1  # one worker has nobody to tell what it kept (``_share``)
    workers = [_start(grade, slot, shared) for slot in range(count)]
    kept: list[tuple[int, str]] = []  # what each worker kept (``_share``), by the pid that kept it
    try:
        while todo or any(w.index >= 0 for w in workers):
            for w in workers:
                if w.index < 0 and todo:
                    given = _newest([blob for pid, blob in kept[w.seen :] if pid != w.pid])
                    w.seen = len(kept)
                    _assign(w, todo.popleft(), impls, deadline, given)
            for i, w in enumerate(workers):
                if w.index < 0:
                    continue
                answer, why = _collect(w)
                if answer is None and not why:
                    continue  # still grading
                index, w.index = w.index, -1
                if answer is not None:
                    if isinstance(blob := answer.pop("kept", None), str):
                        kept.append((w.pid, blob))
                    done(index, answer, "")
                    continue
                code = _end(w)
                why = f"{why} ({_ended(code)})"
                if tries[index] < retries:
                    tries[index] += 1
                    todo.appendleft(index)
                else:
                    done(index, None, f"its grading process {why}" + (", twice" if retries else ""))
                workers[i] = _start(grade, w.slot, shared)
    except BaseException:
        _stop(workers)
        raise
    _stop(workers)


def _newest(blobs: list[str]) -> list[str]:
    """The most recent of `blobs` that fit in ``MAX_GIVEN`` characters, oldest first: what a worker misses
    of the others' work is only work it does again (a fresh worker, after a lost one, is given this much)."""
    given, size = [], 0
    for blob in reversed(blobs):
        if size + len(blob) <= MAX_GIVEN:
            size += len(blob)
            given.append(blob)
    return given[::-1]


def _start(grade: Grade, slot: int, shared: bool) -> Worker:
    requests_r, requests_w = os.pipe()
    answers_r, answers_w = os.pipe()
    try:
        serve = lambda: _serve(requests_r, answers_w, grade, slot, shared)  # noqa: E731
        pid = launch.fork(serve, keep=(requests_r, answers_w))
    finally:
        os.close(requests_r)
        os.close(answers_w)
    reap.own(pid)
    os.set_blocking(requests_w, False)
    return Worker(pid, slot, requests_w, protocol.Reader(answers_r))


def _assign(w: Worker, index: int, impls: list[str], deadline: float, kept: list[str]) -> None:
    """Give `w` IMPL `index` to grade, with what the other workers `kept` since its last (``_share``)."""
    w.index, w.nonce, w.deadline = index, secrets.token_hex(16), time.monotonic() + deadline
    request = {"impl": impls[index], "nonce": w.nonce, "kept": kept}
    with contextlib.suppress(protocol.WireError, OSError):  # a worker gone already: _collect says so
        protocol.send(w.to, request, time.monotonic() + POLL * 50)


def _collect(w: Worker) -> tuple[dict[str, Any] | None, str]:
    """The worker's answer if it came; (None, '') while it grades; (None, why) when it is lost."""
    if time.monotonic() > w.deadline:
        return None, "ran past its deadline and was stopped"
    if _stopped(w.pid):
        return None, "was stopped by a signal and was ended"
    poller = select.poll()
    poller.register(w.reader.fd, select.POLLIN | select.POLLHUP)
    if not poller.poll(POLL * 1000 / 4):
        return None, ""
    try:
        answer = w.reader.receive(time.monotonic() + POLL * 50, limit=MAX_ANSWER)
    except (protocol.WireError, OSError):
        return None, "ended while it ran"
    if not (isinstance(answer, dict) and answer.get("nonce") == w.nonce and _well_formed(answer)):
        return None, "answered with something else and was stopped"
    return answer, ""


def _well_formed(answer: dict[str, Any]) -> bool:
    return (
        isinstance(answer.get("impl"), str)
        and isinstance(answer.get("error"), str | None)
        and isinstance(answer.get("outcomes"), list)
        and all(isinstance(o, dict) for o in answer["outcomes"])
    )


def _stopped(pid: int) -> bool:
    """Whether process `pid` is stopped (``T``) or traced (``t``): it will answer no more."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] in (b"T", b"t")
    except (OSError, IndexError):
        return False


def _end(w: Worker) -> int:
    """Kill the worker, reap it, sweep what it left (its IMPL's processes are now ours); its exit code."""
    with contextlib.suppress(OSError):
        os.close(w.to)
    with contextlib.suppress(OSError):
        os.close(w.reader.fd)
    code = _wait(w.pid, kill=True)
    reap.sweep()
    return code


def _wait(pid: int, kill: bool) -> int:
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return 0
    finally:
        reap.disown(pid)
    return os.waitstatus_to_exitcode(status)


def _stop(workers: list[Worker]) -> None:
    """End every worker: idle ones when their pipe closes, busy ones by SIGTERM (each stops its IMPL's
    child), then SIGKILL for any still there after GRACE seconds; sweep what is left."""
    for w in workers:
        with contextlib.suppress(OSError):
            os.close(w.to)
        if w.index >= 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.pid, signal.SIGTERM)
    end = time.monotonic() + GRACE
    for w in workers:
        while time.monotonic() < end and not _exited(w.pid):
            time.sleep(0.02)
        _wait(w.pid, kill=True)
        with contextlib.suppress(OSError):
            os.close(w.reader.fd)
    reap.sweep()


def _exited(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    if done:
        reap.disown(pid)
        # reaped here: _wait then finds no child, which is fine
    return bool(done)


def _ended(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _serve(requests: int, answers: int, grade: Grade, slot: int, shared: bool = False) -> None:
    """A worker: grade one IMPL per request, answer each with its nonce, until the pipe closes.

    Everything printed here (the implementations' output, drained by their Sessions) goes to stderr.
    SIGTERM stops the IMPL being graded (its child is stopped) and ends the worker quietly; SIGTSTP and
    its kin are ignored: a worker does not stop on a submission's say.
    """
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for stop in (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(stop, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupt)
    reap.adopt()  # whatever an IMPL's code leaves behind is ours to end, after each IMPL
    reader = protocol.Reader(requests)
    if shared:
        share.journal()
    try:
        while True:
            try:
                request = reader.receive(limit=MAX_ANSWER)
            except protocol.WireError:
                return
            for blob in request["kept"]:  # the other workers': ours, from the process that forked us
                share.absorb(base64.b64decode(blob))
            answer = grade(str(request["impl"]), slot)
            reap.sweep()
            mine = share.export()
            text = "" if mine is None else base64.b64encode(mine).decode("ascii")
            if 0 < len(text) <= MAX_GIVEN:  # more: no worker could be given it
                answer["kept"] = text
            protocol.send(answers, {**answer, "nonce": request["nonce"]})
    except KeyboardInterrupt:
        return


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
