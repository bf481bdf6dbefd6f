"""Conventions an implementation declares, the catalogue of classic mistakes, and the derivative at the
kink that each library takes, measured here (the README's table comes from these tests)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import broken_neurons
import pytest
from helpers import REPO, validate

from golden.files.store import load_set
from golden.harness._diagnosis import BY_ID
from golden.harness.session import Session
from golden.options import Options
from golden.outcome import Outcome

GOLDEN = load_set("v2")
ALPHA = 0.01
ISSUE_IDS = {
    "derivative_alpha_at_zero", "derivative_midpoint_at_zero", "derivative_zero_at_zero",
    "missing_activation_derivative", "relu_instead_of_leaky_relu", "hard_coded_alpha",
    "bias_missing_in_forward", "loss_without_half", "mean_loss", "bias_gradient_mean",
    "weight_gradient_mean", "bias_gradient_first_row", "first_row_only", "gradient_sign_flipped",
    "update_sign_flipped", "bias_not_scaled_by_learning_rate", "update_not_in_place", "lower_precision",
    "stale_forward",
}  # fmt: skip


def outcomes(spec: str, conventions: dict[str, str] | None = None) -> list[Outcome]:
    with Session(spec, Options(conventions=conventions or {}), GOLDEN) as session:
        return [session.case(case) for case in GOLDEN.cases.values()]


def diagnosed(spec: str, conventions: dict[str, str] | None = None) -> set[str]:
    return {o.diagnosis["id"] for o in outcomes(spec, conventions) if o.diagnosis}


# -- the catalogue ----------------------------------------------------------------------------------


def test_the_catalogue_holds_every_mistake_the_issue_names() -> None:
    assert set(BY_ID) >= ISSUE_IDS
    assert set(broken_neurons.DIAGNOSED) == set(BY_ID)


@pytest.mark.parametrize("mistake", sorted(broken_neurons.DIAGNOSED))
def test_every_mistake_is_diagnosed_in_its_broken_neuron(mistake: str) -> None:
    spec = f"{REPO / 'tests' / 'broken_neurons.py'}:{broken_neurons.DIAGNOSED[mistake]}"
    found = [o.diagnosis for o in outcomes(spec) if o.diagnosis]
    assert mistake in {d["id"] for d in found}, found
    assert all(d["message"] for d in found)


@pytest.mark.parametrize(
    "spec",
    [
        "neuron:Neuron",
        "examples/pure_python.py:Neuron",
        "examples/numpy_float32.py:Neuron",
        "examples/numpy_float32.py:Float16Neuron",
        "tests/broken_neurons.py:Textbook",
        "tests/broken_neurons.py:Textbook_float16",
        "tests/library_neurons.py:AutogradMaximum",
    ],
)
def test_no_correct_implementation_is_ever_diagnosed(spec: str) -> None:
    if "Autograd" in spec:
        pytest.importorskip("autograd", reason="HIPS autograd: pip install autograd")
    got = outcomes(spec)
    assert [o for o in got if o.diagnosis or o.status.value in ("failed", "error")] == []


def test_the_mistakes_command_lists_the_catalogue() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "golden", "mistakes"], capture_output=True, text=True, cwd=REPO
    )
    assert out.returncode == 0
    assert [line.split()[0] for line in out.stdout.splitlines()] == list(BY_ID)
    assert "mean_loss" in out.stdout and 'conventions = {"loss": "mean"}' in out.stdout


def test_json_and_junit_carry_the_diagnosis() -> None:
    impl = "tests/broken_neurons.py:MeanBiasGradient"
    report = json.loads(
        validate(impl, "--no-properties", "--format", "json", "--cases", "batch_input*").stdout
    )
    (outcome,) = report["outcomes"]
    assert outcome["diagnosis"]["id"] == "bias_gradient_mean"
    assert outcome["diagnosis"]["message"].startswith(
        "dJ_db equals the mean over the 2 rows instead of the sum"
    )
    xml = ET.fromstring(
        validate(impl, "--no-properties", "--format", "junit", "--cases", "batch_input*").stdout
    )
    properties = {p.get("name"): p.get("value") for p in xml.iter("property")}
    assert properties["diagnosis"] == "bias_gradient_mean"


# -- declaring conventions ---------------------------------------------------------------------------


def test_the_report_names_the_conventions_in_force_and_where_they_came_from() -> None:
    out = validate(
        "tests/library_neurons.py:AutogradMaximum", "--no-properties", "--convention", "loss=half_sum"
    )
    lines = out.stdout.splitlines()
    assert lines[1] == (
        "conventions: derivative_at_zero=midpoint (declared by AutogradMaximum.conventions), "
        "loss=half_sum (--convention)"
    )


def test_the_command_line_convention_overrides_the_class() -> None:
    out = validate(
        "tests/broken_neurons.py:AlphaAtZero", "--no-properties", "--convention", "derivative_at_zero=alpha"
    )
    assert out.returncode == 0, out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--convention", "slope=alpha"),
            "--convention: unknown convention 'slope'; known: derivative_at_zero, loss",
        ),
        (
            ("--convention", "loss=median"),
            "--convention: loss is 'median'; expected one of half_sum, sum, mean, half_mean",
        ),
        (("--convention", "loss"), "--convention 'loss': expected KEY=VALUE"),
    ],
)
def test_an_unknown_convention_is_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    out = validate("--no-properties", *args)
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.splitlines()) == 1


# -- the libraries: the issue's "done when", and the README's table -------------------------------------


def torch_neuron(name: str) -> str:
    pytest.importorskip("torch", reason="PyTorch: pip install torch==2.13.0")
    return f"tests/library_neurons.py:{name}"


def test_pytorch_leaky_relu_is_diagnosed_as_alpha_at_zero_and_passes_when_it_says_so() -> None:
    assert "derivative_alpha_at_zero" in diagnosed(torch_neuron("TorchLeakyRelu"))
    assert validate(torch_neuron("TorchLeakyReluDeclared"), "--examples", "30").returncode == 0


def test_pytorch_mse_loss_is_diagnosed_as_the_mean_loss_and_passes_when_it_says_so() -> None:
    assert "mean_loss" in diagnosed(torch_neuron("TorchMSELoss"))
    assert validate(torch_neuron("TorchMSELossDeclared"), "--examples", "30").returncode == 0


def test_autograd_np_maximum_passes_declaring_the_midpoint_and_is_diagnosed_without() -> None:
    pytest.importorskip("autograd", reason="HIPS autograd: pip install autograd")
    assert validate("tests/library_neurons.py:AutogradMaximum", "--examples", "30").returncode == 0
    assert "derivative_midpoint_at_zero" in diagnosed("tests/library_neurons.py:AutogradMaximumUndeclared")


def test_micrograd_relu_composition_is_rejected_whatever_it_declares() -> None:
    pytest.importorskip("micrograd", reason="micrograd: pip install micrograd")
    for name in ("MicrogradRelu", "MicrogradReluDeclaresAlpha"):
        found = outcomes(f"tests/library_neurons.py:{name}")
        assert any(o.status.value == "failed" for o in found)
        assert "derivative_zero_at_zero" in {o.diagnosis["id"] for o in found if o.diagnosis}


def derivative_at_zero(library: str) -> float:
    """d/dz of the library's own Leaky ReLU (slope ALPHA) at z = 0, by its autodiff."""
    if library == "the seed":  # np.where(z < 0, alpha, 1), written out
        import numpy as np

        return float(np.where(np.float64(0.0) < 0, ALPHA, 1.0))
    if library == "PyTorch":
        torch = pytest.importorskip("torch", reason="pip install torch==2.13.0")
        z = torch.zeros((), dtype=torch.float64, requires_grad=True)
        torch.nn.functional.leaky_relu(z, ALPHA).backward()
        return float(z.grad)
    if library == "JAX":
        jax = pytest.importorskip("jax", reason='pip install "jax[cpu]"')
        return float(jax.grad(lambda z: jax.nn.leaky_relu(z, ALPHA))(0.0))
    if library == "TensorFlow":
        tf = pytest.importorskip("tensorflow", reason="pip install tensorflow-cpu")
        z = tf.Variable(0.0, dtype=tf.float64)
        with tf.GradientTape() as tape:
            a = tf.nn.leaky_relu(z, ALPHA)
        return float(tape.gradient(a, z))
    if library == "HIPS autograd":
        ag = pytest.importorskip("autograd", reason="pip install autograd")
        import autograd.numpy as anp

        return float(ag.grad(lambda z: anp.maximum(ALPHA * z, z))(0.0))
    if library == "micrograd":
        engine: Any = pytest.importorskip("micrograd.engine", reason="pip install micrograd")
        z = engine.Value(0.0)
        (z.relu() - ALPHA * (-z).relu()).backward()
        return float(z.grad)
    raise AssertionError(library)


