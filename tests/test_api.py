"""``from golden import validate, tdd``: a class object, sent by value to its own process, judged here."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from broken_neurons import MeanBiasGradient, Textbook
from helpers import REPO

from golden import report as text_report
from golden import tdd, validate
from golden.api import ValidationReport
from golden.errors import ImplError, OptionError
from golden.outcome import Kind, Outcome, Status, Verdict

FAST = {"properties": False}  # the golden cases only: the properties have tests of their own


def run_python(source: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_a_class_defined_in_main_as_in_a_notebook_or_repl_is_validated(tmp_path: Path) -> None:
    out = run_python(
        """
        import numpy as np
        from golden import validate

        class Neuron:
            def __init__(self, n_features):
                self.w, self.b, self.alpha = np.zeros(n_features), 0.0, 0.01
            def forward(self, X):
                z = np.asarray(X) @ self.w + self.b
                return np.where(z < 0, self.alpha * z, z)
            def gradient(self, X, y_true):
                z = np.asarray(X) @ self.w + self.b
                delta = (self.forward(X) - y_true) * np.where(z < 0, self.alpha, 1.0)
                return delta @ X, float(delta.sum())
            def update_weights(self, dJ_dw, dJ_db, learning_rate):
                self.w = self.w - learning_rate * np.asarray(dJ_dw)
                self.b = self.b - learning_rate * float(dJ_db)

        report = validate(Neuron, examples=10, golden="v1")
        print(report)
        print(report.ok)
        """,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("validating __main__:Neuron against golden v1")
    assert (
        "OK: 22 passed, 0 failed, 0 errors, 4 skipped\nTrue\n" in out.stdout
    )  # v1's 16 cases, 10 properties


def test_a_class_from_a_module_the_child_cannot_import_goes_by_value() -> None:
    # Like a class whose file sits beside a notebook: its module exists in this process only.
    module = types.ModuleType("made_up_here")
    exec("from broken_neurons import Textbook\nclass Mine(Textbook):\n    pass\n", module.__dict__)
    sys.modules["made_up_here"] = module
    try:
        result = validate(module.Mine, cases="batch_*", **FAST)
    finally:
        del sys.modules["made_up_here"]
    assert result.ok, str(result)
    assert result.impl == "made_up_here:Mine"


def test_a_class_from_a_package_goes_by_reference_and_a_missing_package_is_one_line() -> None:
    package = types.ModuleType("ghost_package")
    package.__path__ = []
    module = types.ModuleType("ghost_package.neurons")
    exec("from broken_neurons import Textbook\nclass Ghost(Textbook):\n    pass\n", module.__dict__)
    sys.modules.update({"ghost_package": package, "ghost_package.neurons": module})
    try:
        with pytest.raises(ImplError) as e:
            validate(module.Ghost, **FAST)
    finally:
        del sys.modules["ghost_package"], sys.modules["ghost_package.neurons"]
    assert str(e.value).startswith(
        "IMPL 'ghost_package.neurons:Ghost': unpickling the class in its process raised ModuleNotFoundError"
    )
    assert "\n" not in str(e.value)


def test_a_broken_class_fails_at_its_stage_and_exposes_its_outcomes() -> None:
    result = validate(MeanBiasGradient, cases="batch_*", **FAST)
    assert not result.ok
    first = result.outcomes[0]
    assert (first.name, first.status, first.stage) == ("batch_input_gradients", Status.FAILED, "dJ_db")
    assert first.expected == -0.45 and first.got == pytest.approx(-0.225, rel=1e-12)  # computed: not pinned


def test_a_spec_string_gives_the_cli_report_word_for_word() -> None:
    spec = "tests/broken_neurons.py:MeanBiasGradient"
    cli = subprocess.run(
        [sys.executable, "-m", "golden", "validate", spec, "--no-properties"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert cli.returncode == 1
    assert str(validate(str(REPO / spec), **FAST)).replace(str(REPO) + "/", "") == cli.stdout.rstrip("\n")


def test_a_class_that_cannot_be_pickled_is_a_one_line_impl_error() -> None:
    class Locked(Textbook):
        lock = threading.Lock()

    with pytest.raises(
        ImplError, match=r"the class cannot be sent to its process: pickling it raised TypeError"
    ):
        validate(Locked, **FAST)


def test_a_class_without_the_protocol_is_refused_in_its_process() -> None:
    class NoForward:
        def __init__(self, n_features: int) -> None:
            self.w = np.zeros(n_features)

    with pytest.raises(
        ImplError, match=r"NoForward does not follow the protocol: no method forward, gradient"
    ):
        validate(NoForward, **FAST)


def test_not_a_class_is_refused() -> None:
    with pytest.raises(ImplError, match=r"expected package\.module:Name"):
        validate("neuron.Neuron", **FAST)


def test_options_out_of_range_are_refused_as_the_cli_refuses_them() -> None:
    with pytest.raises(OptionError, match="timeout is 0; expected a number of seconds > 0"):
        validate(Textbook, timeout=0)
    with pytest.raises(OptionError, match=r"^cases 'nothing' matches no case"):  # named as Python spells it
        validate(Textbook, cases="nothing")


def outcomes_with(message: str) -> list[Outcome]:
    return [
        Outcome("batch_input_gradients", Status.PASSED, agreed=["parameters", "a"]),
        Outcome(
            "leaky_branch_negative_z",
            Status.FAILED,
            stage="a",
            message=message,
            expected=[-0.004],
            got=["<b>0</b>"],
        ),
        Outcome("agrees_with_the_oracle", Status.ERROR, Kind.PROPERTY, message="forward raised & stopped"),
    ]


def test_the_html_report_names_every_outcome_and_escapes_every_text() -> None:
    """Its layout is tests/test_html.py's, read in a browser; here, what it holds."""
    outcomes = outcomes_with("a expected [-0.004] <script>alert(1)</script>")
    html = ValidationReport(Verdict("<evil>:Neuron", "v1", outcomes))._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<evil>" not in html and "&lt;evil&gt;:Neuron" in html
    assert "<b>0</b>" not in html and "&quot;&lt;b&gt;0&lt;/b&gt;&quot;" in html
    assert "forward raised &amp; stopped" in html
    for o in outcomes:
        assert o.name in html
    for cell in ("FAILED", "[-0.004]", "1 passed", "1 failed"):
        assert cell in html


