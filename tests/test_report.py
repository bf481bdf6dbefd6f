"""The renderers, on outcomes built by hand: what each format says, from structured data alone."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

from golden import report
from golden.api import html_table
from golden.grading import _render as render
from golden.grading._scoring import Graded
from golden.harness._conventions import Conventions
from golden.harness._sandbox import Isolation
from golden.outcome import Judged, Kind, Outcome, Status, Verdict

ALPHA_AT_ZERO = Conventions(
    derivative_at_zero="alpha", sources=(("derivative_at_zero", "declared by Neuron.conventions"),)
)
JUDGED = Judged("float32", "detected: forward returns float32", ALPHA_AT_ZERO)
OUTCOMES = [
    Outcome("single_feature", Status.PASSED),
    Outcome(
        "batch_input_gradients",
        Status.FAILED,
        stage="dJ_db",
        message="dJ_db expected -0.45, got -0.225",
        diagnosis={"id": "mean_bias_gradient", "message": "dJ_db is the mean over the rows"},
    ),
    Outcome("tanh_batch", Status.SKIPPED, message="activation 'tanh' is not declared"),
    Outcome("agrees_with_the_oracle", Status.ERROR, Kind.PROPERTY, message="gradient raised ValueError"),
]


def test_the_text_report_opens_with_what_the_outcomes_were_judged_in() -> None:
    lines = report.text(Verdict("my.py:Neuron", "v3", OUTCOMES, JUDGED)).splitlines()
    assert lines[0] == (
        "validating my.py:Neuron against golden v3 in float32 (detected: forward returns float32)"
    )
    assert lines[1] == (
        "conventions: derivative_at_zero=alpha (declared by Neuron.conventions), loss=half_sum (the seed)"
    )


def test_the_text_report_gives_each_outcome_a_line_and_a_diagnosis_its_own() -> None:
    lines = report.text(Verdict("my.py:Neuron", "v3", OUTCOMES, JUDGED)).splitlines()
    failed = lines.index("  FAILED  batch_input_gradients: dJ_db expected -0.45, got -0.225")
    assert lines[failed + 1] == "          likely: dJ_db is the mean over the rows"
    assert "  PASSED  single_feature" in lines
    assert "  ERROR   agrees_with_the_oracle: gradient raised ValueError" in lines
    assert lines[-1] == "FAILED: 1 passed, 1 failed, 1 errors, 1 skipped"


def test_a_report_without_a_judgement_names_no_precision() -> None:
    first = report.text(Verdict("my.py:Neuron", "v3", OUTCOMES)).splitlines()[0]
    assert first == "validating my.py:Neuron against golden v3"


def test_the_json_report_words_the_judgement_as_the_text_does() -> None:
    data = json.loads(report.as_json(Verdict("my.py:Neuron", "v3", OUTCOMES, JUDGED)))
    assert data["precision"] == "float32 (detected: forward returns float32)"
    assert data["conventions"] == (
        "derivative_at_zero=alpha (declared by Neuron.conventions), loss=half_sum (the seed)"
    )
    assert data["counts"] == {"passed": 1, "failed": 1, "error": 1, "skipped": 1}
    assert data["ok"] is False
    assert [o["status"] for o in data["outcomes"]] == ["passed", "failed", "skipped", "error"]


def test_junit_has_a_suite_per_kind_with_its_counts() -> None:
    root = ET.fromstring(report.junit(Verdict("my.py:Neuron", "v3", OUTCOMES, JUDGED)).split("\n", 1)[1])
    assert root.get("name") == (
        "neuron-oracle validate my.py:Neuron in float32 (detected: forward returns float32)"
    )
    cases, properties = root.findall("testsuite")
    assert (cases.get("name"), cases.get("tests"), cases.get("failures"), cases.get("skipped")) == (
        "golden-v3",
        "3",
        "1",
        "1",
    )
    assert (properties.get("name"), properties.get("errors")) == ("properties", "1")
    failure = cases.find("testcase[@name='batch_input_gradients']/failure")
    assert failure is not None and failure.get("type") == "dJ_db"


def test_the_html_table_escapes_every_text_and_names_the_judgement() -> None:
    hostile = [Outcome("<script>", Status.FAILED, message="<b>&")]
    page = html_table(Verdict("my.py:Neuron", "v3", hostile, JUDGED))
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;&amp;" in page
    assert "in float32 (detected: forward returns float32)" in page
    assert "conventions: derivative_at_zero=alpha" in page


# Two sets, as a run of --golden v3 --golden grader/hidden names them: each case SET/CASE, in its group.
TWO_SETS = [
    Outcome("v3/single_feature", Status.PASSED, group="v3"),
    Outcome("v3/batch_input_gradients", Status.FAILED, stage="dJ_db", message="dJ_db differs", group="v3"),
    Outcome("grader/hidden/negative_z", Status.FAILED, stage="a", message="a differs", group="grader/hidden"),
    Outcome("grader/hidden/three_rows", Status.PASSED, group="grader/hidden"),
    Outcome("agrees_with_the_oracle", Status.PASSED, Kind.PROPERTY),
]
SEVERAL = Verdict("my.py:Neuron", "v3 + grader/hidden", TWO_SETS, JUDGED)


def test_the_text_report_has_a_section_per_set_each_holding_its_own_cases() -> None:
    lines = report.text(SEVERAL).splitlines()
    headings = [line for line in lines[2:-1] if line and not line.startswith(" ")]  # after the header
    assert headings == ["golden cases (v3)", "golden cases (grader/hidden)", "properties"]
    start, end = lines.index("golden cases (grader/hidden)"), lines.index("properties")
    assert [line.split()[1] for line in lines[start + 1 : end] if line.strip()] == [
        "grader/hidden/negative_z:",
        "grader/hidden/three_rows",
    ]


def test_with_one_set_the_text_reports_section_is_golden_cases_as_before() -> None:
    lines = report.text(Verdict("my.py:Neuron", "v3", OUTCOMES, JUDGED)).splitlines()
    assert "golden cases" in lines and not any(line.startswith("golden cases (") for line in lines)


def test_junit_has_a_suite_per_set_and_one_of_the_properties() -> None:
    root = ET.fromstring(report.junit(SEVERAL).split("\n", 1)[1])
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["golden-v3", "golden-grader/hidden", "properties"]
    hidden = suites["golden-grader/hidden"]
    assert [c.get("name") for c in hidden.findall("testcase")] == [
        "grader/hidden/negative_z",
        "grader/hidden/three_rows",
    ]
    assert (hidden.get("tests"), hidden.get("failures")) == ("2", "1")
    assert {c.get("classname") for c in hidden.findall("testcase")} == {"golden-grader/hidden"}


def test_the_json_report_lists_the_sets_and_each_case_names_its_own() -> None:
    data = json.loads(report.as_json(SEVERAL))
    assert data["sets"] == ["v3", "grader/hidden"] and data["golden"] == "v3 + grader/hidden"
    assert [o["group"] for o in data["outcomes"]] == ["v3", "v3", "grader/hidden", "grader/hidden", ""]
    one = json.loads(report.as_json(Verdict("my.py:Neuron", "v3", OUTCOMES, JUDGED)))
    assert "sets" not in one  # with one set, the report as it always was


def test_the_html_report_has_a_section_per_set_in_order() -> None:
    page = html_table(SEVERAL)
    headings = [page.index(f">{title}<") for title in ("golden cases (v3)", "golden cases (grader/hidden)")]
    assert headings == sorted(headings)
    assert headings[0] < page.index("v3/batch_input_gradients") < headings[1]
    assert headings[1] < page.index("grader/hidden/negative_z")
    one = html_table(Verdict("my.py:Neuron", "v3", OUTCOMES, JUDGED))
    assert "golden cases (" not in one and 'class="no-set"' not in one


def graded(visible: str = "v3", hidden: str = "grader/hidden") -> Graded:
    """A batch's grade of one IMPL over two sets of two cases each and a property: it passes one case of
    each set and the property."""
    names = [
        f"{visible}/one",
        f"{visible}/two",
        f"{hidden}/three",
        f"{hidden}/four",
        "agrees_with_the_oracle",
    ]
    groups = {name: name.rpartition("/")[0] for name in names[:4]}
    statuses = [Status.PASSED, Status.FAILED, Status.FAILED, Status.PASSED, Status.PASSED]
    outcomes = [
        Outcome(n, s, Kind.CASE if n in groups else Kind.PROPERTY, message="wrong", group=groups.get(n, ""))
        for n, s in zip(names, statuses, strict=True)
    ]
    return Graded("my.py:Neuron", names, outcomes, groups=groups)


OFF = Isolation(False, "asked for")
SETS = ("v3", "grader/hidden")


def test_among_several_sets_the_csv_scores_each_set_and_names_the_first_failures_set() -> None:
    (row,) = csv.DictReader(io.StringIO(render.as_csv([graded()], OFF, SETS)))
    assert list(row)[4:8] == ["score v3", "max_score v3", "score grader/hidden", "max_score grader/hidden"]
    assert [row[k] for k in list(row)[2:8]] == ["3.0", "5.0", "1.0", "2.0", "1.0", "2.0"]
    assert (row["first_failure"], row["set"]) == ("v3/two", "v3")


def test_with_one_set_the_csv_has_the_columns_it_always_had() -> None:
    header = render.as_csv([graded()], OFF, ("v3",)).splitlines()[0]
    assert header == (
        "impl,ok,score,max_score,passed,failed,errors,skipped,first_failure,stage,message,diagnosis,sandbox"
    )


def test_the_json_table_lists_the_sets_and_splits_each_score_by_set() -> None:
    table = json.loads(render.as_json([graded()], "v3 + grader/hidden", OFF, SETS))
    assert table["sets"] == ["v3", "grader/hidden"]
    (row,) = table["implementations"]
    assert row["by_set"] == {
        "v3": {"score": 1.0, "max_score": 2.0},
        "grader/hidden": {"score": 1.0, "max_score": 2.0},
    }
    assert row["first_failure"] == {"name": "v3/two", "set": "v3", "kind": "case", "stage": None}


def test_gradescope_gives_each_test_its_sets_visibility_and_counts_only_the_visible_at_the_top() -> None:
    results = render.gradescope(graded(), OFF, {"grader/hidden": "after_due_date"})
    shown = {t["name"]: t["visibility"] for t in results["tests"]}
    assert shown == {
        "v3/one": "visible",
        "v3/two": "visible",
        "grader/hidden/three": "after_due_date",
        "grader/hidden/four": "after_due_date",
        "agrees_with_the_oracle": "visible",
    }
    assert results["output"].splitlines()[0] == (
        "my.py:Neuron: FAILED: 2 passed, 1 failed, 0 errors, 0 skipped; not counted here: grader/hidden "
        "(after_due_date)"
    )


def test_gradescope_without_a_visibility_writes_none_and_counts_every_test() -> None:
    results = render.gradescope(graded(), OFF)
    assert not any("visibility" in t for t in results["tests"])
    assert (
        results["output"].splitlines()[0] == "my.py:Neuron: FAILED: 3 passed, 2 failed, 0 errors, 0 skipped"
    )
