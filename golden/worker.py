"""Run an implementation's cases in a child process, so a hang or a crash costs one case, not the run.

The child loads IMPL itself (the parent never imports user code), answers one job at a time, and is
killed when a job outlasts its timeout; the next job gets a fresh child. The implementation's prints go
to stderr, so they cannot corrupt a JSON or JUnit report on stdout.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from golden.conformance import ERROR, Outcome
from golden.impl import ImplError

STARTUP_TIMEOUT = 60.0


@dataclass(frozen=True)
class CaseJob:
    """Run one golden case."""

    doc: dict[str, Any]

    @property
    def name(self) -> str:
        """The case's name."""
        return str(self.doc["name"])

    def run(self, impl: type) -> Outcome:
        """Run it in this process."""
        from golden.conformance import run_case

        return run_case(impl, self.doc)


@dataclass(frozen=True)
class PropertyJob:
    """Run one Hypothesis property of the suite."""

    name: str
    max_examples: int | None = None

    def run(self, impl: type) -> Outcome:
        """Run it in this process."""
        from golden.properties import run_property

        return run_property(impl, self.name, self.max_examples)


Job = CaseJob | PropertyJob


class Worker:
    """A child process that loads IMPL once and runs jobs, restarted after a timeout or a crash."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._process: Any = None
        self._conn: Connection | None = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, job: Job, timeout: float) -> Outcome:
        """Run `job` in the child; a timeout or a dead child is an error outcome, never a hang."""
        conn = self.start()
        kind = "case" if isinstance(job, CaseJob) else "property"
        conn.send(job)
        if not conn.poll(timeout):
            self._kill()
            return Outcome(
                job.name, ERROR, message=f"timed out after {timeout:g} s; its process was stopped", kind=kind
            )
        try:
            outcome: Outcome = conn.recv()
        except (EOFError, OSError):
            code = self._kill()
            return Outcome(
                job.name, ERROR, message=f"the implementation ended its process (exit code {code})", kind=kind
            )
        return outcome

    def close(self) -> None:
        """Stop the child, politely first."""
        if self._conn is not None and self._process is not None:
            with contextlib.suppress(OSError):  # the child may already be gone
                self._conn.send(None)
                self._process.join(timeout=5)
        self._kill()

    def start(self) -> Connection:
        """Start the child and load IMPL in it, if not done yet; a bad IMPL is an ImplError."""
        if self._conn is not None:
            return self._conn
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(self.spec, child), daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(STARTUP_TIMEOUT):
            self._kill()
            raise ImplError(f"IMPL {self.spec!r}: loading did not finish within {STARTUP_TIMEOUT:g} s")
        try:
            status, detail = parent.recv()
        except (EOFError, OSError):
            code = self._kill()
            raise ImplError(f"IMPL {self.spec!r}: loading ended its process (exit code {code})") from None
        if status != "ready":
            self._kill()
            raise ImplError(detail)
        return parent

    def _kill(self) -> int | None:
        code = None
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join()
            code = self._process.exitcode
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None
        return code


def _serve(spec: str, conn: Connection) -> None:
    """The child: load IMPL, then answer jobs until told to stop."""
    os.dup2(2, 1)  # the implementation's prints go to stderr, even from C
    sys.stdout = sys.stderr
    from golden.impl import load_impl

    try:
        impl = load_impl(spec)
    except ImplError as e:
        conn.send(("error", str(e)))
        return
    conn.send(("ready", None))
    while (job := conn.recv()) is not None:
        conn.send(job.run(impl))
