"""The harness on the production Neuron, the examples, and the deliberately broken neurons."""

from __future__ import annotations

from pathlib import Path

import broken_neurons
import pytest

from golden.conformance import FAILED, PASSED, run_case
from golden.impl import load_impl
from golden.properties import PROPERTIES, run_property
from golden.store import list_cases, load_case
from neuron import Neuron

REPO = Path(__file__).parent.parent
CASES = list_cases()
DOCS = {name: load_case(name) for name in CASES}


@pytest.mark.parametrize("case", CASES)
def test_production_neuron_passes_golden_case(case: str) -> None:
    outcome = run_case(Neuron, DOCS[case])
    assert outcome.status == PASSED, outcome.message


@pytest.mark.parametrize("prop", PROPERTIES)
def test_production_neuron_keeps_property(prop: str) -> None:
    PROPERTIES[prop](Neuron)


@pytest.mark.parametrize("example", ["pure_python.py", "torch_autograd.py"])
def test_example_implementation_passes_every_golden_case(example: str) -> None:
    if example.startswith("torch"):
        pytest.importorskip("torch", reason="the PyTorch example needs torch: pip install torch==2.13.0")
    impl = load_impl(f"{REPO / 'examples' / example}:Neuron")
    failures = [o for o in (run_case(impl, doc) for doc in DOCS.values()) if o.status != PASSED]
    assert failures == []


def test_pure_python_example_imports_no_numpy() -> None:
    source = (REPO / "examples" / "pure_python.py").read_text()
    assert "numpy" not in source.replace("no numpy", "")


def first_failure(impl: type) -> tuple[str, str | None, str]:
    for doc in DOCS.values():
        outcome = run_case(impl, doc)
        if outcome.status not in (PASSED, "skipped"):
            return outcome.name, outcome.stage, outcome.message
    return "", None, "every case passed"


@pytest.mark.parametrize("name", broken_neurons.EXPECTED)
def test_broken_neuron_is_rejected_at_its_stage(name: str) -> None:
    case, stage, words = broken_neurons.EXPECTED[name]
    got_case, got_stage, message = first_failure(getattr(broken_neurons, name))
    assert (got_case, got_stage) == (case, stage), message
    assert words in message


def test_the_textbook_neuron_the_broken_ones_start_from_is_correct() -> None:
    assert first_failure(broken_neurons.Textbook) == ("", None, "every case passed")


def test_a_failed_stage_says_the_stages_before_it_agree() -> None:
    outcome = run_case(broken_neurons.MeanBiasGradient, DOCS["batch_input_gradients"])
    assert outcome.agreed == ["parameters", "z", "a", "da_dz", "J", "dJ_dw"]
    assert outcome.message.endswith("the stages before it agree (parameters, z, a, da_dz, J, dJ_dw)")
    assert (outcome.expected, outcome.got) == (-0.45, pytest.approx(-0.225, rel=1e-12))


def test_cases_of_undeclared_activations_are_skipped_not_failed() -> None:
    outcome = run_case(broken_neurons.Textbook, DOCS["sigmoid_batch"])
    assert outcome.status == "skipped"
    assert outcome.message == "activation 'sigmoid' is not in Textbook.supported_activations"


@pytest.mark.parametrize(
    ("broken", "prop"),
    [
        ("MeanBiasGradient", "batch_gradient_is_the_sum_of_its_parts"),
        ("MeanGradient", "batch_gradient_is_the_sum_of_its_parts"),
        ("MissingActivationDerivative", "gradient_matches_central_differences"),
        ("MissingBiasGradient", "gradient_matches_central_differences"),
        ("WrongUpdateSign", "small_step_does_not_increase_the_loss"),
        ("ScalesXInPlace", "inputs_are_not_mutated"),
        ("HardcodedAlpha", "agrees_with_the_oracle"),
        ("FullSquaredError", "agrees_with_the_oracle"),
    ],
)
def test_property_catches_the_mistake(broken: str, prop: str) -> None:
    outcome = run_property(getattr(broken_neurons, broken), prop, max_examples=200)
    assert outcome.status == FAILED, outcome.message
    assert "p=Problem(X=array(" in outcome.message  # Hypothesis's smallest failing example
