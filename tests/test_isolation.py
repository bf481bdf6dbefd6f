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

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
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
    *args: str, cwd: Path, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``neuron-oracle ARGS`` from `cwd`, as an autograder script runs it."""
    return subprocess.run(
        [*prefix, NEURON_ORACLE, *args],
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

            def run(self, cases, properties=True):
                for case in cases:
                    yield Outcome(case.name, Status.PASSED)

            session.Session.run = run
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
    assert got == most - 4  # v1's four cases of activations Textbook does not declare earn nothing


def test_the_cli_started_in_a_folder_of_look_alike_modules_uses_its_own(tmp_path: Path) -> None:
    for name in ("csv", "ctypes", "random", "json", "numpy", "hypothesis", "jsonschema"):
        (tmp_path / f"{name}.py").write_text(innocent(name))
    out = cli("validate", f"{REPO}/tests/broken_neurons.py:Textbook", "--golden", "v1", *OFF, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK: 21 passed" in out.stdout  # the properties too: Hypothesis and numpy are the real ones


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
    assert [r["score"] for r in rows] == [0, 0, 0, 0]
    assert rows[0]["message"].startswith("its grading process ended while it ran"), rows[0]
    opened = marker.read_text().splitlines() if marker.exists() else []
    assert [line for line in opened if line.startswith("ours")] == []
