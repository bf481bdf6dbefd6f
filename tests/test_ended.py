"""Under a seed, an example given the very replies that made it pass before ends there without being
judged again (``golden.harness._kept.ENDED``); any other reply is judged, and no failure is ever kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import test_seed as t
from broken_neurons import Textbook

from golden.harness import _kept as kept
from golden.harness import properties
from golden.outcome import Status

ROW_WISE = "forward_is_row_wise"  # judges each example with one call of `worst`
SMALL_STEP = "small_step_does_not_increase_the_loss"  # its plan's start rejects a row at the kink


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    t.forget()
    yield
    t.forget()


@pytest.fixture
def judging(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times forward_is_row_wise has compared an example's answers (one entry each)."""
    calls: list[int] = []
    worst = properties.worst

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return worst(*args, **kwargs)

    monkeypatch.setattr(properties, "worst", counted)
    return calls


class ForwardAsList(Textbook):
    """Correct, but forward returns a list: the same numbers, other bytes on the wire."""

    def forward(self, X: Any) -> Any:
        return np.asarray(super().forward(X)).tolist()


def test_the_same_replies_again_are_not_judged_again(judging: list[int]) -> None:
    assert t.judged(t.CORRECT, ROW_WISE, seed=2).status is Status.PASSED
    first = len(judging)
    assert first > 0
    assert t.judged(t.CORRECT, ROW_WISE, seed=2).status is Status.PASSED
    assert len(judging) == first  # every example ended where its replies had ended before


def test_examples_rejected_before_any_request_leave_the_others_in_their_places(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rejected: list[int] = []
    reject_unless = properties.reject_unless

    def counted(condition: Any) -> None:
        rejected.append(not condition)
        reject_unless(condition)

    monkeypatch.setattr(properties, "reject_unless", counted)
    losses: list[int] = []
    loss_bound = properties.loss_bound

    def judging(*args: Any) -> Any:
        losses.append(1)
        return loss_bound(*args)

    monkeypatch.setattr(properties, "loss_bound", judging)
    assert t.judged(t.CORRECT, SMALL_STEP, seed=3, examples=60).status is Status.PASSED
    assert any(rejected) and losses  # some examples were drawn and rejected before the ones judged
    losses.clear()
    assert t.judged(t.CORRECT, SMALL_STEP, seed=3, examples=60).status is Status.PASSED
    assert not losses  # every example judged before ended where its replies had ended


def test_other_replies_to_the_same_examples_are_judged(judging: list[int], tmp_path: Any) -> None:
    assert t.judged(t.CORRECT, ROW_WISE, seed=2).status is Status.PASSED
    first = len(judging)
    module = tmp_path / "as_list.py"
    module.write_text(
        f"import sys\nsys.path.insert(0, {str(t.REPO / 'tests')!r})\n"
        "from test_ended import ForwardAsList as Neuron\n"
    )
    assert t.judged(f"{module}:Neuron", ROW_WISE, seed=2).status is Status.PASSED
    assert len(judging) == 2 * first  # judged afresh, example by example


def test_a_failure_is_judged_every_time_and_never_kept() -> None:
    assert t.judged(t.CORRECT, t.SPLIT, seed=5).status is Status.PASSED
    first, again = (t.judged(t.MEAN, t.SPLIT, seed=5) for _ in range(2))
    assert first.status is again.status is Status.FAILED
    assert again.message == first.message
    assert set(kept.ENDED._ends.values()) <= {kept.PASSED, kept.REJECTED}


def test_nothing_is_kept_for_examples_drawn_without_a_fixed_seed() -> None:
    ended = kept.Ended()
    ended.keep(None, 0, b"trail", kept.PASSED)
    assert ended.get(None, 0, b"trail") is None
    assert not ended._ends


def test_the_least_recently_used_end_goes_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kept.Ended, "LIMIT", 2)
    ended = kept.Ended()
    ended.keep(("k",), 0, b"a", kept.PASSED)
    ended.keep(("k",), 1, b"b", kept.REJECTED)
    assert ended.get(("k",), 0, b"a") == kept.PASSED  # used: the other is now the oldest
    ended.keep(("k",), 2, b"c", kept.PASSED)
    assert ended.get(("k",), 1, b"b") is None
    assert ended.get(("k",), 0, b"a") == kept.PASSED


def test_a_trail_names_its_replies_in_order() -> None:
    a, b = b'{"results":[1]}', b'{"results":[2]}'
    first = kept.trail(kept.NO_TRAIL, a)
    assert kept.trail(first, b) != kept.trail(kept.trail(kept.NO_TRAIL, b), a)
    assert first != kept.trail(kept.NO_TRAIL, b)
    assert kept.trail(first, b) != kept.trail(kept.NO_TRAIL, first + b)  # not a reply that runs them together
