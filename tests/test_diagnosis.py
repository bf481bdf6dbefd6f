"""The diagnosis of a failed stage, on values made by hand: the catalogue (``golden.harness._mistakes``) is
data, its predictions (``golden.harness._predictions``) the model, ``diagnose`` the matching."""

from __future__ import annotations

import numpy as np
import pytest

from golden.files.store import load_set
from golden.harness import _diagnosis as diagnosis
from golden.harness import _mistakes as mistakes
from golden.harness import _predictions as predictions
from golden.outcome import PARAMETERS, step_name

CASE = load_set("v3", names=["batch_input_gradients"]).cases["batch_input_gradients"]
LEAKY = load_set("v3", names=["leaky_branch_negative_z"]).cases["leaky_branch_negative_z"]


def test_the_catalogue_keeps_its_names_where_they_were() -> None:
    assert diagnosis.CATALOGUE is mistakes.CATALOGUE and diagnosis.BY_ID is mistakes.BY_ID
    assert diagnosis.LOWER_PRECISION is mistakes.LOWER_PRECISION
    assert diagnosis.catalogue() == mistakes.catalogue()
    assert len(diagnosis.catalogue()) == len(mistakes.CATALOGUE) + 1 == len(mistakes.BY_ID)
    assert diagnosis.DECOY == 2.0


def test_a_bias_gradient_averaged_over_the_batch_is_named() -> None:
    m = CASE.inputs.m
    got = np.array(CASE.expected.dJ_db / m)
    found = diagnosis.diagnose(CASE, "dJ_db", got, "float64", {})
    assert found is not None and found["id"] == "bias_gradient_mean"
    assert found["message"].startswith(f"dJ_db equals the mean over the {m} rows instead of the sum")


def test_a_gradient_of_the_wrong_sign_is_named_on_either_of_its_stages() -> None:
    for stage in ("dJ_dw", "dJ_db"):
        got = -np.asarray(CASE.expected.stage(stage), dtype=np.float64)
        found = diagnosis.diagnose(CASE, stage, got, "float64", {})
        assert found is not None and found["id"] == "gradient_sign_flipped", stage


def test_a_declared_convention_is_no_mistake() -> None:
    case = load_set("v3", names=["batch_of_three_rows"]).cases["batch_of_three_rows"]
    got = np.asarray(case.expected.dJ_dw, dtype=np.float64) * 2 / case.inputs.m
    found = diagnosis.diagnose(case, "dJ_dw", got, "float64", {})
    assert found is not None and found["id"] == "mean_loss"
    declared = diagnosis.diagnose(case, "dJ_dw", got, "float64", {"loss": "mean"})
    assert declared is None or declared["id"] != "mean_loss"


@pytest.mark.parametrize("stage", [PARAMETERS.name, step_name(1), "forward_is_row_wise"])
def test_only_a_stage_that_is_one_value_is_diagnosed(stage: str) -> None:
    assert diagnosis.diagnose(CASE, stage, np.array([0.0]), "float64", {}) is None


def test_values_nothing_explains_have_no_diagnosis() -> None:
    got = np.asarray(CASE.expected.dJ_dw, dtype=np.float64) + 123.0
    assert diagnosis.diagnose(CASE, "dJ_dw", got, "float64", {}) is None


def test_every_probe_is_made_before_a_stage_the_case_runner_probes_and_serves_a_known_mistake() -> None:
    from golden.harness._diagnosis import PROBES
    from golden.harness._mistakes import BY_ID
    from golden.outcome import STAGE

    probed = {"z", "a", "da_dz", "J", "dJ_dw", "w_new"}  # _cases._stages calls probes() before each of these
    for probe in PROBES:
        assert probe.before in probed and probe.before in STAGE
        assert probe.mistake in BY_ID


LEARNER_SLIPS = [("FullSquaredError", "loss_without_half"), ("AlphaAtZero", "derivative_alpha_at_zero")]


@pytest.mark.parametrize(("neuron", "mistake"), LEARNER_SLIPS)
def test_a_learners_slip_is_hinted_as_that_slip_on_every_case_it_fails(neuron: str, mistake: str) -> None:
    """A forgotten ½ or a z <= 0 is named as that mistake on every failing case, one-row cases included
    (where the mean loss gives the same values); the convention is only the porting alternative, after it."""
    import broken_neurons
    from inprocess import subject

    from golden.harness._cases import run_case
    from golden.outcome import Status

    failed = [
        outcome
        for case in load_set("v3").cases.values()
        if (outcome := run_case(subject(getattr(broken_neurons, neuron)), case)).status is Status.FAILED
    ]
    assert failed, f"{neuron} fails no case"
    for outcome in failed:
        assert outcome.diagnosis is not None and outcome.diagnosis["id"] == mistake, outcome.name
        hint, porting, declaration = outcome.diagnosis["message"].partition(". If you are porting code")
        assert "conventions =" not in hint, outcome.name  # the mistake first, with no declaration in it
        assert porting and "conventions = {" in declaration, outcome.name
    assert any(len(load_set("v3").cases[o.name].inputs.X) == 1 for o in failed)  # where mean_loss agrees


def test_a_one_row_case_offers_each_convention_that_gives_its_values_to_a_porter() -> None:
    case = load_set("v3", names=["single_feature"]).cases["single_feature"]
    got = 2 * np.asarray(case.expected.dJ_dw, dtype=np.float64)  # Σ(a − y)² and (1/m)Σ(a − y)² at m = 1
    found = diagnosis.diagnose(case, "dJ_dw", got, "float64", {})
    assert found is not None and found["id"] == "loss_without_half"
    hint, _, porting = found["message"].partition("If you are porting")
    assert "missing the ½" in hint and "mean_loss" not in hint
    assert '{"loss": "sum"}' in porting and '{"loss": "mean"}' in porting


def test_a_diagnosis_asked_again_is_the_same_and_the_caller_s_own() -> None:
    got = -np.asarray(LEAKY.expected.dJ_dw, dtype=np.float64)
    first = diagnosis.diagnose(LEAKY, "dJ_dw", got, "float64", {})
    assert first is not None and first["id"] == "gradient_sign_flipped"
    first["id"] = "changed by its caller"
    again = diagnosis.diagnose(LEAKY, "dJ_dw", got.copy(), "float64", {})
    assert again == {**first, "id": "gradient_sign_flipped"}


def test_a_constant_inferred_from_the_values_got_is_inferred_again_from_other_values() -> None:
    z = np.asarray(LEAKY.expected.z, dtype=np.float64)
    said = []
    for alpha in (0.2, 0.3):
        found = diagnosis.diagnose(LEAKY, "a", np.where(z < 0, alpha * z, z), "float64", {})
        assert found is not None and found["id"] == "hard_coded_alpha"
        said.append(found["message"])
    assert "alpha = 0.2," in said[0] and "alpha = 0.3," in said[1]


def test_only_the_predictions_that_read_neither_the_values_got_nor_the_stage_are_kept() -> None:
    """``diagnose`` keeps each mistake's prediction on a case unless it is in READS_GOT."""
    for mistake in diagnosis.CATALOGUE:
        reads = set(mistake.predict.__code__.co_names) & {"got", "stage", "matches", "within"}
        assert bool(reads) == (mistake.predict in predictions.READS_GOT), mistake.id
