"""Issue 10's hostile implementations, each judged honestly by validate, tdd and the pytest plugin.

Every hostile class (``tests/hostile_neurons.py``) runs as a user would run it: ``python -m golden
validate IMPL``, ``python -m golden tdd IMPL`` or ``python -m pytest --neuron-impl=IMPL`` in a fresh
process, from the test's temporary directory. Each test asserts the honest verdict, that the run ended
within its bound, and that no traceback reached the user. Tests that damage golden files work on a copy
in the temporary directory (``--root``), never on the repository's golden/.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import REPO, raise_sites

HOSTILE = REPO / "tests" / "hostile_neurons.py"
FRONT_ENDS = ("validate", "tdd", "pytest")
BOUND = 120  # seconds any one run may take before the test fails: every run must end
CASE = "negative_gradients_increase_weights"  # the one case most tests run (--cases 'negative_*')


@dataclass
class Run:
    """One finished run of a front-end."""

    front_end: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def assert_clean(self) -> None:
        """No traceback and no harness SIGKILL reported as the implementation's exit, on either stream."""
        assert "Traceback" not in self.output, self.output
        assert "exit code -9" not in self.output, self.output
        assert "BrokenPipeError" not in self.output, self.output


def impl(name: str) -> str:
    return f"{HOSTILE}:{name}"


def run(
    front_end: str,
    name: str,
    tmp_path: Path,
    *,
    timeout: str = "5",
    cases: str | None = "negative_*",
    properties: bool = False,
    examples: int | None = None,
    root: Path | None = None,
    env: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
    bound: float = BOUND,
) -> Run:
    """Run `front_end` on the hostile class `name` from `tmp_path`; the run must end within `bound`."""
    spec = impl(name)
    if front_end == "validate":
        command = [sys.executable, "-m", "golden", *(["--root", str(root)] if root else [])]
        command += ["validate", spec, "--timeout", timeout]
        command += ["--cases", cases] if cases else []
        command += [] if properties else ["--no-properties"]
        command += ["--examples", str(examples)] if examples else []
    elif front_end == "tdd":
        command = [sys.executable, "-m", "golden", *(["--root", str(root)] if root else [])]
        command += ["tdd", spec, "--timeout", timeout]
        command += ["--examples", str(examples)] if examples else []
    else:
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
        command += [f"--neuron-impl={spec}", f"--neuron-timeout={timeout}"]
        command += [f"--neuron-root={root}"] if root else []
        command += [f"--neuron-cases={cases}"] if cases else []
        command += [] if properties else ["--neuron-no-properties"]
        command += [f"--neuron-examples={examples}"] if examples else []
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HOSTILE_"))}
    return bounded(
        front_end, [*command, *extra], tmp_path, {**base, "HYPOTHESIS_PROFILE": "ci", **(env or {})}, bound
    )


def bounded(
    front_end: str, command: list[str], cwd: Path, env: dict[str, str] | None = None, bound: float = BOUND
) -> Run:
    """Run `command` with stdout and stderr on pipes, as `… | cat` would, until both close: within `bound`.

    It runs in a session of its own, so a run that does not end is killed with everything in its group,
    and the test fails instead of hanging (even if a leftover process keeps a pipe open).
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            stdout, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a process outside its group holds a pipe open
            proc.kill()
            stdout, stderr = "", "(a leftover process held the output pipes open)"
        pytest.fail(f"{front_end} did not end within {bound:g} s\n{stdout[-2000:]}\n{stderr[-2000:]}")
    return Run(front_end, proc.returncode, stdout, stderr, time.monotonic() - start)


def assert_failed(r: Run) -> None:
    """The front-end's honest 'not conformant': exit 1, and its own words for it."""
    assert r.returncode == 1, r.output
    if r.front_end == "validate":
        assert r.stdout.rstrip().splitlines()[-1].startswith("FAILED: "), r.stdout
        assert not re.search(r"^OK:", r.stdout, re.MULTILINE), r.stdout
    elif r.front_end == "tdd":
        assert "All green" not in r.stdout, r.stdout
        assert "RED" in r.stdout, r.stdout
    else:
        assert re.search(r"\b[1-9]\d* failed\b", r.stdout), r.stdout


