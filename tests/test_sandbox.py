"""The sandbox's promises, tested as a hostile submission would test them, with each way it is had.

As root (every Gradescope container) a batch is sandboxed by default. The submission below probes what a
student would try: reading another submission, a golden set given by path (a teacher's hidden cases) and
the output folder; reaching a server on 127.0.0.1; seeing and signalling the validator; leaving a daemon
behind; allocating 10 GiB. Each probe's result comes back in the message of the error it raises, so the
test reads what the sandbox let through. Both ways the sandbox is had run every test: bubblewrap, and the
standard library's own (``boot.confine``), which is used when ``bwrap`` is not on PATH.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

from golden.harness import _sandbox as sandbox

BROKEN = (REPO / "tests" / "broken_neurons.py").read_text()
NEURON_ORACLE = str(Path(sys.executable).with_name("neuron-oracle"))
FAST = ("--golden", "v1", "--cases", "negative_*", "--no-properties")
UIDS = range(sandbox.UID_BASE, sandbox.UID_BASE + 64)  # the sandbox's uids, one per job

if os.geteuid() != 0:
    pytest.skip("these tests grade as root, as Gradescope does (and as CI runs)", allow_module_level=True)

PROBER = """
import os, signal, socket

def probe(what, act):
    try:
        act()
    except OSError as e:
        return f"{what}:denied({type(e).__name__})"
    return f"{what}:ALLOWED"

def read(path):
    with open(path, "rb") as f:
        f.read(1)

def connect():
    socket.create_connection(("127.0.0.1", PORT), timeout=2).close()

def signal_validator():
    os.kill(VALIDATOR, signal.SIGSTOP)

class Prober(Textbook):
    def forward(self, X):
        if os.fork() == 0:  # a daemon of its own session, to outlive the run if it can
            os.setsid()
            if os.fork() == 0:
                                time.sleep(30)
            os._exit(0)
        ours = 0  # processes it can see whose command is neuron-oracle's: the validator, its workers
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open(f"/proc/{p}/cmdline", "rb") as f:
                        cmd = f.read()
                        ours += b"neuron-oracle" in cmd and b"boot.py" not in cmd
                except OSError:
                    pass
        report = [
            probe("other", lambda: read(OTHER)),
            probe("hidden", lambda: read(HIDDEN)),
            probe("output", lambda: os.listdir(OUTPUT)),
            probe("loopback", connect),
            probe("validator", signal_validator),
            f"uid:{os.getuid()}",
            f"ours:{ours}",
        ]
        raise RuntimeError(" ".join(report))
"""


@pytest.fixture(params=["bubblewrap", "unshare"])
def tool(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment that makes the CLI use that tool: without bwrap on PATH, the standard library's."""
    if request.param == "bubblewrap" and not shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed: apt-get install bubblewrap")
    if request.param == "unshare":
        bare = tmp_path / "bin"  # a PATH of the usual tools, without bwrap
        bare.mkdir()
        for name in ("setpriv", "taskset"):
            if shutil.which(name):
                (bare / name).symlink_to(shutil.which(name))  # type: ignore[arg-type]
        return {"PATH": str(bare), "TOOL": "unshare"}
    return {"TOOL": "bubblewrap"}


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NEURON_ORACLE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, **env},
    )


def sandbox_processes(marker: str) -> list[int]:
    """Processes that run as one of the sandbox's uids, anywhere on this machine, with ``TZ=marker`` in
    their environment (the sandbox passes TZ on): those of the run given it, not of another test's run
    in another pytest worker, which uses the same uids."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read().split(b"\0")
            except (OSError, StopIteration, ValueError):
                continue
            if uid in UIDS and f"TZ={marker}".encode() in environ:
                found.append(int(entry))
    return found


def marker(tmp_path: Path) -> str:
    """A time zone of this test's own name (UTC in effect), to tell its sandboxed processes by."""
    return f"<SBX{hashlib.sha256(str(tmp_path).encode()).hexdigest()[:12]}>0"


