"""`validate --cluster local` and `--scheduler tls://`: a batch graded on Dask's workers, as on ours.

The runs are of grading itself, unsandboxed (tests/test_sandbox.py tests the sandbox), on golden v1 with
a few examples per property under one seed. Those that need distributed are skipped where the dask extra
is not installed (CI installs it)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO, validate

BROKEN = (REPO / "tests" / "broken_neurons.py").read_text()
OFF = ("--sandbox", "off", "--no-properties", "--scheduler")  # then the scheduler's address
RUN = ("--golden", "v1", "--jobs", "2", "--examples", "5", "--seed", "12345", "--format", "json")
needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason="the dask extra is not installed (pip install 'neuron-oracle[dask]')",
)
KILLS = """
import signal

class KillsItsWorker(Textbook):
    '''Kills the process that grades it (its parent), as a machine that is lost would: each time, or
    only the first time when MARK is a file's path.'''

    def forward(self, X):
        if not (MARK and os.path.exists(MARK)):
            if MARK:
                open(MARK, "w").close()
            os.kill(os.getppid(), signal.SIGKILL)
            time.sleep(5)
        return super().forward(X)
"""


def student(folder: Path, name: str, cls: str, extra: str = "") -> None:
    """A student's file: the broken neurons' module with ``Neuron`` bound to class `cls`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(f"{BROKEN}\n{extra}\nNeuron = {cls}\n")


def oracle(
    *args: str, env: dict[str, str] | None = None, python: tuple[str, ...] = ("-m", "golden")
) -> subprocess.CompletedProcess[str]:
    """`neuron-oracle validate ARGS` (run as `python PYTHON validate ARGS`) from the repository."""
    command = [sys.executable, *python, "validate", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=300, env=env)


def rows(out: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert out.returncode == 1, out.stderr
    return list(json.loads(out.stdout)["implementations"])


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Any], list[Any], Path]]:
    """Five submissions graded by two local workers, then by a two-worker LocalCluster: a correct one, a
    classic mistake, one that does not import, one whose class is in a helper module beside it in a
    folder of its own, and one that kills its worker the first time it runs."""
    top = tmp_path_factory.mktemp("dask")
    subs, mark = top / "subs", top / "killed-once"
    student(subs, "alice", "Textbook")
    student(subs, "bob", "MeanBiasGradient")
    student(subs, "kim", "KillsItsWorker", extra=f"MARK = {str(mark)!r}\n{KILLS}")
    (subs / "erin.py").write_text("class Neuron(:\n")
    student(subs / "frank", "frank_helpers", "Textbook")  # frank's neuron is in his helper module
    (subs / "frank" / "neuron.py").write_text("from frank_helpers import Textbook as Neuron\n")
    impls = (f"{subs}/*.py:Neuron", f"{subs}/frank/neuron.py:Neuron")
    local = rows(validate(*impls, *RUN))
    mark.unlink()
    cluster = rows(validate(*impls, *RUN, "--cluster", "local"))
    yield local, cluster, mark


@needs_dask
def test_a_two_worker_local_cluster_gives_the_grades_of_two_local_workers(batch: Any) -> None:
    local, cluster, _ = batch
    assert [r["ok"] for r in local].count(True) == 3  # alice, frank and kim: the grades are real ones
    assert cluster == local


@needs_dask
def test_a_worker_killed_mid_batch_costs_no_grade(batch: Any) -> None:
    _, cluster, mark = batch
    kim = next(r for r in cluster if "/kim.py:" in r["impl"])
    assert mark.exists()  # its first run killed the worker grading it
    assert kim["ok"] and kim["score"] == kim["max_score"]


