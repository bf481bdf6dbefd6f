"""Full marks for a correct submission (issue 21, item 2): a case of an activation the class does not
declare, and need not, is left out of the grade; one the assignment requires (``--activations``) fails.

The expected counts are derived from the golden files' own inputs (each case's activation), not from the
grading code: a correct Leaky-ReLU-only neuron is graded on the Leaky ReLU cases and the properties.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from broken_neurons import Textbook
from inprocess import subject
from test_tdd import learner

from golden.errors import OptionError
from golden.files.store import load_set
from golden.grading._render import gradescope
from golden.grading._scoring import Graded
from golden.harness._cases import run_case
from golden.harness._sandbox import Isolation
from golden.harness.properties import PROPERTIES
from golden.options import Front, Options
from golden.outcome import PARAMETERS, Kind, Outcome, Status
from neuron import Neuron

GOLDEN = "v3"
CASES = load_set(GOLDEN).cases
ACTIVATION = {name: case.inputs.activation for name, case in CASES.items()}
LEAKY = [name for name, activation in ACTIVATION.items() if activation == "leaky_relu"]
UNDECLARED = [name for name, activation in ACTIVATION.items() if activation != "leaky_relu"]
SIGMOID = [name for name, activation in ACTIVATION.items() if activation == "sigmoid"]
FULL_MARKS = len(LEAKY) + len(PROPERTIES)  # the scaffold declares no activation: Leaky ReLU only
OFF = Isolation(False, "asked for")


def oracle(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m golden ARGS --golden v3 --sandbox off` in `cwd`, derandomized."""
    return subprocess.run(
        [sys.executable, "-m", "golden", *args, "--golden", GOLDEN, "--sandbox", "off"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "HYPOTHESIS_PROFILE": "ci"},
    )


def test_the_golden_set_has_cases_to_leave_out_and_cases_to_keep() -> None:
    assert LEAKY and SIGMOID and set(SIGMOID) < set(UNDECLARED)  # else the tests below prove nothing


# -- the grade, over outcomes made by hand ---------------------------------------------------------------


def graded(weights: dict[str, float] | None = None) -> Graded:
    """A grade of three cases and a property: one case passed, one failed, one skipped (an activation the
    class does not declare), and the property passed."""
    outcomes = [
        Outcome("one", Status.PASSED),
        Outcome("two", Status.FAILED, stage=PARAMETERS.name, message="wrong"),
        Outcome("tanh_case", Status.SKIPPED, message="activation 'tanh' is not in N.supported_activations"),
        Outcome("a_property", Status.PASSED, Kind.PROPERTY),
    ]
    return Graded("n.py:N", [o.name for o in outcomes], outcomes, weights=weights or {})


def test_a_skipped_item_is_left_out_of_the_score_and_of_max_score() -> None:
    g = graded()
    assert (g.score, g.max_score) == (2, 3)  # one and a_property of one, two, a_property


def test_a_skipped_item_named_by_the_weights_counts_and_earns_nothing() -> None:
    g = graded({"tanh_case": 2})
    assert (g.score, g.max_score) == (2, 5)


def test_an_item_weighted_0_is_left_out_whether_it_passed_or_was_skipped() -> None:
    g = graded({"one": 0, "tanh_case": 0})
    assert (g.score, g.max_score) == (1, 2)


def test_an_impl_that_did_not_load_is_graded_on_every_item() -> None:
    g = Graded("n.py:N", ["one", "tanh_case", "a_property"], error="could not be loaded", loaded=False)
    assert (g.score, g.max_score) == (0, 3)  # nothing was found not applicable to it


def test_a_sets_share_of_the_grade_leaves_its_skipped_cases_out_too() -> None:
    g = graded()
    g.groups = {"one": "v3", "two": "v3", "tanh_case": "v3"}
    assert g.split("v3") == (1, 2) and g.split("") == (1, 1)


def test_gradescope_leaves_a_skipped_case_out_of_its_tests() -> None:
    results = gradescope(graded(), OFF)
    assert [t["name"] for t in results["tests"]] == ["one", "two", "a_property"]
    assert results["score"] == 2 and sum(t["max_score"] for t in results["tests"]) == 3


def test_gradescope_shows_a_skipped_case_the_weights_name_as_failed_saying_it_was_skipped() -> None:
    tests = {t["name"]: t for t in gradescope(graded({"tanh_case": 2}), OFF)["tests"]}
    assert tests["tanh_case"]["status"] == "failed"
    assert (tests["tanh_case"]["score"], tests["tanh_case"]["max_score"]) == (0, 2)
    assert tests["tanh_case"]["output"].startswith(
        "golden case tanh_case: skipped: activation 'tanh' is not in N.supported_activations; it counts"
    )


# -- the case runner: skipped, or required -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("front", "flag"),
    [(Front.CLI, "--activations"), (Front.PYTEST, "--neuron-activations"), (Front.PYTHON, "activations")],
)
def test_a_required_activation_the_class_does_not_declare_fails_at_parameters_saying_so(
    front: Front, flag: str
) -> None:
    options = Options(activations="leaky_relu,sigmoid", front=front)
    outcome = run_case(subject(Textbook), CASES[SIGMOID[0]], options)
    assert (outcome.status, outcome.stage) == (Status.FAILED, PARAMETERS.name)
    assert outcome.message == (
        f"activation 'sigmoid' is required ({flag}) but not in Textbook.supported_activations"
    )


def test_an_activation_not_required_is_still_skipped_when_another_is() -> None:
    others = [name for name in UNDECLARED if ACTIVATION[name] != "sigmoid"]
    options = Options(activations=("leaky_relu", "sigmoid"))
    assert others and all(
        run_case(subject(Textbook), CASES[name], options).status is Status.SKIPPED for name in others
    )


