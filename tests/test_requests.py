"""Under a seed, each request of an example is kept as the bytes sent (``golden.harness._kept.REQUESTS``),
by its place and the replies before it, and a later implementation that gives the same replies is sent
those bytes without the example's plan being started; a reply that neither ends the example nor has a
request kept after it starts the plan on the replies so far, which must make the very calls sent."""

from __future__ import annotations

from typing import Any

import pytest
import test_seed as t
from test_ended import fresh  # noqa: F401  (autouse: nothing kept from one test for the next)

from golden.harness import _kept as kept
from golden.harness import _problems
from golden.harness._proxy import Remote
from golden.harness.session import Session
from golden.options import Options
from golden.outcome import Status

ROW_WISE = "forward_is_row_wise"  # one round: every example ends at its first reply
SMALL_STEP = "small_step_does_not_increase_the_loss"


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many instances the plans have asked for (one entry each): a started plan asks for one."""
    made: list[int] = []
    neuron = _problems.Problem.neuron

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return neuron(self, *args, **kwargs)

    monkeypatch.setattr(_problems.Problem, "neuron", counted)
    return made


def requests() -> dict[Any, bytes]:
    """The requests kept, by property, place and the replies before them."""
    return {(key[1], at, trail): data for (key, at, trail), data in kept.REQUESTS._sent.items()}


@pytest.mark.parametrize("prop", [ROW_WISE, SMALL_STEP])  # one round; two, on one instance
def test_a_repeat_is_sent_the_requests_kept_and_starts_no_plan(starts: list[int], prop: str) -> None:
    assert t.judged(t.CORRECT, prop, seed=2).status is Status.PASSED
    assert starts and len(requests()) >= 30
    starts.clear()
    assert t.judged(t.CORRECT, prop, seed=2).status is Status.PASSED
    assert not starts


@pytest.mark.parametrize(
    ("wrong", "prop"),
    [(t.MEAN, t.SPLIT), (t.SIGN, SMALL_STEP)],  # its first reply differs; its second (the update) does
)
def test_other_replies_start_the_plan_on_the_replies_come(starts: list[int], wrong: str, prop: str) -> None:
    assert t.judged(t.CORRECT, prop, seed=5).status is Status.PASSED
    starts.clear()
    after_correct = t.judged(wrong, prop, seed=5)
    t.forget()
    alone = t.judged(wrong, prop, seed=5)
    assert after_correct.status is Status.FAILED and starts
    assert (after_correct.status, after_correct.message) == (alone.status, alone.message)


def test_an_example_whose_plan_makes_other_calls_is_sent_afresh_and_judged_as_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plan started on the replies so far that makes other calls than those sent starts again on its
    example, drawn anew (its first start used up the example's draws), and is sent its own calls."""
    assert t.judged(t.CORRECT, t.SPLIT, seed=5).status is Status.PASSED
    monkeypatch.setattr(Remote, "adopt", lambda self, ops, sent: None)  # as if every plan made other calls
    after_correct = t.judged(t.MEAN, t.SPLIT, seed=5)
    monkeypatch.undo()
    t.forget()
    alone = t.judged(t.MEAN, t.SPLIT, seed=5)
    assert (after_correct.status, after_correct.message) == (alone.status, alone.message)


def test_an_example_s_first_request_does_not_depend_on_what_ran_before() -> None:
    assert t.judged(t.CORRECT, ROW_WISE, seed=2).status is Status.PASSED
    alone = requests()
    t.forget()
    with Session(t.CORRECT, Options(examples=30), t.GOLDEN, seed=2) as session:
        assert session.property(SMALL_STEP).status is Status.PASSED  # makes instances of its own first
        assert session.property(ROW_WISE).status is Status.PASSED
    after = {where: data for where, data in requests().items() if ROW_WISE in where[0]}
    assert after == alone


def test_kept_bytes_that_are_not_the_plan_s_request_are_not_judged_on(starts: list[int]) -> None:
    assert t.judged(t.CORRECT, ROW_WISE, seed=2).status is Status.PASSED
    kept.ENDED.clear()  # every reply goes to its plan
    places = sorted(kept.REQUESTS._sent, key=lambda k: k[1])
    assert all(trail == kept.NO_TRAIL for *_, trail in places)  # one request each
    other = swap(places)
    assert other > len(places) // 2
    starts.clear()
    assert t.judged(t.CORRECT, ROW_WISE, seed=2).status is Status.PASSED
    assert len(starts) == len(places) + other  # each plan started on its reply; again, to be sent afresh


def test_a_later_request_kept_that_is_not_the_plan_s_is_not_judged_on(starts: list[int]) -> None:
    assert t.judged(t.CORRECT, SMALL_STEP, seed=2).status is Status.PASSED
    kept.ENDED.clear()
    seconds = sorted((k for k in kept.REQUESTS._sent if k[2] != kept.NO_TRAIL), key=lambda k: k[1])
    assert swap(seconds) > len(seconds) // 2
    starts.clear()
    assert t.judged(t.CORRECT, SMALL_STEP, seed=2).status is Status.PASSED
    assert len(starts) >= 2 * len(seconds)  # started on its replies, then afresh; none judged on another's


def swap(places: list[Any]) -> int:
    """Give each of `places` the request kept for the next; how many now hold other bytes."""
    sent = kept.REQUESTS._sent
    own = [sent[k] for k in places]
    for k, data in zip(places, own[1:] + own[:1], strict=True):
        sent[k] = data
    return sum(sent[k] != data for k, data in zip(places, own, strict=True))
