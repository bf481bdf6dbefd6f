"""`pytest --neuron-impl=IMPL`: golden cases and properties as test items, run from outside the repo."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from helpers import REPO, validate

EXAMPLE = f"{REPO}/examples/pure_python.py:Neuron"


def run_pytest(tmp_path: Path, *args: str, quiet: bool = True) -> subprocess.CompletedProcess[str]:
    """This interpreter's pytest in `tmp_path`, quiet (no header) unless told otherwise."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", *(["-q"] if quiet else []), "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )


def header(stdout: str) -> tuple[int, int, int]:
    """The header's ``collected N items / M deselected / K selected``, as (N, M, K); K is N when nothing
    was deselected."""
    found = re.search(r"^collected (\d+) items?(?: / (\d+) deselected)?(?: / (\d+) selected)?$", stdout, re.M)
    assert found, stdout
    collected, deselected, selected = found.groups()
    return int(collected), int(deselected or 0), int(selected or collected)


def ran(stdout: str) -> Counter[str]:
    """The last line's counts: passed, failed, skipped, deselected."""
    last = stdout.strip().splitlines()[-1]
    return Counter(
        {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|deselected)", last)}
    )


def failure(stdout: str, nodeid: str) -> list[str]:
    """The lines of `nodeid`'s section under FAILURES."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(rf"_+ {re.escape(nodeid)} _+", line))
    end = next(i for i, line in enumerate(lines) if i > start and re.match(r"^(_{3,}|={3,}) ", line))
    return lines[start + 1 : end]


def test_plugin_runs_an_example_from_a_directory_outside_the_repository(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, f"--neuron-impl={REPO}/examples/pure_python.py:Neuron", "--neuron-examples=20")
    assert out.returncode == 0, out.stdout
    assert "33 passed" in out.stdout  # golden v3: 23 cases, and 10 properties


def test_plugin_items_honour_k_and_report_the_failing_stage(tmp_path: Path) -> None:
    impl = f"--neuron-impl={REPO}/tests/broken_neurons.py:MeanBiasGradient"
    out = run_pytest(tmp_path, impl, "--neuron-no-properties", "-k", "batch_input")
    assert out.returncode == 1
    assert "1 failed, 22 deselected" in out.stdout
    assert "batch_input_gradients: failed: dJ_db expected -0.45, got " in out.stdout
    assert "Traceback" not in out.stdout


def test_plugin_writes_a_junit_report(tmp_path: Path) -> None:
    impl = f"--neuron-impl={REPO}/examples/pure_python.py:Neuron"
    out = run_pytest(tmp_path, impl, "--neuron-no-properties", "--junitxml=report.xml")
    assert out.returncode == 0
    assert 'tests="23"' in (tmp_path / "report.xml").read_text()


def test_plugin_runs_under_xdist(tmp_path: Path) -> None:
    out = run_pytest(
        tmp_path, f"--neuron-impl={REPO}/examples/pure_python.py:Neuron", "-n", "2", "--neuron-examples=20"
    )
    assert out.returncode == 0, out.stdout
    assert "33 passed" in out.stdout  # golden v3: 23 cases, and 10 properties


def test_plugin_bad_impl_is_a_usage_error(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, "--neuron-impl=no_such_module:Neuron")
    assert out.returncode == 4
    assert "IMPL 'no_such_module:Neuron': no module named 'no_such_module'" in out.stderr


def test_without_the_option_the_plugin_adds_nothing(tmp_path: Path) -> None:
    assert run_pytest(tmp_path).returncode == 5  # no tests collected


@pytest.mark.parametrize(
    "args",
    [(), ("-k", "batch"), ("--neuron-no-properties",), ("--neuron-no-properties", "-k", "batch")],
    ids=["everything", "k", "no-properties", "no-properties-k"],
)
def test_header_counts_the_items_that_run_and_those_deselected(tmp_path: Path, args: tuple[str, ...]) -> None:
    out = run_pytest(tmp_path, f"--neuron-impl={EXAMPLE}", "--neuron-examples=20", *args, quiet=False)
    assert out.returncode == 0, out.stdout
    collected, deselected, selected = header(out.stdout)
    counts = ran(out.stdout)
    run = counts["passed"] + counts["failed"] + counts["skipped"]
    assert run > 0
    assert (deselected > 0) == ("-k" in args)
    assert (collected, deselected, selected) == (run + counts["deselected"], counts["deselected"], run)


def test_collect_only_lists_the_items_that_run(tmp_path: Path) -> None:
    impl = f"--neuron-impl={EXAMPLE}"
    listed = run_pytest(tmp_path, impl, "--neuron-no-properties", "--collect-only")
    assert listed.returncode == 0, listed.stdout
    run = run_pytest(tmp_path, impl, "--neuron-no-properties", "-rA")  # "PASSED <nodeid>" for each
    assert run.returncode == 0, run.stdout
    ids = {line for line in listed.stdout.splitlines() if line.startswith("golden-")}
    assert ids and ids == set(re.findall(r"^PASSED (\S+)$", run.stdout, re.M))


def test_deselecting_every_item_of_ours_fails_nothing(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text("def test_mine():\n    pass\n")
    out = run_pytest(tmp_path, f"--neuron-impl={EXAMPLE}", "--neuron-no-properties", "-k", "mine")
    assert out.returncode == 0, out.stdout
    assert ran(out.stdout)["passed"] == 1 and ran(out.stdout)["deselected"] > 0


def test_a_failure_carries_the_diagnosis_validate_prints(tmp_path: Path) -> None:
    impl = f"{REPO}/tests/broken_neurons.py:BiasMissingInForward"
    case = "batch_input_gradients"
    report = json.loads(validate(impl, "--cases", case, "--no-properties", "--format", "json").stdout)
    (outcome,) = report["outcomes"]
    assert outcome["diagnosis"]["id"] == "bias_missing_in_forward"  # what this test is about
    out = run_pytest(tmp_path, f"--neuron-impl={impl}", "--neuron-no-properties", "-k", case)
    assert out.returncode == 1, out.stdout
    first, *rest = failure(out.stdout, f"golden-v3::{case}")
    assert first.startswith(f"{case}: failed: z expected ")  # the stage that diverged, then why
    assert rest == [f"likely: {outcome['diagnosis']['message']}"]
