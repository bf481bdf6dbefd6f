"""The harness on the production Neuron, the examples, and the deliberately broken neurons.

Each implementation runs in a child process through a ``Session``, as validate runs it; every verdict
here is the parent's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import broken_neurons
import pytest
from helpers import REPO

from golden.files.store import load_set
from golden.harness.properties import PROPERTIES
from golden.harness.session import Session
from golden.options import Options
from golden.outcome import Outcome, Status

GOLDEN = load_set()
BROKEN = f"{REPO / 'tests' / 'broken_neurons.py'}"


@pytest.fixture(scope="module")
def production() -> Iterator[Session]:
    with Session("neuron:Neuron", golden=GOLDEN) as session:
        yield session


def outcomes(spec: str) -> list[Outcome]:
    with Session(spec, golden=GOLDEN) as session:
        return [session.case(case) for case in GOLDEN.cases.values()]


@pytest.mark.parametrize("case", GOLDEN.cases)
def test_production_neuron_passes_golden_case(production: Session, case: str) -> None:
    outcome = production.case(GOLDEN.cases[case])
    assert outcome.status is Status.PASSED, outcome.message


@pytest.mark.parametrize("prop", PROPERTIES)
def test_production_neuron_keeps_property(production: Session, prop: str) -> None:
    outcome = production.property(prop)
    assert outcome.status is Status.PASSED, outcome.message


@pytest.mark.parametrize("example", ["pure_python.py", "torch_autograd.py"])
def test_example_implementation_passes_every_golden_case(example: str) -> None:
    if example.startswith("torch"):
        pytest.importorskip("torch", reason="the PyTorch example needs torch: pip install torch==2.13.0")
    failures = [o for o in outcomes(f"{REPO / 'examples' / example}:Neuron") if o.status is not Status.PASSED]
    assert failures == []


def test_pure_python_example_imports_no_numpy() -> None:
    source = (REPO / "examples" / "pure_python.py").read_text()
    assert "numpy" not in source.replace("no numpy", "")


def first_failure(name: str) -> tuple[str, str | None, str]:
    for outcome in outcomes(f"{BROKEN}:{name}"):
        if outcome.status not in (Status.PASSED, Status.SKIPPED):
            return outcome.name, outcome.stage, outcome.message
    return "", None, "every case passed"


@pytest.mark.parametrize("name", broken_neurons.EXPECTED)
def test_broken_neuron_is_rejected_at_its_stage(name: str) -> None:
    case, stage, words = broken_neurons.EXPECTED[name]
    got_case, got_stage, message = first_failure(name)
    assert (got_case, got_stage) == (case, stage), message
    assert words in message


def test_the_textbook_neuron_the_broken_ones_start_from_is_correct() -> None:
    assert first_failure("Textbook") == ("", None, "every case passed")


def test_a_failed_stage_says_the_stages_before_it_agree() -> None:
    with Session(f"{BROKEN}:MeanBiasGradient", golden=GOLDEN) as session:
        outcome = session.case(GOLDEN.cases["batch_input_gradients"])
    assert outcome.agreed == ["parameters", "z", "a", "da_dz", "J", "dJ_dw"]
    assert outcome.message.endswith("the stages before it agree (parameters, z, a, da_dz, J, dJ_dw)")
    assert (outcome.expected, outcome.got) == (-0.45, pytest.approx(-0.225, rel=1e-12))


def test_cases_of_undeclared_activations_are_skipped_not_failed() -> None:
    with Session(f"{BROKEN}:Textbook", golden=GOLDEN) as session:
        outcome = session.case(GOLDEN.cases["sigmoid_batch"])
    assert outcome.status is Status.SKIPPED
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
    with Session(f"{BROKEN}:{broken}", Options(examples=200), GOLDEN) as session:
        outcome = session.property(prop)
    assert outcome.status is Status.FAILED, outcome.message
    assert "p=Problem(X=array(" in outcome.message  # Hypothesis's smallest failing example


@pytest.mark.parametrize("prop", ["forward_is_row_wise", "gradient_matches_central_differences"])
def test_a_nan_returned_fails_the_property_saying_so_and_is_no_error_of_ours(prop: str) -> None:
    with Session(f"{BROKEN}:ReturnsNaN", Options(examples=50), GOLDEN) as session:
        outcome = session.property(prop)
    assert outcome.status is Status.FAILED, outcome.message  # not ERROR: nothing of ours raised
    assert "returned nan at index (" in outcome.message and "NaN and infinity are errors" in outcome.message


@pytest.mark.parametrize("prop", ["forward_is_row_wise", "small_step_does_not_increase_the_loss"])
def test_a_column_returned_fails_the_property_naming_its_shape_and_is_no_error_of_ours(prop: str) -> None:
    with Session(f"{BROKEN}:ForwardAsColumn", Options(examples=50), GOLDEN) as session:
        outcome = session.property(prop)
    assert outcome.status is Status.FAILED, outcome.message  # not ERROR: nothing of ours raised
    assert re.search(r"returned shape \(\d+, 1\); expected \(\d+,\)", outcome.message), outcome.message


# -- mistakes at block, tile and call-count edges: golden v2 cannot see them, v3 and the properties do -----

EDGES = [
    *((f"DropsLastPartialBlockOf{k}", "tall_batch_past_block_edges") for k in (8, 16, 64, 1000)),
    ("BiasGradientMeanFromFiveRows", "tall_batch_past_block_edges"),
    *((f"IgnoresFeaturesPast{k}", "wide_batch_past_feature_tiles") for k in (32, 128, 256)),
    *((f"WrongAfter{k}Calls", "long_trajectory_contracts") for k in (5, 10, 40)),
]


SEEN_BY_V2 = {"IgnoresFeaturesPast32"}  # many_features has 64 features


@pytest.fixture
def derandomized() -> Iterator[None]:
    """The "ci" profile's fixed seeds: a property that finds a mistake finds it on every run."""
    from hypothesis import settings

    previous = settings._current_profile
    settings.load_profile("ci")
    yield
    settings.load_profile(previous or "default")


