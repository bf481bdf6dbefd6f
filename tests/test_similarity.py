"""A similarity report across the batch (issue 21, item 7): ``--similarity`` flags a pair of
near-identical submissions and no pair of unrelated ones, by file, in the table and the JSON, never in a
student's results file; what the scaffold gives every student is not similarity; the files are read,
never run."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers import REPO
from test_grading import oracle
from test_tdd import SOLUTIONS, fill

from golden.grading._render import SHOWN, similar_code
from golden.grading._similarity import NOISE, Pair, Similarity, similar
from golden.learn._scaffold import TEMPLATE, scaffold
from golden.options import SIMILARITY

# The learner's methods (tests/test_tdd.py), written by another hand.
OTHER = [
    ("__init__", "self.alpha = 0.01\nself.w = np.zeros(n_features, dtype=float)\nself.b = float(0)"),
    ("linear", "out = X @ self.w\nout = out + self.b\nreturn out"),
    ("forward", "s = self.linear(X)\nres = s.copy()\nres[s < 0] *= self.alpha\nreturn res"),
    (
        "activation_derivative",
        "d = np.ones_like(np.asarray(z, dtype=float))\nd[np.asarray(z) < 0] = self.alpha\nreturn d",
    ),
    ("loss", "diff = self.forward(X) - y_true\nreturn diff * diff / 2"),
    (
        "gradient",
        "s = self.linear(X)\ng = (self.forward(X) - y_true) * self.activation_derivative(s)\n"
        "return X.T @ g, float(np.sum(g))",
    ),
    ("update_weights", "self.w -= learning_rate * dJ_dw\nself.b -= learning_rate * dJ_db"),
]
HELPER = '''
def standardize(X):
    """Each column scaled to mean 0 and variance 1."""
    mean = X.mean(axis=0)
    spread = X.std(axis=0)
    spread[spread == 0] = 1.0
    return (X - mean) / spread


def batches(X, y, size):
    for start in range(0, len(X), size):
        yield X[start : start + size], y[start : start + size]
'''


def student(path: Path, solutions: Sequence[tuple[str, str]] = ()) -> Path:
    """`path`: the scaffold, with `solutions` (method, body) filled in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scaffold(path)
    for method, body in solutions:
        fill(path, method, body)
    return path


def disguised(source: str) -> str:
    """`source` as a student who copied it hides it: names changed, a docstring and a comment added."""
    for old, new in (("delta", "err_term"), ("z = self.linear(X)", "zz = self.linear(X)")):
        source = source.replace(old, new)
    source = source.replace("np.where(z < 0, self.alpha * z, z)", "np.where(zz < 0, self.alpha * zz, zz)")
    return source.replace('"""My neuron, written test-first.', '"""Bob\'s own neuron.\n\n# all my own work')


def pairs(impls: list[str], threshold: float = SIMILARITY) -> list[tuple[str, str]]:
    return [p.files for p in similar(impls, threshold).pairs]


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """subs/: alice's solution, bob's copy of it in disguise, carol's own solution of the same scaffold,
    and dave's neuron from another course (examples/pure_python.py); the working folder."""
    monkeypatch.chdir(tmp_path)
    alice = student(tmp_path / "subs" / "alice.py", SOLUTIONS)
    (tmp_path / "subs" / "bob.py").write_text(disguised(alice.read_text()))
    student(tmp_path / "subs" / "carol.py", OTHER)
    (tmp_path / "subs" / "dave.py").write_text((REPO / "examples" / "pure_python.py").read_text())
    return tmp_path


IMPLS = [f"subs/{name}.py:Neuron" for name in ("alice", "bob", "carol", "dave")]


def test_a_near_identical_pair_is_flagged_and_no_pair_of_unrelated_ones(course: Path) -> None:
    assert (course / "subs" / "bob.py").read_text() != (course / "subs" / "alice.py").read_text()
    assert pairs(IMPLS) == [("subs/alice.py", "subs/bob.py")]