@pytest.mark.parametrize(
    ("library", "expected", "convention"),
    [
        ("the seed", 1.0, "one"),
        ("PyTorch", ALPHA, "alpha"),
        ("TensorFlow", ALPHA, "alpha"),
        ("JAX", 1.0, "one"),
        ("HIPS autograd", (1 + ALPHA) / 2, "midpoint"),
        ("micrograd", 0.0, None),
    ],
)
def test_the_derivative_at_zero_each_library_takes(
    library: str, expected: float, convention: str | None
) -> None:
    """The README's Conventions table: each library's Leaky ReLU derivative at z = 0, by its autodiff."""
    assert derivative_at_zero(library) == pytest.approx(expected, abs=1e-15)


# -- diagnosis in every precision, and the constants a mistake used -----------------------------------

# A neuron that computes in float32 but returns float64 is a mistake only in float64.
LOW = sorted(m for m in broken_neurons.DIAGNOSED if m != "lower_precision")


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
@pytest.mark.parametrize("mistake", LOW)
def test_every_mistake_is_diagnosed_in_float32_and_bfloat16_too(mistake: str, precision: str) -> None:
    name = f"{broken_neurons.DIAGNOSED[mistake]}_{precision}"
    found = [o.diagnosis for o in outcomes(f"{REPO / 'tests' / 'broken_neurons.py'}:{name}") if o.diagnosis]
    assert mistake in {d["id"] for d in found}, found


def test_a_float32_neuron_with_alpha_at_zero_is_told_to_declare_it() -> None:
    """TensorFlow's tf.nn.leaky_relu takes alpha at z = 0; a float32 neuron doing so is diagnosed, though
    its alpha (0.01) is no float32 number: the prediction is judged with its own float32 bound."""
    found = diagnosed(f"{REPO / 'tests' / 'broken_neurons.py'}:AlphaAtZero_float32")
    assert "derivative_alpha_at_zero" in found


@pytest.mark.parametrize("alpha", ["0.1", "0.2", "0.05"])
def test_a_hard_coded_alpha_is_named_with_the_value_it_used(alpha: str) -> None:
    name = f"HardcodedAlpha{alpha.replace('.', '_')}"
    found = [o.diagnosis for o in outcomes(f"{REPO / 'tests' / 'broken_neurons.py'}:{name}") if o.diagnosis]
    hard = [d["message"] for d in found if d["id"] == "hard_coded_alpha"]
    assert hard, found
    assert all(f"uses alpha = {alpha}, not self.alpha" in message for message in hard), hard
