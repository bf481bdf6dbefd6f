"""`neuron-oracle validate` as a user runs it: reports (snapshots), exit codes, timeouts, bad IMPLs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from helpers import machine_free, machine_free_report, raise_sites, validate
from syrupy.assertion import SnapshotAssertion


def test_production_neuron_text_report(snapshot: SnapshotAssertion) -> None:
    out = validate("--examples", "25")
    assert out.returncode == 0, out.stderr
    assert out.stdout == snapshot


def test_production_neuron_json_report(snapshot: SnapshotAssertion) -> None:
    out = validate("--format", "json", "--no-properties")
    assert out.returncode == 0, out.stderr
    assert machine_free_report(json.loads(out.stdout)) == snapshot


def test_broken_neuron_text_report(snapshot: SnapshotAssertion) -> None:
    out = validate("tests/broken_neurons.py:MeanBiasGradient", "--no-properties")
    assert out.returncode == 1
    assert (
        "FAILED  batch_input_gradients: dJ_db expected -0.45, got <computed>: error <computed> is "
        "<computed> × the float64 bound (1.2e-15)" in machine_free(out.stdout)
    )
    assert machine_free(out.stdout) == snapshot


def test_golden_v1_still_judges_by_its_released_tolerance() -> None:
    out = validate("tests/broken_neurons.py:MeanBiasGradient", "--no-properties", "--golden", "v1")
    assert out.returncode == 1
    assert out.stdout.startswith("validating tests/broken_neurons.py:MeanBiasGradient against golden v1 in")
    assert "FAILED  batch_input_gradients: dJ_db expected -0.45, got <computed> (rtol 1e-12" in machine_free(
        out.stdout
    )
    assert "FAILED: 8 passed, 4 failed, 0 errors, 4 skipped" in out.stdout


def test_broken_neuron_json_report(snapshot: SnapshotAssertion) -> None:
    out = validate("tests/broken_neurons.py:MeanBiasGradient", "--no-properties", "--format", "json")
    assert out.returncode == 1
    assert machine_free_report(json.loads(out.stdout)) == snapshot


def test_junit_report_counts_failures_per_suite() -> None:
    out = validate("tests/broken_neurons.py:WrongUpdateSign", "--format", "junit", "--examples", "50")
    assert out.returncode == 1
    suites = {s.get("name"): s for s in ET.fromstring(out.stdout)}
    # every Leaky ReLU case but zero_gradients_no_change, where w ± lr·0 is w either way; 4 skipped
    assert suites["golden-v3"].get("failures") == "18"
    assert suites["golden-v3"].get("skipped") == "4"
    failed = {c.get("name") for c in suites["properties"] if c.find("failure") is not None}
    # Gradient ascent must break these two; it cannot break the gradient's own properties. (It may
    # also break the zero-gradient one when w = -0.0, since -0.0 + 0.0 is +0.0.)
    assert {"small_step_does_not_increase_the_loss", "agrees_with_the_oracle"} <= failed
    assert not failed & {"batch_gradient_is_the_sum_of_its_parts", "gradient_matches_central_differences"}


def test_cases_pattern_selects_cases() -> None:
    out = validate("--cases", "batch_*", "--no-properties", "--format", "json")
    assert [o["name"] for o in json.loads(out.stdout)["outcomes"]] == [
        "batch_input_gradients",
        "batch_rows_on_both_branches",
        "batch_of_three_rows",
    ]


def test_an_implementation_that_sleeps_forever_times_out_and_the_run_ends() -> None:
    out = validate("tests/broken_neurons.py:SleepsForever", "--timeout", "0.5")
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    # the precision probe is no item: it does not count toward the three
    assert "in float64 (assumed: a one-row probe of forward timed out)" in lines[0]
    assert sum("timed out after 0.5 s; its process was stopped" in line for line in lines) == 3
    assert "not run: 3 items in a row timed out" in out.stdout
    assert "FAILED: 0 passed, 0 failed, 33 errors, 0 skipped" in out.stdout


def test_an_implementation_that_ends_its_process_fails_that_case_only() -> None:
    out = validate("tests/broken_neurons.py:ExitsTheProcess", "--no-properties", "--cases", "*branch*")
    assert out.returncode == 1
    assert out.stdout.count("the implementation ended its process (exit code 3)") == 2


def test_an_implementation_that_raises_is_an_error_and_the_run_goes_on() -> None:
    out = validate("tests/broken_neurons.py:RaisesInForward", "--no-properties")
    assert out.returncode == 1
    sites = raise_sites(out.stdout, "forward raised RuntimeError", ": forward exploded")
    assert len(sites) == 19 and len(set(sites)) == 1  # v3's Leaky ReLU cases, each at the line that raises


@pytest.mark.parametrize(
    ("impl", "message"),
    [
        ("no_such_module:Neuron", "IMPL 'no_such_module:Neuron': no module named 'no_such_module'"),
        (
            "examples/missing.py:Neuron",
            "IMPL 'examples/missing.py:Neuron': no such file 'examples/missing.py'",
        ),
        ("examples/pure_python.py:Nope", "module examples/pure_python.py has no attribute 'Nope'"),
        ("neuron:ACTIVATIONS", "ACTIVATIONS is a dict, expected a class"),
        ("golden.errors:GoldenError", "GoldenError does not follow the protocol: no method forward"),
        ("neuron.Neuron", "expected package.module:Name or path/to/file.py:Name"),
    ],
)
def test_a_bad_impl_is_one_line_and_exit_2(impl: str, message: str) -> None:
    out = validate(impl)
    assert out.returncode == 2
    assert out.stderr == f"neuron-oracle: error: {message}\n" or message in out.stderr
    assert len(out.stderr.splitlines()) == 1 and out.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cases", "nothing*"), "--cases 'nothing*' matches no case of golden v3"),
        (("--golden", "v7"), "unknown golden version 'v7'"),
        (("--timeout", "0"), "--timeout is 0; expected a number of seconds > 0"),
        (("--timeout", "inf"), "--timeout is inf; expected a number of seconds > 0 and at most 86400"),
        (("--timeout", "300000"), "--timeout is 300000; expected a number of seconds > 0 and at most 86400"),
        (("--timeout", "nan"), "--timeout is nan; expected a number of seconds > 0"),
        (("--examples", "0"), "--examples is 0; expected an integer from 1 to 100,000"),
        (("--examples", "100001"), "--examples is 100001; expected an integer from 1 to 100,000"),
        (("--timeout", "soon"), "argument --timeout: invalid float value: 'soon'"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    out = validate(*args)
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.splitlines()) == 1
