"""Issue 17's attacks from outside the channel, each reproduced and each given an honest verdict.

The attacks go around the wire between the child and the validator: through how our processes start
(files beside a submission, the working folder), through what outlives a run (daemons, bytecode, golden
files), through signals, and through the smaller promises (weights files, storage, memory, Ctrl-C). Every
run is a fresh ``neuron-oracle`` process, as an autograder script starts it, from the folder it would use
(``python -m golden`` would import a ``golden.py`` of that folder before any code of ours runs). Tests of
the sandbox itself are in ``tests/test_sandbox.py``; these run unsandboxed (``--sandbox off``) unless they
say otherwise, since that is the level that must hold everywhere.
"""

from __future__ import annotations

import compileall
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import REPO, alive

BROKEN = (REPO / "tests" / "broken_neurons.py").read_text()
FAST = ("--golden", "v1", "--cases", "negative_*", "--no-properties")  # one case: a score of 1 or 0
OFF = ("--sandbox", "off")
ZERO = """
import numpy as np

class Neuron:
    '''Answers 0 to everything: it can pass nothing honestly.'''

    def __init__(self, n):
        self.w, self.b, self.alpha = np.zeros(n), 0.0, 0.01

    def forward(self, X):
        return np.zeros(len(X))

    def gradient(self, X, y):
        return np.zeros(np.asarray(X).shape[1]), 0.0

    def update_weights(self, dJ_dw, dJ_db, learning_rate):
        pass
"""


NEURON_ORACLE = str(Path(sys.executable).with_name("neuron-oracle"))  # the console script pip installed


def cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
    python: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``neuron-oracle ARGS`` (``python ARGS`` with `python`) from `cwd`, as an autograder script runs it."""
    return subprocess.run(
        [*prefix, sys.executable if python else NEURON_ORACLE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def forger(marker: Path) -> str:
    """A module that, imported by any process of ours, says so and makes every item pass."""
    return textwrap.dedent(
        f"""
        import os, sys
        with open({str(marker)!r}, "a") as f:
            f.write(f"{{os.getpid()}} {{sys.argv}}\\n")
        try:
            from golden.harness import session
            from golden.outcome import Outcome, Status

            def outcomes(self):
                for case in self.cases:
                    yield Outcome(case.name, Status.PASSED)

            session.Session.outcomes = outcomes
        except Exception:
            pass
        """
    )


def innocent(name: str) -> str:
    return f"raise ImportError('the helper file {name}.py beside the submission was imported')\n"


def score(path: Path) -> tuple[float, float]:
    results = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in results.json"))
    return results["score"], sum(t["max_score"] for t in results["tests"])


# -- 1. a file beside the submission cannot forge a score ------------------------------------------------


@pytest.mark.parametrize("sandbox", ["off", "auto"])
def test_a_csv_py_beside_a_zero_neuron_forges_nothing(tmp_path: Path, sandbox: str) -> None:
    submission, marker = tmp_path / "submission", tmp_path / "imported"
    submission.mkdir()
    (submission / "neuron.py").write_text(ZERO)
    (submission / "csv.py").write_text(forger(marker))
    out = cli(
        "validate", "neuron.py:Neuron", "--format", "gradescope", "--output", "r.json", *FAST,
        "--sandbox", sandbox, cwd=submission,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    assert score(submission / "r.json") == (0, 1)
    assert not marker.exists(), marker.read_text()


def test_a_submission_that_plants_a_module_in_the_graders_folder_forges_no_later_grade(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "imported"
    planter = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        Path({str(tmp_path / "csv.py")!r}).write_text({forger(marker)!r})
        Path({str(tmp_path / "random.py")!r}).write_text({forger(marker)!r})
        os.kill(os.getppid(), signal.SIGKILL)  # its worker: a fresh one starts for the next submission
        """
    )
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a_planter.py").write_text(ZERO + planter)
    for name in ("b_zero", "c_zero"):
        (subs / f"{name}.py").write_text(ZERO)
    out = cli("validate", "subs/*.py:Neuron", "--jobs", "1", "--format", "json", *FAST, *OFF, cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    rows = json.loads(out.stdout)["implementations"]
    assert [r["ok"] for r in rows] == [False, False, False]
    assert [r["score"] for r in rows] == [0, 0, 0]
    assert not marker.exists(), marker.read_text()


# -- 2. whatever sits beside a correct submission, it keeps its score -------------------------------------


@pytest.mark.parametrize("sandbox", ["off", "auto"])
def test_a_correct_submission_keeps_its_score_whatever_modules_sit_beside_it(
    tmp_path: Path, sandbox: str
) -> None:
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "neuron.py").write_text(f"{BROKEN}\nNeuron = Textbook\n")
    for name in (
        "random",
        "golden",
        "numpy",
        "json",
        "csv",
        "ctypes",
        "hypothesis",
        "oracle",
        "neuron_oracle",
    ):
        (submission / f"{name}.py").write_text(innocent(name))
    out = cli(
        "validate", "neuron.py:Neuron", "--format", "gradescope", "--output", "r.json", "--golden", "v1",
        "--no-properties", "--sandbox", sandbox, cwd=submission,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    got, most = score(submission / "r.json")
    assert got == most  # full marks: v1's four cases of activations Textbook does not declare are left out


def test_the_cli_started_in_a_folder_of_look_alike_modules_uses_its_own(tmp_path: Path) -> None:
    for name in ("csv", "ctypes", "random", "json", "numpy", "hypothesis", "jsonschema"):
        (tmp_path / f"{name}.py").write_text(innocent(name))
    out = cli("validate", f"{REPO}/tests/broken_neurons.py:Textbook", "--golden", "v1", *OFF, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK: 22 passed" in out.stdout  # the properties too: Hypothesis and numpy are the real ones


# -- 3. a process of the same user cannot reach our processes' pipes -------------------------------------

WATCHER = """
import os, signal, time


def _tree(root):
    parents = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    parents[int(p)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [], [root]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _watch(cli, mine, marker, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for pid in [cli, *_tree(cli)]:
            for fd in range(3, 16):
                if pid in mine:
                    break
                try:
                    os.close(os.open(f"/proc/{pid}/fd/{fd}", os.O_RDONLY | os.O_NONBLOCK))
                except OSError:
                    continue
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    what = "child" if b"boot.py" in f.read() else "ours"  # an implementation's, or ours
                with open(marker, "a") as f:
                    f.write(f"{what} /proc/{pid}/fd/{fd}\\n")
        time.sleep(0.005)


class Attacker(Textbook):
    def forward(self, X):
        worker = os.getppid()
        with open(f"/proc/{worker}/stat") as f:
            cli = int(f.read().rsplit(")", 1)[1].split()[1])
        if os.fork() == 0:  # a daemon in a session of its own, outside the child's process group
            os.setsid()
            if os.fork() == 0:
                _watch(cli, {os.getpid(), os.getppid(), worker}, MARKER, 5.0)
            os._exit(0)
        time.sleep(0.3)
        os.kill(worker, signal.SIGKILL)  # a fresh worker is started for the next submission
        time.sleep(5)
"""


def test_a_watcher_of_an_ordinary_user_cannot_open_any_grading_process_fds(tmp_path: Path) -> None:
    """As root without capabilities (as an ordinary user stands to its own processes), a submission's
    daemon watches every process of the grading and tries to open their fds while its worker is killed
    and replaced: every process of ours (the CLI, the workers, the oracle's helpers) is undumpable from its
    first instant, and the daemon is swept with its submission. (Another submission's child can be reached
    in the first milliseconds of its interpreter, before its guard: unsandboxed, submissions graded at the
    same time run as one user; the README says so, and the sandbox separates them.)"""
    marker, subs = tmp_path / "opened", tmp_path / "subs"
    subs.mkdir()
    (subs / "a_attacker.py").write_text(f"{BROKEN}\nMARKER = {str(marker)!r}\n{WATCHER}\nNeuron = Attacker\n")
    for name in ("b_zero", "c_zero", "d_zero"):
        (subs / f"{name}.py").write_text(ZERO)
    out = cli(
        "validate", "subs/*.py:Neuron", "--jobs", "2", "--format", "json", *FAST, *OFF,
        cwd=tmp_path, prefix=("setpriv", "--bounding-set=-all", "--inh-caps=-all"),
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    rows = json.loads(out.stdout)["implementations"]
    assert [r["score"] for r in rows] == [0, 0, 0, 0], rows
    assert rows[0]["message"].startswith("its grading process ended while it ran"), rows[0]
    opened = marker.read_text().splitlines() if marker.exists() else []
    assert [line for line in opened if line.startswith("ours")] == [], opened


# -- 4. nothing the implementation starts outlives the run -----------------------------------------------

DAEMON = """
import os, time

class Daemon(Textbook):
    def forward(self, X):
        if os.fork() == 0:
            if HOW == "setsid":
                os.setsid()
            else:
                os.setpgid(0, 0)
            if os.fork() == 0:
                with open(PIDS, "a") as f:
                    f.write(f"{os.getpid()}\\n")
                time.sleep(2)  # until the validator has exited, then the grade is rewritten
                with open(RESULTS, "w") as f:
                    f.write('{"score": 1e9, "output": "forged", "tests": []}')
            os._exit(0)
        return super().forward(X)
"""


@pytest.mark.parametrize("how", ["setsid", "setpgid"])
def test_a_daemon_that_leaves_the_childs_group_is_gone_before_the_result_is_written(
    tmp_path: Path, how: str
) -> None:
    pids, results = tmp_path / "pids", tmp_path / "results.json"
    where = f"HOW, PIDS, RESULTS = {how!r}, {str(pids)!r}, {str(results)!r}"
    (tmp_path / "neuron.py").write_text(f"{BROKEN}\n{where}\n{DAEMON}\nNeuron = Daemon\n")
    out = cli(
        "validate", "neuron.py:Neuron", "--format", "gradescope", "--output", str(results), *FAST, *OFF,
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    written = results.read_text()
    time.sleep(3)  # longer than the daemon waits
    assert results.read_text() == written
    assert json.loads(written)["score"] == 1
    for pid in pids.read_text().split():
        assert not alive(int(pid)), f"{how} daemon {pid} outlived the run"


CHAIN = """
import ctypes, os, time

class Chain(Textbook):
    def forward(self, X):
        if os.fork() == 0:  # a chain: each link forks the next and ends at once, so no pid stays put
            os.setsid()
            ctypes.CDLL(None).prctl(15, NAME.encode(), 0, 0, 0)  # PR_SET_NAME: how the test finds it
            end = time.monotonic() + 20
            while time.monotonic() < end:
                if os.fork():
                    os._exit(0)
            os._exit(0)
        return super().forward(X)
"""


def named(name: str) -> list[int]:
    """The processes whose name (``/proc/PID/comm``) is `name`, anywhere on this machine."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == name and alive(int(entry)):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def test_a_fork_chain_racing_the_sweep_is_frozen_then_killed_to_its_last_link(tmp_path: Path) -> None:
    name = f"chain-{os.getpid() % 100000}"
    (tmp_path / "neuron.py").write_text(f"{BROKEN}\nNAME = {name!r}\n{CHAIN}\nNeuron = Chain\n")
    out = cli("validate", "neuron.py:Neuron", *FAST, *OFF, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    for _ in range(3):  # a link that escaped keeps forking: looked for more than once
        assert named(name) == [], "a link of the chain outlived the run"
        time.sleep(0.2)


# -- 5. what a submission leaves behind decides no later run ---------------------------------------------

FORGED_LINE = "    split = _split_few if g.size <= FEW else _split"  # of worst(): every error is then 0
FORGED_BYTECODE = (
    f"FORGED_LINE = {FORGED_LINE!r}\n"
    + """
import importlib.util, marshal, os, sys
from pathlib import Path

import golden

source = Path(golden.__file__).parent / "harness" / "_compare.py"
text = source.read_text().replace(FORGED_LINE, "    return 0.0, 0.0, 0.0")
code = compile(text, str(source), "exec")
stat = source.stat()
header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
header += (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
header += (stat.st_size & 0xFFFFFFFF).to_bytes(4, "little")
forged = header + marshal.dumps(code)  # matches the unchanged source: it would be loaded
name = f"_compare.{sys.implementation.cache_tag}.pyc"
"""
)
BESIDE = """
target = Path(importlib.util.cache_from_source(str(source)))
target.parent.mkdir(exist_ok=True)
target.write_bytes(forged)
"""
SYMLINKED = """
import shutil, tempfile
elsewhere = Path(tempfile.mkdtemp())
(elsewhere / name).write_bytes(forged)
cache = source.parent / "__pycache__"
shutil.rmtree(cache)
cache.symlink_to(elsewhere)  # the folder Python reads bytecode from, swapped for one of ours
"""
UNDER_PREFIX = """
mirror = Path(os.environ["PYTHONPYCACHEPREFIX"]) / Path(*source.parent.resolve().parts[1:])
mirror.mkdir(parents=True, exist_ok=True)
(mirror / name).write_bytes(forged)  # where a validating process with this prefix reads it from
"""


def test_the_line_the_forged_bytecode_replaces_is_in_worst() -> None:
    """Else the forged bytecode would be the honest one, and the tests below would pass for nothing."""
    assert FORGED_LINE in (REPO / "golden" / "harness" / "_compare.py").read_text()


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A copy of the toolkit's packages, imported instead of the checkout's (PYTHONPATH puts it first)."""
    copy = tmp_path / "package"
    for name in ("golden", "oracle", "neuron"):
        shutil.copytree(REPO / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def planted_then_honest(tmp_path: Path, package: Path, plant: str, prefix: str = "") -> str:
    """The stderr of a zero neuron that plants `plant` in the package as it is imported (a one-line error,
    exit 2), once a zero neuron run next from the same package is seen to fail as it must. Python keeps
    bytecode under `prefix` (none: beside the sources), and only the planter writes any."""
    (tmp_path / "planter.py").write_text(ZERO + plant)
    (tmp_path / "zero.py").write_text(ZERO)
    env = {"PYTHONPATH": str(package), "PYTHONPYCACHEPREFIX": prefix, "PYTHONDONTWRITEBYTECODE": "1"}
    first = cli("validate", "planter.py:Neuron", *FAST, *OFF, cwd=tmp_path, env=env)
    assert first.returncode == 2 and first.stderr.count("\n") == 1, first.stdout + first.stderr
    second = cli("validate", "zero.py:Neuron", *FAST, *OFF, cwd=tmp_path, env=env)
    assert second.returncode == 1, second.stdout + second.stderr
    assert "FAILED: 0 passed, 1 failed" in second.stdout
    return first.stderr


def compiled(package: Path) -> None:
    """The package's own bytecode beside its sources, as a machine that writes bytecode has it."""
    prefix, sys.pycache_prefix = sys.pycache_prefix, None  # tests/conftest.py sets one for the suite
    try:
        assert compileall.compile_dir(package, quiet=1)
    finally:
        sys.pycache_prefix = prefix
    assert list((package / "golden" / "harness").glob("__pycache__/_compare.*.pyc"))


@pytest.mark.parametrize("before", ["none", "its own"])
def test_bytecode_planted_in_the_package_is_found_removed_and_never_loaded(
    tmp_path: Path, package: Path, before: str
) -> None:
    """Where the package has no bytecode, and where it has its own (a machine that writes bytecode)."""
    if before == "its own":
        compiled(package)
    stderr = planted_then_honest(tmp_path, package, FORGED_BYTECODE + BESIDE)
    assert "_compare.cpython" in stderr and "(removed)" in stderr, stderr
    assert not list((package / "golden" / "harness").glob("__pycache__/_compare.*.pyc"))


def test_a_bytecode_folder_swapped_for_a_symlink_is_removed_and_never_loaded(
    tmp_path: Path, package: Path
) -> None:
    compiled(package)
    stderr = planted_then_honest(tmp_path, package, FORGED_BYTECODE + SYMLINKED)
    assert "__pycache__: folder became symlink in the toolkit's package while IMPL ran (removed)" in stderr
    assert not (package / "golden" / "harness" / "__pycache__").is_symlink()


def test_bytecode_planted_under_the_pycache_prefix_is_found_removed_and_never_loaded(
    tmp_path: Path, package: Path
) -> None:
    """With PYTHONPYCACHEPREFIX set, Python reads the package's bytecode from a mirror under it."""
    prefix = tmp_path / "prefix"
    stderr = planted_then_honest(tmp_path, package, FORGED_BYTECODE + UNDER_PREFIX, str(prefix))
    assert "_compare.cpython" in stderr and "(removed)" in stderr, stderr
    assert not list(prefix.rglob("_compare.*.pyc"))


FIRST_RUNS = {
    "validate": ("validate", "tests/broken_neurons.py:MeanBiasGradient", "--examples", "5"),
    "json": ("validate", "neuron:Neuron", "--format", "json", "--output", "{tmp}/r.json", "--examples", "5"),
    "batch": (
        "validate",
        "tests/broken_neurons.py:Textbook",
        "tests/broken_neurons.py:MeanBiasGradient",
        "--format",
        "csv",
        "--output",
        "{tmp}/grades.csv",
        "--examples",
        "5",
    ),
    "gradescope": (
        "validate",
        "neuron:Neuron",
        "--format",
        "gradescope",
        "--output",
        "{tmp}/results.json",
        "--examples",
        "5",
    ),
    "tdd": ("tdd", "examples/pure_python.py:Neuron", "--examples", "5"),
    "pytest": (
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--neuron-impl={repo}/tests/broken_neurons.py:Textbook",
        "--neuron-examples=5",
        "--neuron-sandbox=off",
    ),
}


@pytest.mark.parametrize("run", sorted(FIRST_RUNS))
def test_a_first_run_where_bytecode_is_written_finds_no_change_of_its_own(tmp_path: Path, run: str) -> None:
    """On a machine that writes bytecode, where none of ours is compiled yet, a run imports all it needs
    before the implementation starts: nothing of ours appears in the package while it watches it."""
    argv = [arg.format(tmp=tmp_path, repo=REPO) for arg in FIRST_RUNS[run]]
    env = {"PYTHONPYCACHEPREFIX": str(tmp_path / "prefix"), "PYTHONDONTWRITEBYTECODE": ""}
    if run == "pytest":  # from a folder of no tests: the plugin's items only
        out = cli(*argv, cwd=tmp_path, env=env, python=True)
    else:
        out = cli(*argv, *OFF, cwd=REPO, env=env)
    assert out.returncode in (0, 1), out.stdout + out.stderr
    assert "changed on disk" not in out.stderr, out.stderr
    assert list((tmp_path / "prefix").rglob("store.*.pyc"))  # ours was compiled there, in this run


SHADOWING = """
import os
from pathlib import Path

import golden

harness = Path(golden.__file__).parent / "harness"
(harness / "_compare").mkdir()  # a package beats a module of its name: `_compare/` would be imported
(harness / "_compare" / "__init__.py").write_text("raise SystemExit('the planted _compare/ was imported')")
os.symlink("/", harness / "root")
os.mkfifo(harness / "pipe")  # opened, it would wait for a writer for ever
"""


def test_a_folder_symlink_and_fifo_planted_in_the_package_are_removed_without_waiting(
    tmp_path: Path, package: Path
) -> None:
    stderr = planted_then_honest(tmp_path, package, SHADOWING)
    for entry in ("_compare: folder holding __init__.py", "root: symlink", "pipe: a FIFO (named pipe)"):
        assert f"{entry} appeared in the toolkit's package while IMPL ran (removed)" in stderr, stderr
    harness = package / "golden" / "harness"
    assert not any(os.path.lexists(harness / name) for name in ("_compare", "root", "pipe"))


def test_a_golden_file_rewritten_with_its_manifest_is_refused_by_name(tmp_path: Path, package: Path) -> None:
    import hashlib

    folder = package / "golden" / "v3"
    case = folder / "negative_gradients_increase_weights.json"
    doc = json.loads(case.read_text())
    doc["expected"]["a"] = [0.0]  # what a zero neuron answers
    case.write_text(json.dumps(doc, indent=2) + "\n")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["cases"][case.stem] = hashlib.sha256(case.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (tmp_path / "zero.py").write_text(ZERO)
    env = {"PYTHONPATH": str(package)}
    out = cli(
        "validate", "zero.py:Neuron", "--cases", "negative_*", "--no-properties", *OFF, cwd=tmp_path, env=env
    )
    assert out.returncode == 2
    assert "manifest.json: sha256 differs from the released golden v3" in out.stderr, out.stderr
    restored = cli("regen", "--golden", "v3", cwd=tmp_path, env=env)
    assert restored.returncode == 0, restored.stderr
    assert cli("check", "--golden", "v3", cwd=tmp_path, env=env).returncode == 0
    assert cli("validate", "zero.py:Neuron", *FAST, *OFF, cwd=tmp_path, env=env).returncode == 1


def test_regen_never_changes_a_bundled_released_version_even_with_force(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from golden.errors import ReleasedVersion
    from golden.files import _generate as generate
    from golden.files.store import ROOT

    real = generate.generate
    monkeypatch.setattr(generate, "generate", lambda v: real(v) | {"manifest.json": b"{}\n"})
    before = (ROOT / "v2" / "manifest.json").read_bytes()
    with pytest.raises(ReleasedVersion, match="released and bundled with the toolkit: it never changes"):
        generate.regen("v2", ROOT, force=True)
    assert (ROOT / "v2" / "manifest.json").read_bytes() == before


# -- 6. every run ends, whatever the child signals ------------------------------------------------------

STOPPER = """
import os, signal

class Stopper(Textbook):
    def forward(self, X):
        os.kill(os.getppid(), SIGNAL)  # its worker
        return super().forward(X)
"""


@pytest.mark.parametrize(("name", "verdict"), [("SIGSTOP", "was stopped by a signal"), ("SIGTSTP", None)])
def test_a_submission_that_stops_its_worker_costs_itself_only(
    tmp_path: Path, name: str, verdict: str | None
) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a_stopper.py").write_text(f"{BROKEN}\n{STOPPER}\nSIGNAL = signal.{name}\nNeuron = Stopper\n")
    (subs / "b_good.py").write_text(f"{BROKEN}\nNeuron = Textbook\n")
    (subs / "c_zero.py").write_text(ZERO)
    start = time.monotonic()
    out = cli("validate", "subs/*.py:Neuron", "--jobs", "1", "--format", "json", *FAST, *OFF, cwd=tmp_path)
    assert time.monotonic() - start < 60
    rows = json.loads(out.stdout)["implementations"]
    assert [r["ok"] for r in rows] == [verdict is None, True, False], rows
    if verdict:  # SIGSTOP cannot be ignored: the watchdog ends the worker, grades it again, then says so
        assert rows[0]["message"].startswith(f"its grading process {verdict}"), rows[0]
        assert rows[0]["message"].endswith(", twice")


def test_glob_expansion_does_not_follow_symlinked_folders_and_runs_each_file_once(tmp_path: Path) -> None:
    from golden.grading._expand import expand

    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "alice" / "neuron.py").write_text(ZERO)
    (subs / "alice" / "loop").symlink_to("..")
    (subs / "alice" / "again").symlink_to(".")
    (subs / "bob").symlink_to("alice")
    os.chdir(tmp_path)
    start = time.monotonic()
    found, batch = expand(["subs/**/neuron.py:Neuron"])
    assert time.monotonic() - start < 1
    assert found == ["subs/alice/neuron.py:Neuron"] and batch
    assert expand(["subs/alice/neuron.py:Neuron", "subs/bob/neuron.py:Neuron"])[0] == [
        "subs/alice/neuron.py:Neuron"
    ]


# -- 7. the smaller promises -----------------------------------------------------------------------------


def test_a_weights_file_nested_100000_deep_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "w.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "zero.py").write_text(ZERO)
    out = cli(
        "validate", "zero.py:Neuron", "--format", "csv", "--weights", "w.json", *FAST, *OFF, cwd=tmp_path
    )
    assert out.returncode == 2
    assert out.stderr.startswith("neuron-oracle: error: --weights w.json: JSON nested too deeply")
    assert len(out.stderr.splitlines()) == 1 and "Traceback" not in out.stderr


def test_weights_whose_sum_is_infinite_are_refused_and_a_large_one_keeps_results_valid_json(
    tmp_path: Path,
) -> None:
    (tmp_path / "zero.py").write_text(f"{BROKEN}\nNeuron = Textbook\n")
    (tmp_path / "huge.json").write_text(
        '{"negative_gradients_increase_weights": 1e308, "single_feature": 1e308}'
    )
    out = cli(
        "validate", "zero.py:Neuron", "--format", "csv", "--weights", "huge.json", *FAST, *OFF, cwd=tmp_path
    )
    assert out.returncode == 2 and "the points add up to more than a float can hold" in out.stderr
    (tmp_path / "large.json").write_text('{"negative_gradients_increase_weights": 1e308}')
    out = cli(
        "validate", "zero.py:Neuron", "--format", "gradescope", "--output", "r.json",
        "--weights", "large.json", *FAST, *OFF, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert score(tmp_path / "r.json") == (1e308, 1e308)


@pytest.mark.parametrize("front_end", ["validate", "tdd", "pytest"])
def test_no_front_end_leaves_hypothesis_storage_in_the_working_folder(tmp_path: Path, front_end: str) -> None:
    spec = f"{REPO}/tests/broken_neurons.py:Textbook"
    args = {
        "validate": [NEURON_ORACLE, "validate", spec, "--cases", "single_*", "--examples", "5", *OFF],
        "tdd": [NEURON_ORACLE, "tdd", spec, "--examples", "5"],
        "pytest": [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--neuron-impl={spec}"),
            *("--neuron-cases=single_*", "--neuron-examples=5", "--rootdir", str(tmp_path)),
        ],
    }[front_end]
    out = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_10_gib_allocation_fails_its_case_naming_the_memory_limit(tmp_path: Path) -> None:
    hog = "class Hog(Textbook):\n    def forward(self, X):\n        return np.ones(10 * 2**30 // 8)\n"
    (tmp_path / "hog.py").write_text(f"{BROKEN}\n{hog}\nNeuron = Hog\n")
    out = cli("validate", "hog.py:Neuron", *FAST, *OFF, cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert "forward raised MemoryError" in out.stdout
    assert "(its process may use at most 2 GiB of memory: --max-memory)" in out.stdout


SHARED = """
import mmap, resource

class SharedHog(Textbook):
    '''Maps shared memory, which the data limit (RLIMIT_DATA) does not count, untouched.'''

    def forward(self, X):
        backstop = resource.getrlimit(resource.RLIMIT_AS)[0]
        if backstop == resource.RLIM_INFINITY:
            return np.zeros(len(X))  # no backstop at all: a wrong answer, so the case fails
        mmap.mmap(-1, backstop if PAST else 3 * 256 * 2**20)  # the whole address space, or 3 x the data
        return super().forward(X)
"""


@pytest.mark.parametrize(("past", "code"), [(False, 0), (True, 1)], ids=["3x-the-data-limit", "past-it"])
def test_shared_memory_the_data_limit_misses_is_bounded_by_the_address_space_backstop(
    tmp_path: Path, past: bool, code: int
) -> None:
    (tmp_path / "hog.py").write_text(f"{BROKEN}\nPAST = {past}\n{SHARED}\nNeuron = SharedHog\n")
    out = cli("validate", "hog.py:Neuron", "--max-memory", "256M", *FAST, *OFF, cwd=tmp_path)
    assert out.returncode == code, out.stdout + out.stderr
    if past:
        refused = r"forward raised OSError at hog\.py:\d+: \[Errno 12\] Cannot allocate memory"
        assert re.search(refused, out.stdout), out.stdout


def test_an_error_past_the_largest_float_fails_its_case_without_a_traceback(tmp_path: Path) -> None:
    huge = "class Huge(Textbook):\n    def forward(self, X):\n        return np.full(len(X), 1e308)\n"
    (tmp_path / "huge.py").write_text(f"{BROKEN}\n{huge}\nNeuron = Huge\n")
    out = cli("validate", "huge.py:Neuron", "--cases", "negative_*", "--no-properties", *OFF, cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "got [1e+308]" in out.stdout and "is above the float64 bound" in out.stdout, out.stdout
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("form", ["json", "csv"])
def test_a_submission_whose_name_is_not_utf8_is_graded_and_shown_escaped(tmp_path: Path, form: str) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / os.fsdecode(b"caf\xe9.py")).write_text(ZERO)  # a Latin-1 name: not UTF-8
    (subs / "good.py").write_text(f"{BROKEN}\nNeuron = Textbook\n")
    out = cli("validate", "subs/*.py:Neuron", "--format", form, "--output", f"grades.{form}", *FAST, *OFF,
              cwd=tmp_path)  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    shown = "subs/caf\\xe9.py:Neuron"
    assert shown in out.stdout  # the table, printed
    written = (tmp_path / f"grades.{form}").read_bytes().decode("utf-8")  # strict UTF-8
    if form == "json":
        rows = json.loads(written)["implementations"]
        assert [(r["impl"], r["score"]) for r in rows] == [(shown, 0), ("subs/good.py:Neuron", 1)]
    else:
        assert written.splitlines()[1].startswith(f"{shown},False,0"), written


def test_a_submission_that_is_a_symlink_to_another_is_not_graded_as_it(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "bob.py").write_text(f"{BROKEN}\nNeuron = Textbook\n")
    (subs / "mallory.py").symlink_to("bob.py")
    out = cli("validate", "subs/*.py:Neuron", "--format", "json", *FAST, *OFF, cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    rows = {r["impl"]: r for r in json.loads(out.stdout)["implementations"]}
    assert rows["subs/bob.py:Neuron"]["score"] == 1
    mallory = rows["subs/mallory.py:Neuron"]
    assert (mallory["loaded"], mallory["score"]) == (False, 0)
    assert "its file is a symlink (to 'bob.py'); a batch grades regular files only" in mallory["message"]


def test_ctrl_c_during_a_batch_keeps_and_prints_every_grade_computed(tmp_path: Path) -> None:
    subs, started = tmp_path / "subs", tmp_path / "started"
    subs.mkdir()
    (subs / "a_good.py").write_text(f"{BROKEN}\nNeuron = Textbook\n")
    slow = f"class Slow(Textbook):\n    def forward(self, X):\n        open({str(started)!r}, 'w').close()\n"
    slow += "        time.sleep(60)\n"
    (subs / "b_slow.py").write_text(f"{BROKEN}\n{slow}\nNeuron = Slow\n")
    proc = subprocess.Popen(
        [NEURON_ORACLE, "validate", "subs/*.py:Neuron", "--jobs", "1", "--format", "csv", *FAST, *OFF],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "the batch stopped after 1 of 2 IMPLs" in err and "no verdict" in err
    assert [line.split(",")[:2] for line in out.splitlines()] == [
        ["impl", "ok"],
        ["subs/a_good.py:Neuron", "True"],
    ]


def test_jobs_defaults_to_the_cpus_this_process_may_use(tmp_path: Path) -> None:
    if not hasattr(os, "sched_setaffinity") or not shutil.which("taskset"):
        pytest.skip("needs Linux's taskset")
    out = cli("validate", "--help", cwd=tmp_path, prefix=("taskset", "-c", "0"))
    assert "the CPUs this process may use, 1)" in " ".join(out.stdout.split())


def test_a_ctypes_py_in_the_working_folder_cannot_switch_the_guard_off(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "ctypes.py").write_text(forger(marker))
    out = cli("validate", f"{REPO}/tests/broken_neurons.py:Textbook", *FAST, *OFF, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not marker.exists()


def test_a_guard_that_cannot_be_applied_is_an_error_not_a_silence(monkeypatch: pytest.MonkeyPatch) -> None:
    from golden.errors import GuardError
    from golden.harness import _guard as guard

    if not guard.available():
        pytest.skip("the guard exists on Linux only")
    monkeypatch.setitem(sys.modules, "ctypes", None)  # import ctypes now fails
    with pytest.raises(GuardError, match="ctypes cannot be imported"):
        guard.guard_this_process()


NUMBA_PROBE = """
import os
from broken import Textbook


class Neuron(Textbook):
    def forward(self, X):
        cache = os.environ["NUMBA_CACHE_DIR"]
        os.makedirs(cache, exist_ok=True)
        with open(os.path.join(cache, "probe"), "w") as f:  # numba writes its kernel there: it can
            f.write("x")
        raise RuntimeError(f"cache {cache}")
"""


@pytest.mark.parametrize("sandbox", ["off", "on"])
def test_numbas_cache_goes_to_the_childs_own_folder_not_into_the_package(
    tmp_path: Path, sandbox: str
) -> None:
    """Unless the user chose one: numba caches a kernel beside its module, in the toolkit's package."""
    (tmp_path / "broken.py").write_text(BROKEN)
    (tmp_path / "probe.py").write_text(NUMBA_PROBE)
    out = subprocess.run(
        [NEURON_ORACLE, "validate", "probe.py:Neuron", *FAST, "--sandbox", sandbox],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"},
    )
    (cache,) = re.findall(r"RuntimeError at probe\.py:\d+: cache (\S+)", out.stdout)
    assert not cache.startswith(str(REPO)), cache
    private = r"/tmp/numba" if sandbox == "on" else r".*/neuron-oracle-[^/]+/work/numba"
    assert re.fullmatch(private, cache), cache
