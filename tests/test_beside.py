"""The oracle's helper process computes what the validating process would, and can cost only time.

``golden.harness._beside`` runs the oracle on another core while Hypothesis draws examples. Whatever
happens to it (killed, answering garbage), the values judged with are the oracle's own, and the helper is
started, a guarded copy of the validating process, before the implementation's process exists.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import signal
import threading
import time
from typing import Any

import pytest
from helpers import alive

from golden.errors import ImplError, OptionError
from golden.files.store import load_set
from golden.harness import _beside as beside
from golden.harness._beside import Beside, compute
from golden.harness._process import Child
from golden.harness.session import Session, run
from golden.options import Options
from golden.outcome import Status

GOLDEN = load_set()


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper runs only where two cores are usable: these tests hold wherever they run."""
    monkeypatch.setattr(beside, "_cores", lambda: 2)


def test_on_one_core_no_helper_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(beside, "_cores", lambda: 1)
    helper = Beside()
    helper.start()
    assert not helper.running and helper.pid is None


def request(precision: str = "float64", scale: float = 1.0, **changes: Any) -> dict[str, Any]:
    """A small problem as ``compute`` reads it."""
    problem = {
        "X": [[0.5 * scale, -1.5 * scale], [2.0 * scale, 0.25 * scale]],
        "y": [1.0, -0.5],
        "w": [0.3, -0.7],
        "b": 0.1,
        "alpha": 0.01,
        "activation": "leaky_relu",
        "lr": 0.1,
        "precision": precision,
        "conventions": {},
    }
    return problem | changes


REQUESTS = [
    request(),
    request("float32", activation="sigmoid"),
    request("bfloat16", activation="tanh", conventions={"loss": "mean"}),
    request("float16", scale=1e5),  # (a − y)² overflows float16: no bound exists there
]


def test_compute_gives_the_seed_s_values_and_none_out_of_range() -> None:
    z = compute(request())
    assert z is not None
    assert z["z"][0] == [1.3, 0.525]  # by hand: 0.15 + 1.05 + 0.1 and 0.6 − 0.175 + 0.1, exactly
    assert compute(REQUESTS[-1]) is None


def test_the_helper_answers_exactly_what_compute_answers_here() -> None:
    helper = Beside()
    helper.start()
    try:
        assert helper.running
        with helper.batching():
            handles = [helper.later(r) for r in REQUESTS]
            helper.share = 1.0
            helper.send()
            assert all(h.helper is helper for h in handles)  # sent, not computed here
            answers = [h.get() for h in handles]
    finally:
        helper.stop()
    assert answers == [compute(r) for r in REQUESTS]


def test_an_answer_of_the_wrong_form_stops_the_helper_and_the_value_is_computed_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helper = Beside()
    helper.start()
    with helper.batching():
        handle = helper.later(REQUESTS[0])
        helper.share = 1.0
        helper.send()
        monkeypatch.setattr(helper._reader, "receive", lambda *a, **k: [{"z": [[0.0], [1e9], [1]]}])
        assert handle.get() == compute(REQUESTS[0])
    assert not helper.running


def test_a_helper_killed_mid_run_costs_time_not_the_verdict() -> None:
    for spec, verdict in (
        ("neuron:Neuron", Status.PASSED),
        ("tests/broken_neurons.py:MeanGradient", Status.FAILED),
    ):
        with Session(spec, Options(examples=60), GOLDEN) as session:
            session.start()
            pid = session.beside.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            outcome = session.property("batch_gradient_is_the_sum_of_its_parts")
            assert outcome.status is verdict, outcome.message
            assert not session.beside.running
        assert not alive(pid)  # reaped, nothing left


def test_the_helper_is_ready_before_the_implementation_s_process_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bool] = []
    spawn = Child.spawn

    def spawning(self: Child) -> None:
        seen.append(session.beside.running)
        spawn(self)

    monkeypatch.setattr(Child, "spawn", spawning)
    with Session("neuron:Neuron", Options(examples=10, cases="single_feature"), GOLDEN) as session:
        outcomes = list(session.outcomes())
        helper = session.beside.pid
    assert seen and seen[0] is True
    assert all(o.status is Status.PASSED for o in outcomes)
    assert helper is not None and not alive(helper)  # stopped with the session