def test_a_sandboxed_submission_reaches_nothing_of_ours_and_leaves_nothing(
    tmp_path: Path, tool: dict[str, str]
) -> None:
    subs, hidden, output = tmp_path / "subs", tmp_path / "grader" / "hidden", tmp_path / "results"
    subs.mkdir()
    output.mkdir()
    shutil.copytree(REPO / "golden" / "v1", hidden / "v1")  # a set given by path: the teacher's
    (subs / "b_other.py").write_text(f"{BROKEN}\nSECRET = 'the other student'\nNeuron = Textbook\n")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    where = {
        "PORT": server.getsockname()[1],
        "VALIDATOR": os.getpid(),  # any process of ours: the test's own will do
        "OTHER": str(subs / "b_other.py"),
        "HIDDEN": str(hidden / "v1" / "manifest.json"),
        "OUTPUT": str(output),
    }
    constants = "\n".join(f"{k} = {v!r}" for k, v in where.items())
    (subs / "a_prober.py").write_text(f"{BROKEN}\n{constants}\n{PROBER}\nNeuron = Prober\n")
    zone = marker(tmp_path)
    out = cli(
        "--root", str(hidden), "validate", "subs/*.py:Neuron", "--jobs", "2", "--format", "json",
        "--output", str(output / "grades.json"), *FAST, cwd=tmp_path, env={**tool, "TZ": zone},
    )  # fmt: skip
    try:
        assert out.returncode == 1, out.stdout + out.stderr
        table = json.loads((output / "grades.json").read_text())
        assert table["isolation"]["sandbox"] == "on" and table["isolation"]["tool"] == tool["TOOL"]
        prober, other = table["implementations"]
        assert other["ok"] is True, other
        said = re.split(r"RuntimeError at \S*a_prober\.py:\d+: ", prober["message"])[1]  # after its place
        report = dict(item.split(":", 1) for item in said.split())
        assert report["other"].startswith("denied"), report
        assert report["hidden"].startswith("denied"), report
        assert report["output"].startswith("denied"), report
        assert report["loopback"].startswith("denied"), report
        assert report["validator"].startswith("denied"), report
        assert int(report["uid"]) in UIDS
        assert report["ours"] == "0", report
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
    assert sandbox_processes(zone) == []  # the daemon is gone with the sandbox


def test_a_sandboxed_10_gib_allocation_fails_its_case_naming_the_limit(
    tmp_path: Path, tool: dict[str, str]
) -> None:
    hog = "class Hog(Textbook):\n    def forward(self, X):\n        return np.ones(10 * 2**30 // 8)\n"
    (tmp_path / "hog.py").write_text(f"{BROKEN}\n{hog}\nNeuron = Hog\n")
    out = cli("validate", "hog.py:Neuron", "--sandbox", "on", *FAST, cwd=tmp_path, env=tool)
    assert out.returncode == 1, out.stderr
    assert f"sandbox on ({tool['TOOL']}; asked for)" in out.stdout
    assert "forward raised MemoryError" in out.stdout
    assert "(its process may use at most 2 GiB of memory: --max-memory)" in out.stdout


@pytest.mark.parametrize(
    ("example", "module"),
    [("torch_autograd.py", "torch"), ("jax_float32.py", "jax"), ("numpy_float32.py", "numpy")],
)
def test_library_clients_pass_in_the_sandbox_under_its_memory_limit(
    tmp_path: Path, tool: dict[str, str], example: str, module: str
) -> None:
    pytest.importorskip(module, reason=f"pip install {'jax[cpu]' if module == 'jax' else module}")
    spec = f"{REPO}/examples/{example}:Neuron"
    out = cli("validate", spec, "--sandbox", "on", "--examples", "20", cwd=tmp_path, env=tool)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"sandbox on ({tool['TOOL']}; asked for)" in out.stdout


def test_sandbox_on_where_none_can_be_had_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from golden.errors import SandboxError

    monkeypatch.setattr(
        sandbox, "available", lambda: ("", "bubblewrap (bwrap) is not installed; unshare: refused")
    )
    with pytest.raises(SandboxError, match="--sandbox on: no sandbox can be had here: bubblewrap"):
        sandbox.choose("on", grading=True)
    auto = sandbox.choose("auto", grading=True)
    assert not auto.sandbox and "no sandbox can be had here" in auto.describe()


def test_auto_is_on_when_grading_as_root_and_off_otherwise() -> None:
    assert sandbox.choose("auto", grading=True).sandbox is bool(sandbox.available()[0])
    assert sandbox.choose("auto", grading=False).describe().startswith("sandbox off (auto: not grading)")
    assert sandbox.choose("off", grading=True).describe().startswith("sandbox off (asked for)")


def test_a_symlink_in_a_submissions_folder_changes_nothing_it_points_to(
    tmp_path: Path, tool: dict[str, str]
) -> None:
    target = tmp_path / "outside" / "private.txt"
    target.parent.mkdir()
    target.write_text("the grader's")
    target.chmod(0o600)
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "neuron.py").write_text(f"{BROKEN}\nNeuron = Textbook\n")
    (submission / "link").symlink_to(target)
    out = cli("validate", "neuron.py:Neuron", "--sandbox", "on", *FAST, cwd=submission, env=tool)
    assert out.returncode == 0, out.stdout + out.stderr
    assert target.stat().st_mode & 0o777 == 0o600