@pytest.mark.parametrize(("name", "case"), EDGES)
def test_a_mistake_at_a_block_tile_or_call_edge_passes_golden_v2_but_fails_its_v3_case(
    name: str, case: str
) -> None:
    with Session(f"{BROKEN}:{name}", golden=load_set("v2")) as session:
        old = [session.case(c) for c in load_set("v2").cases.values()]
    seen = {o.status for o in old} - {Status.PASSED, Status.SKIPPED}
    assert bool(seen) is (name in SEEN_BY_V2), [o.message for o in old if o.message]
    v3 = load_set("v3")
    with Session(f"{BROKEN}:{name}", golden=v3) as session:
        outcome = session.case(v3.cases[case])
    assert outcome.status is Status.FAILED, outcome.message


@pytest.mark.parametrize(
    ("name", "prop"),
    [
        ("DropsLastPartialBlockOf8", "agrees_with_the_oracle"),
        *((f"WrongAfter{k}Calls", "many_updates_on_one_instance_follow_the_exact_ones") for k in (5, 10, 40)),
    ],
)
def test_a_property_finds_the_mistake_at_an_edge_too(name: str, prop: str, derandomized: None) -> None:
    with Session(f"{BROKEN}:{name}", Options(examples=300), load_set("v3")) as session:
        outcome = session.property(prop)
    assert outcome.status is Status.FAILED, outcome.message


def test_the_session_s_signature_before_the_redesign_still_works_and_says_what_it_is_now() -> None:
    with pytest.warns(
        DeprecationWarning, match=r"Session\(spec, golden\) is now Session\(spec, options, golden\)"
    ):
        session = Session("neuron:Neuron", GOLDEN)
    with session:
        assert session.golden.sets == [GOLDEN] and session.golden.sets[0] is GOLDEN  # the one set given
        assert session.case(GOLDEN.cases["single_feature"]).status is Status.PASSED
    with pytest.raises(TypeError, match=r"is now Session\(spec, Options\(timeout=…\), golden\)"):
        Session("neuron:Neuron", GOLDEN, 0.5)  # type: ignore[arg-type]  # the old timeout: refused, not lost