def test_without_properties_no_helper_is_started() -> None:
    with Session("neuron:Neuron", Options(properties=False, cases="single_feature"), GOLDEN) as session:
        list(session.outcomes())
        assert not session.beside.running


def test_a_session_whose_child_already_ran_starts_no_helper() -> None:
    with Session("neuron:Neuron", Options(examples=10), GOLDEN) as session:
        session.remote()  # the child runs: a helper started now could be reached by it
        session.start()
        assert not session.beside.running
        assert session.property("forward_is_row_wise").status is Status.PASSED


def test_a_session_that_reads_the_golden_files_spawns_its_helper_first_and_ends_it() -> None:
    with Session("neuron:Neuron", Options(examples=10)) as session:
        pid = session.beside.pid  # spawned before the golden files were read: a guarded copy, ready at once
        assert pid is not None and not session.child.alive
        assert session.property("agrees_with_the_oracle").status is Status.PASSED
        assert session.beside.running
    assert pid is not None and not alive(pid)


def children_of_this_process() -> list[int]:
    """The pids of this process's running children."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == os.getpid() and alive(int(entry)):
                found.append(int(entry))
    return found


def test_validate_refusing_an_option_leaves_no_helper_behind() -> None:
    before = children_of_this_process()
    with pytest.raises(OptionError):
        run("neuron:Neuron", Options.from_kwargs(precision="float8"))
    with pytest.raises(OptionError, match="cases 'nothing' matches no case"):  # after the helper spawned
        run("neuron:Neuron", Options(cases="nothing"))
    assert children_of_this_process() == before


def test_a_class_that_cannot_be_sent_leaves_no_helper_behind() -> None:
    class Locked:
        lock = threading.Lock()  # cloudpickle cannot send it

    before = children_of_this_process()
    for _ in range(3):  # as a notebook would, cell after cell
        with pytest.raises(ImplError, match="cannot be sent to its process"):
            run(Locked, Options())
    assert children_of_this_process() == before


def test_a_stopped_helper_costs_at_most_one_call_s_timeout() -> None:
    with Session("neuron:Neuron", Options(timeout=0.5, examples=60), GOLDEN) as session:
        session.start()
        pid = session.beside.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            outcome = session.property("batch_gradient_is_the_sum_of_its_parts")
            took = time.monotonic() - start
        finally:
            with contextlib.suppress(ProcessLookupError):  # given up and reaped by then, normally
                os.kill(pid, signal.SIGCONT)
    assert outcome.status is Status.PASSED, outcome.message
    # Waiting out --timeout on each of the 60 examples' calls would take 30 s at least; one wait, then
    # computing the values here, takes a few seconds. Half of 30 s tells the two apart on a loaded machine.
    assert took < 0.5 * 60 / 2


def test_the_helper_works_on_fds_above_1023() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"this machine allows {hard} open files; the test needs 1200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    helper = Beside()
    try:
        helper.start()
        assert helper._reader.fd > 1023
        with helper.batching():
            handle = helper.later(REQUESTS[0])
            helper.share = 1.0
            helper.send()
            assert handle.get() == compute(REQUESTS[0])
            assert helper.running  # answered, not given up
    finally:
        helper.stop()
        for fd in spare:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize(
    "forge",
    [
        lambda a: a | {"dJ_dw": [a["dJ_dw"][0], [math.inf] * len(a["dJ_dw"][0]), a["dJ_dw"][2]]},
        lambda a: a | {"w": [[*a["w"][0], 0.0], [*a["w"][1], 0.0], [len(a["w"][0]) + 1]]},
        lambda a: a | {"a": [a["a"][0], [-1.0] * len(a["a"][0]), a["a"][2]]},
        lambda a: {k: v for k, v in a.items() if k != "z"},
    ],
    ids=["infinite-bound", "wrong-shape", "negative-bound", "missing-stage"],
)
def test_an_answer_that_does_not_fit_its_request_is_refused(forge: Any) -> None:
    answer = compute(REQUESTS[0])
    assert beside._well_formed(answer, REQUESTS[0])
    assert not beside._well_formed(forge(answer), REQUESTS[0])
