"""Outputs operators expect (issue 21, item 6): Gradescope's new fields and PrairieLearn's results, each
file checked against the committed JSON Schema of its documented fields; ``--feedback`` governs every
field added; the batch's seed is in the teacher's CSV and JSON, and in a student's file under ``full``
only; the same folder graded twice under one seed gives the same CSV and JSON, byte for byte."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from test_grading import gradescope_valid, oracle, schema, submit
from test_required_activations import CASES, FULL_MARKS, LEAKY, OFF, graded
from test_required_activations import oracle as oracle_v3
from test_tdd import learner

from golden.grading._prairielearn import prairielearn
from golden.grading._render import STUDENT_FILES, report_all
from golden.grading._scoring import Graded
from golden.harness._mistakes import BY_ID
from golden.harness.properties import PROPERTIES
from golden.options import FEEDBACK, Options
from golden.outcome import DJ_DB, STAGES, Outcome, Status

PRAIRIELEARN = schema("prairielearn-results")
MiB = 1 << 20  # PrairieLearn reads a results file of at most 1 MB
SEED = "424242"  # a seed no count, score or line number of these runs could print


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """subs/: a correct neuron, a classic mistake, one that does not even import."""
    root = tmp_path_factory.mktemp("formats")
    submit(root / "subs", "alice", "Textbook")
    submit(root / "subs", "bob", "MeanBiasGradient")
    (root / "subs" / "erin.py").write_text("class Neuron(:\n")
    return root


@functools.cache
def written(folder: Path, form: str, level: str) -> dict[str, str]:
    """Each student's results file of `form` for subs/ under ``--feedback LEVEL`` and ``--seed SEED``, as
    written, by student; graded once (against v3, whose cases have a bound per stage, and so an
    error/bound ratio) for every test that asks."""
    where = f"{form}-{level}"
    out = oracle_v3(
        "validate", "subs/*.py:Neuron", "--format", form, "--output", where, "--feedback", level,
        "--seed", SEED, "--no-properties", cwd=folder,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    return {p.stem: p.read_text() for p in sorted((folder / where).iterdir())}


def results(folder: Path, form: str, level: str = "full") -> dict[str, dict[str, Any]]:
    """`written`, parsed."""
    return {name: json.loads(text) for name, text in written(folder, form, level).items()}


def by_name(tests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in tests}


# -- Gradescope ------------------------------------------------------------------------------------------


def test_gradescope_gives_each_test_a_number_markdown_and_its_stage_diagnosis_and_ratio(folder: Path) -> None:
    bob = results(folder, "gradescope")["bob"]
    gradescope_valid(bob)
    assert isinstance(bob["execution_time"], int) and bob["execution_time"] >= 0
    assert {t["output_format"] for t in bob["tests"]} == {"md"}
    failed = by_name(bob["tests"])["batch_input_gradients"]
    extra = failed["extra_data"]
    assert extra["stage"] == "dJ_db" and extra["diagnosis"] in BY_ID and extra["ratio"] > 1
    table = failed["output"].split("\n\n")[-1].splitlines()
    assert table[0] == "| stage | expected | got | error / bound | agreed before it |"
    assert table[2].startswith("| `dJ_db` | `-0.45` | `")


def test_a_case_has_the_same_number_in_every_submissions_results(folder: Path) -> None:
    files = results(folder, "gradescope")
    numbers = {name: {t["name"]: t["number"] for t in r["tests"]} for name, r in files.items()}
    assert numbers["erin"]["batch_input_gradients"] == numbers["bob"]["batch_input_gradients"]
    assert numbers["alice"] == numbers["bob"]  # alice and bob leave the same skipped cases out
    assert len(numbers["erin"]) == len(CASES) > len(numbers["bob"]) == len(LEAKY)  # erin: every item counts


def test_under_stage_a_test_keeps_its_stage_and_mistake_and_loses_the_ratio_and_values(folder: Path) -> None:
    bob = results(folder, "gradescope", "stage")["bob"]
    gradescope_valid(bob)
    failed = by_name(bob["tests"])["batch_input_gradients"]
    assert set(failed["extra_data"]) == {"stage", "diagnosis"}
    assert failed["output"].split("\n\n")[-1].splitlines()[:3] == [
        "| stage | agreed before it |",
        "| --- | --- |",
        f"| `dJ_db` | {', '.join(f'`{s.name}`' for s in STAGES[: STAGES.index(DJ_DB)])} |",
    ]


def test_under_score_a_test_says_only_whether_it_passed(folder: Path) -> None:
    bob = results(folder, "gradescope", "score")["bob"]
    gradescope_valid(bob)
    assert not any("extra_data" in t for t in bob["tests"])
    assert (
        by_name(bob["tests"])["batch_input_gradients"]["output"]
        == "golden case batch_input_gradients: failed"
    )


# -- PrairieLearn ----------------------------------------------------------------------------------------


def test_prairielearn_scores_the_fraction_earned_and_a_submission_that_does_not_load_is_not_gradable(
    folder: Path,
) -> None:
    files = results(folder, "prairielearn")
    for name, r in files.items():
        PRAIRIELEARN.validate(r)
        assert len(json.dumps(r)) < MiB, name
    alice, bob, erin = files["alice"], files["bob"], files["erin"]
    assert (alice["gradable"], alice["score"]) == (True, 1.0)
    earned = sum(t["points"] for t in bob["tests"]) / sum(t["max_points"] for t in bob["tests"])
    assert bob["score"] == pytest.approx(earned) and 0 < earned < 1
    failed = by_name(bob["tests"])["batch_input_gradients"]
    assert failed["message"].startswith("failed: dJ_db expected -0.45")
    assert failed["output"].startswith("likely: ")
    assert erin["gradable"] is False and "score" not in erin and "tests" not in erin
    assert erin["format_errors"][0].startswith(
        "IMPL 'subs/erin.py:Neuron': running subs/erin.py raised SyntaxError"
    )


def test_prairielearn_leaves_the_tests_of_a_set_not_shown_at_once_out_and_counts_them() -> None:
    outcomes = [
        Outcome("v3/one", Status.PASSED, group="v3"),
        Outcome("hidden/two", Status.FAILED, group="hidden"),
    ]
    g = Graded(
        "my.py:N", [o.name for o in outcomes], outcomes, groups={"v3/one": "v3", "hidden/two": "hidden"}
    )
    r = prairielearn(g, OFF, {"hidden": "after_due_date"})
    PRAIRIELEARN.validate(r)
    assert [t["name"] for t in r["tests"]] == ["v3/one"] and r["score"] == 0.5
    assert r["message"].endswith("not counted here: hidden (after_due_date)")


def test_the_scaffolds_neuron_made_correct_scores_full_marks_in_prairielearn(tmp_path: Path) -> None:
    learner(tmp_path)  # my_neuron.py: the scaffold, every method filled in correctly
    out = oracle_v3(
        "validate", "my_neuron.py:Neuron", "--format", "prairielearn", "--examples", "5", cwd=tmp_path
    )
    assert out.returncode == 0, out.stdout + out.stderr
    r = json.loads(out.stdout)
    PRAIRIELEARN.validate(r)
    assert (r["gradable"], r["score"]) == (True, 1.0)
    assert [t["name"] for t in r["tests"] if t["points"] != t["max_points"]] == []
    assert sorted(t["name"] for t in r["tests"]) == sorted([*LEAKY, *PROPERTIES])
    assert sum(t["max_points"] for t in r["tests"]) == FULL_MARKS


# -- the seed: the teacher's -----------------------------------------------------------------------------


def report(tmp_path: Path, form: str, level: str, capsys: pytest.CaptureFixture[str]) -> str:
    """What the batch's report writes for two hand-made grades under ``--seed SEED``: the table, CSV or
    JSON it prints, or each student's results file (`form` gradescope or prairielearn, in a folder)."""
    folder = tmp_path / f"{form}-{level}"
    options = Options(
        format=form, feedback=level, seed=int(SEED), output=str(folder) if form in STUDENT_FILES else None
    )
    report_all([graded(), graded()], options, OFF, ["a.json", "b.json"], form in STUDENT_FILES)
    printed = capsys.readouterr().out
    return "".join(p.read_text() for p in sorted(folder.iterdir())) if form in STUDENT_FILES else printed


