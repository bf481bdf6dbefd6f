"""A case file of the user's own, turned into golden case documents: run as code in a child, read as data.

``load_case_file`` reads the file's bytes once, hashes them, and runs those bytes in a process of its own
(``golden.files._casefile_child``), started as our guarded children start (``golden.harness._launch``:
isolated mode, guarded and limited as the implementation's child is, before anything else runs), in a
session of its own, with the case file's folder as its working folder and last on its ``sys.path``. What
comes back is data: frames read under a byte cap and a deadline, parsed strictly (``store.parse``: NaN and
Infinity are errors), each document checked against the current case schema and its shapes. Whatever goes
wrong is one ``CaseFileError`` line naming the file, and the case where there is one; the child's whole
process group is killed then, or when the run ends, and whatever left it (``golden.harness._reap``).
Nothing is written anywhere.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golden._text import short
from golden.errors import CaseFileError, GoldenError
from golden.files._casefile_child import FRAME, SCHEMA, anonymous
from golden.files._document import sha256
from golden.files.store import MAX_FILE, check_schema, check_shapes, display, parse, read_regular, schema_kind
from golden.harness import _reap as reap
from golden.harness._launch import boot_command, site_folders
from golden.harness._sandbox import Limits
from oracle.registry import NAME

CHILD = "golden.files._casefile_child"
TIMEOUT = 120.0  # seconds that importing the file may take, and then each of its cases
MAX_REPLY = 64 * 1024 * 1024  # bytes the child may send in all; one frame at most MAX_FILE, a golden file's
ENDING = 1.0  # seconds a child whose reply pipe closed gets to end of itself, so that its exit is reported
EVENTS = ("case", "document", "error", "done")  # what a frame holds: golden.files._casefile_child


@dataclass(frozen=True)
class CaseFile:
    """A case file read and run: its path, the sha256 of the bytes that ran, and each case's golden
    document (name → document, in definition order), schema- and shape-checked."""

    path: Path
    sha256: str
    documents: dict[str, dict[str, Any]]


def load_case_file(path: Path, timeout: float = TIMEOUT, limits: Limits | None = None) -> CaseFile:
    """Run the case file at `path` in a child and return its cases' golden documents.

    Importing it may take `timeout` seconds, and then each case as long; the child runs under `limits`
    (the implementation's child's by default). CaseFileError, in one line naming the file and the case,
    for a file that raises, hangs, prints, exits, defines no case, has a case whose claim fails, that
    returns no Result or is too large for a golden file, or whose process sends malformed bytes;
    UnreadableFile for a path that is not a regular file.
    """
    shown = display(path)
    if path.suffix != ".py":
        raise CaseFileError(f"{shown}: expected a Python file (.py) that defines cases with @case")
    data = read_regular(path, what="a case file")
    documents = _run(Path(os.path.abspath(path)), shown, data, timeout, limits or Limits())
    for name, document in documents.items():
        try:
            check_schema(document, schema_kind(SCHEMA), Path(f"{name}.json"))
            check_shapes(document, Path(f"{name}.json"))
        except GoldenError as e:
            raise CaseFileError(f"{shown}: case {name}: {e}") from None
    return CaseFile(path, sha256(data), documents)


def _run(path: Path, shown: str, data: bytes, timeout: float, limits: Limits) -> dict[str, dict[str, Any]]:
    """Start the child on `data` (the bytes of the case file at `path`), gather its documents, and end
    it and whatever it started, whatever happens."""
    source = anonymous("case-file")
    os.write(source, data)
    os.lseek(source, 0, os.SEEK_SET)
    replies, replies_w = os.pipe()
    config = {
        "module": CHILD,
        "args": [str(source), str(replies_w), str(path), shown, os.getcwd()],
        "path": [*site_folders(), str(path.parent)],
        "limits": limits.rlimits(False),
        "replies": replies_w,
    }
    reap.adopt()  # a process of the case file's that leaves the group is ours to end
    try:
        try:
            proc = subprocess.Popen(
                boot_command(config),
                pass_fds=(source, replies_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,  # the child's own failure before it takes fd 2 (a missing module)
                start_new_session=True,
                cwd=path.parent,
            )
        finally:
            os.close(source)
            os.close(replies_w)
        reap.own(proc.pid)
        try:
            return _receive(_Frames(replies), proc, shown, timeout)
        finally:
            _stop(proc)
    finally:
        os.close(replies)
        reap.release()


def _receive(
    frames: _Frames, proc: subprocess.Popen[bytes], shown: str, timeout: float
) -> dict[str, dict[str, Any]]:
    """The documents the child sends, in order, until it says it is done; CaseFileError otherwise."""
    documents: dict[str, dict[str, Any]] = {}
    step, current, deadline = "importing it", "", time.monotonic() + timeout
    while True:
        label = Path(f"{shown}: {step}: its reply")  # how store.parse names what it refuses
        try:
            kind, value = _event(frames.next(deadline, label), label)
        except _Silent:
            raise CaseFileError(f"{shown}: {step} did not finish within {timeout:g} s") from None
        except _Closed:
            raise CaseFileError(f"{shown}: {step} ended its process ({_ended(proc)})") from None
        except GoldenError as e:
            raise CaseFileError(str(e)) from None
        if kind == "error":
            raise CaseFileError(f"{shown}: {value}")
        if kind == "case" and value not in documents and current in ("", *documents):
            step, current, deadline = f"case {value}", value, time.monotonic() + timeout
        elif kind == "document" and current and current not in documents:
            documents[current] = value
        elif kind == "done" and value == len(documents) > 0 and current in documents:
            return documents
        else:
            raise CaseFileError(f"{display(label)}: {kind} {short(repr(value), 80)} out of turn")


def _event(message: Any, label: Path) -> tuple[str, Any]:
    """The one event a frame holds, checked: ``case`` a name, ``document`` an object, ``error`` a line,
    ``done`` a count; boot's own failure (``golden.harness._boot.fail``) is an error too."""
    if isinstance(message, dict) and len(message) == 1:
        ((kind, value),) = message.items()
        if kind == "error" and isinstance(value, dict) and isinstance(value.get("message"), str):
            return kind, f"its process could not be started: {short(value['message'], 300)}"
        valid = {
            "case": isinstance(value, str) and NAME.fullmatch(value) is not None,
            "document": isinstance(value, dict),
            "error": isinstance(value, str),
            "done": isinstance(value, int) and not isinstance(value, bool),
        }
        if valid.get(kind):
            return kind, short(value, 400) if kind == "error" else value
    what = f"one of {', '.join(EVENTS)}"
    raise GoldenError(f"{display(label)}: expected an object holding {what}, got {short(repr(message), 80)}")


