"""One run of one implementation, on one budget: the planner that validate, tdd and the pytest plugin share.

A ``Session`` holds the golden set (loaded and verified before the implementation starts), the child
process (started on first use, restarted after it is lost), and the budget: every call must answer within
``timeout`` seconds, a golden case must end within ``timeout`` and a property within
``PROPERTY_FACTOR × timeout``; after ``MAX_TIMEOUTS_IN_A_ROW`` items in a row time out, the rest are not
run. ``GoldenSet.verify`` after the run reports any golden file changed on disk while IMPL ran.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from golden.errors import ImplError, OptionError
from golden.files.case import GoldenCase
from golden.files.store import ROOT, GoldenSet, list_cases, load_set
from golden.files.versions import CURRENT
from golden.harness import reap
from golden.harness.beside import Beside
from golden.harness.cases import run_case
from golden.harness.conventions import Conventions, resolve
from golden.harness.conventions import check as check_conventions
from golden.harness.process import Child, Lost
from golden.harness.proxy import Raised, Remote
from golden.harness.sandbox import Isolation
from golden.options import DEFAULT_TIMEOUT, check_budget, check_precision
from golden.outcome import Judged, Kind, Outcome, Status
from oracle.bounds import PRECISIONS

PROPERTY_FACTOR = 10  # a property runs many examples: its budget is ten times a case's
MAX_TIMEOUTS_IN_A_ROW = 3
MIN_LOAD_TIMEOUT = 10.0  # importing torch or JAX takes seconds on a cold machine


class Session:
    """Runs golden cases and properties on IMPL `spec`, each judged here, on one budget.

    `spec` names the class (``path/to/file.py:Name``, ``package.module:Name``) or is the class itself,
    sent to the child by value; ``self.spec`` is then its name, ``module:Name``.
    """

    def __init__(
        self,
        spec: str | type,
        golden: GoldenSet,
        timeout: float = DEFAULT_TIMEOUT,
        examples: int | None = None,
        precision: str | None = None,
        conventions: dict[str, str] | None = None,
        beside: Beside | None = None,
        isolation: Isolation | None = None,
        expose_folder: bool = True,
    ) -> None:
        """`beside` is the oracle's helper, perhaps spawned already (validate spawns it before reading the
        golden files); the session starts one itself, before the child, when properties are to run. The
        child runs at `isolation`'s level (``sandbox``; off by default); `expose_folder` as for ``Child``."""
        check_budget(timeout, examples)
        check_precision(precision)
        self.declared_conventions = check_conventions(conventions or {}, "--convention")
        self.conventions = Conventions()  # resolved with the class's own declaration when IMPL loads
        self.precision = precision  # declared, or detected when IMPL first loads
        self.precision_source = "declared with --precision" if precision else ""
        self.forward_dtype = ""  # the dtype forward returned when the precision was detected from it
        self.isolation = isolation or Isolation(False, "asked for")
        self.child = Child(spec, self.isolation, expose_folder)
        self.beside = beside or Beside()  # started before the child when properties will run
        self.beside.wait = min(self.beside.wait, timeout)  # a stalled helper costs at most one call's time
        self.spec, self.golden, self.timeout, self.examples = self.child.spec, golden, timeout, examples
        self.timeouts_in_a_row = 0
        self._remote: Remote | None = None
        self._spawned = False  # whether a child was ever started: the helper may start only before
        self._adopting = False  # whether this session asked for orphans to be adopted (reap.adopt)

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the implementation's process and the oracle's helper (the child restarts if asked; the helper
        does not: it may start only before any child), and whatever the implementation left running."""
        self.child.stop()
        self.beside.stop()
        if self._adopting:
            self._adopting = False
            reap.release()

    def start(self, properties: bool = True) -> None:
        """Start the implementation's process, and first (when `properties` will run) the oracle's helper."""
        self._before_child(properties)
        self.child.spawn()

    def _before_child(self, properties: bool) -> None:
        """Before any child of this session runs: the helper is up (or never will be), everything the
        judging imports is imported, orphans are adopted, and the toolkit's files are recorded, so that
        any file of ours the implementation writes is found afterwards (``GoldenSet.verify``)."""
        if not self._spawned:
            if properties:
                self.beside.start()
                _property_names()  # Hypothesis and the properties, imported before the child exists
            if not self.beside.running:
                self.beside.stop()
            reap.adopt()
            self._adopting = True
            self.golden.watch_package()
        self._spawned = True

    def remote(self) -> Remote:
        """The implementation, loaded in a running child (started now if need be); ImplError if it can't."""
        if not self.child.alive or self._remote is None:
            self._before_child(False)
            self.child.start(max(self.timeout, MIN_LOAD_TIMEOUT))
            remote = Remote(self.child, self.timeout)
            if self.precision is None:
                self.precision, self.precision_source, hung = choose_precision(remote, self.spec)
                self.forward_dtype = remote.forward_dtype  # kept for the children that follow
                self.timeouts_in_a_row += hung  # a hang in the probe counts toward the three
                if not self.child.alive:  # the probe ended the child: start a fresh one
                    self.child.start(max(self.timeout, MIN_LOAD_TIMEOUT))
            remote.precision, remote.forward_dtype = self.precision, self.forward_dtype
            remote.beside = self.beside
            try:
                declared = check_conventions(
                    self.child.info.get("conventions") or {}, f"{remote.name}.conventions"
                )
            except OptionError as e:
                raise ImplError(f"IMPL {self.spec!r}: {e}") from None
            self.conventions = resolve(self.declared_conventions, declared, remote.name)
            remote.conventions = self.conventions.as_dict()
            self._remote = remote
        return self._remote

    def judged(self) -> Judged:
        """The precision and conventions in force, and how each was chosen."""
        source = self.precision_source or "not determined"
        return Judged(self.precision or "float64", source, self.conventions)

    def case(self, case: GoldenCase) -> Outcome:
        """Run one golden case within `timeout`."""
        return self.item(
            case.name,
            Kind.CASE,
            self.timeout,
            lambda remote: run_case(remote, case, self.precision or "float64", self.conventions),
        )

    def property(self, name: str) -> Outcome:
        """Run one property within PROPERTY_FACTOR × `timeout`."""
        from golden.harness.properties import run_property  # Hypothesis is imported only when needed

        budget = self.timeout * PROPERTY_FACTOR
        return self.item(
            name, Kind.PROPERTY, budget, lambda remote: run_property(remote, name, self.examples)
        )

    def run(self, cases: list[GoldenCase], properties: bool = True) -> Iterator[Outcome]:
        """Every case, then (with `properties`) every property, in order."""
        self.start(properties)  # IMPL loads in the child while Hypothesis is imported here
        names = _property_names() if properties else []
        for case in cases:
            yield self.case(case)
        for name in names:
            yield self.property(name)

    def item(self, name: str, kind: Kind, budget: float, run: Callable[[Remote], Outcome]) -> Outcome:
        """Run `run` on the implementation as one item named `name`, within `budget` seconds: a lost child is
        an ERROR outcome, a timeout counts toward the three in a row, after which nothing more runs."""
        if self.timeouts_in_a_row >= MAX_TIMEOUTS_IN_A_ROW:
            why = f"not run: {self.timeouts_in_a_row} items in a row timed out"
            return Outcome(name, Status.ERROR, kind, message=why)
        try:
            remote = self.remote()
        except ImplError as e:
            if self._remote is None:
                raise  # IMPL never loaded: bad input, not a verdict
            return Outcome(name, Status.ERROR, kind, message=f"could not restart the implementation: {e}")
        remote.deadline = time.monotonic() + budget
        try:
            outcome = run(remote)
        except Lost as e:
            message = e.message
            if e.timed_out:
                limit = (
                    f"after {self.timeout:g} s"
                    if kind is Kind.CASE
                    else f"(a call may take {self.timeout:g} s, the property {budget:g} s)"
                )
                message = f"timed out {limit}; its process was stopped"
            outcome = Outcome(name, Status.ERROR, kind, message=message, timed_out=e.timed_out)
        if (
            time.monotonic() > remote.deadline
            and outcome.status is not Status.PASSED
            and not outcome.timed_out
        ):
            outcome.timed_out = True  # a property cut short by its budget
        self.timeouts_in_a_row = self.timeouts_in_a_row + 1 if outcome.timed_out else 0
        return outcome