def test_two_submissions_that_share_only_the_scaffold_are_not_flagged(tmp_path: Path) -> None:
    import copydetect

    impls = [f"{student(tmp_path / f'{name}.py')}:Neuron" for name in ("erin", "frank")]
    assert pairs(impls, threshold=0.01) == []
    # without the template as boilerplate, the two would be one file
    prints = [
        copydetect.CodeFingerprint(p, NOISE, 1, fp=io.StringIO(TEMPLATE.read_text()))
        for p in ("a.py", "b.py")
    ]
    assert copydetect.compare_files(*prints)[1] == (1.0, 1.0)


def test_helper_modules_beside_a_submission_in_a_folder_of_its_own_are_compared_file_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    student(tmp_path / "own" / "carol" / "neuron.py", SOLUTIONS)
    (tmp_path / "own" / "carol" / "util.py").write_text(HELPER)
    student(tmp_path / "own" / "dave" / "neuron.py", OTHER)
    (tmp_path / "own" / "dave" / "tools.py").write_text(HELPER.replace("standardize", "scale"))
    impls = ["own/carol/neuron.py:Neuron", "own/dave/neuron.py:Neuron"]
    assert pairs(impls) == [("own/carol/util.py", "own/dave/tools.py")]


def test_the_files_are_read_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "ran"
    code = f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n{HELPER}"
    for name in ("mallory", "oscar"):
        (tmp_path / f"{name}.py").write_text(code)
    assert pairs(["mallory.py:Neuron", "oscar.py:Neuron"]) == [("mallory.py", "oscar.py")]
    assert not marker.exists()


def test_the_table_and_the_json_report_the_pair_and_no_students_file_holds_the_report(course: Path) -> None:
    args = ("subs/*.py:Neuron", "--no-properties", "--similarity")
    table = oracle(*args, "--format", "gradescope", "--output", "results", cwd=course)
    assert table.returncode == 0, table.stderr  # all four are correct: similar code is no failure
    tail = table.stdout.splitlines()[-2:]
    assert tail[0].startswith(f"similar code: 1 pair of the 4 files compared shares {SIMILARITY:g} or more")
    assert tail[1].split() == ["1.00", "subs/alice.py", "subs/bob.py"]
    names = ("alice", "bob", "carol", "dave")
    for path in (course / "results").iterdir():  # each names its own file only, and no report
        text = path.read_text()
        assert "copydetect" not in text and "similar" not in text, path.name
        assert not [n for n in names if n != path.stem and f"subs/{n}.py" in text], path.name
    report = json.loads(oracle(*args, "--format", "json", cwd=course).stdout)["similarity"]
    assert [(p["files"], p["impls"]) for p in report["pairs"]] == [
        (["subs/alice.py", "subs/bob.py"], ["subs/alice.py:Neuron", "subs/bob.py:Neuron"])
    ]
    assert report["files"] == 4 and report["threshold"] == SIMILARITY


def test_without_copydetect_similarity_is_one_line_naming_the_extra_and_exit_2(course: Path) -> None:
    marker = course / "ran"
    (course / "subs" / "erin.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n")
    no_copydetect = (
        "import sys; sys.modules['copydetect'] = None; from golden.cli import main; "
        "sys.argv = ['neuron-oracle', *sys.argv[1:]]; sys.exit(main())"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            no_copydetect,
            "validate",
            "subs/*.py:Neuron",
            "--similarity",
            "--sandbox",
            "off",
        ],
        capture_output=True,
        text=True,
        cwd=course,
        timeout=300,
        env={**os.environ, "HYPOTHESIS_PROFILE": "ci"},
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().endswith("pip install 'neuron-oracle[similarity]'"), out.stderr
    assert len(out.stderr.splitlines()) == 1 and "--similarity" in out.stderr
    assert not marker.exists()  # refused before any IMPL ran


def test_the_table_lists_the_most_similar_pairs_and_says_how_many_more_the_json_holds() -> None:
    many = [Pair(("a:N", "b:N"), (f"s/{k}a.py", f"s/{k}b.py"), (1 - k / 100, 0.9)) for k in range(SHOWN + 3)]
    lines = similar_code(Similarity(0.8, "copydetect", 2 * len(many), many)).splitlines()
    assert lines[1].split() == ["1.00", "s/0a.py", "s/0b.py"] and len(lines) == 1 + SHOWN + 1
    assert lines[-1] == "  and 3 more, less similar: --format json lists every pair"
