"""scaffold, then tdd: filling in the starter neuron one method at a time moves the red step forward."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import machine_free
from syrupy.assertion import SnapshotAssertion

from golden.files.store import load_set
from golden.learn._constructor import is_default_alpha
from golden.learn._tdd import CURRICULUM, End, Walked, red_screen
from golden.outcome import Kind, Outcome, Status

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


def drop(path: Path, method: str) -> None:
    """Remove `method`, its docstring and body, from the class in `path`."""
    source = path.read_text()
    new, count = re.subn(rf"    def {method}\(.*?\n(?=    def |\Z)", "", source, count=1, flags=re.S)
    assert count == 1, method
    path.write_text(new)


def learner(tmp_path: Path, **bodies: str) -> Path:
    """The starter with every method filled in correctly, except those given in `bodies`."""
    oracle("scaffold", "my_neuron.py", cwd=tmp_path)
    path = tmp_path / "my_neuron.py"
    for method, body in SOLUTIONS:
        fill(path, method, bodies.get(method, body))
    return path


def red_step(screen: str) -> int | None:
    found = re.search(r"^  RED\s+(\d+)\.", screen, flags=re.M)
    return int(found.group(1)) if found else None


def marks(screen: str) -> dict[int, str]:
    """Each step's mark on the progress list: GREEN, RED, SKIP or ·."""
    return {int(n): mark for mark, n in re.findall(r"^  (GREEN|RED|SKIP|·)\s+(\d+)\. ", screen, flags=re.M)}


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
    assert machine_free(first.stdout) == snapshot(name="red at step 1")
    for (method, body), red in zip(SOLUTIONS, RED_AFTER, strict=True):
        fill(tmp_path / "my_neuron.py", method, body)
        out = oracle("tdd", "my_neuron.py:Neuron", "--examples", "20", cwd=tmp_path)
        assert red_step(out.stdout) == red, out.stdout
        assert out.returncode == (0 if red is None else 1)
        assert machine_free(out.stdout) == snapshot(name=f"after {method}")
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
    assert machine_free(out.stdout) == snapshot


def test_a_syntax_error_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "my_neuron.py").write_text("class Neuron(:\n")
    out = oracle("tdd", "my_neuron.py:Neuron", cwd=tmp_path)
    assert out.returncode == 2
    assert "running my_neuron.py raised SyntaxError" in out.stderr and "Traceback" not in out.stderr


def watching(tmp_path: Path, edit: Callable[[Callable[[int], str]], None]) -> tuple[int, str]:
    """Run ``tdd --watch`` on a scaffolded my_neuron.py in `tmp_path`, let `edit` save it (it is handed
    ``wait_for(count)``, which returns the screens once `count` of them are printed), then Ctrl-C it: its
    exit status and stderr."""
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
            edit(wait_for)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=30)
        finally:
            proc.kill()
    return proc.returncode, stderr


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_watch_reruns_on_save_and_ctrl_c_ends_it_quietly(tmp_path: Path) -> None:
    screens = []

    def edit(wait_for: Callable[[int], str]) -> None:
        fill(tmp_path / "my_neuron.py", *SOLUTIONS[0])
        screens.append(wait_for(2))

    code, stderr = watching(tmp_path, edit)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert "Step 1, parameters: RED" in screens[0] and "Step 2, linear part: RED" in screens[0]


def test_a_non_positive_timeout_is_refused(tmp_path: Path) -> None:
    out = oracle("tdd", "my_neuron.py:Neuron", "--timeout", "0", cwd=tmp_path)
    assert out.returncode == 2
    assert (
        out.stderr
        == "neuron-oracle: error: --timeout is 0; expected a number of seconds > 0 and at most 86400\n"
    )


# -- step 1 checks what __init__ itself stores, before the harness sets anything -------------------------