def tls(folder: Path) -> dict[str, str]:
    """A key and a self-signed certificate for every role of a cluster, as Dask's configuration names
    them in the environment (the README's recipe makes them with openssl)."""
    from distributed.security import Security

    made = Security.temporary()
    folder.mkdir(mode=0o700)
    for name, text in (("cert.pem", made.tls_ca_file), ("key.pem", made.tls_client_key)):
        (folder / name).write_text(text)
        (folder / name).chmod(0o600)
    env = {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(folder / "cert.pem")}
    for role in ("SCHEDULER", "WORKER", "CLIENT"):
        env[f"DASK_DISTRIBUTED__COMM__TLS__{role}__CERT"] = str(folder / "cert.pem")
        env[f"DASK_DISTRIBUTED__COMM__TLS__{role}__KEY"] = str(folder / "key.pem")
    return env


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A Dask scheduler over TLS, set as the README says (a task runs twice at most, and one at a time
    on a worker), and one worker started as the SLURM recipe starts them; its address and the client's
    TLS environment."""
    env = {**os.environ, **tls(tmp_path / "tls"), "HYPOTHESIS_PROFILE": "ci"}
    env |= {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    env |= {"DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}
    file = tmp_path / "scheduler.json"
    start = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0"]
    start += ["--protocol", "tls", "--no-dashboard", "--scheduler-file", str(file)]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(file)]
    worker += ["--nthreads", "1", "--preload", "golden.grading._dask", "--no-dashboard"]
    worker += ["--local-directory", str(tmp_path), "--death-timeout", "60"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": REPO, "env": env}
    processes = [subprocess.Popen(start, **quiet)]  # type: ignore[call-overload]
    try:
        while not file.exists() and processes[0].poll() is None:
            time.sleep(0.1)
        processes.append(subprocess.Popen(worker, **quiet))  # type: ignore[call-overload]
        client = {k: v for k, v in env.items() if "__CLIENT__" in k or k.endswith("__CA_FILE")}
        yield json.loads(file.read_text())["address"], client
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@needs_dask
def test_a_submission_that_kills_each_worker_it_runs_on_is_not_graded_after_one_retry(
    tmp_path: Path, scheduler: tuple[str, dict[str, str]]
) -> None:
    address, credentials = scheduler
    student(tmp_path / "subs", "a_killer", "KillsItsWorker", extra=f"MARK = ''\n{KILLS}")
    student(tmp_path / "subs", "b_good", "Textbook")
    env = {**os.environ, **credentials, "HYPOTHESIS_PROFILE": "ci"}
    killer, good = rows(oracle(f"{tmp_path}/subs/*.py:Neuron", *RUN, *OFF, address, env=env))
    assert killer["message"] == "its grading process (a Dask worker) ended while it ran, twice"
    assert killer["score"] == 0
    assert good["ok"]


def _recipe() -> str:
    """The README's SLURM recipe, as written there, up to where it scales the cluster (which submits jobs)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "SLURMCluster(" in b]
    return block[: block.index("cluster.scale(")]


SLURM = _recipe()


@needs_dask
def test_the_slurm_recipe_starts_guarded_single_threaded_workers_over_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in tls(tmp_path / "tls").items():
        monkeypatch.setenv(name, value)
    import dask

    dask.config.refresh()
    recipe: dict[str, Any] = {}
    try:
        exec(SLURM, recipe)  # the README's recipe, as written there
        script = recipe["cluster"].job_script()
    finally:
        if "cluster" in recipe:
            recipe["cluster"].close()
        dask.config.refresh()
    (command,) = [line for line in script.splitlines() if "distributed.cli.dask_worker" in line]
    words = command.split()
    assert words[words.index("--preload") + 1] == "golden.grading._dask"
    assert words[words.index("--nthreads") + 1] == "1"
    assert words[words.index("--nworkers") + 1] == "8"
    assert words[words.index("--local-directory") + 1] == "$TMPDIR"
    assert words[1 + words.index("--protocol")] == "tls://" and "--tls-ca-file" in words
    assert command.split()[0] == sys.executable


def test_without_distributed_a_cluster_is_refused_in_one_line_naming_the_extra(tmp_path: Path) -> None:
    student(tmp_path, "alice", "Textbook")
    blocked = (
        "import sys; sys.modules['distributed'] = None; sys.argv[0] = 'neuron-oracle'; "
        "from golden.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    for engine in (("--cluster", "local"), ("--scheduler", "tls://127.0.0.1:8786")):
        out = oracle(f"{tmp_path}/*.py:Neuron", "--no-properties", *engine, python=("-c", blocked))
        assert out.returncode == 2, out.stderr
        (line,) = out.stderr.splitlines()[-1:]
        assert line.startswith(f"neuron-oracle: error: {engine[0]} grades on Dask")
        assert line.endswith("pip install 'neuron-oracle[dask]'")
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr


@needs_dask
def test_a_scheduler_without_tls_credentials_is_refused_in_one_line(tmp_path: Path) -> None:
    student(tmp_path, "alice", "Textbook")
    config = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    no_config = {**config, "DASK_CONFIG": str(tmp_path / "no-config")}  # none of the user's Dask files
    out = oracle(f"{tmp_path}/*.py:Neuron", *OFF, "tls://127.0.0.1:8786", env=no_config)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(
        "neuron-oracle: error: --scheduler tls://127.0.0.1:8786: no TLS credentials: set "
        "distributed.comm.tls.ca-file"
    )
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
