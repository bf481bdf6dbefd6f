"""A property's examples travel to the implementation in batches, and the verdict does not change for it.

Hypothesis draws the examples in the validating process; the calls of up to ``_chunk.CHUNK`` examples go
to the child in one request, and every answer is judged here. A failure is replayed example by example so
that Hypothesis shrinks it; one the replay does not meet again still fails the property.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any

import pytest
from helpers import REPO
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable, UnsatisfiedAssumption

from golden.files.store import load_set
from golden.harness import _batch as batch
from golden.harness._chunk import CHUNK
from golden.harness._proxy import Remote
from golden.harness.session import Session
from golden.options import Options
from golden.outcome import Status

GOLDEN = load_set()
BROKEN = f"{REPO / 'tests' / 'broken_neurons.py'}"
HOSTILE = f"{REPO / 'tests' / 'hostile_neurons.py'}"


@pytest.mark.parametrize(
    ("prop", "rounds"),
    [("zero_gradient_leaves_weights_unchanged", 1), ("small_step_does_not_increase_the_loss", 2)],
)
def test_a_property_sends_one_request_per_round_per_hundred_examples(
    prop: str, rounds: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests: list[int] = []
    send_each = Remote.send_each

    def counted(self: Remote, many: Any) -> Any:
        requests.append(len(many))
        return send_each(self, many)

    monkeypatch.setattr(Remote, "send_each", counted)
    with Session("neuron:Neuron", Options(examples=250), GOLDEN) as session:
        session.remote()  # started, and its precision probed
        requests.clear()
        outcome = session.property(prop)
    assert outcome.status is Status.PASSED, outcome.message
    assert len(requests) <= rounds * math.ceil(250 / CHUNK), requests
    assert sum(requests) >= 200  # the examples were judged, not skipped (small_step rejects a few)


def test_a_failure_found_in_a_batch_is_replayed_and_shrunk_by_hypothesis() -> None:
    with Session(f"{BROKEN}:MeanGradient", Options(examples=100), GOLDEN) as session:
        outcome = session.property("batch_gradient_is_the_sum_of_its_parts")
    assert outcome.status is Status.FAILED, outcome.message
    assert "p=Problem(X=array(" in outcome.message
    assert "Failing example: test(" not in outcome.message  # the batch's own note: the replay found it


def test_a_failure_the_replay_does_not_meet_again_still_fails_the_property() -> None:
    with Session(f"{HOSTILE}:WrongOnlyOnce", Options(examples=100), GOLDEN) as session:
        outcome = session.property("row_order_does_not_change_the_gradient")
    assert outcome.status is Status.FAILED, outcome.message
    # dJ_dw, or dJ_dw[j] on a wide problem: the examples are fresh each run (no seed)
    assert re.search(r"dJ_dw(\[\d+\])? with the rows permuted", outcome.message), outcome.message
    assert "Failing example: test(p=Problem(" in outcome.message  # as the batch found it


def test_a_failure_found_stands_when_its_replay_runs_out_of_time() -> None:
    with Session(f"{HOSTILE}:WrongOnceThenHangs", Options(timeout=0.5, examples=100), GOLDEN) as session:
        outcome = session.property("row_order_does_not_change_the_gradient")
    assert outcome.status is Status.FAILED, outcome.message
    assert "Failing example: test(p=Problem(" in outcome.message


def test_a_property_none_of_whose_examples_could_be_judged_is_an_error() -> None:
    def never_judged(p: Any) -> Any:
        yield ()
        raise UnsatisfiedAssumption  # as an example out of the oracle's range after its request

    with Session("neuron:Neuron", Options(examples=20), GOLDEN) as session:
        subject = session.subject()
        with pytest.raises(Unsatisfiable, match="none of the 20 examples"):
            batch.check(subject, never_judged, 20, p=st.integers())


def test_the_seed_does_not_follow_the_caller_s_random_module_and_is_fixed_when_derandomized() -> None:
    def plan() -> Any:
        yield ()

    seeds = []
    for _ in range(2):
        random.seed(0)  # as a notebook might
        seeds.append(batch.seed_for(plan, settings(derandomize=False)))
    assert seeds[0] != seeds[1]
    fixed = {batch.seed_for(plan, settings(derandomize=True)) for _ in range(2)}
    assert len(fixed) == 1
