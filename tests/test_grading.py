"""`neuron-oracle validate` grading many IMPLs: globs, parallel runs, the table, Gradescope, weights."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from broken_neurons import EXPECTED
from helpers import REPO
from jsonschema import Draft202012Validator

from golden.errors import ImplError, OptionError
from golden.grading._expand import expand
from golden.grading._render import _inert, results_names

BROKEN = (REPO / "tests" / "broken_neurons.py").read_text()
CASES = 16  # golden v1, which every run here is pinned to: it is released, so these counts hold
SKIPPED = 4  # its cases of activations the broken neurons do not declare: left out of every grade
OFF = ("--sandbox", "off")  # these tests are of grading itself; tests/test_sandbox.py tests the sandbox


def submit(folder: Path, name: str, cls: str, extra: str = "") -> Path:
    """A student's file: the broken neurons' module with ``Neuron`` bound to class `cls`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(f"{BROKEN}\n{extra}\nNeuron = {cls}\n")
    return path


def oracle(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "golden", "validate", *args, "--golden", "v1", *OFF],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "HYPOTHESIS_PROFILE": "ci"},
    )


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """subs/: a correct neuron, a classic mistake, one that hangs, one that ends its process, one that
    does not even import."""
    subs = tmp_path / "subs"
    submit(subs, "alice", "Textbook")
    submit(subs, "bob", "MeanBiasGradient")
    submit(subs, "carol", "SleepsForever")
    submit(subs, "dave", "ExitsTheProcess")
    (subs / "erin.py").write_text("class Neuron(:\n")
    return tmp_path


def test_a_folder_of_mixed_submissions_is_graded_into_one_table(mixed: Path) -> None:
    out = oracle(
        "subs/*.py:Neuron",
        "--jobs",
        "2",
        "--timeout",
        "0.5",
        "--no-properties",
        "--format",
        "json",
        cwd=mixed,
    )
    assert out.returncode == 1, out.stderr
    table = json.loads(out.stdout)
    rows = {Path(r["impl"].split(":")[0]).stem: r for r in table["implementations"]}
    assert [r["impl"] for r in table["implementations"]] == [f"subs/{n}.py:Neuron" for n in sorted(rows)]
    assert not table["ok"]
    assert [n for n, r in rows.items() if r["ok"]] == ["alice"]
    assert rows["alice"]["score"] == rows["alice"]["max_score"] == CASES - SKIPPED  # full marks
    case, stage, words = EXPECTED["MeanBiasGradient"]
    assert rows["bob"]["first_failure"] == {"name": case, "kind": "case", "stage": stage}
    assert words in rows["bob"]["message"]
    assert "timed out after 0.5 s; its process was stopped" in rows["carol"]["message"]
    assert rows["dave"]["message"] == "the implementation ended its process (exit code 3)"
    assert rows["erin"]["loaded"] is False and rows["erin"]["score"] == 0
    assert "running subs/erin.py raised SyntaxError" in rows["erin"]["message"]


