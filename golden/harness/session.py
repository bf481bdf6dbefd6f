"""One run of one implementation, on one set of options: what validate, tdd, the pytest plugin and each
grading worker call.

``run(impl, options)`` is the run: it opens a ``Session``, carries out a plan (every golden case, then every
property, unless a plan of its own is given: tdd's walk) and returns the ``Verdict``. A ``Session`` holds
the golden set (loaded and verified once, before the implementation starts), the child process (started
once, and again only after it is lost) and the budget: every call must answer within ``timeout`` seconds,
a golden case must end within ``timeout`` and a property within ``PROPERTY_FACTOR × timeout``; after
``MAX_TIMEOUTS_IN_A_ROW`` items in a row time out, the rest are not run. The pytest plugin drives a
Session item by item, as pytest asks, and ends it as ``run`` does.
"""

from __future__ import annotations

import fnmatch
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import TracebackType

import numpy as np

from golden.errors import ImplError, OptionError
from golden.files._case import GoldenCase
from golden.files.store import ROOT, GoldenSet, Sets, open_sets
from golden.harness import _reap as reap
from golden.harness._beside import Beside
from golden.harness._cases import run_case
from golden.harness._conventions import Conventions, resolve
from golden.harness._memo import SHARED
from golden.harness._process import Child, Lost
from golden.harness._proxy import Raised, Remote
from golden.harness._subject import Subject
from golden.options import Options, check_conventions, check_precision
from golden.outcome import Judged, Kind, Outcome, Status, Verdict
from oracle.bounds import PRECISIONS

PROPERTY_FACTOR = 10  # a property runs many examples: its budget is ten times a case's
MAX_TIMEOUTS_IN_A_ROW = 3
MIN_LOAD_TIMEOUT = 10.0  # importing torch or JAX takes seconds on a cold machine


