"""pytest plugin: ``pytest --neuron-impl=IMPL`` runs the golden cases and the properties as test items.

One item per golden case (``golden-v1::batch_input_gradients``; a group per golden set, so
``--neuron-golden v3 --neuron-golden grader/hidden`` gives ``golden-grader/hidden::…`` too) and per property
(``properties::forward_is_row_wise``), so ``-k``, ``-x``, ``-n`` (pytest-xdist) and ``--junitxml`` work
as for any test. A thin shell over ``golden.harness.session``: each pytest process holds one Session,
which runs the implementation in a child process, judges here, restarts a lost child, and ends the run
after three timeouts in a row, as ``neuron-oracle validate`` does. The items are collected as the
session's children, beside the folders pytest collects, so its header counts them (``collected 33 items /
25 deselected / 8 selected``) and ``--collect-only`` lists them. A failure reports the first stage that
diverges, without a traceback, and the ``likely: …`` line of the text report when a classic mistake
explains it, saying only what ``--neuron-feedback`` lets it (``golden.feedback``: full, stage, score); a
golden file changed on disk during the run fails the session.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from golden.errors import OracleError
from golden.feedback import redact
from golden.files._versions import CURRENT
from golden.harness.properties import PROPERTIES
from golden.harness.session import Session
from golden.options import DEFAULT_TIMEOUT, FEEDBACK, FULL, Options
from golden.outcome import Outcome, Status
from golden.report import likely

SESSION = pytest.StashKey[Session]()
OUTCOMES = pytest.StashKey[list[Outcome]]()  # what the items found, in the order they ran: the verdict's


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("neuron-oracle", "neuron-oracle conformance")
    group.addoption(
        "--neuron-impl", metavar="IMPL", help="package.module:Name or path/to/file.py:Name to validate"
    )
    group.addoption(
        "--neuron-golden",
        action="append",
        metavar="SET",
        help=f"a golden set: a bundled version or a folder of your own (default {CURRENT}); repeatable",
    )
    group.addoption("--neuron-cases", metavar="PATTERN", help="only the golden cases matching this glob")
    group.addoption("--neuron-root", help=argparse.SUPPRESS)  # another golden folder, for tests
    group.addoption(
        "--neuron-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="per call and per golden case, at most a day; a property gets ten times this",
    )
    group.addoption(
        "--neuron-examples", type=int, metavar="N", help="Hypothesis examples per property (1 to 100,000)"
    )
    group.addoption(
        "--neuron-seed",
        type=int,
        metavar="N",
        help="the properties' examples: the same seed, the same examples",
    )
    group.addoption("--neuron-no-properties", action="store_true", help="golden cases only")
    group.addoption(
        "--neuron-convention",
        action="append",
        metavar="KEY=VALUE",
        help="derivative_at_zero=one|alpha|midpoint or loss=half_sum|sum|mean|half_mean (repeatable)",
    )
    group.addoption(
        "--neuron-sandbox",
        default="auto",
        metavar="LEVEL",
        help="auto, on or off: run the implementation in a sandbox (auto: off, since this is no batch)",
    )
    group.addoption("--neuron-max-memory", metavar="SIZE", help="the data its process may use, e.g. 4G")
    group.addoption(
        "--neuron-feedback",
        metavar="LEVEL",
        help=f"{', '.join(FEEDBACK)}: how much a failure says; stage: the case, the stage and the mistake, "
        f"never a value; score: passed or failed (default {FULL})",
    )
    group.addoption(
        "--neuron-precision",
        metavar="PRECISION",
        help="judge in float64, float32, float16 or bfloat16 (default: the class's, else forward's dtype)",
    )
    group.addoption(
        "--neuron-activations",
        metavar="NAMES",
        help="the activations required, e.g. leaky_relu,sigmoid: a case of one the class does not declare "
        "fails, not skipped (default: only leaky_relu)",
    )


class ConformanceFailure(Exception):
    """An outcome that did not pass."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