def test_a_submission_that_kills_its_grading_process_costs_itself_only(tmp_path: Path) -> None:
    killer = (
        "import signal\n"
        "class Killer(Textbook):\n"
        "    def forward(self, X):\n"
        "        os.kill(os.getppid(), signal.SIGKILL)\n"
        "        time.sleep(5)\n"
    )
    submit(tmp_path / "subs", "a_killer", "Killer", extra=killer)
    submit(tmp_path / "subs", "b_good", "Textbook")
    submit(tmp_path / "subs", "c_good", "Textbook")
    out = oracle("subs/*.py:Neuron", "--jobs", "1", "--no-properties", "--format", "json", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    rows = json.loads(out.stdout)["implementations"]
    # graded once more by a fresh worker (it might have been another's doing), then reported
    assert rows[0]["message"] == "its grading process ended while it ran (killed by SIGKILL), twice"
    assert [r["ok"] for r in rows] == [False, True, True]


def test_the_text_table_has_a_row_per_impl_and_the_verdict_last(mixed: Path) -> None:
    out = oracle("subs/alice.py:Neuron", "subs/bob.py:Neuron", "--no-properties", cwd=mixed)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[0] == "validated 2 implementations against golden v1"
    assert lines[1].startswith("sandbox off (asked for); limits: memory 2 GiB")
    assert lines[3].split() == ["impl", "score", "passed", "failed", "first", "failure", "message"]
    assert lines[4].split() == ["subs/alice.py:Neuron", "12/12", "12", "0"]
    assert lines[5].startswith("subs/bob.py:Neuron     8/12       8       4  batch_input_gradients (dJ_db)  ")
    assert "likely: dJ_db equals the mean over the 2 rows instead of the sum" in lines[5]
    assert lines[-1] == "FAILED: 1 of 2 implementations OK"


def test_every_impl_ok_exits_0(mixed: Path) -> None:
    submit(mixed / "good", "one", "Textbook")
    submit(mixed / "good", "two", "Textbook")
    out = oracle("good/*.py:Neuron", "--no-properties", "--format", "csv", cwd=mixed)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [(r["impl"], r["ok"], r["score"], r["max_score"]) for r in rows] == [
        ("good/one.py:Neuron", "True", "12.0", "12.0"),
        ("good/two.py:Neuron", "True", "12.0", "12.0"),
    ]


def test_submissions_run_in_parallel(tmp_path: Path) -> None:
    # Each submission, as it loads, waits for the other to have started: with one job at a time the first
    # would give up (and fail to load); with two, both load and pass.
    for me, other in (("left", "right"), ("right", "left")):
        wait = (
            "import pathlib, time\n"
            f"pathlib.Path({str(tmp_path / me)!r}).touch()\n"
            "deadline = time.monotonic() + 9\n"
            f"while not pathlib.Path({str(tmp_path / other)!r}).exists():\n"
            "    assert time.monotonic() < deadline, 'the other submission never started'\n"
            "    time.sleep(0.02)\n"
        )
        submit(tmp_path / "subs", me, "Textbook", extra=wait)
    out = oracle("subs/*.py:Neuron", "--jobs", "2", "--no-properties", "--format", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert [r["ok"] for r in json.loads(out.stdout)["implementations"]] == [True, True]


def schema(name: str) -> Draft202012Validator:
    """The committed JSON Schema ``golden/schema/NAME.schema.json``, written from a format's documentation."""
    return Draft202012Validator(json.loads((REPO / "golden" / "schema" / f"{name}.schema.json").read_text()))


GRADESCOPE = schema("gradescope-results")


def gradescope_valid(results: dict[str, object]) -> None:
    """Gradescope's documented results.json (the committed schema: no field it does not name), each test
    numbered once, passed with its points or failed with none, and the score their sum."""
    GRADESCOPE.validate(results)
    tests = results["tests"]
    assert isinstance(tests, list)
    for test in tests:
        assert {"name", "number", "score", "max_score", "status", "output"} <= set(test)
        assert test["score"] == (test["max_score"] if test["status"] == "passed" else 0)
    assert len({t["number"] for t in tests}) == len(tests)
    assert results["score"] == sum(t["score"] for t in tests)


def test_gradescope_writes_one_results_json_to_stdout(mixed: Path) -> None:
    out = oracle("subs/bob.py:Neuron", "--format", "gradescope", "--examples", "20", cwd=mixed)
    assert out.returncode == 1
    results = json.loads(out.stdout)
    gradescope_valid(results)
    tests = {t["name"]: t for t in results["tests"]}
    assert len(tests) == CASES - SKIPPED + 10  # and the ten properties; the skipped cases are left out
    assert tests["batch_input_gradients"]["status"] == "failed"
    assert "dJ_db expected -0.45" in tests["batch_input_gradients"]["output"]
    passed = tests["single_feature"]
    assert (passed["score"], passed["max_score"], passed["status"]) == (1.0, 1.0, "passed")
    assert passed["output"] == "golden case single_feature: passed"
    assert "tanh_batch" not in tests


def test_a_submission_that_does_not_load_still_gets_a_results_json(mixed: Path) -> None:
    out = oracle("subs/erin.py:Neuron", "--format", "gradescope", "--no-properties", cwd=mixed)
    assert out.returncode == 1, out.stderr
    results = json.loads(out.stdout)
    gradescope_valid(results)
    assert results["score"] == 0 and len(results["tests"]) == CASES
    assert results["output"].startswith("IMPL 'subs/erin.py:Neuron': running subs/erin.py raised SyntaxError")


def test_gradescope_for_many_writes_a_results_file_per_impl_atomically(mixed: Path) -> None:
    out = oracle(
        "subs/*.py:Neuron",
        "--format",
        "gradescope",
        "--output",
        "results",
        "--timeout",
        "0.5",
        "--no-properties",
        "--jobs",
        "2",
        cwd=mixed,
    )
    assert out.returncode == 1
    files = sorted(p.name for p in (mixed / "results").iterdir())
    assert files == ["alice.json", "bob.json", "carol.json", "dave.json", "erin.json"]  # no temporaries left
    for name in files:
        gradescope_valid(json.loads((mixed / "results" / name).read_text()))
    assert json.loads((mixed / "results" / "alice.json").read_text())["score"] == CASES - SKIPPED
    assert out.stdout.splitlines()[-1] == "FAILED: 1 of 5 implementations OK"  # the table, on stdout
    assert out.stderr.strip().endswith("wrote 5 files to results")


def test_weights_set_the_points_and_zero_leaves_an_item_out(mixed: Path) -> None:
    weights = {
        "batch_input_gradients": 3,
        "tanh_batch": 0,
        "sigmoid_batch": 0,
        "relu_negative_z_stops_learning": 0,
    }
    (mixed / "weights.json").write_text(json.dumps({**weights, "identity_is_linear_regression": 0.5}))
    out = oracle(
        "subs/bob.py:Neuron",
        "--format",
        "gradescope",
        "--weights",
        "weights.json",
        "--no-properties",
        cwd=mixed,
    )
    results = json.loads(out.stdout)
    gradescope_valid(results)
    tests = {t["name"]: t for t in results["tests"]}
    assert len(tests) == CASES - 3
    assert tests["batch_input_gradients"]["max_score"] == 3 and tests["batch_input_gradients"]["score"] == 0
    assert tests["identity_is_linear_regression"]["max_score"] == 0.5
    assert results["score"] == 8  # bob passes 8 of the 12 Leaky ReLU cases, each worth 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "--weights weights.json: cannot read: No such file or directory"),
        ("{", "--weights weights.json: not JSON: Expecting property name"),
        ("[1, 2]", "expected an object mapping case and property names to points, got list"),
        ('{"batch_input_gradient": 2}', "'batch_input_gradient' is not a golden case or property"),
        ('{"tanh_batch": -1}', "'tanh_batch' is -1; expected a number of points >= 0"),
        ('{"tanh_batch": "2"}', "'tanh_batch' is '2'; expected a number of points"),
        ('{"tanh_batch": true}', "'tanh_batch' is True; expected a number of points"),
        ('{"tanh_batch": NaN}', "weights.json: NaN is not a number a weights file may hold"),
    ],
)
def test_a_bad_weights_file_is_one_line_and_exit_2(mixed: Path, content: str | None, message: str) -> None:
    if content is not None:
        (mixed / "weights.json").write_text(content)
    out = oracle("subs/*.py:Neuron", "--weights", "weights.json", cwd=mixed)
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nothing/*.py:Neuron",), "IMPL 'nothing/*.py:Neuron': 'nothing/*.py' matches no file"),
        (("subs/*.py:Neuron", "--format", "gradescope"), "give --output DIR"),
        (("subs/*.py:Neuron", "--format", "prairielearn"), "--format prairielearn with several IMPLs"),
        (("subs/*.py:Neuron", "--format", "junit"), "--format junit reports one IMPL"),
        (("subs/*.py:Neuron", "--jobs", "0"), "--jobs is 0; expected at least 1"),
        (("subs/alice.py:Neuron", "--weights", "w.json"), "--weights scores a grade"),
        (("subs/alice.py:Neuron", "--cluster", "local"), "--cluster grades a batch on Dask: give it with"),
        (("subs/alice.py:Neuron", "--scheduler", "tls://h:8786"), "--scheduler grades a batch on Dask"),
        (("subs/alice.py:Neuron", "--similarity"), "--similarity compares a batch's submissions"),
    ],
)
def test_bad_grading_options_are_one_line_and_exit_2(
    mixed: Path, args: tuple[str, ...], message: str
) -> None:
    out = oracle(*args, cwd=mixed)
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr
    assert out.stdout == ""


def test_one_impl_named_gives_the_detailed_report_and_a_glob_the_table(mixed: Path) -> None:
    one = oracle("subs/alice.py:Neuron", "--no-properties", "--format", "json", cwd=mixed)
    glob = oracle("subs/a*.py:Neuron", "--no-properties", "--format", "json", cwd=mixed)
    assert "outcomes" in json.loads(one.stdout)
    assert [r["impl"] for r in json.loads(glob.stdout)["implementations"]] == ["subs/alice.py:Neuron"]


def test_output_writes_the_single_report_to_a_file_and_the_text_to_stdout(mixed: Path) -> None:
    out = oracle(
        "subs/alice.py:Neuron", "--no-properties", "--format", "json", "--output", "r.json", cwd=mixed
    )
    assert out.returncode == 0
    assert json.loads((mixed / "r.json").read_text())["ok"] is True
    assert out.stdout.splitlines()[-1] == "OK: 12 passed, 0 failed, 0 errors, 4 skipped"


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_ctrl_c_stops_every_submission_and_gives_no_verdict(tmp_path: Path) -> None:
    for name in ("one", "two"):
        pid = tmp_path / f"{name}.pid"
        slow = (
            "class Slow(Textbook):\n    def forward(self, X):\n"
            f"        open({str(pid)!r}, 'w').write(str(os.getpid()))\n        time.sleep(60)\n"
        )
        (tmp_path / "subs").mkdir(exist_ok=True)
        (tmp_path / "subs" / f"{name}.py").write_text(f"{BROKEN}\n{slow}\nNeuron = Slow\n")
    command = [sys.executable, "-m", "golden", "validate", "subs/*.py:Neuron", "--jobs", "2"]
    proc = subprocess.Popen(
        [*command, "--timeout", "60", *OFF],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    pids = [tmp_path / "one.pid", tmp_path / "two.pid"]
    deadline = time.monotonic() + 60
    while not all(p.exists() and p.read_text() for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "no verdict" in err and "Traceback" not in out + err
    assert out == ""
    for p in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(int(p.read_text()), 0)


# -- units -----------------------------------------------------------------------------------------------


def test_expand_sorts_each_globs_files_keeps_other_impls_and_drops_duplicates(tmp_path: Path) -> None:
    for name in ("b", "a", "c"):
        (tmp_path / f"{name}.py").touch()
    (tmp_path / "dir.py").mkdir()  # a folder is not a submission
    pattern = f"{tmp_path}/*.py:Neuron"
    impls, batch = expand([pattern, "neuron:Neuron", f"{tmp_path}/a.py:Neuron"])
    assert impls == [f"{tmp_path}/{n}.py:Neuron" for n in "abc"] + ["neuron:Neuron"]
    assert batch
    assert expand(["neuron:Neuron"]) == (["neuron:Neuron"], False)
    assert expand([f"{tmp_path}/[ab].py:Neuron"]) == (
        [f"{tmp_path}/a.py:Neuron", f"{tmp_path}/b.py:Neuron"],
        True,
    )
    with pytest.raises(ImplError, match="matches no file"):
        expand([f"{tmp_path}/*.txt:Neuron"])


def test_results_names_are_the_path_below_the_shared_folder() -> None:
    assert results_names(["subs/alice.py:Neuron", "subs/bob.py:Neuron"]) == ["alice.json", "bob.json"]
    assert results_names(["s/alice/neuron.py:Neuron", "s/bob/neuron.py:Neuron"]) == [
        "alice_neuron.json",
        "bob_neuron.json",
    ]
    assert results_names(["a.py:Neuron", "a.py:Other"]) == ["a_Neuron.json", "a_Other.json"]
    with pytest.raises(OptionError, match=r"would both write a_b\.json"):
        results_names(["s/a b.py:Neuron", "s/a_b.py:Neuron"])


def test_a_csv_cell_that_would_run_as_a_formula_is_made_inert() -> None:
    assert _inert("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _inert("-1") == "'-1" and _inert("ok") == "ok"
    assert _inert(3) == 3


FORGER = """
import json, os, stat

class Forger(Textbook):
    def __init__(self, n_features):
        super().__init__(n_features)
        forged = json.dumps({"impl": "x", "error": None, "outcomes": [], "nonce": "guessed"}) + "\\\\n"
        folder = f"/proc/{os.getppid()}/fd"
        for name in os.listdir(folder):  # every pipe of the grading worker: its answers among them
            try:
                path = os.path.join(folder, name)
                if stat.S_ISFIFO(os.stat(path).st_mode):
                    with open(path, "w") as pipe:
                        pipe.write(forged)
            except OSError:
                pass

    def forward(self, X):
        return 0 * super().forward(X)
"""


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux's /proc")
def test_an_answer_forged_into_the_workers_pipe_is_not_taken_for_a_grade(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    submit(subs, "mallory", "Forger", FORGER)
    submit(subs, "alice", "Textbook")
    out = oracle("subs/*.py:Neuron", "--no-properties", "--format", "json", cwd=tmp_path)
    rows = {Path(r["impl"].split(":")[0]).stem: r for r in json.loads(out.stdout)["implementations"]}
    assert rows["mallory"]["ok"] is False, rows["mallory"]
    assert rows["alice"]["ok"] is True, rows["alice"]
