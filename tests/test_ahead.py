"""A golden case makes its calls ahead, in one message, and checks their answers in turn: the first stage
that diverges ends the case as it did when each call waited for the last, and a call made ahead that then
hangs or ends its process costs no item (the next starts another process); the answers left are awaited
one timeout in all, after which the process is stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
from broken_neurons import Textbook
from inprocess import InProcess, subject

from golden.files.store import load_set
from golden.harness import _protocol as protocol
from golden.harness._cases import run_case
from golden.harness.session import Session
from golden.options import Options
from golden.outcome import A, Status

GOLDEN = load_set("v3")
BATCH = GOLDEN.cases["batch_input_gradients"]
LEAKY = [case for case in GOLDEN.cases.values() if case.inputs.activation == "leaky_relu"]

LATE_TROUBLE = '''
import os
import time

import numpy as np


class Neuron:
    """forward is off by one; gradient, which a case calls only after forward agreed, {does}."""

    def __init__(self, n_features, activation="leaky_relu"):
        self.w, self.b, self.alpha = np.zeros(n_features), 0.0, 0.01

    def forward(self, X):
        return X @ self.w + self.b + 1.0

    def gradient(self, X, y):
        {trouble}

    def update_weights(self, dJ_dw, dJ_db, learning_rate):
        {update}
'''
TROUBLE = {"hangs": "time.sleep(3600)", "ends its process": "os._exit(3)"}


def test_a_case_without_a_trajectory_costs_one_message() -> None:
    judged = subject(Textbook)
    sends = []
    child = judged.remote.child
    assert isinstance(child, InProcess)
    original = child.send_body

    def sending(data: bytes, deadline: float) -> None:
        sends.append(protocol.parse(data))
        original(data, deadline)

    child.send_body = sending  # type: ignore[method-assign]
    assert not BATCH.expected.trajectory
    assert run_case(judged, BATCH).status is Status.PASSED
    assert len(sends) == 1
    assert len(sends[0]["batches"]) > 5  # every stage's call, each answered on its own


@pytest.mark.parametrize("does", TROUBLE)
def test_a_call_made_ahead_that_fails_after_a_divergence_costs_no_item(tmp_path: Path, does: str) -> None:
    (tmp_path / "late.py").write_text(LATE_TROUBLE.format(does=does, trouble=TROUBLE[does], update="pass"))
    options = Options(sandbox="off", timeout=0.5)
    with Session(f"{tmp_path / 'late.py'}:Neuron", options, GOLDEN) as session:
        outcomes = [session.case(case) for case in LEAKY[:2]]  # the second on the process the first left
        assert session.timeouts_in_a_row == 0
    for outcome in outcomes:
        assert (outcome.status, outcome.stage, outcome.timed_out) == (Status.FAILED, A.name, False), outcome


def test_the_answers_of_calls_made_ahead_are_awaited_one_timeout_in_all(tmp_path: Path) -> None:
    slow = LATE_TROUBLE.format(
        does="takes 0.4 s, as update_weights does", trouble="time.sleep(0.4)", update="time.sleep(0.4)"
    )
    (tmp_path / "slow.py").write_text(slow)
    with Session(f"{tmp_path / 'slow.py'}:Neuron", Options(sandbox="off", timeout=0.5), GOLDEN) as session:
        first = session.case(LEAKY[0])
        assert not session.child.alive  # 0.8 s of calls made ahead, past one 0.5 s timeout: stopped
        second = session.case(LEAKY[1])  # on a process started anew
        assert session.timeouts_in_a_row == 0
    for outcome in (first, second):
        assert (outcome.status, outcome.stage, outcome.timed_out) == (Status.FAILED, A.name, False), outcome
