"""Under a seed, an example's first request is kept as the bytes sent (``golden.harness._kept.FIRSTS``) when
the example ended at its first reply, and a later implementation is sent those bytes without its plan being
started; a reply that does not end the example starts its plan, which must make the very calls sent."""

from __future__ import annotations

from typing import Any

import pytest
import test_seed as t
from test_ended import fresh  # noqa: F401  (autouse: nothing kept from one test for the next)

from golden.harness import _kept as kept
from golden.harness import _problems
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


def firsts() -> dict[Any, bytes]:
    """The first requests kept, by property and place."""
    return {(key[1], at): data for (key, at), data in kept.FIRSTS._sent.items()}


def test_a_repeat_is_sent_the_first_requests_kept_and_starts_no_plan(starts: list[int]) -> None:
    assert t.judged(t.CORRECT, ROW_WISE, seed=2).status is Status.PASSED
    assert starts and len(firsts()) == 30  # every example ended at its first reply
    starts.clear()
    assert t.judged(t.CORRECT, ROW_WISE, seed=2).status is Status.PASSED
    assert not starts


def test_other_replies_start_the_plan_on_the_reply_come(starts: list[int]) -> None:
    assert t.judged(t.CORRECT, t.SPLIT, seed=5).status is Status.PASSED
    starts.clear()
    scratch = t.judged(t.MEAN, t.SPLIT, seed=5)
    t.forget()
    alone = t.judged(t.MEAN, t.SPLIT, seed=5)
    assert scratch.status is Status.FAILED and starts
    assert (scratch.status, scratch.message) == (alone.status, alone.message)


def test_an_example_s_first_request_does_not_depend_on_what_ran_before() -> None:
    assert t.judged(t.CORRECT, ROW_WISE, seed=2).status is Status.PASSED
    alone = firsts()
    t.forget()
    with Session(t.CORRECT, Options(examples=30), t.GOLDEN, seed=2) as session:
        assert session.property(SMALL_STEP).status is Status.PASSED  # makes instances of its own first
        assert session.property(ROW_WISE).status is Status.PASSED
    after = {where: data for where, data in firsts().items() if ROW_WISE in where[0]}
    assert after == alone


def test_kept_bytes_that_are_not_the_plan_s_request_are_not_judged_on(starts: list[int]) -> None:
    assert t.judged(t.CORRECT, ROW_WISE, seed=2).status is Status.PASSED
    kept.ENDED.clear()  # every reply goes to its plan
    sent = kept.FIRSTS._sent
    places = sorted(sent, key=lambda k: k[1])
    own = [sent[k] for k in places]
    for k, data in zip(places, own[1:] + own[:1], strict=True):
        sent[k] = data  # each place given the next example's request
    other = sum(sent[k] != data for k, data in zip(places, own, strict=True))
    assert other > len(places) // 2
    starts.clear()
    assert t.judged(t.CORRECT, ROW_WISE, seed=2).status is Status.PASSED
    assert len(starts) == len(places) + other  # each plan started on its reply; again, to be sent afresh