def test_a_required_activation_the_class_declares_is_judged_as_any() -> None:
    outcome = run_case(subject(Neuron), CASES[SIGMOID[0]], Options(activations="sigmoid"))
    assert outcome.status is Status.PASSED, outcome.message


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("leaky_relu,sigmod", "activations: 'sigmod' is not an activation; expected leaky_relu, relu"),
        ("sigmoid,,tanh", "activations: an empty name is not an activation"),
        (("tanh", "tanh"), "activations: tanh is given twice; give each activation once"),
        (3, "activations is 3; expected activation names"),
    ],
)
def test_a_bad_activations_option_is_refused_by_name(given: object, message: str) -> None:
    with pytest.raises(OptionError) as refused:
        Options.from_kwargs(activations=given)
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize("command", ["validate", "tdd"])
def test_an_unknown_activation_is_one_line_naming_it_and_exit_2(tmp_path: Path, command: str) -> None:
    out = oracle(command, f"{learner(tmp_path)}:Neuron", "--activations", "leaky_relu,sigmod", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("neuron-oracle: error: --activations: 'sigmod' is not an activation")
    assert len(out.stderr.splitlines()) == 1, out.stderr


# -- every grading format, end to end --------------------------------------------------------------------


def test_the_scaffolds_neuron_made_correct_scores_full_marks_in_every_grading_format(tmp_path: Path) -> None:
    learner(tmp_path)  # my_neuron.py: the scaffold, every method filled in correctly
    fast = ("--examples", "5")
    table = oracle("validate", "my_*.py:Neuron", "--format", "csv", "--output", "g.csv", *fast, cwd=tmp_path)
    assert table.returncode == 0, table.stdout + table.stderr
    assert table.stdout.splitlines()[4].split()[:4] == [
        "my_neuron.py:Neuron",
        f"{FULL_MARKS}/{FULL_MARKS}",
        str(FULL_MARKS),
        "0",
    ]
    (row,) = csv.DictReader(io.StringIO((tmp_path / "g.csv").read_text()))
    assert float(row["score"]) == float(row["max_score"]) == FULL_MARKS
    assert row["skipped"] == str(len(UNDECLARED))  # still reported, as a count

    out = oracle("validate", "my_*.py:Neuron", "--format", "json", *fast, cwd=tmp_path)
    (graded_row,) = json.loads(out.stdout)["implementations"]
    assert graded_row["score"] == graded_row["max_score"] == FULL_MARKS
    assert graded_row["counts"]["skipped"] == len(UNDECLARED)

    out = oracle("validate", "my_neuron.py:Neuron", "--format", "gradescope", *fast, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    tests = results["tests"]
    assert results["score"] == sum(t["max_score"] for t in tests) == FULL_MARKS
    assert [t["name"] for t in tests if t["status"] != "passed"] == []
    assert sorted(t["name"] for t in tests) == sorted([*LEAKY, *PROPERTIES])  # no skipped case among them


def test_a_weights_file_naming_a_skipped_case_makes_it_count_as_0(tmp_path: Path) -> None:
    learner(tmp_path)
    named = UNDECLARED[0]
    (tmp_path / "w.json").write_text(json.dumps({named: 2}))
    out = oracle(
        "validate", "my_neuron.py:Neuron", "--format", "gradescope", "--weights", "w.json", "--no-properties",
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr  # the neuron is correct: a skip fails nothing
    results = json.loads(out.stdout)
    tests = {t["name"]: t for t in results["tests"]}
    assert (tests[named]["status"], tests[named]["score"], tests[named]["max_score"]) == ("failed", 0, 2)
    assert f"golden case {named}: skipped: activation {ACTIVATION[named]!r}" in tests[named]["output"]
    assert sorted(tests) == sorted([*LEAKY, named])  # the other skipped cases, not named, are left out
    assert results["score"] == len(LEAKY)


def test_activations_sigmoid_makes_the_same_neuron_fail_the_sigmoid_cases_and_lose_their_points(
    tmp_path: Path,
) -> None:
    learner(tmp_path)
    out = oracle(
        "validate", "my_*.py:Neuron", "--format", "json", "--activations", "leaky_relu,sigmoid",
        "--no-properties", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    (row,) = json.loads(out.stdout)["implementations"]
    assert (row["score"], row["max_score"]) == (len(LEAKY), len(LEAKY) + len(SIGMOID))
    assert row["counts"] == {
        "passed": len(LEAKY),
        "failed": len(SIGMOID),
        "error": 0,
        "skipped": len(UNDECLARED) - len(SIGMOID),
    }
    assert row["first_failure"] == {"name": SIGMOID[0], "kind": "case", "stage": PARAMETERS.name}
    assert row["message"] == (
        "activation 'sigmoid' is required (--activations) but not in Neuron.supported_activations"
    )


def test_the_python_api_and_the_pytest_plugin_require_activations_too(tmp_path: Path) -> None:
    from golden import validate

    report = validate(Textbook, activations=("sigmoid",), cases="sigmoid*", properties=False)
    assert [(o.status, o.message) for o in report.outcomes] == [
        (
            Status.FAILED,
            "activation 'sigmoid' is required (activations) but not in Textbook.supported_activations",
        )
    ] * len(SIGMOID)
    learner(tmp_path)
    out = subprocess.run(
        [
            *(
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--neuron-impl=my_neuron.py:Neuron",
            ),
            *("--neuron-cases=sigmoid*", "--neuron-no-properties", "--neuron-activations=leaky_relu,sigmoid"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 1, out.stdout
    assert "activation 'sigmoid' is required (--neuron-activations) but not in Neuron" in out.stdout