@pytest.mark.parametrize("form", ["gradescope", "prairielearn"])
def test_a_students_file_holds_the_seed_under_full_only(
    tmp_path: Path, form: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = {level: SEED in report(tmp_path, form, level, capsys) for level in FEEDBACK}
    assert shown == {"full": True, "stage": False, "score": False}


@pytest.mark.parametrize("level", ["stage", "score"])
def test_the_teachers_csv_and_json_record_the_seed_whatever_the_feedback(
    tmp_path: Path, level: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert json.loads(report(tmp_path, "json", level, capsys))["seed"] == int(SEED)
    csv = report(tmp_path, "csv", level, capsys).splitlines()
    assert csv[0].endswith(",sandbox,seed") and all(line.endswith(f",off,{SEED}") for line in csv[1:])


def test_the_same_folder_graded_twice_under_one_seed_gives_the_same_csv_and_json(tmp_path: Path) -> None:
    """The CSV of the issue's neuron (alpha hard-coded: 20/29, then 21/29, without a seed), whose grade
    the properties decide; and the JSON with the similarity report, whose hashes Python draws afresh in
    each process (tests/test_seed.py runs the JSON's properties twice under one seed)."""
    submit(tmp_path / "subs", "alice", "Textbook")
    submit(tmp_path / "subs", "bob", "HardcodedAlpha")
    runs = {
        "csv": ("subs/b*.py:Neuron", "--seed", "12345", "--examples", "5", "--format", "csv"),
        "json": (
            "subs/*.py:Neuron",
            "--seed",
            "12345",
            "--no-properties",
            "--format",
            "json",
            "--similarity",
        ),
    }
    for form, args in runs.items():
        first, second = (oracle(*args, cwd=tmp_path) for _ in range(2))
        assert first.returncode == second.returncode == 1, first.stderr
        assert first.stdout == second.stdout, form
        assert "12345" in first.stdout  # the seed, recorded: a column of the CSV, a key of the JSON
    assert json.loads(first.stdout)["similarity"]["pairs"]  # the two share the broken neurons' module
