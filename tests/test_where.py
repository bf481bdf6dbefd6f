"""An error raised inside the implementation names the file and line of the implementation's own code it
came from, in one line (``golden.harness._where``): the innermost frame in the learner's files, as pytest's
short tracebacks show it, whatever library raised below it; for a class from a notebook, the cell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from golden.harness._where import Places, _libraries, code_places, raised

NEURON = """\
import numpy as np
from helpers import refuse


class Neuron:
    def __init__(self, n_features):
        self.w, self.b, self.alpha = np.zeros(n_features), 0.0, 0.01

    def forward(self, X):
        z = X @ self.w + self.b
        return np.where(z < 0, self.alpha * z, z)  # FORWARD

    def gradient(self, X, y_true):
        return np.dot(X, self.w[:0]), 0.0  # GRADIENT

    def update_weights(self, dJ_dw, dJ_db, learning_rate):
        refuse()
"""
HELPERS = """\
def refuse():
    raise ValueError("no update today")  # HELPER
"""
CASE = "negative_gradients_increase_weights"


def line_of(source: str, marker: str) -> int:
    """The 1-based number of the line of `source` that holds `marker`."""
    (number,) = [i for i, line in enumerate(source.splitlines(), 1) if marker in line]
    return number


def learner(tmp_path: Path, neuron: str = NEURON) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "my_neuron.py").write_text(neuron)
    (folder / "helpers.py").write_text(HELPERS)
    return folder


def judge(cwd: Path, impl: str, *extra: str) -> list[dict[str, str]]:
    """The outcomes of `validate IMPL` on one case, run from `cwd`, as JSON."""
    run = subprocess.run(
        [sys.executable, "-m", "golden", "validate", impl, "--cases", CASE, "--format", "json", *extra],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    assert run.returncode == 1, run.stderr
    outcomes: list[dict[str, str]] = json.loads(run.stdout)["outcomes"]
    return outcomes


@pytest.mark.parametrize("sandbox", ["off", "on"])
def test_numpy_raising_below_the_learners_line_names_that_line(tmp_path: Path, sandbox: str) -> None:
    folder = learner(tmp_path)
    (outcome,) = judge(tmp_path, "work/my_neuron.py:Neuron", "--no-properties", "--sandbox", sandbox)
    where = f"work/my_neuron.py:{line_of(NEURON, '# GRADIENT')}"
    assert outcome["message"].startswith(f"gradient raised ValueError at {where}: shapes (1,2) and (0,)")
    assert "\n" not in outcome["message"] and folder.exists()


def test_an_error_in_a_module_beside_the_class_names_that_module(tmp_path: Path) -> None:
    right = "(X.T @ (delta := self.forward(X) - y_true), float(delta.sum()))"  # right where z > 0
    neuron = NEURON.replace("np.dot(X, self.w[:0]), 0.0", right)
    folder = learner(tmp_path, neuron)
    (outcome,) = judge(folder, "my_neuron.py:Neuron", "--no-properties")
    where = f"helpers.py:{line_of(HELPERS, '# HELPER')}"
    assert outcome["message"] == f"update_weights raised ValueError at {where}: no update today"


def test_an_error_at_import_names_its_line(tmp_path: Path) -> None:
    neuron = NEURON.replace("class Neuron:", "undefined_name\n\n\nclass Neuron:")
    folder = learner(tmp_path, neuron)
    run = subprocess.run(
        [sys.executable, "-m", "golden", "validate", "my_neuron.py:Neuron"],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=300,
    )
    where = f"my_neuron.py:{line_of(neuron, 'undefined_name')}"
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == (
        "neuron-oracle: error: IMPL 'my_neuron.py:Neuron': running my_neuron.py raised "
        f"NameError at {where}: name 'undefined_name' is not defined\n"
    )


def test_an_error_the_learners_code_did_not_raise_names_no_line() -> None:
    places = Places()
    places.configure({"load": "/nowhere/my_neuron.py:Neuron", "shown": "my_neuron.py:Neuron"})
    try:
        _ = object().w  # type: ignore[attr-defined]  # raised in C, in this frame: no line of theirs
    except AttributeError as e:
        error = e
    places.libraries += (str(Path(__file__).parent),)  # this test file stands for the toolkit's code
    assert places.where(error) is None
    assert raised("AttributeError", None, "no w") == "AttributeError: no w"


def test_a_class_sent_by_value_is_named_from_the_code_it_came_from(tmp_path: Path) -> None:
    """cloudpickle sends each code object's file as <dynamic-code>: the parent names each beforehand."""
    import cloudpickle
    import numpy as np

    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(
        compile(NEURON.replace("from helpers import refuse", ""), str(tmp_path / "cell.py"), "exec"),
        namespace,
    )
    places = Places(code=code_places(namespace["Neuron"]))  # type: ignore[arg-type]
    impl = cloudpickle.loads(cloudpickle.dumps(namespace["Neuron"]))  # in this process: the same class
    places.libraries = _libraries()
    try:
        impl(2).gradient(np.ones((1, 2)), np.ones(1))
    except ValueError as e:
        error = e
    assert places.where(error) == f"{tmp_path / 'cell.py'}:{line_of(NEURON, '# GRADIENT')}"


def test_a_place_the_child_sends_is_shortened_and_cleaned_and_a_malformed_one_refused() -> None:
    from golden.harness._protocol import WireError
    from golden.harness._proxy import _raised

    call = ["call", 1, "forward", []]
    error = {"type": "E", "message": "m", "not_implemented": False, "where": "x.py:1\n\x1b[31mOK" + "y" * 500}
    what = _raised(call, error, 1 << 30).what
    assert what.startswith("forward raised E at x.py:1  [31mOK") and "\n" not in what and "\x1b" not in what
    assert len(what) < 250
    with pytest.raises(WireError, match="malformed error"):
        _raised(call, {**error, "where": 5}, 1 << 30)
