"""`pytest --neuron-impl=IMPL`: golden cases and properties as test items, run from outside the repo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import REPO


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )


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
