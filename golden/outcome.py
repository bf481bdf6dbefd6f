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
    from golden.harness.conventions import Conventions


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


@dataclass(frozen=True)
class Stage:
    """One compared value: its name, the method that produces it, and whether that method is optional."""

    name: str
    method: str
    optional: bool = False


STAGES = (
    Stage("parameters", "the constructor"),
    Stage("z", "linear", optional=True),
    Stage("a", "forward"),
    Stage("da_dz", "activation_derivative", optional=True),
    Stage("J", "loss", optional=True),
    Stage("dJ_dw", "gradient"),
    Stage("dJ_db", "gradient"),
    Stage("w_new", "update_weights"),
    Stage("b_new", "update_weights"),
    Stage("trajectory", "gradient, then update_weights"),
)
STAGE = {s.name: s for s in STAGES}
OPTIONAL_METHODS = tuple(s.method for s in STAGES if s.optional)
REQUIRED_METHODS = ("forward", "gradient", "update_weights")


def stage_index(name: str) -> int:
    """Where stage `name` comes in the seed's order (``trajectory step 3`` counts as ``trajectory``)."""
    return [s.name for s in STAGES].index("trajectory" if name.startswith("trajectory") else name)


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

    def precision_text(self) -> str:
        """``float32 (detected: forward returns float32)``."""
        return f"{self.precision} ({self.precision_source})"

    def conventions_text(self) -> str:
        """``derivative_at_zero=one (the seed), loss=half_sum (the seed)``."""
        return self.conventions.describe()