def test_the_text_report_is_the_clis_and_ok_is_its_verdict() -> None:
    outcomes = outcomes_with("a expected [-0.004], got [0.0]")
    result = ValidationReport(Verdict("x.py:Neuron", "v1", outcomes))
    assert str(result) == repr(result) == text_report.text(Verdict("x.py:Neuron", "v1", outcomes))
    assert result.ok is False
    assert ValidationReport(Verdict("x.py:Neuron", "v1", outcomes[:1])).ok is True


def starter() -> type:
    class Starter:
        def __init__(self, n_features: int) -> None:
            self.w, self.b, self.alpha = np.zeros(n_features), 0.0, 0.01

        def forward(self, X: Any) -> Any:
            raise NotImplementedError

        def gradient(self, X: Any, y_true: Any) -> Any:
            raise NotImplementedError

        def update_weights(self, dJ_dw: Any, dJ_db: Any, learning_rate: float) -> None:
            raise NotImplementedError

    return Starter


def test_tdd_of_a_class_shows_the_red_step_and_says_to_call_tdd_again() -> None:
    result = tdd(starter())
    assert not result.green
    assert str(result) == repr(result) == result.screen
    assert result.screen.startswith("tdd(Starter)\n")
    assert "  RED    3. activation" in result.screen
    assert "got            not implemented yet (NotImplementedError)" in result.screen
    assert result.screen.endswith("Make it green, then run `tdd(Starter)` again.")
    assert "neuron-oracle tdd" not in result.screen
    page = result._repr_html_()
    assert "<code>tdd(Starter)</code>" in page and "RED" in page and "<pre>" not in page


def test_tdd_of_a_correct_class_is_green() -> None:
    result = tdd(Textbook, examples=10)
    assert result.green, result.screen
    assert result.screen.endswith("All green.")


def test_importing_golden_does_not_import_the_api() -> None:
    out = run_python(
        """
        import sys
        import golden.harness._protocol
        print("golden.api" in sys.modules, "golden.harness.session" in sys.modules)
        from golden import tdd, validate
        print(validate.__module__, tdd.__module__)
        """,
        REPO,
    )
    assert out.stdout.split() == ["False", "False", "golden.api", "golden.api"], out.stderr
