"""``--feedback full|stage|score``: what each level lets a report say (``golden.feedback.redact``, on
outcomes built by hand), and that no number of a hidden set reaches any output under ``stage`` or
``score``: a set of distinctive values, graded with broken neurons in every format (issue 20's Done-when).
"""

from __future__ import annotations

import html
import json
import os
import re
import string
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO

from golden import validate
from golden.feedback import redact
from golden.files import _user as user
from golden.files._document import build
from golden.grading._scoring import Graded
from golden.harness._diagnosis import BY_ID, stage_wording
from golden.outcome import Kind, Outcome, Status, Verdict
from oracle import ORACLE_VERSION, Case, create_backprop_test_case

FAILED_AT_A = Outcome(
    "grader/hidden/negative_z",
    Status.FAILED,
    stage="a",
    message="a expected [-0.1435], got [-0.0205]: error 0.123 is 5.4e+14 × the float64 bound (2.3e-16); "
    "the stages before it agree (parameters, z)",
    agreed=["parameters", "z"],
    expected=[-0.1435],
    got=[-0.0205],
    ratios={"z": 0.5, "a": 5.4e14},
    diagnosis={"id": "hard_coded_alpha", "message": "a uses alpha = 0.01, not self.alpha (0.07 here)"},
    group="grader/hidden",
)


def staged(**changes: Any) -> Outcome:
    """FAILED_AT_A with `changes`, as ``--feedback stage`` has it."""
    return redact(replace(FAILED_AT_A, **changes), "stage")


def test_full_is_the_report_itself() -> None:
    verdict = Verdict("my.py:Neuron", "grader/hidden", [FAILED_AT_A])
    assert redact(verdict, "full") is verdict


def test_stage_keeps_the_case_its_set_stage_agreed_and_mistake_and_drops_every_value() -> None:
    o = staged()
    assert (o.name, o.group, o.status, o.stage, o.agreed) == (
        "grader/hidden/negative_z",
        "grader/hidden",
        Status.FAILED,
        "a",
        ["parameters", "z"],
    )
    assert (o.expected, o.got, o.ratios) == (None, None, {})
    assert o.diagnosis == {"id": "hard_coded_alpha", "message": stage_wording("hard_coded_alpha", "a")}
    assert o.message == "a is not within its bound of the expected value; the stages before it agree " + (
        "(parameters, z)"
    )
    assert not any(c.isdigit() for c in o.message + o.diagnosis["message"])


def test_stage_says_how_a_stage_diverged_from_its_data_alone() -> None:
    assert staged(got=[[-0.0205]]).message.startswith("a does not have the expected shape;")
    assert staged(got=["nan"]).message.startswith("a holds NaN or infinity;")
    assert staged(expected=None, got=None, message="forward returned None").message.startswith(
        "a diverges: the implementation does not follow the protocol there;"
    )


@pytest.mark.parametrize(
    ("message", "said"),
    [
        (
            "forward raised ValueError at my_neuron.py:14: X = [[3.7, -5.3]]",
            "forward raised ValueError at my_neuron.py:14",
        ),
        ("gradient raised KeyError: 0.4375", "gradient raised KeyError"),
        (
            "forward raised ValueError at cell In[3], line 14: 3.7",
            "forward raised ValueError at cell In[3], line 14",
        ),
        ("forward raised ValueError at 3.7 -5.3:1: x", "forward raised ValueError"),  # no file's form
        (
            "forward raised <3.7> at my_neuron.py:1: x",
            "an error: its details are withheld under feedback stage",
        ),
        ("the implementation ended its process (exit code 37)", "an error: its details are withheld under"),
    ],
)
def test_stage_keeps_a_raises_call_type_and_place_but_never_its_message(message: str, said: str) -> None:
    o = staged(status=Status.ERROR, message=message, expected=None, got=None, diagnosis=None)
    assert o.message.startswith(said) and "3.7" not in o.message and "37" not in o.message


def test_stage_says_a_timeout_and_a_missing_method_without_the_budget() -> None:
    timed = staged(
        status=Status.ERROR, message="timed out after 7.5 s; its process was stopped", timed_out=True
    )
    assert timed.message == "timed out; its process was stopped"
    missing = staged(status=Status.ERROR, message="forward is not implemented yet", not_implemented=True)
    assert missing.message == "forward is not implemented yet"