def choose_precision(remote: Remote, spec: str) -> tuple[str, str, bool]:
    """The precision to hold the implementation to, how it was chosen, and whether the probe timed out.

    The class's own ``precision`` attribute if it declares one; else the dtype of what forward returns on
    a one-row probe (numpy, torch and JAX dtypes; Python floats and lists count as float64); float64 when
    forward does not answer with numbers.
    """
    declared = remote.child.info.get("precision")
    if declared is not None:
        try:
            check_precision(declared, f"{remote.name}.precision")
        except OptionError as e:
            raise ImplError(f"IMPL {spec!r}: {e}") from None
        return declared, f"declared by {remote.name}.precision", False
    activation = remote.activations[0] if remote.activations else "leaky_relu"
    try:
        value = remote.new(1, activation, np.array([0.5]), 0.0, 0.01).call("forward", np.array([[1.0]]))
    except Raised:
        return "float64", "assumed: forward raised on a one-row probe", False
    except Lost as e:
        ended = "timed out" if e.timed_out else "ended the process"
        return "float64", f"assumed: a one-row probe of forward {ended}", e.timed_out
    dtype = value.dtype or (value.items[0].dtype if value.items else None)
    remote.forward_dtype = dtype or ""
    if dtype in PRECISIONS:
        return dtype, f"detected: forward returns {dtype}", False
    return "float64", f"assumed: forward returns {dtype or 'no numbers'}", False


