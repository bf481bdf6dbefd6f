"""Validate an implementation: every golden case, then the property suite, each in the worker process."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path

from golden.conformance import ERROR, SKIPPED, Outcome
from golden.store import ROOT, GoldenError, list_cases, load_case
from golden.worker import CaseJob, PropertyJob, Worker

DEFAULT_TIMEOUT = 5.0
PROPERTY_TIMEOUT_FACTOR = 10  # a property runs many examples: it gets ten times a case's timeout
MAX_TIMEOUTS_IN_A_ROW = 3


def select_cases(version: str, pattern: str | None, root: Path = ROOT) -> list[str]:
    """The case names of `version` that match the glob `pattern` (all of them without one)."""
    names = list_cases(version, root)
    if pattern is None:
        return names
    chosen = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if not chosen:
        raise GoldenError(
            f"--cases {pattern!r} matches no case of golden {version}; see `neuron-oracle list`"
        )
    return chosen


def validate(
    spec: str,
    version: str = "v1",
    pattern: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    properties: bool = True,
    examples: int | None = None,
    root: Path = ROOT,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run the golden cases of `version` (those matching `pattern`), then the properties, on IMPL `spec`.

    The golden files are loaded (schema- and hash-checked) before IMPL is. After three timeouts in a
    row the remaining cases are reported as not run, and the properties are skipped after any timeout,
    so an implementation that hangs costs seconds, not the run.
    """
    from golden.properties import PROPERTIES

    docs = [load_case(name, version, root) for name in select_cases(version, pattern, root)]
    outcomes: list[Outcome] = []

    def record(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    timeouts = 0
    with Worker(spec) as worker:
        for doc in docs:
            if timeouts >= MAX_TIMEOUTS_IN_A_ROW:
                record(Outcome(doc["name"], ERROR, message=f"not run: {timeouts} cases in a row timed out"))
                continue
            outcome = worker.run(CaseJob(doc), timeout)
            timeouts = timeouts + 1 if outcome.message.startswith("timed out") else 0
            record(outcome)
        if not properties:
            return outcomes
        hung = any(o.message.startswith(("timed out", "not run")) for o in outcomes)
        for name in PROPERTIES:
            if hung:
                record(
                    Outcome(
                        name,
                        SKIPPED,
                        message="the implementation timed out on a golden case",
                        kind="property",
                    )
                )
            else:
                record(worker.run(PropertyJob(name, examples), timeout * PROPERTY_TIMEOUT_FACTOR))
    return outcomes
