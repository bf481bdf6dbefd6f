"""Step 3 of a property's check (``golden.harness._batch``): Hypothesis shrinks a failure, one round trip
per example, for ``SHRINK_BUDGET`` examples past the first failure at most, and each run is kept
(``_kept.RUNS``) for the next implementation that fails the same way."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from hypothesis.errors import UnsatisfiedAssumption

from golden._text import short
from golden.harness._kept import RUNS, Key, Plan, Recording, Run, Sig, what
from golden.harness._proxy import Remote

FOUND = "neuron_oracle_example"  # the attribute of a failure a batch found: the example, worded


SHRINK_BUDGET = 100  # examples step 3 runs once it has met the failure: Hypothesis shrinks that far at most


class Enough(BaseException):
    """Step 3 ran its SHRINK_BUDGET: shrinking ends at the smallest failure met so far (a BaseException,
    so that Hypothesis lets it through)."""


class Shrinking:
    """Step 3's test: one round trip per request, counting the examples run since the first failure.

    Hypothesis offers no budget for shrinking (only its own five minutes), and its shrinker's work grows
    with the examples it runs: past SHRINK_BUDGET of them, ``live`` raises ``Enough`` and the property
    reports the last failure met, which Hypothesis had shrunk that far. A count, not a time: the same
    implementation and seed end at the same example, on any machine.
    """

    def __init__(self, remote: Remote, plan: Callable[..., Plan]) -> None:
        self.remote, self.plan = remote, plan
        self.last: tuple[Exception, dict[str, Any]] | None = None
        self.since = 0  # examples run since the first failure
        self.tried: list[tuple[bytes, Sig]] = []  # every example run, pickled, and what it gave (_kept)
        self.last_at = 0  # how many examples had run when `last` failed

    def live(self, **example: Any) -> None:
        """Run one example with a round trip per request; ``Enough`` once the budget is spent, raised
        after the plan's start (its draws): an example that stopped drawing short would be, for
        Hypothesis, data generation that changed between runs."""
        if "data" in example:
            example["data"] = Recording(example["data"])
        steps = self.plan(**example)
        try:
            ops = next(steps)
            if self.last is not None:
                if self.since >= SHRINK_BUDGET:
                    raise Enough
                self.since += 1
            while True:
                ops = steps.send(self.remote.send(*ops))
        except StopIteration:
            self.tried.append((pickle.dumps(example), None))
            return
        except Exception as e:  # a rejection (UnsatisfiedAssumption) or a failure
            self.tried.append((pickle.dumps(example), what(e)))
            if not isinstance(e, UnsatisfiedAssumption):
                self.last, self.last_at = (e, dict(example)), len(self.tried)
            raise

    def keep(self, key: Key | None, end: str, error: Exception | None = None) -> None:
        """Keep this run for `key` (``_kept.RUNS``), ended as `end`: one that ``raised`` only when Hypothesis
        reported the failure its last example met, with Hypothesis's notes."""
        if key is None:
            return
        if end == "raised" and (
            self.last is None or self.last[0] is not error or self.last_at != len(self.tried)
        ):
            return
        RUNS.keep(key, Run(self.tried, end, tuple(getattr(error, "__notes__", ()))))

    def smallest(self) -> Exception:
        """The last failure met, its example worded as a batch words one (``FOUND``)."""
        assert self.last is not None
        error, example = self.last
        return found(error, example)


def found(error: Exception, example: dict[str, Any]) -> Exception:
    """`error`, marked as found on `example` (``FOUND``: the example, worded as Hypothesis words one)."""
    setattr(error, FOUND, f"Failing example: {describe(example)}")
    return error


def describe(example: dict[str, Any]) -> str:
    drawn = ", ".join(f"{name}={value!r}" for name, value in example.items() if name != "data")
    return short(f"test({drawn})", 300)