def test_stage_names_a_trajectorys_step_as_the_trajectory() -> None:
    o = staged(stage="trajectory step 37", diagnosis=None)  # its number bounds the case's steps
    assert o.stage == "trajectory" and "37" not in o.message


def test_stage_withholds_a_propertys_example_and_a_skips_reason() -> None:
    prop = Outcome(
        "agrees_with_the_oracle", Status.FAILED, Kind.PROPERTY, "agrees_with_the_oracle", "got 3.7"
    )
    assert redact(prop, "stage").message == (
        "agrees_with_the_oracle does not hold; its example is withheld under feedback stage"
    )
    skip = Outcome("grader/hidden/tanh", Status.SKIPPED, message="activation 'tanh' is not in Neuron's")
    assert redact(skip, "stage").message == "not applicable to this implementation"


def test_score_says_only_passed_or_failed_an_error_being_a_failure() -> None:
    for status, said in ((Status.FAILED, Status.FAILED), (Status.ERROR, Status.FAILED)):
        o = redact(replace(FAILED_AT_A, status=status), "score")
        assert o == Outcome("grader/hidden/negative_z", said, group="grader/hidden")


def test_a_load_error_keeps_its_raise_under_stage_and_says_only_not_graded_under_score() -> None:
    error = "IMPL 'subs/erin.py:Neuron': running subs/erin.py raised ValueError at subs/erin.py:3: 3.7"
    g = Graded("subs/erin.py:Neuron", ["one"], error=error, loaded=False)
    assert redact(g, "stage").error == error.rpartition(": ")[0]
    assert redact(g, "score").error == "could not be loaded"


def test_every_mistake_has_a_wording_that_names_no_number_of_the_case() -> None:
    """Under stage a diagnosis is worded with the stage alone: no row count, no inferred constant."""
    for mistake in BY_ID.values():
        wording = mistake.stage_message or mistake.message
        fields = {name for _, name, _, _ in string.Formatter().parse(wording) if name is not None}
        assert fields <= {"stage"}, (mistake.id, fields)
        assert stage_wording(mistake.id, "dJ_db")


# -- the leak test: a hidden set of distinctive values, every output searched ----------------------------

HIDDEN = "grader/hidden"
CASES = {  # X, y_true, w (each case has b = 0.4375, learning rate 0.03, alpha 0.07), steps
    "leaky_course_alpha": ([["3.7", "-5.3"]], ["-0.8125"], ["0.3125", "0.6875"], 1),
    "three_rows_both_branches": (
        [["3.7", "-5.3"], ["-4.9", "2.6"], ["6.1", "1.3"]],
        ["1.45", "-0.35", "2.85"],
        ["0.3125", "0.6875"],
        1,
    ),
    "descent_in_steps": ([["2.3", "-3.1"], ["-1.7", "4.4"]], ["0.65", "-1.15"], ["0.15", "-0.35"], 3),
}
# By hand, on the first case: z = 3.7·0.3125 − 5.3·0.6875 + 0.4375 = −2.05 < 0, so a = 0.07·z = −0.1435.
EXPECTED_A = -0.1435
EXTRA = '''
class EchoesItsInput(Textbook):
    """forward returns X's first column: what it returns is the case's input."""

    def forward(self, X):
        return np.asarray(X)[:, 0] * 1.0


class RaisesWithValues(Textbook):
    """gradient raises, its message printing X, w and b."""

    def gradient(self, X, y_true):
        raise ValueError(f"cannot use X = {np.asarray(X).tolist()}, w = {self.w.tolist()}, b = {self.b!r}")
'''
STUDENTS = {  # a correct neuron, one whose diagnosis infers a constant (alpha), a wrong shape, a raise
    "alice": "Textbook",  # printing values, one that returns the inputs, a row count, a factor inferred
    "bob": "HardcodedAlpha",
    "carol": "ForwardAsColumn",
    "dave": "RaisesWithValues",
    "erin": "EchoesItsInput",
    "frank": "MeanBiasGradient",
    "gina": "LearningRateTwice",
}