def test_an_empty_init_is_red_at_step_1_naming_what_is_missing(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    learner(tmp_path, __init__="pass")  # the golden cases set w, b and alpha themselves: they would pass
    out = oracle("tdd", "my_neuron.py:Neuron", cwd=tmp_path)
    assert out.returncode == 1, out.stdout
    assert red_step(out.stdout) == 1
    assert "Step 1, parameters: RED on Neuron(3), as its own __init__ leaves it" in out.stdout
    assert (
        "    why            reading w raised AttributeError: 'Neuron' object has no attribute 'w'\n"
        in out.stdout
    )
    assert "reading alpha raised AttributeError: 'Neuron' object has no attribute 'alpha'" in out.stdout
    assert machine_free(out.stdout) == snapshot


@pytest.mark.parametrize(
    ("init", "why"),
    [
        (
            "self.w = np.zeros(n_features)\nself.b = 0.0",
            "reading alpha raised AttributeError: 'Neuron' object has no attribute 'alpha'",
        ),
        (
            "self.w = np.zeros(n_features)\nself.b = 0.0\nself.alpha = 0.2",
            "alpha is 0.2; expected 0.01 by default",
        ),
        (
            "self.w = np.zeros(2)\nself.b = 0.0\nself.alpha = 0.01",
            "w has shape (2,); expected (3,), one weight",
        ),
        (
            "self.w = np.zeros(n_features)\nself.b = np.zeros(1)\nself.alpha = 0.01",
            "b is an array of shape (1,)",
        ),
        (
            "self.w = [0.0] * n_features\nself.b = None\nself.alpha = 0.01",
            "b is None; expected a single number",
        ),
    ],
    ids=["forgets alpha", "alpha 0.2", "w of a fixed size", "b an array", "b None"],
)
def test_an_init_that_stores_a_parameter_wrong_is_red_at_step_1(tmp_path: Path, init: str, why: str) -> None:
    learner(tmp_path, __init__=init)
    out = oracle("tdd", "my_neuron.py:Neuron", cwd=tmp_path)
    assert out.returncode == 1, out.stdout
    assert red_step(out.stdout) == 1, out.stdout
    assert re.search(rf"^    why            {re.escape(why)}", out.stdout, flags=re.M), out.stdout


def test_alpha_counts_as_the_default_when_it_is_0_01_in_its_own_precision() -> None:
    assert is_default_alpha(0.01, "float64")
    assert is_default_alpha(float(np.float32(0.01)), "float32")
    assert not is_default_alpha(float(np.float32(0.01)), "float64")  # float64 holds 0.01 closer than that
    assert not is_default_alpha(0.0100001, "float32")
    assert not is_default_alpha(float("nan"), "float64")
    assert not is_default_alpha(0.2, None)


# -- the red screen names a shape; a diagnosis is the hint -------------------------------------------------


def test_a_linear_of_shape_m_by_1_names_the_shape(tmp_path: Path, snapshot: SnapshotAssertion) -> None:
    learner(tmp_path, linear="return (np.dot(X, self.w) + self.b).reshape(-1, 1)")
    out = oracle("tdd", "my_neuron.py:Neuron", cwd=tmp_path)
    assert red_step(out.stdout) == 2
    assert "    why            linear returned shape (1, 1); expected (1,)\n" in out.stdout
    assert machine_free(out.stdout) == snapshot


def golden_case(name: str) -> Any:
    return load_set().cases[name]


def test_a_diagnosis_is_shown_as_the_hint_instead_of_the_steps() -> None:
    step = CURRICULUM[6]  # bias gradient
    diagnosis = {
        "id": "bias_gradient_mean",
        "message": "dJ_db equals the mean over the 2 rows instead of the sum: the bias is shared by every "
        "example, so its gradient adds up",
    }
    outcome = Outcome(
        "batch_input_gradients", Status.FAILED, stage="dJ_db", expected=-0.5, got=-0.25, diagnosis=diagnosis
    )
    screen = red_screen(7, step, outcome, golden_case("batch_input_gradients"))
    assert screen[-1] == f"  hint      {diagnosis['message']}"
    assert step.hint not in "\n".join(screen)
    outcome.diagnosis = None
    assert (
        red_screen(7, step, outcome, golden_case("batch_input_gradients"))[-1] == f"  hint      {step.hint}"
    )


def test_the_red_screen_shows_why_only_when_expected_and_got_do_not_say_it() -> None:
    step, case = CURRICULUM[1], golden_case("negative_gradients_increase_weights")
    plain = Outcome(
        case.name, Status.FAILED, stage="z", message="z expected [1.2], got [1.3]", expected=[1.2]
    )
    plain.got = [1.3]
    assert not any(line.startswith("    why") for line in red_screen(2, step, plain, case))
    for got, message in (
        ([[1.2]], "linear returned shape (1, 1); expected (1,)"),
        (["nan"], "linear returned nan at index (0,); NaN and infinity are errors"),
        (None, "linear returned None; expected real numbers"),
    ):
        odd = Outcome(case.name, Status.FAILED, stage="z", message=message, expected=[1.2], got=got)
        assert f"    why            {message}" in red_screen(2, step, odd, case), message


# -- a step is green only when it was checked ---------------------------------------------------------------


def test_steps_whose_optional_method_is_absent_are_not_checked_and_never_green(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    path = learner(
        tmp_path,
        forward="z = np.dot(X, self.w) + self.b\nreturn np.where(z < 0, self.alpha * z, z)",
        gradient="raise NotImplementedError",
    )
    for method in ("linear", "activation_derivative", "loss"):
        drop(path, method)
    out = oracle("tdd", "my_neuron.py:Neuron", cwd=tmp_path)
    assert marks(out.stdout) == {
        **{1: "GREEN", 2: "SKIP", 3: "GREEN", 4: "SKIP", 5: "SKIP", 6: "RED"},
        **{7: "·", 8: "·", 9: "·", 10: "·"},
    }
    assert "  SKIP   2. linear part            not checked: no `linear` method\n" in out.stdout
    assert "  SKIP   4. activation derivative  not checked: no `activation_derivative` method\n" in out.stdout
    assert "  SKIP   5. loss                   not checked: no `loss` method\n" in out.stdout
    assert "Every step before this one is green or not checked." in out.stdout
    assert machine_free(out.stdout) == snapshot(name="red at step 6")
    fill(
        path,
        "gradient",
        "z = np.dot(X, self.w) + self.b\n"
        "delta = (self.forward(X) - y_true) * np.where(z < 0, self.alpha, 1.0)\n"
        "return np.dot(delta, X), float(delta.sum())",
    )
    out = oracle("tdd", "my_neuron.py:Neuron", "--examples", "20", cwd=tmp_path)
    assert out.returncode == 0, out.stdout
    assert [n for n, mark in marks(out.stdout).items() if mark != "GREEN"] == [2, 4, 5]
    assert "All green: 7 of 10 steps (3 not checked) and every golden case." in out.stdout
    assert machine_free(out.stdout) == snapshot(name="all green")


SIGMOID_ONLY = """
import numpy as np


class Neuron:
    supported_activations = ("sigmoid",)

    def __init__(self, n_features, activation="sigmoid"):
        self.w, self.b, self.alpha = np.zeros(n_features), 0.0, 0.01

    def forward(self, X):
        return 1.0 / (1.0 + np.exp(-(np.dot(X, self.w) + self.b)))

    def gradient(self, X, y_true):
        a = self.forward(X)
        delta = (a - y_true) * a * (1.0 - a)
        return np.dot(delta, X), float(delta.sum())

    def update_weights(self, dJ_dw, dJ_db, learning_rate):
        self.w = self.w - learning_rate * np.asarray(dJ_dw)
        self.b = self.b - learning_rate * dJ_db
"""


def test_a_class_without_leaky_relu_is_red_saying_there_is_nothing_to_walk(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    (tmp_path / "my_neuron.py").write_text(SIGMOID_ONLY)  # a correct sigmoid neuron: its one case passes
    out = oracle("tdd", "my_neuron.py:Neuron", "--examples", "20", cwd=tmp_path)
    assert out.returncode == 1, out.stdout
    assert out.stdout.splitlines()[2].startswith(
        "RED: nothing checked. Neuron declares no activation the walk can run"
    ), out.stdout
    assert "All green" not in out.stdout and "GREEN" not in out.stdout
    assert machine_free(out.stdout) == snapshot


# -- the screen, rendered from a walk built by hand ------------------------------------------------------


def test_a_walk_whose_steps_are_green_but_cases_red_lists_those_cases_and_is_not_green() -> None:

    marks = tuple(("GREEN", step.formula) for step in CURRICULUM)
    red = Outcome("tall_batch_past_block_edges", Status.FAILED, message="dJ_dw is off by 3 × its bound")
    walked = Walked("tdd(N)", End.CASES_RED, "N", ("leaky_relu",), frozenset(), marks, outcomes=(red,))
    lines = walked.screen.splitlines()
    assert lines[0] == "tdd(N)"
    assert "Every step is green, but 1 more golden case(s) are red:" in lines
    assert "  tall_batch_past_block_edges: dJ_dw is off by 3 × its bound" in lines
    assert lines[-1] == "Make it green, then run `tdd(N)` again."
    assert not walked.green


def test_a_walk_that_ran_the_properties_is_green_only_when_each_passed_or_was_skipped() -> None:

    marks = tuple(("GREEN", step.formula) for step in CURRICULUM)
    passed = Outcome("forward_is_row_wise", Status.PASSED, Kind.PROPERTY)
    failed = Outcome("agrees_with_the_oracle", Status.FAILED, Kind.PROPERTY, message="dJ_db differs")
    green = Walked("tdd(N)", End.PROPERTIES, "N", marks=marks, outcomes=(passed,))
    red = Walked("tdd(N)", End.PROPERTIES, "N", marks=marks, outcomes=(passed, failed))
    assert green.green and green.screen.endswith("All green.")
    assert not red.green
    assert "  RED    agrees_with_the_oracle: dJ_db differs" in red.screen.splitlines()
    assert red.screen.endswith("A property is red: a refactoring broke an invariant.")


def test_a_class_that_declares_no_leaky_relu_has_nothing_to_walk() -> None:

    walked = Walked("tdd(N)", End.NOTHING_TO_WALK, "N", ("sigmoid",))
    assert walked.screen.splitlines()[2].startswith(
        "RED: nothing checked. N declares no activation the walk can run: its supported_activations hold "
        "'sigmoid'"
    )
    assert not walked.green


# A class appended after the scaffold's: its own __init__ stores what step 1 asks, so the screen moves on.
FIX = """

_Scaffold = Neuron


class Neuron(_Scaffold):
    def __init__(self, n_features: int, activation: str = "leaky_relu") -> None:
        self.w, self.b, self.alpha = np.zeros(n_features), 0.0, 0.01
"""


def _save_by_rename(path: Path, added: str) -> None:
    """As many editors save: a new file beside it, renamed over it."""
    staged = path.with_name(f".{path.name}.new")
    staged.write_text(path.read_text() + added)
    os.replace(staged, path)


def _save_by_sed(path: Path, added: str) -> None:
    """As ``sed -i`` saves: it writes a copy and renames it over the file."""
    (path.parent / "added.txt").write_text(added)
    subprocess.run(["sed", "-i", "-e", f"$r {path.parent / 'added.txt'}", str(path)], check=True)


def _save_by_appending(path: Path, added: str) -> None:
    with path.open("a") as f:
        f.write(added)


def _save_after_deleting(path: Path, added: str) -> None:
    import time

    text = path.read_text() + added
    path.unlink()
    time.sleep(0.5)  # the watch sees the file gone before it comes back
    path.write_text(text)


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
@pytest.mark.parametrize(
    "save",
    [_save_by_rename, _save_by_sed, _save_by_appending, _save_after_deleting],
    ids=lambda f: f.__name__,
)
def test_watch_reruns_after_every_kind_of_save_and_keeps_watching(tmp_path: Path, save: Any) -> None:
    if save is _save_by_sed and shutil.which("sed") is None:
        pytest.skip("no sed here: apt install sed")
    impl, screens = tmp_path / "my_neuron.py", []

    def edit(wait_for: Callable[[int], str]) -> None:
        save(impl, FIX)
        screens.append(wait_for(2))
        save(impl, "\n# saved once more\n")  # the watch survived the first save
        wait_for(3)

    code, stderr = watching(tmp_path, edit)
    assert code == 0, stderr
    assert "Step 2, linear part: RED" in screens[0]  # the second screen is the saved file's


@pytest.mark.skipif(sys.platform == "win32", reason="uses SIGALRM")
def test_a_save_made_while_the_first_run_runs_is_run_again(tmp_path: Path) -> None:
    """The watch starts after the first run: a save before it is in place is still seen, not lost."""
    from golden.learn._watch import watch

    impl, runs = tmp_path / "my_neuron.py", []
    impl.write_text("Neuron = 1\n")

    def run() -> None:
        runs.append(impl.read_text())
        if len(runs) == 1:
            impl.write_text("Neuron = 2\n")  # saved while the first run runs, before any watch
        else:
            raise KeyboardInterrupt  # as Ctrl-C ends the watch

    def lost(signum: int, frame: Any) -> None:
        raise TimeoutError("the save made during the first run was never run")

    before = signal.signal(signal.SIGALRM, lost)
    signal.alarm(30)
    try:
        with pytest.raises(KeyboardInterrupt):
            watch(f"{impl}:Neuron", run)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
    assert runs == ["Neuron = 1\n", "Neuron = 2\n"]