class ConformanceItem(pytest.Item):
    """One golden case or property, run through the session."""

    def __init__(self, *, property_name: str | None = None, key: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.property_name, self.key = property_name, key or kwargs["name"]

    def runtest(self) -> None:
        session = self.config.stash[SESSION]
        if self.property_name is None:
            outcome = session.case(session.golden.cases[self.key], self.key)
        else:
            outcome = session.property(self.property_name)
        self.config.stash[OUTCOMES].append(outcome)
        outcome = redact(outcome, self.config.stash[OPTIONS].feedback)  # what the report may say of it
        if outcome.status is Status.SKIPPED:
            pytest.skip(outcome.message)
        if outcome.status is not Status.PASSED:
            raise ConformanceFailure(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ConformanceFailure):
            o = excinfo.value.outcome
            why = likely(o)
            said = f"{o.name}: {o.status.value}" + (f": {o.message}" if o.message else "")
            return said + (f"\n{why}" if why else "")
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.parent.name if self.parent else ''}::{self.name}"


class ConformanceCollector(pytest.Collector):
    """The golden cases, or the properties, of the implementation under test."""

    def __init__(self, *, names: dict[str, str], properties: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.names, self.properties = names, properties  # item name → a case's key, or a property's name

    def collect(self) -> Iterator[ConformanceItem]:
        for name, key in self.names.items():
            extra = {"property_name": key} if self.properties else {"key": key}
            yield ConformanceItem.from_parent(self, name=name, **extra)


OPTIONS = pytest.StashKey[Options]()


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("neuron_impl"):
        return
    try:
        options = Options.from_pytest(config)
        options.isolation(grading=False)  # a sandbox that cannot be had is a usage error now
    except OracleError as e:
        raise pytest.UsageError(str(e)) from None
    config.stash[OPTIONS] = options


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """The session's children: what pytest collected there, then the golden cases and the properties.

    Collected where pytest collects, the items are counted in its header, listed by ``--collect-only``,
    and ``-k``, ``-m`` and ``--deselect`` apply to them as to any. Only a process that collects gets here:
    not xdist's controller, whose workers each start a Session of their own.
    """
    report = yield
    if isinstance(collector, pytest.Session) and OPTIONS in collector.config.stash and report.passed:
        report.result.extend(_groups(collector))
    return report


def _groups(session: pytest.Session) -> list[ConformanceCollector]:
    """Start the Session (a bad IMPL is a usage error now, not an error in every item) and return a
    collector for its golden cases, and one for the properties unless they are left out."""
    config = session.config
    options = config.stash[OPTIONS]
    try:
        runner = Session(config.getoption("neuron_impl"), options)
    except OracleError as e:
        raise pytest.UsageError(str(e)) from None
    try:
        runner.start(properties=options.properties)  # the oracle's helper first
        runner.remote()
    except OracleError as e:
        runner.close()  # its helper and child, started already
        raise pytest.UsageError(str(e)) from None
    config.stash[SESSION] = runner
    config.stash[OUTCOMES] = []
    groups: dict[str, tuple[dict[str, str], bool]] = {}
    for key, case in runner.cases.items():  # a group per golden set, its items named as its cases
        group = f"golden-{runner.golden.group(key)}"
        groups.setdefault(group, ({}, False))[0][case.name] = key
    if options.properties:
        groups["properties"] = ({name: name for name in PROPERTIES}, True)
    return [
        ConformanceCollector.from_parent(
            session, name=group, nodeid=group, names=names, properties=properties
        )
        for group, (names, properties) in groups.items()
    ]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if SESSION not in config.stash:
        return
    runner = config.stash[SESSION]
    runner.close()
    verdict = runner.verdict(config.stash[OUTCOMES])  # as session.run ends: the golden set verified again
    problems = []
    if verdict.changes:
        problems.append(f"golden files changed on disk during the run: {'; '.join(verdict.changes)}")
    worker = hasattr(config, "workerinput")  # under xdist each worker sees only its share of the items
    ran = bool(verdict.outcomes)  # not under --collect-only, nor when -k deselected every item of ours
    passed = any(o.status is Status.PASSED for o in verdict.outcomes)
    if exitstatus == pytest.ExitCode.OK and ran and not passed and not worker:
        problems.append("nothing checked: every golden case and property was skipped")
    if problems:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        for problem in problems:
            if reporter is not None:
                reporter.write_line(f"neuron-oracle: {problem}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    if SESSION in config.stash:  # a run that ended before sessionfinish (an error in collection, say)
        config.stash[SESSION].close()