class Session:
    """Runs golden cases and properties on IMPL `spec`, each judged here, as `options` say.

    `spec` names the class (``path/to/file.py:Name``, ``package.module:Name``) or is the class itself,
    sent to the child by value; ``self.spec`` is then its name, ``module:Name``. `golden` is a set loaded
    and verified already (a batch loads it once for every worker, and verifies it once after), else the
    session loads ``options.golden`` itself and ``verdict`` verifies it. The child runs at the isolation
    the options ask for, as job `slot` when `grading`; `expose_folder` and `shown` as for ``Child``.
    With `helper`, the oracle's helper starts before the child when properties are to run (before the
    golden files are read, when the session reads them). With a `seed` (else ``options.seed``) the
    properties draw the examples it gives, the same for every implementation judged the same way, and
    the oracle's values for them are shared by every session of this process with a seed
    (``memo.SHARED``): a batch computes them once per worker, not once per submission.
    """

    def __init__(
        self,
        spec: str | type,
        options: Options | GoldenSet | None = None,
        golden: GoldenSet | Sets | None = None,
        *,
        grading: bool = False,
        slot: int = 0,
        expose_folder: bool = True,
        helper: bool = True,
        seed: int | None = None,
        shown: str | None = None,
    ) -> None:
        if isinstance(options, GoldenSet):  # the signature before the redesign: Session(spec, golden)
            if golden is not None:
                raise TypeError(
                    "Session(spec, golden, timeout, …) is now Session(spec, Options(timeout=…), golden)"
                )
            warnings.warn(
                "Session(spec, golden) is now Session(spec, options, golden); "
                "Session(spec) loads the bundled golden set itself",
                DeprecationWarning,
                stacklevel=2,
            )
            options, golden = None, options
        self.options = options = options or Options()
        self.isolation = options.isolation(grading).for_slot(slot)
        self.child = Child(spec, self.isolation, expose_folder, shown)  # ImplError for a class it cannot send
        self.seed: int | None = seed if seed is not None else getattr(options, "seed", None)
        self.beside = Beside(SHARED if self.seed is not None else None)
        if helper and options.properties and golden is None:
            self.beside.spawn()  # ours: it loads the oracle while the golden files are read
        try:
            self.owns_golden = golden is None
            given = Sets([golden]) if isinstance(golden, GoldenSet) else golden
            self.golden: Sets = given or open_sets(options.sets, options.root or ROOT)
            self.cases = select(self.golden, options)
        except BaseException:
            self.beside.stop()
            raise
        self.beside.wait = min(self.beside.wait, options.timeout)  # a stalled helper costs one call's time
        self.spec, self.timeout = self.child.spec, options.timeout
        self.judged_: Judged | None = None  # known when IMPL first loads
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
        does not: it may start only before any child), and whatever the implementation left running.
        Closing a closed session does nothing more."""
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
            if self.judged_ is None:
                self.judged_ = self._judge(remote)
                if not self.child.alive:  # the probe ended the child: start a fresh one
                    self.child.start(max(self.timeout, MIN_LOAD_TIMEOUT))
            self._remote = remote
        return self._remote

    def _judge(self, remote: Remote) -> Judged:
        """What the implementation is held to: the precision and conventions, each with its source. The
        class's declarations are read first: the precision's probe may end the child, and what it said."""
        options, spell, name = self.options, self.options.front.spell, remote.name
        try:
            declared = check_conventions(self.child.info.get("conventions") or {}, f"{name}.conventions")
        except OptionError as e:
            raise ImplError(f"IMPL {self.spec!r}: {e}") from None
        conventions = resolve(dict(options.conventions), declared, name, spell("conventions"))
        if options.precision is not None:
            return Judged(options.precision, f"declared with {spell('precision')}", conventions)
        precision, source, dtype = choose_precision(remote, self.spec)  # a hung probe is no item
        return Judged(precision, source, conventions, dtype)

    @property
    def judged(self) -> Judged:
        """The precision and conventions in force, and how each was chosen (the seed's before IMPL loads)."""
        return self.judged_ or Judged("float64", "not determined", Conventions())

    def subject(self) -> Subject:
        """The implementation as the judging sees it (loaded now if need be)."""
        remote = self.remote()
        return Subject(remote, self.judged, self.beside)

    def case(self, case: GoldenCase, key: str | None = None) -> Outcome:
        """Run one golden case within `timeout`; `key` names it in the run (``Sets.key``: its name, or
        ``SET/CASE`` among several sets)."""
        key = key or case.name
        outcome = self.item(
            key, Kind.CASE, self.timeout, lambda subject: run_case(subject, case, self.options)
        )
        return replace(outcome, name=key, group=self.golden.group(key))

    def property(self, name: str) -> Outcome:
        """Run one property within PROPERTY_FACTOR × `timeout`."""
        from golden.harness.properties import run_property  # Hypothesis is imported only when needed

        budget, examples, seed = self.timeout * PROPERTY_FACTOR, self.options.examples, self.seed
        return self.item(
            name, Kind.PROPERTY, budget, lambda subject: run_property(subject, name, examples, seed)
        )

    def outcomes(self) -> Iterator[Outcome]:
        """Every selected case, then (unless the options say not) every property, in order."""
        properties = self.options.properties
        self.start(properties)  # IMPL loads in the child while Hypothesis is imported here
        names = _property_names() if properties else []
        for key, case in self.cases.items():
            yield self.case(case, key)
        for name in names:
            yield self.property(name)

    def verdict(self, outcomes: list[Outcome]) -> Verdict:
        """The run's verdict on `outcomes`; the golden set verified again when this session loaded it."""
        changes = self.golden.verify() if self.owns_golden else []
        return Verdict(self.spec, self.golden.version, outcomes, self.judged, self.isolation, changes)

    def item(self, name: str, kind: Kind, budget: float, judge: Callable[[Subject], Outcome]) -> Outcome:
        """Run `judge` on the implementation as one item named `name`, within `budget` seconds: a lost child
        is an ERROR outcome, a timeout counts toward the three in a row, after which nothing more runs."""
        if self.timeouts_in_a_row >= MAX_TIMEOUTS_IN_A_ROW:
            why = f"not run: {self.timeouts_in_a_row} items in a row timed out"
            return Outcome(name, Status.ERROR, kind, message=why)
        try:
            subject = self.subject()
        except ImplError as e:
            if self._remote is None:
                raise  # IMPL never loaded: bad input, not a verdict
            return Outcome(name, Status.ERROR, kind, message=f"could not restart the implementation: {e}")
        remote = subject.remote
        remote.deadline = time.monotonic() + budget
        try:
            outcome = judge(subject)
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
        over = time.monotonic() > remote.deadline
        remote.settle()
        if over and outcome.status is not Status.PASSED and not outcome.timed_out:
            outcome.timed_out = True  # a property cut short by its budget
        self.timeouts_in_a_row = self.timeouts_in_a_row + 1 if outcome.timed_out else 0
        return outcome


Plan = Callable[[Session], list[Outcome]]  # what a run does with its session: tdd's walk is one


def run(
    impl: str | type,
    options: Options | None = None,
    plan: Plan | None = None,
    *,
    golden: GoldenSet | Sets | None = None,
    grading: bool = False,
    slot: int = 0,
    expose_folder: bool = True,
    seed: int | None = None,
    shown: str | None = None,
) -> Verdict:
    """The run: `impl` held to the golden cases and properties as `options` say, judged here.

    Every front end calls this: the CLI and the Python API (every case, then every property), tdd (its
    walk as the `plan`), and each grading worker (with the batch's `golden` set, loaded once, and its
    `seed`). The golden files are loaded and verified before IMPL starts and verified again at the end
    (``Verdict.changes``); the outcomes are judged on the copy read first, in the precision the options
    declare, or the one the class declares, or the one its forward's dtype shows.
    """
    session = Session(
        impl,
        options,
        golden,
        grading=grading,
        slot=slot,
        expose_folder=expose_folder,
        helper=plan is None,
        seed=seed,
        shown=shown,
    )
    with session:
        outcomes = plan(session) if plan is not None else list(session.outcomes())
    return session.verdict(outcomes)


def choose_precision(remote: Remote, spec: str) -> tuple[str, str, str]:
    """The precision to hold the implementation to, how it was chosen, and the dtype forward returned (when
    it was detected from it). A probe that hangs is stopped after one call's timeout; it is no item, and
    does not count toward the three timeouts in a row.

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
        return declared, f"declared by {remote.name}.precision", ""
    activation = remote.activations[0] if remote.activations else "leaky_relu"
    try:
        value = remote.new(1, activation, np.array([0.5]), 0.0, 0.01).call("forward", np.array([[1.0]]))
    except Raised:
        return "float64", "assumed: forward raised on a one-row probe", ""
    except Lost as e:
        ended = "timed out" if e.timed_out else "ended the process"
        return "float64", f"assumed: a one-row probe of forward {ended}", ""
    dtype = value.dtype or (value.items[0].dtype if value.items else None)
    if dtype in PRECISIONS:
        return dtype, f"detected: forward returns {dtype}", dtype
    return "float64", f"assumed: forward returns {dtype or 'no numbers'}", dtype or ""


def select(golden: Sets, options: Options) -> dict[str, GoldenCase]:
    """The cases of `golden` by key whose key or name matches the glob ``options.cases`` (all of them
    without one): ``batch_*`` matches in every set, ``grader/hidden/*`` in one."""
    pattern = options.cases
    if pattern is None:
        return golden.cases
    chosen = {
        key: case
        for key, case in golden.cases.items()
        if fnmatch.fnmatchcase(key, pattern) or fnmatch.fnmatchcase(case.name, pattern)
    }
    if not chosen:
        raise OptionError(
            f"{options.front.spell('cases')} {pattern!r} matches no case of golden {golden.version}; "
            "see `neuron-oracle list`"
        )
    return chosen


def _property_names() -> list[str]:
    from golden.harness.properties import PROPERTIES

    return list(PROPERTIES)
