"""Precision-aware verdicts: correct implementations in float32, float16 and bfloat16 pass golden v2, and
every broken neuron is rejected in each of them; the precision is detected, or declared, and named."""

from __future__ import annotations

import broken_neurons
import pytest
from helpers import REPO, machine_free, validate

from golden.files.store import load_set
from golden.harness.session import Session
from golden.outcome import Status

BROKEN = REPO / "tests" / "broken_neurons.py"
GOLDEN = load_set("v2")
# In-place scaling of X is not a matter of precision (the variants hand on rounded copies of X), and
# computing in float32 is a mistake only for a neuron that returns float64.
CLASSIC = [name for name in broken_neurons.EXPECTED if name not in ("ScalesXInPlace", "LowerPrecisionInside")]


def run_cases(spec: str) -> tuple[str, list[tuple[str, Status, str | None]]]:
    with Session(spec, golden=GOLDEN) as session:
        outcomes = [session.case(case) for case in GOLDEN.cases.values()]
        return session.judged.precision, [(o.name, o.status, o.stage) for o in outcomes]


@pytest.mark.parametrize("precision", broken_neurons.PRECISIONS)
def test_the_textbook_neuron_passes_every_case_it_can_in_each_precision(precision: str) -> None:
    detected, outcomes = run_cases(f"{BROKEN}:Textbook_{precision}")
    assert detected == precision
    assert [o for o in outcomes if o[1] not in (Status.PASSED, Status.SKIPPED)] == []
    assert sum(o[1] is Status.PASSED for o in outcomes) >= 14  # float16 skips the two cases beyond 65504


@pytest.mark.parametrize("precision", broken_neurons.PRECISIONS)
@pytest.mark.parametrize("name", CLASSIC)
def test_every_broken_neuron_is_rejected_at_its_stage_in_every_precision(name: str, precision: str) -> None:
    _, stage, _ = broken_neurons.EXPECTED[name]
    _, outcomes = run_cases(f"{BROKEN}:{name}_{precision}")
    rejected = [o for o in outcomes if o[1] in (Status.FAILED, Status.ERROR)]
    assert rejected, f"{name} in {precision} passed every case"
    assert stage in {o[2] for o in rejected}, rejected


def test_a_neuron_that_computes_in_float32_but_returns_float64_is_held_to_float64() -> None:
    out = validate("tests/broken_neurons.py:LowerPrecisionInside", "--no-properties")
    assert out.returncode == 1
    assert "in float64 (detected: forward returns float64)" in out.stdout.splitlines()[0]
    assert (
        "z expected [1.2], got <computed>: error <computed> is <computed> × the float64 bound"
        in machine_free(out.stdout)
    )


@pytest.mark.parametrize(
    ("impl", "precision", "needs"),
    [
        ("examples/numpy_float32.py:Neuron", "float32", None),
        ("examples/numpy_float32.py:Float16Neuron", "float16", None),
        ("examples/torch_autograd.py:Float32Neuron", "float32", "torch"),
        ("examples/torch_autograd.py:BFloat16Neuron", "bfloat16", "torch"),
        ("examples/jax_float32.py:Neuron", "float32", "jax"),
        ("tests/test_precision.py:ProductionNeuronFloat32", "float32", None),
    ],
)
def test_lower_precision_examples_pass_plain_validate(impl: str, precision: str, needs: str | None) -> None:
    if needs:
        how = {"torch": "pip install torch==2.13.0", "jax": 'pip install "jax[cpu]"'}[needs]
        pytest.importorskip(needs, reason=f"this example needs {needs}: {how}")
    out = validate(impl, "--examples", "30")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"in {precision} (detected: forward returns {precision})" in out.stdout.splitlines()[0]


class ProductionNeuronFloat32:
    """The production Neuron, made with dtype=np.float32."""

    def __new__(cls, n_features: int, activation: str = "leaky_relu") -> object:
        import numpy as np

        from neuron import Neuron

        return Neuron(n_features, activation=activation, dtype=np.float32)

    forward = gradient = update_weights = staticmethod(lambda *a: None)  # the protocol's methods, for loading
    supported_activations = ("leaky_relu", "relu", "identity", "sigmoid", "tanh")


class DeclaresFloat32(broken_neurons.Textbook):
    """A float64 neuron that declares float32: judged by the (looser) float32 bounds, and says so."""

    precision = "float32"


class DeclaresNonsense(broken_neurons.Textbook):
    """A class declaring a precision the bounds do not cover."""

    precision = "float8"


def test_a_declared_precision_is_used_and_named() -> None:
    out = validate("tests/test_precision.py:DeclaresFloat32", "--no-properties")
    assert out.returncode == 0, out.stdout
    assert out.stdout.splitlines()[0].endswith("in float32 (declared by DeclaresFloat32.precision)")


def test_the_precision_option_wins_over_detection() -> None:
    out = validate("examples/numpy_float32.py:Neuron", "--no-properties", "--precision", "float64")
    assert out.returncode == 1  # a float32 neuron held to float64 bounds fails
    assert out.stdout.splitlines()[0].endswith("in float64 (declared with --precision)")


def test_an_unknown_declared_precision_is_one_line_and_exit_2() -> None:
    out = validate("tests/test_precision.py:DeclaresNonsense", "--no-properties")
    assert out.returncode == 2
    assert out.stderr.strip().endswith(
        "DeclaresNonsense.precision is 'float8'; expected one of float64, float32, float16, bfloat16"
    )
    assert len(out.stderr.splitlines()) == 1
