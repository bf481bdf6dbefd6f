"""A case file of the user's own, run as code in a process of its own: its cases go back as data.

The parent (``golden.files._casefile``) starts it through ``golden.harness._boot`` (isolated mode, guarded
and limited first) as ``golden.files._casefile_child SOURCE REPLIES PATH SHOWN CWD``, in a session of its
own, with the case file's folder as its working folder and last on ``sys.path``, so that a case can read
a data file beside it. SOURCE is an fd holding the file's bytes (the ones the parent hashed: what runs is
what the manifest names), REPLIES a pipe; PATH is the file's absolute path, SHOWN the same as the user
named it, CWD the parent's working folder (both for naming places, ``golden.harness._where``).

The file is imported under a fresh registry (``oracle.registry.collecting``), then each case, in definition
order, is computed into its golden document in the current schema. Its stdout and stderr (fds 1 and 2,
so a C library's writes too) go to an anonymous file of this process, looked at after each step: a case
file that prints is refused, quoting it, since nothing it prints can be shown. Replies are frames
(``FRAME``, a 4-byte big-endian length, then UTF-8 JSON without NaN or Infinity), one per event::

    {"case": name}          the case about to run, so that the parent can name it on a timeout
    {"document": {...}}     that case's golden document
    {"error": "..."}        the one line that ends the run, naming the case (the parent adds the file)
    {"done": count}         every case sent
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import struct
import sys
import tempfile
import types
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from golden._text import first_line, short
from golden.files._document import build
from golden.files._versions import CURRENT, VERSIONS
from golden.files.store import MAX_VALUES
from golden.harness._where import PLACES, raised
from oracle import ORACLE_VERSION, ClaimError
from oracle.bounds import PRECISIONS
from oracle.registry import Case, NotAResult, collecting

SCHEMA = VERSIONS[CURRENT].schema  # the current schema's documents (2: a bound per value and precision)
FRAME = struct.Struct(">I")  # as golden.harness._protocol frames its messages
MODULE = "__case_file__"  # the case file's module name: no module it imports can be it
QUOTED = 60  # characters of what a case file printed that its refusal quotes
T = TypeVar("T")


class Refused(Exception):
    """A step refused by this process, not raised by the case file: its message says why."""


def values(m: int, n: int, steps: int) -> int:
    """How many JSON values (``golden.files.store.extent``'s count) the golden document of a case of `m`
    rows, `n` features and `steps` steps holds, with every precision's bounds available: known before the
    oracle computes it. Every list and dict counts one, and so does each number and string in it."""
    top = 1 + 8  # the document, and its schema_version, name, description, claim, arithmetic, inputs …
    inputs = 9 + m + m * n + m + n  # its 9 fields; X's m rows of n; y_true's m; w's n
    expected = 9 + 5 * m + 2 * n  # its 9 fields; z, a, J, dJ_da, da_dz of m; dJ_dw, w_new of n
    bounds = 1 + len(PRECISIONS) * (1 + 11 + 5 * m + 3 * n)  # the derivation; per precision w, b and the 9
    if steps > 1:  # the trajectory: a list of steps of loss, dJ_dw, dJ_db, w_new, b_new (bounds: no loss)
        expected += 1 + steps * (1 + 5 + 2 * n)
        bounds += len(PRECISIONS) * (1 + steps * (1 + 4 + 2 * n))
    return top + inputs + expected + bounds


def too_large(m: int, n: int, steps: int) -> str | None:
    """Why a case of this size cannot be a golden file (``10,000 rows × 300 features, 60 steps: about
    N values; …``), or None when it can."""
    size = values(m, n, steps)
    if size < MAX_VALUES:  # its reply holds it in one more object, and store.parse counts that too
        return None
    shape = f"{m:,} rows × {n:,} features, {steps:,} step{'' if steps == 1 else 's'}"
    return f"{shape}: about {size:,} values; a golden file holds at most {MAX_VALUES:,}"


class Run:
    """One case file's run in this process: its steps, each checked for what it printed or was refused."""

    def __init__(self, replies: int, output: int) -> None:
        self.replies, self.output = replies, output
        self.refused: list[str] = []

    def admit(self, m: int, n: int, steps: int) -> None:
        """``collecting``'s admit: refuse a case too large before the oracle computes it."""
        why = too_large(m, n, steps)
        if why is not None:
            self.refused.append(why)
            raise Refused(why)

    def send(self, message: dict[str, Any] | bytes) -> None:
        """One frame on the reply pipe: `message`, or the frame `_framed` made of it."""
        view = memoryview(message if isinstance(message, bytes) else _framed(message))
        while view:
            view = view[os.write(self.replies, view) :]

    def fail(self, line: str) -> NoReturn:
        """Send the line that ends the run, and end."""
        self.send({"error": short(line, 400)})
        os._exit(1)

    def step(self, what: str, run: Callable[[], T]) -> T:
        """`run`'s value; or the run ends with a line saying how `what` (``importing it``, ``case x``) was
        refused, raised or printed, in that order."""
        try:
            value = run()
        except BaseException as e:  # SystemExit and KeyboardInterrupt too: the line says which
            self.fail(f"{what}: {self.refused[0]}" if self.refused else _worded(what, e))
        if self.refused:  # the case caught our refusal
            self.fail(f"{what}: {self.refused[0]}")
        printed = _printed(self.output)
        if printed:
            self.fail(f"{what} printed {printed!r}: a case file must not write to stdout or stderr")
        return value


def main(argv: list[str]) -> NoReturn:
    """Run the case file whose bytes fd `argv[0]` holds, replying on fd `argv[1]`."""
    source, replies, path, shown, cwd = int(argv[0]), int(argv[1]), argv[2], argv[3], argv[4]
    run = Run(replies, _capture())
    PLACES.configure({"load": f"{path}:", "shown": f"{shown}:", "cwd": cwd})
    with collecting(run.admit) as cases:
        run.step("importing it", lambda: _execute(source, path))
        if not cases:
            run.fail("defines no case: a case is a function decorated with @case (from oracle import case)")
        for name, case in list(cases.items()):
            run.send({"case": name})
            run.send(run.step(f"case {name}", functools.partial(_document, case)))
    run.send({"done": len(cases)})
    os._exit(0)  # no thread or atexit handler of the case file's may hold the end


def _document(case: Case) -> bytes:
    """The framed reply holding `case`'s golden document."""
    document = build(case, SCHEMA, ORACLE_VERSION)
    try:
        return _framed({"document": document})
    except ValueError:  # inf or nan: a Decimal past float64's range rounds to inf
        raise Refused("a value overflows float64, and a golden file holds only finite numbers") from None


def _framed(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return FRAME.pack(len(data)) + data


def _execute(source: int, path: str) -> None:
    """Import the case file from its bytes (read from fd `source`) as module ``MODULE``."""
    with os.fdopen(source, "rb") as f:
        code = compile(f.read(), path, "exec", dont_inherit=True)  # dont_inherit: no __future__ of ours
    module = types.ModuleType(MODULE)
    module.__file__ = path
    sys.modules[MODULE] = module  # a dataclass in it looks its module up
    exec(code, module.__dict__)


def _worded(what: str, e: BaseException) -> str:
    """How `what` failed with `e`, in one line: ``case x raised ValueError at my_cases.py:3: …``; a
    failed claim, a case that returned no Result or a refusal in their own words."""
    if isinstance(e, ClaimError | NotAResult):  # their messages name the case
        return first_line(e)
    if isinstance(e, Refused):
        return f"{what}: {e}"
    where, message = PLACES.where(e), first_line(e)
    if isinstance(e, SyntaxError) and e.lineno:  # raised by compile: no frame of the file's own
        where, message = f"{PLACES.prefix(str(e.filename))}{e.lineno}", str(e.msg)
    return f"{what} raised {raised(type(e).__name__, where, message)}"


def anonymous(name: str) -> int:
    """A new file of this process's own that no folder holds, open for reading and writing: in memory
    where Linux has ``memfd_create``, else a temporary file unlinked at once."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create(name)
    with tempfile.TemporaryFile() as f:
        return os.dup(f.fileno())


def _capture() -> int:
    """Put fds 1 and 2 onto an anonymous file (``anonymous``), and return its fd."""
    fd = anonymous("case-file-output")
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    return fd


def _printed(output: int) -> str:
    """The start of what the case file wrote to stdout or stderr so far; empty when nothing."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # closed, or replaced by the file
            stream.flush()
    if os.fstat(output).st_size == 0:
        return ""
    text = os.pread(output, QUOTED * 4, 0).decode("utf-8", "replace")
    return short(text.strip() or text, QUOTED)


if __name__ == "__main__":
    main(sys.argv[1:])