def select_cases(version: str, pattern: str | None, root: Path = ROOT) -> list[str]:
    """The case names of `version` that match the glob `pattern` (all of them without one)."""
    names = list_cases(version, root)
    if pattern is None:
        return names
    chosen = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if not chosen:
        raise OptionError(
            f"--cases {pattern!r} matches no case of golden {version}; see `neuron-oracle list`"
        )
    return chosen


@dataclass(frozen=True)
class Verdict:
    """What one validation found: the outcomes, the precision they were judged in, and golden changes."""

    impl: str  # how IMPL is named: its spec, or module:Name for a class sent by value
    outcomes: list[Outcome]
    judged: Judged  # the precision and conventions the outcomes were judged in, and why
    changes: list[str]  # golden files changed on disk during the run (normally none)
    isolation: Isolation  # the sandbox level and limits the implementation ran under


def validate(
    spec: str | type,
    version: str = CURRENT,
    pattern: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    properties: bool = True,
    examples: int | None = None,
    root: Path = ROOT,
    precision: str | None = None,
    conventions: dict[str, str] | None = None,
    isolation: Isolation | None = None,
) -> Verdict:
    """Run the golden cases of `version` (those matching `pattern`), then the properties, on IMPL `spec`.

    The golden files are loaded and verified before IMPL starts; the outcomes are judged on that copy, in
    the `precision` declared, or the one the class declares, or the one its forward's dtype shows. IMPL
    runs at `isolation`'s level (off by default).
    """
    beside = Beside()
    if properties:
        beside.spawn()  # ours: it loads the oracle while the golden files are read
    try:
        golden = load_set(version, root, select_cases(version, pattern, root))
        session = Session(
            spec, golden, timeout, examples, precision, conventions, beside, isolation
        )  # checks options
    except BaseException:
        beside.stop()
        raise
    with session:
        outcomes = list(session.run(list(golden.cases.values()), properties))
    return Verdict(session.spec, outcomes, session.judged(), golden.verify(), session.isolation)


def _property_names() -> list[str]:
    from golden.harness.properties import PROPERTIES

    return list(PROPERTIES)