def hidden_set(folder: Path) -> None:
    """The hidden set of CASES, written as ``regen --case-file`` writes one."""
    documents = {}
    for name, (X, y, w, steps) in CASES.items():

        def made(X: Any = X, y: Any = y, w: Any = w, steps: int = steps) -> Any:
            return create_backprop_test_case(X, y, w, "0.4375", "0.03", alpha="0.07", steps=steps)

        documents[name] = build(
            Case(name, f"{name}, hidden", "true", lambda r: True, made), 2, ORACLE_VERSION
        )
    user.regenerate_set(folder, user.set_files(documents, "hidden_cases.py", "0" * 64, released=False))


def numbers(value: Any, path: str = "") -> Iterator[tuple[str, int | float]]:
    """Every number in a JSON value, with the path to it (``inputs.X``, ``bounds.float32.a``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from numbers(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from numbers(item, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, value  # an int as the reports print it: steps = 3 is 3, never 3.0


def secrets(folder: Path) -> dict[str, str]:
    """Each form of each distinctive number of the set's files, and of each case's shapes, with what it is.

    The values 0, 1 and 2 are left out, and so is a form of fewer than 3 characters (``3``, ``-4``, ``13``):
    the reports print counts, scores, line numbers and limits, and a number that short is in every one
    of them whatever the set holds. A shape is searched as the reports print one: ``(3, 1)``, ``(3,)``.
    """
    found: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")):
        for where, x in numbers(json.loads(path.read_text())):
            if abs(x) in (0.0, 1.0, 2.0):
                continue
            for form in (repr(x), f"{x:g}", f"{x:.2g}", f"{x:.3g}", f"{x:.6g}"):
                if len(form) >= 3:
                    found.setdefault(form, f"{path.stem}: {where} {x!r}")
    for name, (X, _, w, _) in CASES.items():
        m, n = len(X), len(w)
        for form in (f"({m}, 1)", f"({m},)", f"({m}, {n})", f"({n},)", f"{m} rows"):
            found.setdefault(form, f"{name}: its shape")
    return found


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A teacher's folder: the hidden set in grader/hidden, and a submission per student in subs/."""
    root = tmp_path_factory.mktemp("course")
    hidden_set(root / HIDDEN)
    broken = (REPO / "tests" / "broken_neurons.py").read_text()
    (root / "subs").mkdir()
    for student, cls in STUDENTS.items():
        (root / "subs" / f"{student}.py").write_text(f"{broken}\n{EXTRA}\nNeuron = {cls}\n")
    return root