def assert_dead(pids: list[int]) -> None:
    """Every pid has ended (and been reaped); a reparented zombie gets a few seconds to be reaped."""
    assert pids, "the implementation recorded no pid: the attack did not run"
    deadline = time.monotonic() + 5
    for pid in pids:
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"process {pid}, started by the implementation, outlived the run")
            time.sleep(0.05)


def read_pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def tree_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# -- the verdict belongs to the validating process ------------------------------------------------------


def forged(front_end: str, name: str, tmp_path: Path) -> None:
    """Zeros everywhere plus a patch in its own process: the attack runs, and the verdict is FAILED."""
    attacked = tmp_path / "attacked"
    r = run(front_end, name, tmp_path, env={"HOSTILE_ATTACKED": str(attacked)})
    r.assert_clean()
    assert attacked.exists() and name in attacked.read_text(), "the patch never ran: nothing was tested"
    assert_failed(r)


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_a_neuron_that_patches_the_harness_in_its_own_process_still_fails(
    front_end: str, tmp_path: Path
) -> None:
    forged(front_end, "PatchesTheHarness", tmp_path)


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_a_neuron_that_patches_numpy_isclose_still_fails(front_end: str, tmp_path: Path) -> None:
    forged(front_end, "PatchesNumpyIsclose", tmp_path)


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_a_neuron_that_forges_its_replies_in_protocol_send_still_fails(
    front_end: str, tmp_path: Path
) -> None:
    forged(front_end, "ForgesTheReplyInSend", tmp_path)


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_a_neuron_that_forges_its_values_in_protocol_encode_still_fails(
    front_end: str, tmp_path: Path
) -> None:
    forged(front_end, "ForgesTheValuesInEncode", tmp_path)


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_a_pickle_written_to_the_reply_fd_is_never_unpickled(front_end: str, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    r = run(front_end, "WritesAPickleToTheReplyFd", tmp_path, env={"HOSTILE_MARKER": str(marker)})
    r.assert_clean()
    assert not marker.exists(), "the parent unpickled the child's bytes"
    assert_failed(r)
    assert "not JSON" in r.stdout, r.stdout
    if front_end == "validate":
        assert f"  ERROR   {CASE}: " in r.stdout, r.stdout


# -- every run ends; nothing the implementation starts outlives it ---------------------------------------


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_a_reply_that_is_only_a_length_header_times_out_instead_of_hanging(
    front_end: str, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    r = run(front_end, "WritesOnlyAHeader", tmp_path, timeout="1", env={"HOSTILE_PIDFILE": str(pids)})
    r.assert_clean()
    assert_failed(r)
    assert "timed out" in r.stdout, r.stdout
    assert r.seconds < 30, f"{r.seconds:.1f} s"
    assert_dead(read_pids(pids))


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_a_process_started_in_forward_does_not_outlive_the_run(front_end: str, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # tdd goes on to the properties for a correct neuron: two examples each keep the sleeps few
    r = run(front_end, "SpawnsASleep", tmp_path, examples=2, env={"HOSTILE_PIDFILE": str(pids)})
    r.assert_clean()
    assert r.returncode == 0, r.output  # starting a process is not wrong; outliving the run is
    assert r.seconds < 30, f"stdout on a pipe waited {r.seconds:.1f} s for the sleep"
    assert_dead(read_pids(pids))


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_killpg_of_its_own_group_cannot_reach_the_harness(front_end: str, tmp_path: Path) -> None:
    r = run(front_end, "KillsItsProcessGroup", tmp_path)
    r.assert_clean()
    assert r.returncode == 1, f"exit {r.returncode}: the harness itself was killed\n{r.output}"
    assert_failed(r)
    assert "SIGTERM" in r.stdout, r.stdout


def test_a_hang_at_import_is_bounded_by_the_load_timeout(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    env = {"HOSTILE_HANG_AT_IMPORT": "1", "HOSTILE_PIDFILE": str(pids)}
    r = run("validate", "HangsAtImport", tmp_path, timeout="1", env=env, bound=60)
    r.assert_clean()
    assert r.returncode == 2, r.output
    assert r.seconds < 10 + 8, f"{r.seconds:.1f} s for a load bounded by max(--timeout, 10 s)"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "IMPL" in lines[0] and "HangsAtImport" in lines[0], lines[0]
    assert_dead(read_pids(pids))


def test_the_plugin_restarts_the_child_after_it_dies_in_one_item(tmp_path: Path) -> None:
    r = run("pytest", "ExitsInOneCase", tmp_path, cases=None)
    r.assert_clean()
    assert r.returncode == 1, r.output
    assert "1 failed, 18 passed, 4 skipped" in r.stdout, r.stdout  # golden v3: 23 cases, 4 not Leaky ReLU
    assert "seed_worked_example_4x5: error: the implementation ended its process (exit code 3)" in r.stdout


# -- anything raised in the child is one line naming the method and the exception ------------------------

RAISERS = {  # what the message says before and after the place in the class's file where it raised
    "RaisesInTheWGetter": ("reading w raised RuntimeError", ": the w getter exploded"),
    "RaisesFromGetattr": ("forward raised RuntimeError", ": __getattr__ refuses"),
    "RaisesAnUnprintableException": ("forward raised UnprintableError", ""),
    "RaisesABaseException": ("forward raised Escape", ": escaped the harness"),
    "RaisesSystemExit": ("forward raised SystemExit", ": 3"),
    "RaisesKeyboardInterrupt": ("forward raised KeyboardInterrupt", ""),
    "ExitsInForward": ("", "ended its process (exit code 3)"),
}


@pytest.mark.parametrize("front_end", FRONT_ENDS)
@pytest.mark.parametrize("name", list(RAISERS))
def test_an_exception_raised_anywhere_in_the_child_is_one_line_naming_it(
    name: str, front_end: str, tmp_path: Path
) -> None:
    r = run(front_end, name, tmp_path)
    r.assert_clean()
    assert_failed(r)
    head, tail = RAISERS[name]
    lines = [line for line in r.stdout.splitlines() if head in line and tail in line]
    assert lines, r.stdout
    if head:  # and where, in the class's own file: the line that raised
        sites = raise_sites(lines[0], head, tail)
        assert [file.name for file, _ in sites] == ["hostile_neurons.py"], lines[0]
    if front_end == "validate":
        assert lines[0] == f"  ERROR   {CASE}: {lines[0].split(': ', 1)[1]}", lines
    assert "interrupted" not in r.output, r.output  # the child's KeyboardInterrupt is not our Ctrl-C


# -- sizes are capped ---------------------------------------------------------------------------------------


def test_a_400_mb_result_is_refused_by_name_without_a_memory_error(tmp_path: Path) -> None:
    r = run("validate", "ReturnsAHugeResult", tmp_path)
    r.assert_clean()
    assert "MemoryError" not in r.output, r.output
    assert_failed(r)
    assert f"  FAILED  {CASE}: forward returned " in r.stdout, r.stdout
    assert "50,000,000" in r.stdout, r.stdout


def test_a_reply_header_claiming_400_mb_is_refused(tmp_path: Path) -> None:
    r = run("validate", "ClaimsAHugeReply", tmp_path)
    r.assert_clean()
    assert "MemoryError" not in r.output, r.output
    assert_failed(r)
    assert f"  ERROR   {CASE}: " in r.stdout, r.stdout
    assert "400,000,000 bytes" in r.stdout, r.stdout


def test_a_20_mb_exception_message_leaves_the_report_small(tmp_path: Path) -> None:
    r = run("validate", "RaisesAHugeMessage", tmp_path)
    r.assert_clean()
    assert_failed(r)
    assert len(r.stdout) < 20_000, f"{len(r.stdout):,} characters of report"
    assert len(r.stderr) < 20_000, f"{len(r.stderr):,} characters on stderr"
    assert raise_sites(r.stdout, f"  ERROR   {CASE}: forward raised RuntimeError", ": xxx"), r.stdout[:2000]


# -- results must be real numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "what"),
    [("ReturnsComplex", "complex"), ("ReturnsNumericStrings", "str"), ("ReturnsBools", "bool")],
)
def test_a_result_that_is_not_real_numbers_fails_naming_the_method_and_what_it_returned(
    name: str, what: str, tmp_path: Path
) -> None:
    r = run("validate", name, tmp_path)
    r.assert_clean()
    assert_failed(r)
    line = next((x for x in r.stdout.splitlines() if x.startswith(f"  FAILED  {CASE}: ")), "")
    assert "forward returned" in line, r.stdout
    assert what in line, f"the message does not say forward returned {what}: {line!r}"


# -- golden files are verified before and after ------------------------------------------------------------


@pytest.mark.parametrize("front_end", FRONT_ENDS)
@pytest.mark.parametrize("name", ["DeletesAGoldenFile", "AppendsToAGoldenFile"])
def test_a_golden_file_changed_while_the_neuron_runs_is_reported_by_name(
    name: str, front_end: str, tmp_path: Path
) -> None:
    repo_golden = tree_digest(REPO / "golden" / "v3")
    root = tmp_path / "golden"
    shutil.copytree(REPO / "golden" / "v3", root / "v3")
    target = root / "v3" / f"{CASE}.json"
    r = run(front_end, name, tmp_path, root=root, examples=2, env={"HOSTILE_GOLDEN_FILE": str(target)})
    r.assert_clean()
    assert tree_digest(REPO / "golden" / "v3") == repo_golden, "the repository's golden files changed"
    assert (not target.exists()) if name == "DeletesAGoldenFile" else target.exists()
    assert f"{CASE}.json" in r.output, r.output
    if front_end == "pytest":
        assert r.returncode != 0, r.output
        assert "golden files changed on disk" in r.stdout, r.stdout
    else:
        assert r.returncode == 2, r.output
        error = [line for line in r.stderr.splitlines() if line.startswith("neuron-oracle: error:")]
        assert len(error) == 1 and f"{CASE}.json" in error[0], r.stderr


# -- options are validated: finite, in range, one line --------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("validate", "--timeout", "300000"),
        ("validate", "--timeout", "inf"),
        ("validate", "--timeout", "nan"),
        ("validate", "--timeout", "0"),
        ("validate", "--examples", "0"),
        ("tdd", "--timeout", "300000"),
        ("tdd", "--timeout", "inf"),
    ],
    ids=lambda args: " ".join(args),
)
def test_an_out_of_range_cli_option_is_a_one_line_error(args: tuple[str, ...], tmp_path: Path) -> None:
    command = [sys.executable, "-m", "golden", args[0], f"{REPO}/tests/broken_neurons.py:Textbook", *args[1:]]
    out = bounded(args[0], command, tmp_path)
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neuron-oracle: error: "), out.stderr
    assert args[1] in lines[0], lines[0]


@pytest.mark.parametrize(
    "option",
    [
        "--neuron-timeout=nan",
        "--neuron-timeout=inf",
        "--neuron-timeout=0",
        "--neuron-timeout=-1",
        "--neuron-timeout=300000",
        "--neuron-examples=0",
    ],
)
def test_an_out_of_range_plugin_option_is_a_usage_error(option: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    command += [f"--neuron-impl={REPO}/tests/broken_neurons.py:Textbook", option]
    out = bounded("pytest", command, tmp_path)
    assert "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr
    assert out.returncode == 4, out.stdout + out.stderr  # pytest.ExitCode.USAGE_ERROR
    flag = option.split("=")[0]
    errors = [line for line in out.stderr.splitlines() if flag in line]
    assert len(errors) == 1, out.stderr


# -- reports stay honest ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["RaisesAForgedReportLine", "ReturnsAForgedReportLine"])
def test_control_characters_and_newlines_cannot_forge_a_text_report_line(name: str, tmp_path: Path) -> None:
    r = run("validate", name, tmp_path)
    r.assert_clean()
    assert_failed(r)  # the last line is the real verdict, FAILED; no line starts with OK:
    assert "\x1b" not in r.stdout, repr(r.stdout)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]", r.stdout), repr(r.stdout)
    assert sum(line.startswith(("FAILED:", "OK:")) for line in r.stdout.splitlines()) == 1, r.stdout


@pytest.mark.parametrize("name", ["RaisesAForgedReportLine", "ReturnsAForgedReportLine"])
def test_control_characters_leave_the_junit_report_well_formed(name: str, tmp_path: Path) -> None:
    r = run("validate", name, tmp_path, extra=("--format", "junit"))
    r.assert_clean()
    assert r.returncode == 1, r.output
    suites = ET.fromstring(r.stdout)  # raises ParseError when ill-formed
    (case,) = suites.iter("testcase")
    problem = case.find("error") if case.find("error") is not None else case.find("failure")
    assert problem is not None, r.stdout
    assert "\x1b" not in (problem.get("message") or ""), r.stdout


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_a_run_where_every_case_is_skipped_exits_1_saying_nothing_was_checked(
    front_end: str, tmp_path: Path
) -> None:
    # Leaky ReLU must be declared (its cases fail otherwise), so every case is skipped only when the cases
    # chosen are of another activation, here sigmoid's, which Textbook does not declare; tdd walks
    # Leaky ReLU's cases, so there a class that declares no activation it can walk is "nothing checked".
    name, cases = ("SupportsNoKnownActivation", None) if front_end == "tdd" else ("Textbook", "sigmoid_*")
    r = run(front_end, name, tmp_path, cases=cases, examples=2)
    r.assert_clean()
    assert r.returncode == 1, r.output
    assert re.search(r"nothing (was )?checked", r.output, re.IGNORECASE), r.output
    assert "All green" not in r.stdout, r.stdout


def test_a_class_that_does_not_declare_leaky_relu_fails_its_cases(tmp_path: Path) -> None:
    r = run("validate", "SupportsNoKnownActivation", tmp_path, cases=None)
    r.assert_clean()
    assert r.returncode == 1, r.output
    assert "a neuron of this protocol runs 'leaky_relu'" in r.stdout, r.stdout


# -- optional stages are the class's own methods ----------------------------------------------------------


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_callable_instance_attributes_named_linear_and_loss_are_not_checked_as_stages(
    front_end: str, tmp_path: Path
) -> None:
    r = run(front_end, "CallableAttributesNotMethods", tmp_path, cases=None, properties=True, examples=10)
    r.assert_clean()
    assert r.returncode == 0, r.output
    if front_end == "validate":
        assert re.fullmatch(
            r"OK: \d+ passed, 0 failed, 0 errors, 4 skipped", r.stdout.rstrip().splitlines()[-1]
        )
    elif front_end == "tdd":
        assert r.stdout.rstrip().endswith("All green."), r.stdout
    else:
        assert re.search(r"^\d+ passed, 4 skipped in ", r.stdout, re.MULTILINE), r.stdout


def test_the_pickle_payload_would_create_the_marker_if_it_were_unpickled(tmp_path: Path) -> None:
    """The attack above is real: unpickling its bytes here, on purpose, runs its code."""
    import pickle

    from hostile_neurons import _Payload

    marker = tmp_path / "unpickled"
    pickle.loads(pickle.dumps(_Payload(str(marker))))  # the point of the test
    assert marker.exists()