KEYS = """
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
USER, USER_SESSION, SESSION = -4, -5, -3  # KEY_SPEC_*_KEYRING


def keys(ring):
    buffer = ctypes.create_string_buffer(4096)
    n = libc.syscall(250, 11, ctypes.c_long(ring), buffer, 4096)  # keyctl(KEYCTL_READ): 4 bytes a key
    return n // 4 if n >= 0 else f"unreadable({ctypes.get_errno()})"


class Keys(Textbook):
    def forward(self, X):
        if PLANT:
            for ring in (USER, USER_SESSION, SESSION):
                libc.syscall(248, b"user", b"left-behind", b"secret", 6, ctypes.c_long(ring))  # add_key
        raise RuntimeError(" ".join(f"{ring}:{keys(ring)}" for ring in (USER, USER_SESSION, SESSION)))
"""


def test_a_key_left_in_the_sandbox_uids_keyrings_reaches_no_later_run(
    tmp_path: Path, tool: dict[str, str]
) -> None:
    found = {}
    for plant in (True, False):  # one run plants keys for the sandbox's uid, the next looks for them
        (tmp_path / "keys.py").write_text(f"{BROKEN}\nPLANT = {plant}\n{KEYS}\nNeuron = Keys\n")
        out = cli("validate", "keys.py:Neuron", "--sandbox", "on", *FAST, cwd=tmp_path, env=tool)
        assert out.returncode == 1, out.stdout + out.stderr
        message = re.split(r"RuntimeError at keys\.py:\d+: ", out.stdout)[1].split("\n")[0]
        found[plant] = dict(item.split(":") for item in message.split())
    assert found[True] == {"-4": "1", "-5": "1", "-3": "1"}, found  # the keys were planted
    assert found[False] == {"-4": "0", "-5": "0", "-3": "0"}, found  # and none was kept


def test_a_submission_in_a_folder_above_another_sees_only_its_own_file(
    tmp_path: Path, tool: dict[str, str]
) -> None:
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "alice" / "neuron.py").write_text(f"{BROKEN}\nSECRET = 'alice'\nNeuron = Textbook\n")
    reader = "class Reader(Textbook):\n    def forward(self, X):\n        open(OTHER).read()\n"
    other = f"OTHER = {str(subs / 'alice' / 'neuron.py')!r}"
    (subs / "neuron.py").write_text(f"{BROKEN}\n{other}\n{reader}\nNeuron = Reader\n")
    out = cli(
        "validate", "subs/neuron.py:Neuron", "subs/alice/neuron.py:Neuron", "--sandbox", "on",
        "--format", "json", *FAST, cwd=tmp_path, env=tool,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    above, alice = json.loads(out.stdout)["implementations"]
    assert alice["ok"] is True, alice
    assert "forward raised FileNotFoundError" in above["message"], above


@pytest.mark.parametrize(
    ("shape", "why"),
    [("deep", "is more than 32 folders deep"), ("full", "holds more than 10,000 files and folders")],
)
def test_a_folder_too_deep_or_too_full_to_copy_is_one_line_and_exit_2(
    tmp_path: Path, tool: dict[str, str], shape: str, why: str
) -> None:
    (tmp_path / "neuron.py").write_text(f"{BROKEN}\nNeuron = Textbook\n")
    if shape == "deep":
        (tmp_path / "/".join(["d"] * 40)).mkdir(parents=True)
    else:
        for i in range(10_001):
            (tmp_path / f"f{i}").touch()
    out = cli("validate", "neuron.py:Neuron", "--sandbox", "on", *FAST, cwd=tmp_path, env=tool)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith("neuron-oracle: error: IMPL 'neuron.py:Neuron': cannot be copied into the ")
    assert why in out.stderr and out.stderr.count("\n") == 1, out.stderr


def test_a_submission_that_is_a_symlink_is_refused_in_the_sandbox_not_shown_as_its_target(
    tmp_path: Path, tool: dict[str, str]
) -> None:
    (tmp_path / "bob.py").write_text(f"{BROKEN}\nNeuron = Textbook\n")
    (tmp_path / "mallory.py").symlink_to(tmp_path / "bob.py")
    out = cli("validate", "mallory.py:Neuron", "--sandbox", "on", *FAST, cwd=tmp_path, env=tool)
    assert out.returncode == 2, out.stdout + out.stderr
    expected = "IMPL 'mallory.py:Neuron': its file is a symlink; expected a regular file\n"
    assert out.stderr == f"neuron-oracle: error: {expected}", out.stderr