class _Silent(Exception):
    """No whole frame before the deadline."""


class _Closed(Exception):
    """The child closed its end of the pipe: it ended."""


class _Frames:
    """Frames read from the child's reply pipe, at most ``MAX_REPLY`` bytes in all."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer, self.total = fd, bytearray(), 0

    def next(self, deadline: float, label: Path) -> Any:
        """The next frame's JSON, parsed strictly (``store.parse``, naming `label`); _Silent past
        `deadline`, _Closed at the end, GoldenError for a frame too large or malformed."""
        self._fill(FRAME.size, deadline, label)
        (length,) = FRAME.unpack_from(self.buffer)
        if length > MAX_FILE:
            raise GoldenError(f"{display(label)}: {length:,} bytes; a golden file holds at most {MAX_FILE:,}")
        self._fill(FRAME.size + length, deadline, label)
        body = bytes(self.buffer[FRAME.size : FRAME.size + length])
        del self.buffer[: FRAME.size + length]
        return parse(body, label)

    def _fill(self, size: int, deadline: float, label: Path) -> None:
        while len(self.buffer) < size:
            left = deadline - time.monotonic()
            poller = select.poll()
            poller.register(self.fd, select.POLLIN)
            if left <= 0 or not poller.poll(None if math.isinf(left) else left * 1000):
                raise _Silent()
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise _Closed()
            self.total += len(chunk)
            if self.total > MAX_REPLY:
                raise GoldenError(f"{display(label)}: more than {MAX_REPLY:,} bytes in all")
            self.buffer += chunk


def _ended(proc: subprocess.Popen[bytes]) -> str:
    """How the child ended, its exit given a moment (``exit code 3``, ``killed by SIGKILL``), with the
    last line it wrote on its stderr before it took it over (a module it could not import)."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(ENDING)
    code = proc.poll()
    how = "it closed its reply pipe" if code is None else f"exit code {code}"
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            how = f"killed by {signal.Signals(-code).name}"
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    os.set_blocking(fd, False)
    with contextlib.suppress(OSError):  # BlockingIOError: nothing there, and a process still holds it
        lines = os.read(fd, 1 << 16).decode("utf-8", "replace").strip().splitlines()
        how += f": {short(lines[-1], 200)}" if lines else ""
    return how


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child's whole process group and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    reap.disown(proc.pid)
    if proc.stderr is not None:
        proc.stderr.close()
