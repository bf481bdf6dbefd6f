"""``golden.validate`` and ``golden.tdd``: the CLI's two checks, from Python, on a class object.

A class defined in a notebook cell or a REPL has no file to name, so these take the class itself (or a
spec string, as the CLI does). It still runs isolated: cloudpickle sends it by value to the child process,
which only computes, and every verdict is reached here (``golden.harness``). The results are report
objects that render as an HTML report in Jupyter and VS Code (``_repr_html_``: the verdict first, then
the failures) and as the CLI's text elsewhere::

    from golden import tdd, validate

    tdd(MyNeuron)                   # the first red step and what to do next; .green
    report = validate(MyNeuron)     # every golden case, then every property; .ok, .outcomes
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golden import report as text_report
from golden.errors import GoldenChanged
from golden.feedback import redact
from golden.files._versions import CURRENT
from golden.options import DEFAULT_TIMEOUT, FULL, Options
from golden.outcome import Judged, Outcome, Verdict

if TYPE_CHECKING:
    from golden.harness._sandbox import Isolation
    from golden.learn._tdd import Walked


@dataclass(frozen=True, repr=False)
class ValidationReport:
    """What ``validate`` found: its ``verdict``, the ``outcomes`` (one per case and property, in order)
    and whether it is ``ok``.

    ``str(report)`` is the CLI's text report; in a notebook it renders as HTML (``html_table``).
    ``json()`` and ``junit()`` give the CLI's other formats.
    """

    verdict: Verdict

    @property
    def impl(self) -> str:
        """How IMPL was named: its spec, or ``module:Name`` for a class sent by value."""
        return self.verdict.impl

    @property
    def golden(self) -> str:
        """The golden set judged against."""
        return self.verdict.golden

    @property
    def judged(self) -> Judged | None:
        """The precision and conventions the outcomes were judged in, and why."""
        return self.verdict.judged

    @property
    def isolation(self) -> Isolation | None:
        """The sandbox level and limits the implementation ran under."""
        return self.verdict.isolation

    @property
    def outcomes(self) -> list[Outcome]:
        """One outcome per case and property, in order."""
        return self.verdict.outcomes

    @property
    def ok(self) -> bool:
        """True when something passed and nothing failed or errored (the CLI's exit status 0)."""
        return self.verdict.ok

    def __str__(self) -> str:
        return text_report.text(self.verdict)

    __repr__ = __str__

    def json(self) -> str:
        """The report as JSON, as ``neuron-oracle validate --format json`` prints it."""
        return text_report.as_json(self.verdict)

    def junit(self) -> str:
        """The report as JUnit XML, as ``--format junit`` prints it."""
        return text_report.junit(self.verdict)

    def _repr_html_(self) -> str:
        return html_table(self.verdict)


@dataclass(frozen=True, repr=False)
class TddReport:
    """What ``tdd`` found (``walked``, as data): the ``screen`` the CLI prints, and whether every step and
    property is ``green``; in a notebook it renders as HTML, RED and GREEN coloured."""

    walked: Walked

    @property
    def screen(self) -> str:
        """The screen ``neuron-oracle tdd`` prints."""
        return self.walked.screen

    @property
    def green(self) -> bool:
        """Whether every step, golden case and property is green."""
        return self.walked.green

    def __str__(self) -> str:
        return self.screen

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from golden._html import walk_page

        return walk_page(self.walked)


def validate(
    impl: type | str,
    *,
    golden: str | tuple[str, ...] = CURRENT,
    cases: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    properties: bool = True,
    examples: int | None = None,
    seed: int | None = None,
    precision: str | None = None,
    conventions: dict[str, str] | None = None,
    activations: tuple[str, ...] | str = (),
    root: Path | None = None,
    sandbox: str = "auto",
    max_memory: str | int | None = None,
    feedback: str = FULL,
) -> ValidationReport:
    """Hold `impl` to the golden cases, then the property suite, as ``neuron-oracle validate`` does.

    Parameters
    ----------
    impl
        The class (defined anywhere, a notebook cell included), or a spec such as ``"my_neuron.py:Neuron"``.
    golden
        The golden set (``--golden``): a bundled version's name or the folder of a set of yours; or
        several, as a tuple, each a group of its own in the report.
    cases, timeout, properties, examples
        As ``--cases`` (a glob of case names), ``--timeout`` (seconds a call and a case may take; a
        property gets ten times this), ``--no-properties`` (``False``) and ``--examples`` (Hypothesis
        examples per property).
    seed
        As ``--seed``: the properties' examples; one seed, the same examples on every run.
    precision, conventions
        As ``--precision`` and ``--convention`` (by name): by default those the class declares, else
        forward's dtype and the seed's conventions.
    activations
        As ``--activations``: those the assignment requires (``("leaky_relu", "sigmoid")``, or
        ``"leaky_relu,sigmoid"``); a case of one the class does not declare fails instead of being skipped.
    root
        The folder that holds the golden versions.
    sandbox, max_memory
        As ``--sandbox`` (auto is off here: this is no batch) and ``--max-memory`` (``"4G"``).
    feedback
        How much the report says (``--feedback``): full, stage or score (``golden.feedback``).

    Returns
    -------
    ValidationReport
        The outcomes, as `feedback` lets them be said in every form; ``.ok`` is the verdict.

    Raises
    ------
    ImplError
        `impl` cannot be sent to its process, loaded, or does not follow the protocol.
    OptionError, GoldenError
        An option out of range; a golden file that is malformed, or changed on disk during the run.
    """
    from golden.harness.session import run

    given: dict[str, Any] = dict(golden=golden, cases=cases, timeout=timeout, properties=properties)
    given |= dict(examples=examples, precision=precision, conventions=conventions, root=root)
    given |= dict(activations=activations, seed=seed)
    options = Options.from_kwargs(**given, sandbox=sandbox, max_memory=max_memory, feedback=feedback)
    verdict = run(impl, options)
    if verdict.changes:
        raise GoldenChanged.of(verdict.changes)
    return ValidationReport(redact(verdict, options.feedback))


def tdd(
    impl: type | str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    examples: int | None = None,
    golden: str | tuple[str, ...] = CURRENT,
    precision: str | None = None,
    conventions: dict[str, str] | None = None,
    root: Path | None = None,
    sandbox: str = "auto",
    max_memory: str | int | None = None,
) -> TddReport:
    """Walk the seed's curriculum on `impl` and stop at the first red step, as ``neuron-oracle tdd`` does.

    Parameters
    ----------
    impl
        The class, or a spec such as ``"my_neuron.py:Neuron"``.
    timeout
        Seconds each call and each case may take (``--timeout``).
    examples
        Hypothesis examples per property, once every step is green (``--examples``).
    golden
        The golden version (``--golden``).
    precision, conventions
        As for ``validate`` (``--precision``, ``--convention``).
    root
        The folder that holds the golden versions.
    sandbox, max_memory
        As for ``validate``.

    Returns
    -------
    TddReport
        The screen, saying what to do next (run ``tdd(...)`` again), and ``.green``.
    """
    from golden.learn._tdd import run_tdd

    options = Options.from_kwargs(
        timeout=timeout,
        examples=examples,
        golden=golden,
        precision=precision,
        conventions=conventions,
        root=root,
        sandbox=sandbox,
        max_memory=max_memory,
    )
    again = f"tdd({impl.__name__})" if isinstance(impl, type) else f"tdd({impl!r})"
    return TddReport(run_tdd(impl, options, again))


def html_table(verdict: Verdict) -> str:
    """The HTML report of `verdict`, as a notebook shows it (``golden._html.verdict_page``): the verdict
    and counts, then failures with their diagnosis, then passes and skips collapsed; every text escaped."""
    from golden._html import verdict_page

    return verdict_page(verdict)
