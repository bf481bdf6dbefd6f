"""The case runner on structured data: a class served in this process, a golden case, an Outcome."""

from __future__ import annotations

from typing import Any

import numpy as np
from broken_neurons import MeanBiasGradient, RaisesInForward, Textbook
from inprocess import subject

from golden.files.store import load_set
from golden.harness._cases import run_case
from golden.harness._conventions import Conventions
from golden.outcome import DJ_DB, PARAMETERS, STAGES, A, Status, Z

GOLDEN = load_set("v3")
BATCH = GOLDEN.cases["batch_input_gradients"]


def test_a_correct_neuron_agrees_on_every_stage_it_defines() -> None:
    outcome = run_case(subject(Textbook), BATCH)
    assert outcome.status is Status.PASSED, outcome.message
    assert outcome.stage is None
    assert outcome.agreed == [s.name for s in STAGES if s.name in outcome.agreed]  # in the table's order
    assert {"parameters", "a", "dJ_dw", "dJ_db", "w_new", "b_new"} <= set(outcome.agreed)
    assert all(ratio <= 1 for ratio in outcome.ratios.values())


def test_a_bias_gradient_averaged_over_the_batch_fails_at_the_bias_gradient_and_is_diagnosed() -> None:
    outcome = run_case(subject(MeanBiasGradient), BATCH)
    assert outcome.status is Status.FAILED
    assert outcome.stage == DJ_DB.name
    assert "dJ_dw" in outcome.agreed and DJ_DB.name not in outcome.agreed
    assert outcome.diagnosis is not None and outcome.diagnosis["id"] == "bias_gradient_mean"
    m = len(BATCH.inputs.X)
    assert np.isclose(outcome.got, outcome.expected / m)  # the mean, as the diagnosis says


def test_a_forward_that_raises_is_an_error_at_stage_a() -> None:
    outcome = run_case(subject(RaisesInForward), BATCH)
    assert outcome.status is Status.ERROR
    assert outcome.stage == A.name
    assert outcome.agreed == [PARAMETERS.name, Z.name]  # Textbook defines linear: z came before a


def test_a_case_of_an_activation_the_class_does_not_declare_is_skipped() -> None:
    outcome = run_case(subject(Textbook), GOLDEN.cases["sigmoid_batch"])
    assert outcome.status is Status.SKIPPED
    assert "'sigmoid' is not in Textbook.supported_activations" in outcome.message


def test_a_forward_whose_dtype_changed_since_the_precision_was_detected_fails_at_a() -> None:
    class Float32Forward(Textbook):
        def forward(self, X: Any) -> Any:
            return super().forward(X).astype(np.float32)

    judged_by_float64 = subject(Float32Forward)
    judged_by_float64.judged = type(judged_by_float64.judged)(
        "float64", "detected: forward returns float64", Conventions(), "float64"
    )
    outcome = run_case(judged_by_float64, BATCH)
    assert outcome.status is Status.FAILED and outcome.stage == A.name
    assert "forward returned float32 here but float64 when its precision was detected" in outcome.message
