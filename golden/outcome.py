"""The vocabulary every module shares: a status, the outcome of one check, what the outcomes were judged
in, and the table of stages.

A stage is one value the harness compares, in the seed's order; the case runner checks them in this
order, ``tdd`` teaches them in this order, and reports name them by these names.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from golden.harness._conventions import Conventions
    from golden.harness._sandbox import Isolation


class Status(str, enum.Enum):
    """How a case or property went."""

    PASSED = "passed"
    FAILED = "failed"  # the implementation's answer is wrong
    ERROR = "error"  # it raised, hung, ended its process, or broke the protocol
    SKIPPED = "skipped"  # not applicable (an activation it does not declare) or not run

    def __str__(self) -> str:
        return self.value


class Kind(str, enum.Enum):
    """What was checked."""

    CASE = "case"
    PROPERTY = "property"

    def __str__(self) -> str:
        return self.value


# How many numbers one value of a stage holds (``Stage.size``): one per row of X (m), one per feature (n),
# or a single number.
ROWS, FEATURES, ONE = "rows", "features", "one"


@dataclass(frozen=True)
class Stage:
    """One compared value: its name, the method that produces it, and whether that method is optional.

    ``size`` says how many numbers one value of it holds (``ROWS``, ``FEATURES`` or ``ONE``), or None for
    the two stages that are not one value (``parameters``: w and b read back; ``trajectory``: its steps);
    every stage with a size has a bound in each precision in a golden file of schema 2. ``step`` marks the
    values each step of a trajectory has too, and ``helper`` those the oracle's helper computes for the
    properties (``golden.harness._beside``).
    """

    name: str
    method: str
    optional: bool = False
    size: str | None = None
    step: bool = False
    helper: bool = False


STAGES = (
    Stage("parameters", "the constructor"),
    Stage("z", "linear", optional=True, size=ROWS, helper=True),
    Stage("a", "forward", size=ROWS, helper=True),
    Stage("da_dz", "activation_derivative", optional=True, size=ROWS),
    Stage("J", "loss", optional=True, size=ROWS),
    Stage("dJ_dw", "gradient", size=FEATURES, step=True, helper=True),
    Stage("dJ_db", "gradient", size=ONE, step=True, helper=True),
    Stage("w_new", "update_weights", size=FEATURES, step=True, helper=True),
    Stage("b_new", "update_weights", size=ONE, step=True, helper=True),
    Stage("trajectory", "gradient, then update_weights"),
)
# Each stage by itself, for the modules that name one: ``W_NEW.name``, never the string.
PARAMETERS, Z, A, DA_DZ, J, DJ_DW, DJ_DB, W_NEW, B_NEW, TRAJECTORY = STAGES
STAGE = {s.name: s for s in STAGES}
VALUES = tuple(s for s in STAGES if s.size is not None)  # the stages that are one value each
OPTIONAL_METHODS = tuple(s.method for s in STAGES if s.optional)
REQUIRED_METHODS = ("forward", "gradient", "update_weights")


def step_name(k: int) -> str:
    """The stage name of step `k` (from 1) of a trajectory, as outcomes and messages give it:
    ``trajectory step 3``."""
    return f"{TRAJECTORY.name} step {k}"


def stage_index(name: str) -> int:
    """Where stage `name` comes in the seed's order; ValueError for a name that is no stage of the table."""
    stage = STAGE.get(name)
    if stage is None:
        raise ValueError(f"{name!r} is not a stage; the stages are {', '.join(STAGE)}")
    return STAGES.index(stage)


@dataclass
class Outcome:
    """How one case or property went: its status, the first stage that diverged, and why.

    ``expected`` and ``got`` hold the values of that stage (JSON-ready); ``agreed`` the stages before it
    that agreed; ``not_implemented`` whether the cause was a ``NotImplementedError`` (tdd words it so);
    ``timed_out`` whether the item ran out of time (three in a row end the run); ``ratios`` (golden v2)
    the largest error/bound ratio of each stage checked, so a passing run shows how close it came.
    """

    name: str
    status: Status
    kind: Kind = Kind.CASE
    stage: str | None = None
    message: str = ""
    agreed: list[str] = field(default_factory=list)
    expected: Any = None
    got: Any = None
    not_implemented: bool = False
    timed_out: bool = False
    ratios: dict[str, float] = field(default_factory=dict)  # golden v2: per stage, the largest error/bound
    diagnosis: dict[str, str] | None = None  # {"id", "message"}: the classic mistake the values match
    group: str = ""  # a case's golden set (``v3``, ``grader/hidden``); a property's is empty

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        d = asdict(self)
        d["status"], d["kind"] = self.status.value, self.kind.value
        return d


@dataclass(frozen=True)
class Judged:
    """What a run's outcomes were judged in: the precision and the conventions, each with how it was
    chosen. Renderers word it; nothing reads the words back."""

    precision: str  # float64, float32, float16 or bfloat16
    precision_source: str  # "detected: forward returns float32", "declared with --precision" …
    conventions: Conventions
    forward_dtype: str = ""  # the dtype forward returned when the precision was detected from it

    def precision_text(self) -> str:
        """``float32 (detected: forward returns float32)``."""
        return f"{self.precision} ({self.precision_source})"

    def conventions_text(self) -> str:
        """``derivative_at_zero=one (the seed), loss=half_sum (the seed)``."""
        return self.conventions.describe()

    def as_dict(self) -> dict[str, Any]:
        """The judgement as values with their sources, JSON-ready."""
        sources = dict(self.conventions.sources)
        return {
            "precision": {"value": self.precision, "source": self.precision_source},
            "conventions": {
                key: {"value": value, "source": sources.get(key, "the seed")}
                for key, value in self.conventions.as_dict().items()
            },
        }


@dataclass(frozen=True)
class Verdict:
    """What one run found: the outcomes, in order, and what they were judged in and against.

    ``changes`` lists the toolkit's files that changed on disk while the implementation ran (normally
    none: a non-empty list makes the run an error, whatever the outcomes).
    """

    impl: str  # how IMPL is named: its spec, or module:Name for a class sent by value
    golden: str  # the golden set judged against: a bundled version name
    outcomes: list[Outcome]
    judged: Judged | None = None  # a run's says "not determined" when IMPL never loaded
    isolation: Isolation | None = None  # the sandbox level and limits the implementation ran under
    changes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when something passed and nothing failed or errored (the CLI's exit status 0)."""
        statuses = {o.status for o in self.outcomes}
        return Status.PASSED in statuses and not statuses & {Status.FAILED, Status.ERROR}
