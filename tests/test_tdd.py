"""scaffold, then tdd: filling in the starter neuron one method at a time moves the red step forward."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

# What a learner writes, method by method, in the order the curriculum asks for it.
SOLUTIONS = [
    ("__init__", "self.w = np.zeros(n_features)\nself.b = 0.0\nself.alpha = 0.01"),
    ("linear", "return np.dot(X, self.w) + self.b"),
    ("forward", "z = self.linear(X)\nreturn np.where(z < 0, self.alpha * z, z)"),
    ("activation_derivative", "return np.where(np.asarray(z) < 0, self.alpha, 1.0)"),
    ("loss", "return 0.5 * (self.forward(X) - y_true) ** 2"),
    (
        "gradient",
        "delta = (self.forward(X) - y_true) * self.activation_derivative(self.linear(X))\n"
        "return np.dot(delta, X), float(delta.sum())",
    ),
    (
        "update_weights",
        "self.w = self.w - learning_rate * np.asarray(dJ_dw)\nself.b = self.b - learning_rate * dJ_db",
    ),
]
# the step that is red after each fill (None: all green)
RED_AFTER = [2, 3, 4, 5, 6, 9, None]


def oracle(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "golden", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def fill(path: Path, method: str, body: str) -> None:
    """Replace the `raise NotImplementedError` of `method` with `body`."""
    source = path.read_text()
    pattern = rf"(    def {method}\(.*?\n)(.*?)        raise NotImplementedError\n"
    indented = "".join(f"        {line}\n" for line in body.splitlines())
    new, count = re.subn(pattern, lambda m: m.group(1) + m.group(2) + indented, source, count=1, flags=re.S)
    assert count == 1, method
    path.write_text(new)


def red_step(screen: str) -> int | None:
    found = re.search(r"^  RED\s+(\d+)\.", screen, flags=re.M)
    return int(found.group(1)) if found else None


def test_scaffold_writes_a_starter_that_validate_accepts_as_following_the_protocol(tmp_path: Path) -> None:
    out = oracle("scaffold", "my_neuron.py", cwd=tmp_path)
    assert out.returncode == 0
    assert out.stdout.splitlines()[-1] == "next: neuron-oracle tdd my_neuron.py:Neuron"
    source = (tmp_path / "my_neuron.py").read_text()
    assert source.count("raise NotImplementedError") == 7
    validated = oracle("validate", "my_neuron.py:Neuron", "--no-properties", cwd=tmp_path)
    assert validated.returncode == 1  # it follows the protocol (not exit 2); nothing is implemented
    assert "the constructor is not implemented yet" in validated.stdout


def test_scaffold_never_overwrites_without_force(tmp_path: Path) -> None:
    (tmp_path / "my_neuron.py").write_text("mine")
    out = oracle("scaffold", "my_neuron.py", cwd=tmp_path)
    assert out.returncode == 2
    assert "PATH my_neuron.py exists; choose another name or pass --force" in out.stderr
    assert (tmp_path / "my_neuron.py").read_text() == "mine"


def test_filling_in_methods_moves_the_red_step_forward_to_all_green(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    oracle("scaffold", "my_neuron.py", cwd=tmp_path)
    first = oracle("tdd", "my_neuron.py:Neuron", cwd=tmp_path)
    assert first.returncode == 1
    assert red_step(first.stdout) == 1
    assert "got            not implemented yet (NotImplementedError)" in first.stdout
    assert first.stdout == snapshot(name="red at step 1")
    for (method, body), red in zip(SOLUTIONS, RED_AFTER, strict=True):
        fill(tmp_path / "my_neuron.py", method, body)
        out = oracle("tdd", "my_neuron.py:Neuron", "--examples", "20", cwd=tmp_path)
        assert red_step(out.stdout) == red, out.stdout
        assert out.returncode == (0 if red is None else 1)
        assert out.stdout == snapshot(name=f"after {method}")
    assert "All green." in out.stdout


def test_a_wrong_answer_shows_expected_next_to_got_with_a_hint(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    oracle("scaffold", "my_neuron.py", cwd=tmp_path)
    path = tmp_path / "my_neuron.py"
    for method, body in SOLUTIONS[:2]:
        fill(path, method, body)
    fill(path, "forward", "return np.maximum(0.0, self.linear(X))")  # ReLU, not Leaky ReLU
    out = oracle("tdd", "my_neuron.py:Neuron", cwd=tmp_path)
    assert red_step(out.stdout) == 3
    assert "Step 3, activation: RED on case leaky_branch_negative_z" in out.stdout
    assert "    expected       [-0.004]\n    got            [0.0]" in out.stdout
    assert "Every step before this one is green." in out.stdout
    assert out.stdout == snapshot


def test_a_syntax_error_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "my_neuron.py").write_text("class Neuron(:\n")
    out = oracle("tdd", "my_neuron.py:Neuron", cwd=tmp_path)
    assert out.returncode == 2
    assert "running my_neuron.py raised SyntaxError" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_watch_reruns_on_save_and_ctrl_c_ends_it_quietly(tmp_path: Path) -> None:
    import signal
    import time

    oracle("scaffold", "my_neuron.py", cwd=tmp_path)
    log = tmp_path / "screen.txt"

    def wait_for(count: int) -> str:
        deadline = time.monotonic() + 60  # generous: a slow machine only makes this wait longer
        while time.monotonic() < deadline:
            text = log.read_text()
            if text.count("(watching for the next save") >= count:
                return text
            time.sleep(0.2)
        raise AssertionError(f"tdd --watch printed {count} screen(s) within 60 s? got:\n{log.read_text()}")

    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "golden", "tdd", "my_neuron.py:Neuron", "--watch"],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(1)
            fill(tmp_path / "my_neuron.py", *SOLUTIONS[0])
            screens = wait_for(2)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "Step 1, parameters: RED" in screens and "Step 2, linear part: RED" in screens


def test_a_non_positive_timeout_is_refused(tmp_path: Path) -> None:
    out = oracle("tdd", "my_neuron.py:Neuron", "--timeout", "0", cwd=tmp_path)
    assert out.returncode == 2
    assert (
        out.stderr
        == "neuron-oracle: error: --timeout is 0; expected a number of seconds > 0 and at most 86400\n"
    )
