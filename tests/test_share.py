"""What one grading worker kept reaches the others (``golden.harness._share``): a worker that absorbs it
judges as if it had drawn, computed and shrunk itself, without Hypothesis, and exports none of it again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import test_seed as t

from golden.harness import _kept as kept
from golden.harness import _share as share
from golden.harness._memo import SHARED
from golden.outcome import Status


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    t.forget()
    share.journal()  # as a pool's worker does, with others to tell
    share.export()  # nothing left from before
    yield
    t.forget()
    for store in (kept.DRAWN, kept.RUNS, SHARED):
        store.journal = False


def test_a_worker_that_absorbs_another_s_work_judges_alike_without_hypothesis(
    hypothesis_runs: list[int],
) -> None:
    """The first worker draws, computes and shrinks; the second, given what it kept, runs no Hypothesis."""
    assert t.judged(t.CORRECT, t.SPLIT, seed=5).status is Status.PASSED
    first = t.judged(t.MEAN, t.SPLIT, seed=5)
    assert first.status is Status.FAILED and "p=Problem(X=array(" in first.message
    assert len(hypothesis_runs) == 2  # drawn, then shrunk
    blob = share.export()
    assert blob is not None
    t.forget()  # another worker: nothing of its own
    share.absorb(blob)
    misses = SHARED.misses
    again = t.judged(t.MEAN, t.SPLIT, seed=5)
    assert len(hypothesis_runs) == 2  # replayed from the kept run: Hypothesis did not run
    assert again.message == first.message
    assert SHARED.misses == misses  # every oracle value was had from the first worker


def test_a_process_that_is_no_pool_worker_notes_nothing_to_export() -> None:
    """Only a worker with others to tell keeps notes of what it kept: anywhere else they would only grow."""
    for store in (kept.DRAWN, kept.RUNS, SHARED):
        store.journal = False
    assert t.judged(t.CORRECT, t.SPLIT, seed=5).status is Status.PASSED
    assert share.export() is None


def test_what_a_worker_absorbed_is_not_exported_again_and_each_export_is_new_work_only() -> None:
    assert t.judged(t.CORRECT, t.SPLIT, seed=5).status is Status.PASSED
    blob = share.export()
    assert blob is not None
    assert share.export() is None  # nothing new since
    t.forget()
    share.absorb(blob)
    assert share.export() is None  # absorbed, not its own
    assert t.judged(t.CORRECT, t.SPLIT, seed=5).status is Status.PASSED
    assert share.export() is None  # replayed and recalled: nothing new to tell


def test_absorbed_oracle_values_are_read_only() -> None:
    t.judged(t.CORRECT, t.SPLIT, seed=5)
    blob = share.export()
    assert blob is not None
    t.forget()
    share.absorb(blob)
    (key, *_) = SHARED._kept
    found, answer = SHARED.get(key)
    assert found
    values = answer["a"][0]
    with pytest.raises(ValueError, match="read-only"):
        values[0] = 1.0


def test_a_worker_is_given_only_the_newest_work_that_fits_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh worker after a lost one is given what fits (the rest it does again), never a message over
    the limit its pipe reads."""
    from golden.harness import _pool as pool

    assert pool.MAX_GIVEN < pool.MAX_ANSWER  # the limit of a worker's reads of its requests
    monkeypatch.setattr(pool, "MAX_GIVEN", 10)
    assert pool._newest(["aaaa", "bbbb", "cccc"]) == ["bbbb", "cccc"]  # oldest first, as kept
    assert pool._newest(["x" * 11]) == []
    assert pool._newest(["aaa", "bbb", "x" * 11]) == ["aaa", "bbb"]  # one too large hides nothing older