def cli(root: Path, *args: str, module: str = "golden") -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` in `root`, unsandboxed (tests/test_sandbox.py tests the sandbox)."""
    extra = ("validate", "--sandbox", "off") if module == "golden" else ("-q", "-p", "no:cacheprovider")
    return subprocess.run(
        [sys.executable, "-m", module, *extra, *args],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=300,
        env={**os.environ, "HYPOTHESIS_PROFILE": "ci"},
    )


def outputs(root: Path, level: str) -> dict[str, str]:
    """Every output of the hidden set's grading under `level`, by name: the batch's text table, CSV, JSON
    and Gradescope files; each student's text, JSON, JUnit and HTML report from golden.api; and the
    pytest plugin's failures of the neuron that raises and of the one that returns its input. The HTML
    is searched without its style sheet: the same rules for every report, sizes such as 1.45 among them."""
    got: dict[str, str] = {}
    batch = ("subs/*.py:Neuron", "--golden", HIDDEN, "--feedback", level, "--no-properties", "--jobs", "2")
    shown = f"{HIDDEN}=hidden"
    for form, where in (("csv", "grades.csv"), ("json", None), ("gradescope", f"results-{level}")):
        out = cli(
            root, *batch, "--format", form, *(("--output", where) if where else ()), "--visibility", shown
        )
        assert out.returncode == 1, out.stderr
        got[f"batch {form}: stdout and stderr"] = out.stdout + out.stderr
    got["batch csv"] = (root / "grades.csv").read_text()
    for path in sorted((root / f"results-{level}").iterdir()):
        got[f"gradescope {path.name}"] = path.read_text()
    for student in STUDENTS:
        report = validate(
            f"{root}/subs/{student}.py:Neuron",
            golden=str(root / HIDDEN),
            feedback=level,
            properties=False,
            sandbox="off",
        )
        got |= {
            f"{student}: text": str(report),
            f"{student}: json": report.json(),
            f"{student}: junit": report.junit(),
            f"{student}: html": html.unescape(
                re.sub(r"<style>.*?</style>", "", report._repr_html_(), flags=re.S)
            ),
        }
    for student in ("dave",):  # one IMPL named plainly (the one that raises values): the CLI's own report
        for form in ("text", "json", "junit"):
            one = (f"subs/{student}.py:Neuron", "--golden", HIDDEN, "--feedback", level, "--no-properties")
            out = cli(root, *one, "--format", form)
            got[f"{student}: validate --format {form}"] = out.stdout + out.stderr
    for student in ("dave", "erin"):
        plugin = (f"--neuron-impl=subs/{student}.py:Neuron", f"--neuron-golden={HIDDEN}")
        out = cli(root, *plugin, f"--neuron-feedback={level}", "--neuron-no-properties", module="pytest")
        got[f"{student}: pytest"] = re.sub(r" in \d+\.\d+s\b", "", out.stdout + out.stderr)  # its timing
    return got


def leaks(found: dict[str, str], secret: dict[str, str]) -> list[str]:
    """Each secret form that an output holds: ``output: form (what it is)``."""
    return [
        f"{name}: {form} ({what})"
        for name, text in found.items()
        for form, what in secret.items()
        if form in text
    ]


@pytest.mark.parametrize("level", ["stage", "score"])
def test_no_number_of_a_hidden_case_reaches_any_output(course: Path, level: str) -> None:
    found = outputs(course, level)
    leaked = leaks(found, secrets(course / HIDDEN))
    assert not leaked, "\n".join(leaked[:20])
    assert '"name": "leaky_course_alpha"' in found["gradescope bob.json"]  # the case is named still


def test_under_full_the_same_search_finds_inputs_expected_values_bounds_and_shapes(course: Path) -> None:
    """The search can find what it looks for: the reports of golden.api say it all under full."""
    reports = {
        student: validate(f"{course}/subs/{student}.py:Neuron", golden=str(course / HIDDEN), properties=False)
        for student in STUDENTS
    }
    every = {
        f"{s}: {form}": text
        for s, r in reports.items()
        for form, text in (("text", str(r)), ("json", r.json()))
    }
    found = leaks(every, secrets(course / HIDDEN))
    for what in ("inputs.X", "inputs.alpha", "expected.a", "bounds.float64", "its shape"):
        assert any(what in leak for leak in found), what
    assert any(f" {EXPECTED_A!r} (" in leak for leak in found)


def test_stage_names_the_case_the_stage_and_the_mistake(course: Path) -> None:
    spec = f"{course}/subs/bob.py:Neuron"
    report = validate(spec, golden=str(course / HIDDEN), feedback="stage", properties=False, sandbox="off")
    first = next(o for o in report.outcomes if o.status is Status.FAILED)
    assert (first.name, first.stage, first.diagnosis and first.diagnosis["id"]) == (
        "leaky_course_alpha",
        "a",
        "hard_coded_alpha",
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--feedback", "values"), "--feedback is 'values'; expected one of full, stage, score"),
        (
            ("--visibility", "v3=hidden"),
            f"--visibility: 'v3' is not a golden set of this run; the sets are {HIDDEN}",
        ),
        (
            ("--visibility", f"{HIDDEN}=secret"),
            f"--visibility: {HIDDEN} is 'secret'; expected one of visible",
        ),
        (("--visibility", HIDDEN), f"--visibility {HIDDEN!r}: expected SET=VISIBILITY"),
    ],
)
def test_a_bad_feedback_or_visibility_is_one_line_naming_it_and_exit_2(
    course: Path, args: tuple[str, ...], says: str
) -> None:
    out = cli(
        course, "subs/*.py:Neuron", "--golden", HIDDEN, "--format", "gradescope", "--output", "r", *args
    )
    assert out.returncode == 2 and out.stdout == ""
    assert says in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr
