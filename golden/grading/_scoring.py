"""What a grade is worth: the weights file, and each IMPL's score over the items planned.

An item (a golden case or a property) is worth one point unless the weights say otherwise, and earns its
points only when it passed. An item skipped (not applicable to this implementation: a case of an
activation it does not declare and need not, since ``--activations`` does not require it) is left out of
the score and of ``max_score``, so that a correct submission gets full marks, unless the weights file
names it with points above 0: it then counts, and earns nothing. An item weighted 0 is always left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from golden import report
from golden._text import short
from golden.errors import OptionError
from golden.outcome import Outcome, Status

MAX_WEIGHTS = 1 << 20  # bytes of a weights file: a name and a number per case and property


def load_weights(path: str, known: Sequence[str]) -> dict[str, float]:
    """Points per item from `path`, a JSON object mapping case and property names to numbers >= 0.

    Read as golden files are (a regular file of at most MAX_WEIGHTS bytes, parsed strictly, its nesting
    and size bounded), and the points must add up to a finite number. OptionError naming the file and the
    entry for anything else (a missing file, bad JSON, an unknown name, a negative or non-numeric value).
    """
    from golden.errors import GoldenError
    from golden.files.store import parse, read_regular

    where = f"--weights {path}"
    try:
        data = parse(read_regular(Path(path), MAX_WEIGHTS, "a weights file"), Path(path), "a weights file")
    except GoldenError as e:
        raise OptionError(f"--weights {e}") from None
    if not isinstance(data, dict):
        raise OptionError(
            f"{where}: expected an object mapping case and property names to points, "
            f"got {type(data).__name__}"
        )
    weights: dict[str, float] = {}
    for name, points in data.items():
        if name not in known:
            raise OptionError(
                f"{where}: {short(name, 80)!r} is not a golden case or property; "
                "see `neuron-oracle list` and the properties of `neuron-oracle validate`"
            )
        if isinstance(points, bool) or not isinstance(points, int | float) or not math.isfinite(points):
            raise OptionError(f"{where}: {name!r} is {short(repr(points), 40)}; expected a number of points")
        if points < 0:
            raise OptionError(f"{where}: {name!r} is {points!r}; expected a number of points >= 0")
        weights[name] = float(points)
    if not math.isfinite(sum(weights.values())):
        raise OptionError(f"{where}: the points add up to more than a float can hold; use smaller numbers")
    return weights


@dataclass
class Graded:
    """One IMPL's run: its outcomes, or why it was not graded (``error``), and its score.

    ``groups`` maps each case planned to its golden set (a property is in none), so that a grade is
    split by set even for an IMPL that ran nothing.
    """

    impl: str
    items: list[str]  # every case and property planned, in order, loaded or not
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None  # why nothing was graded: the load error, or its grading process ended
    loaded: bool = True  # False: IMPL could not be loaded
    weights: dict[str, float] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # a case's name → its golden set
    seconds: float | None = None  # how long its run took (wall time), when it ran

    @property
    def ok(self) -> bool:
        """Loaded, something passed, and nothing failed or errored."""
        return self.error is None and report.ok(self.outcomes)

    def points(self, name: str) -> float:
        """What item `name` is worth."""
        return self.weights.get(name, 1.0)

    def counts(self, name: str) -> bool:
        """Whether item `name` is in the grade: worth more than 0, and not skipped unless the weights name
        it (an item not graded at all, as when IMPL did not load, counts: it was not found inapplicable)."""
        if self.points(name) == 0:
            return False
        return name in self.weights or self.outcome(name).status is not Status.SKIPPED

    @property
    def counted(self) -> list[str]:
        """The items in the grade (``counts``), in order."""
        return [n for n in self.items if self.counts(n)]

    def outcome(self, name: str) -> Outcome:
        """How item `name` went (an error saying why, when nothing was graded)."""
        for o in self.outcomes:
            if o.name == name:
                return o
        return Outcome(name, Status.ERROR, message=self.error or "not run")

    @property
    def score(self) -> float:
        """The points of the items that passed."""
        passed = {o.name for o in self.outcomes if o.status is Status.PASSED}
        return round(float(sum(self.points(n) for n in self.counted if n in passed)), 6)

    @property
    def max_score(self) -> float:
        """The points of every item in the grade (``counts``): a skipped one not named by the weights is
        left out."""
        return round(float(sum(self.points(n) for n in self.counted)), 6)

    def group(self, name: str) -> str:
        """The golden set of item `name`: ``""`` for a property."""
        return self.groups.get(name, "")

    def split(self, group: str) -> tuple[float, float]:
        """The points earned and the points in the grade of the items of set `group`."""
        mine = [n for n in self.counted if self.group(n) == group]
        passed = {o.name for o in self.outcomes if o.status is Status.PASSED}
        earned = sum(self.points(n) for n in mine if n in passed)
        return round(float(earned), 6), round(float(sum(self.points(n) for n in mine)), 6)

    def first_failure(self) -> Outcome | None:
        """The first case or property, in run order, that failed or errored."""
        return next((o for o in self.outcomes if o.status in (Status.FAILED, Status.ERROR)), None)
