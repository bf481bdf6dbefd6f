"""pytest plugin: ``pytest --neuron-impl=IMPL`` runs the golden cases and the properties as test items.

One item per golden case (``golden-v1::batch_input_gradients``) and per property
(``properties::forward_is_row_wise``), so ``-k``, ``-x``, ``-n`` (pytest-xdist) and ``--junitxml`` work
as for any test. Items run in one worker process per pytest process (see ``golden.worker``), so a
hanging implementation times out instead of stopping the run. A failure reports the first stage that
diverges, without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from golden.conformance import PASSED, SKIPPED, Outcome
from golden.impl import ImplError
from golden.store import GoldenError, load_case
from golden.validate import DEFAULT_TIMEOUT, PROPERTY_TIMEOUT_FACTOR, select_cases
from golden.worker import CaseJob, Job, PropertyJob, Worker

WORKER = pytest.StashKey[Worker]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("neuron-oracle", "neuron-oracle conformance")
    group.addoption(
        "--neuron-impl", metavar="IMPL", help="package.module:Name or path/to/file.py:Name to validate"
    )
    group.addoption("--neuron-golden", metavar="VERSION", default="v1", help="golden version (default v1)")
    group.addoption("--neuron-cases", metavar="PATTERN", help="only the golden cases matching this glob")
    group.addoption(
        "--neuron-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="per golden case; a property gets ten times this",
    )
    group.addoption("--neuron-examples", type=int, metavar="N", help="Hypothesis examples per property")
    group.addoption("--neuron-no-properties", action="store_true", help="golden cases only")


class ConformanceFailure(Exception):
    """An outcome that did not pass."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


class ConformanceItem(pytest.Item):
    """One golden case or property, run in the worker."""

    def __init__(self, *, job: Job, timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job, self.timeout = job, timeout

    def runtest(self) -> None:
        outcome = self.config.stash[WORKER].run(self.job, self.timeout)
        if outcome.status == SKIPPED:
            pytest.skip(outcome.message)
        if outcome.status != PASSED:
            raise ConformanceFailure(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ConformanceFailure):
            o = excinfo.value.outcome
            return f"{o.name}: {o.status}: {o.message}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.parent.name if self.parent else ''}::{self.name}"


class ConformanceCollector(pytest.Collector):
    """The golden cases, or the properties, of the implementation under test."""

    def __init__(self, *, jobs: list[tuple[str, Job, float]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs = jobs

    def collect(self) -> Iterator[ConformanceItem]:
        for name, job, timeout in self.jobs:
            yield ConformanceItem.from_parent(self, name=name, job=job, timeout=timeout)


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect, so they apply to these items too
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.getoption("neuron_impl"):
        return
    from golden.properties import PROPERTIES

    version, timeout = config.getoption("neuron_golden"), config.getoption("neuron_timeout")
    try:
        docs = [load_case(n, version) for n in select_cases(version, config.getoption("neuron_cases"))]
    except GoldenError as e:
        raise pytest.UsageError(str(e)) from None
    groups: dict[str, list[tuple[str, Job, float]]] = {
        f"golden-{version}": [(d["name"], CaseJob(d), timeout) for d in docs]
    }
    if not config.getoption("neuron_no_properties"):
        examples = config.getoption("neuron_examples")
        groups["properties"] = [
            (name, PropertyJob(name, examples), timeout * PROPERTY_TIMEOUT_FACTOR) for name in PROPERTIES
        ]
    worker = Worker(config.getoption("neuron_impl"))
    try:
        worker.start()  # a bad IMPL is a usage error now, not an error in every item
    except ImplError as e:
        raise pytest.UsageError(str(e)) from None
    config.stash[WORKER] = worker
    for group, jobs in groups.items():
        collector = ConformanceCollector.from_parent(session, name=group, nodeid=group, jobs=jobs)
        items.extend(collector.collect())


def pytest_unconfigure(config: pytest.Config) -> None:
    if WORKER in config.stash:
        config.stash[WORKER].close()
