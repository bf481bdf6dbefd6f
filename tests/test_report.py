"""The renderers, on outcomes built by hand: what each format says, from structured data alone."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from golden import report
from golden.api import html_table
from golden.harness._conventions import Conventions
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
