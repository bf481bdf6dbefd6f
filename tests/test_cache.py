"""``--cache DIR``: a rerun grades only what changed, and trusts no entry it did not write itself.

Each submission here writes its name into the file ``$RUNS`` when it is loaded, so a test counts the IMPLs
a run graded from what ran, not from what the run says. Every batch is unsandboxed (these test the cache)
but the one that tests what a sandboxed submission can reach of it, with both ways the sandbox is had.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from broken_neurons import EXPECTED
from helpers import REPO

from golden.errors import OptionError
from golden.files.store import open_sets
from golden.grading import _cache as cache
from golden.grading import _cache_key as cache_key
from golden.grading._scoring import Graded
from golden.options import Options
from golden.outcome import Outcome, Status

BROKEN = (REPO / "tests" / "broken_neurons.py").read_text()
CASES = "*gradients*"  # golden v1's four cases of gradients: where MissingBiasGradient fails, and first
FIRST = EXPECTED["MissingBiasGradient"][:2]  # its first failing case and stage
LOGGED = """
import os as _os
if "RUNS" in _os.environ:  # not in the sandbox, which passes on no such variable
    with open(_os.environ["RUNS"], "a") as _runs:
        _runs.write("{name}\\n")
"""

if os.geteuid() == 0:  # the sandbox's two tools, as tests/test_sandbox.py has them (it grades as root)
    from test_sandbox import tool  # noqa: F401  (a fixture)


def submit(folder: Path, name: str, cls: str, extra: str = "") -> None:
    """`folder`/`name`.py: the broken neurons' module with ``Neuron`` bound to `cls`, which says it ran."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(f"{BROKEN}\n{LOGGED.format(name=name)}{extra}\nNeuron = {cls}\n")


VALIDATE = [
    sys.executable,
    "-m",
    "golden",
    "validate",
    "subs/*.py:Neuron",
    "--golden",
    "v1",
    "--cases",
    CASES,
]
VALIDATE += ["--no-properties", "--cache", "cache"]


def batch(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`validate subs/*.py:Neuron --cache cache` in `cwd` (the key under `cwd`/config), as JSON, unsandboxed
    unless `args` say otherwise."""
    return subprocess.run(
        [*VALIDATE, "--format", "json", "--sandbox", "off", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "XDG_CONFIG_HOME": str(cwd / "config"), "RUNS": str(cwd / "runs"), **(env or {})},
    )


def runs(cwd: Path) -> list[str]:
    """The submissions loaded since the last look, and forget them."""
    log = cwd / "runs"
    names = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return sorted(names)


def rows(out: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    """Each submission's row of a JSON table, by name."""
    assert out.returncode in (0, 1), out.stderr
    return {Path(r["impl"].split(":")[0]).stem: r for r in json.loads(out.stdout)["implementations"]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A folder whose batch was graded once, with --cache: a correct neuron, a classic mistake, one
    that raises, one that does not load; and that run's JSON."""
    folder = tmp_path_factory.mktemp("course")
    for name, cls in (("alice", "Textbook"), ("bob", "MissingBiasGradient"), ("dave", "RaisesInForward")):
        submit(folder / "subs", name, cls)
    (folder / "subs" / "erin.py").write_text("class Neuron(:\n")
    first = batch(folder)
    assert runs(folder) == ["alice", "bob", "dave"], first.stderr  # erin never loads
    return folder, first.stdout


@pytest.fixture
def course(graded: tuple[Path, str], tmp_path: Path) -> Path:
    """A copy of the graded folder, cache and key included, for a test to change."""
    copy = tmp_path / "course"
    shutil.copytree(graded[0], copy, symlinks=True)
    return copy


def test_a_rerun_after_adding_one_submission_grades_that_one_only(course: Path) -> None:
    submit(course / "subs", "carol", "WrongUpdateSign")
    out = batch(course)
    assert runs(course) == ["carol"]
    assert {name: r["ok"] for name, r in rows(out).items()} == {
        "alice": True,
        "bob": False,
        "carol": False,
        "dave": False,
        "erin": False,
    }
    assert "3 of 5 IMPLs reused from --cache cache" in out.stderr  # erin, not loaded, is never kept


def test_a_cached_rerun_writes_the_same_json_byte_for_byte(graded: tuple[Path, str], course: Path) -> None:
    again = batch(course)
    assert runs(course) == []
    assert again.stdout == graded[1]


def test_a_cached_rerun_writes_the_same_csv_as_a_run_without_the_cache(course: Path) -> None:
    cached = batch(course, "--format", "csv")
    assert runs(course) == []
    fresh = batch(course, "--format", "csv", "--cache", str(course / "another"))
    assert runs(course) == ["alice", "bob", "dave"]
    assert len(list(csv.DictReader(io.StringIO(cached.stdout)))) == 4
    assert cached.stdout == fresh.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="sends POSIX signals")
@pytest.mark.parametrize("stop", ["SIGINT", "SIGKILL"])  # Ctrl-C, and a batch killed outright
def test_a_stopped_batch_keeps_what_it_graded_for_the_rerun(tmp_path: Path, stop: str) -> None:
    submit(tmp_path / "subs", "alice", "Textbook")
    started = tmp_path / "started"
    slow = f"    def forward(self, X):\n        open({str(started)!r}, 'w').write(str(os.getpid()))\n"
    submit(tmp_path / "subs", "zed", "Slow", f"class Slow(Textbook):\n{slow}        time.sleep(60)\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "RUNS": str(tmp_path / "runs")}
    command = [*VALIDATE, "--format", "json", "--sandbox", "off", "--jobs", "1"]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (started.exists() and started.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)  # alice graded, zed under way (one job)
    os.killpg(proc.pid, getattr(signal, stop))  # the validator and its workers
    proc.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError):  # zed's own process, left behind by SIGKILL
        os.kill(int(started.read_text()), signal.SIGKILL)
    assert runs(tmp_path) == ["alice", "zed"]
    submit(tmp_path / "subs", "zed", "Textbook")
    assert rows(batch(tmp_path))["zed"]["ok"]
    assert runs(tmp_path) == ["zed"]


def forge(entry: Path, key: bytes | None) -> None:
    """Rewrite the entry `entry` so that it says every outcome passed: its MAC left as it was (None), or
    made anew with `key`, which is not the cache's."""
    mac, _, payload = entry.read_bytes().partition(b"\n")
    data = json.loads(payload)
    data["outcomes"] = [o | {"status": "passed", "stage": None, "message": ""} for o in data["outcomes"]]
    payload = json.dumps(data).encode()
    if key is not None:
        mac = hmac.new(key, payload, hashlib.sha256).hexdigest().encode()
    entry.write_bytes(mac + b"\n" + payload)


TAMPERINGS = {
    "changed outcomes": lambda entry: forge(entry, None),
    "a MAC of another key": lambda entry: forge(entry, b"a guess at the cache's key"),
    "truncated": lambda entry: entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2]),
}


def entry_of(course: Path, name: str) -> Path:
    """The cache's entry of submission `name` (it names its IMPL after the MAC's line)."""
    (entry,) = [e for e in (course / "cache").glob("*.entry") if f"subs/{name}.py".encode() in e.read_bytes()]
    return entry


@pytest.mark.parametrize("tampering", [*TAMPERINGS, "made with another key"])
def test_a_tampered_entry_is_regraded_and_gets_its_true_grade(course: Path, tampering: str) -> None:
    env, regraded = {}, ["bob"]
    if tampering == "made with another key":  # honest entries, but not this key's: none is trusted
        env, regraded = (
            {cache.KEY_VARIABLE: "the key of another cache, not this one's"},
            ["alice", "bob", "dave"],
        )
    else:
        TAMPERINGS[tampering](entry_of(course, "bob"))
    out = batch(course, env=env)
    assert runs(course) == regraded
    bob = rows(out)["bob"]
    assert not bob["ok"] and (bob["first_failure"]["name"], bob["first_failure"]["stage"]) == FIRST
    assert "is not trusted" in out.stderr


def test_an_option_that_changes_a_verdict_regrades(course: Path) -> None:
    batch(course, "--timeout", "4")
    assert runs(course) == ["alice", "bob", "dave"]


def test_an_outcome_decided_by_a_timeout_or_a_submission_that_did_not_load_is_graded_again(
    tmp_path: Path,
) -> None:
    submit(tmp_path / "subs", "carol", "SleepsForever")
    submit(tmp_path / "subs", "dave", "Textbook", "raise ImportError('no module named helpers')")
    for _ in range(2):
        out = batch(tmp_path, "--timeout", "0.3", "--cases", FIRST[0])
        assert set(runs(tmp_path)) == {"carol", "dave"}  # loaded again (carol perhaps more than once)
        assert not any(r["ok"] for r in rows(out).values())


def test_cache_with_one_impl_and_no_grading_format_is_one_line(tmp_path: Path) -> None:
    submit(tmp_path, "alice", "Textbook")
    out = subprocess.run(
        [sys.executable, "-m", "golden", "validate", "alice.py:Neuron", "--cache", "cache"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "--cache keeps a batch's grades" in out.stderr and not (tmp_path / "cache").exists()


SETS = open_sets(("v1",))
BASE: dict[str, Any] = {"golden": "v1", "seed": 1, "sandbox": "off"}


def key(submission: Path, exposed: bool = False, golden: Any = SETS, **options: Any) -> str | None:
    """The key of `submission`'s entry in a batch of `options` (over ``BASE``), against `golden`."""
    chosen = Options(**{**BASE, **options})
    batch = cache_key.context(golden, chosen, chosen.isolation(grading=True))
    return cache_key.impl_key(batch, f"{submission}:Neuron", exposed, submission.parent / "cache")


VERDICTS = {
    "seed": {"seed": 2},
    "timeout": {"timeout": 4.0},
    "examples": {"examples": 7},
    "precision": {"precision": "float32"},
    "activations": {"activations": "leaky_relu,sigmoid"},
    "conventions": {"conventions": {"loss": "mean"}},
    "cases": {"cases": CASES},
    "properties": {"properties": False},
    "max_memory": {"max_memory": 1 << 30},
}
NO_VERDICTS = {
    "feedback": {"feedback": "stage"},
    "weights": {"weights": "weights.json"},
    "format": {"format": "csv"},
    "jobs": {"jobs": 2},
    "output": {"output": "grades.csv"},
}


@pytest.mark.parametrize("option", VERDICTS)
def test_every_option_that_changes_a_verdict_changes_the_key(tmp_path: Path, option: str) -> None:
    submit(tmp_path, "alice", "Textbook")
    assert key(tmp_path / "alice.py") != key(tmp_path / "alice.py", **VERDICTS[option])


@pytest.mark.parametrize("option", NO_VERDICTS)
def test_an_option_that_changes_no_outcome_keeps_the_key(tmp_path: Path, option: str) -> None:
    submit(tmp_path, "alice", "Textbook")
    assert key(tmp_path / "alice.py") == key(tmp_path / "alice.py", **NO_VERDICTS[option])


def test_the_seed_is_no_part_of_the_key_when_the_properties_do_not_run(tmp_path: Path) -> None:
    submit(tmp_path, "alice", "Textbook")
    assert key(tmp_path / "alice.py", properties=False) == key(
        tmp_path / "alice.py", properties=False, seed=2
    )


def test_a_case_set_whose_content_changed_under_the_same_name_changes_the_key(tmp_path: Path) -> None:
    submit(tmp_path, "alice", "Textbook")
    keys = []
    for root in ("before", "after"):
        shutil.copytree(REPO / "golden" / "v1", tmp_path / root / "v1")
        keys.append(key(tmp_path / "alice.py", golden=open_sets(("v1",), tmp_path / root)))
    case = tmp_path / "after" / "v1" / "single_feature.json"
    case.write_text(json.dumps(json.loads(case.read_text()), indent=1))  # the same case, other bytes
    manifest = tmp_path / "after" / "v1" / "manifest.json"
    document = json.loads(manifest.read_text())
    document["cases"]["single_feature"] = hashlib.sha256(case.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(document))
    changed = key(tmp_path / "alice.py", golden=open_sets(("v1",), tmp_path / "after"))
    assert keys[0] == keys[1] != changed


def test_a_helper_module_is_in_the_key_of_a_submission_with_a_folder_of_its_own(tmp_path: Path) -> None:
    submit(tmp_path, "neuron", "Textbook")
    before = [key(tmp_path / "neuron.py", exposed) for exposed in (True, False)]
    (tmp_path / "helpers.py").write_text("ALPHA = 0.01\n")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "an.entry").write_text("the cache's own files are no part of the submission")
    after = [key(tmp_path / "neuron.py", exposed) for exposed in (True, False)]
    assert before[0] != after[0]  # its folder is shown to it: a helper module changes its outcomes
    assert before[1] == after[1]  # its file alone is (a folder of several submissions)


def test_a_module_spec_is_never_cached() -> None:
    batch = cache_key.context(SETS, Options(**BASE), Options(**BASE).isolation(grading=True))
    assert cache_key.impl_key(batch, "neuron:Neuron", True, Path("cache")) is None


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_CONFIG_HOME for one test, and no key in the environment."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(cache.KEY_VARIABLE, raising=False)
    return tmp_path / "config"


def test_the_key_is_made_once_outside_the_cache_and_only_we_may_read_it(config: Path, tmp_path: Path) -> None:
    first = cache.Cache.open(str(tmp_path / "cache"))
    again = cache.Cache.open(str(tmp_path / "cache"))
    file = config / "neuron-oracle" / "cache.key"
    assert first.secret == again.secret == file.read_bytes() and len(first.secret) >= 16
    assert file.stat().st_mode & 0o777 == 0o600
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_key_file_others_may_read_is_refused(config: Path, tmp_path: Path) -> None:
    cache.Cache.open(str(tmp_path / "cache"))
    (config / "neuron-oracle" / "cache.key").chmod(0o644)
    with pytest.raises(OptionError, match=r"cache\.key: expected a regular file .* got mode 0644"):
        cache.Cache.open(str(tmp_path / "cache"))


def test_a_key_file_inside_the_cache_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(cache.KEY_VARIABLE, raising=False)
    with pytest.raises(OptionError, match=r"cache\.key: inside the cache; keep it outside"):
        cache.Cache.open(str(tmp_path / "cache"))


def test_a_key_too_short_to_be_a_secret_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cache.KEY_VARIABLE, "short")
    with pytest.raises(OptionError, match=f"{cache.KEY_VARIABLE} holds 5 characters; expected at least 16"):
        cache.Cache.open(str(tmp_path / "cache"))


def test_a_batch_with_no_seed_takes_the_seed_the_cache_keeps(config: Path, tmp_path: Path) -> None:
    kept = cache.Cache.open(str(tmp_path / "cache"))
    assert [kept.seed(5, None), kept.seed(7, None), kept.seed(7, 9), kept.seed(7, None)] == [5, 5, 9, 9]
    (tmp_path / "cache" / "seed.entry").write_text('{"seed": 3}')  # not this cache's: not trusted
    assert kept.seed(7, None) == 7


def test_what_a_batch_stored_is_removed_when_the_toolkit_changed_during_it(
    config: Path, tmp_path: Path
) -> None:
    reuse = cache.Reuse(["alice.py:Neuron"], cache.Cache.open(str(tmp_path / "cache")), keys=["0" * 64])
    reuse.recorder().append(
        Graded("alice.py:Neuron", ["single_feature"], [Outcome("single_feature", Status.PASSED)])
    )
    entry = tmp_path / "cache" / f"{'0' * 64}.entry"
    assert reuse.cache is not None and reuse.cache.read("0" * 64)[0]["outcomes"][0]["status"] == "passed"
    reuse.keep(trusted=False)
    assert not entry.exists()


MALLORY = """
import glob, hashlib, hmac, json

def _forge(key):
    for path in glob.glob(CACHE + "/*.entry"):  # each entry rewritten to say every outcome passed
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read().partition(b"\\n")[2])
            data["outcomes"] = [o | {"status": "passed", "stage": None} for o in data["outcomes"]]
            payload = json.dumps(data).encode()
            with open(path, "wb") as f:
                f.write(hmac.new(key, payload, hashlib.sha256).hexdigest().encode() + b"\\n" + payload)
        except OSError:
            pass
    try:
        open(CACHE + "/planted.entry", "w").close()
    except OSError:
        pass

try:
    with open(KEY, "rb") as f:
        _forge(f.read())
except OSError:
    _forge(b"a guess")
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="grades as root, as Gradescope does, sandboxed by default")
def test_a_sandboxed_submission_cannot_reach_the_cache_or_its_key(
    tmp_path: Path, tool: dict[str, str]
) -> None:
    sandboxed = ("--sandbox", "on")
    env = {k: v for k, v in tool.items() if k != "TOOL"}
    for name, cls in (("alice", "Textbook"), ("bob", "MissingBiasGradient")):
        submit(tmp_path / "subs", name, cls)
    batch(tmp_path, *sandboxed, env=env)
    key = tmp_path / "config" / "neuron-oracle" / "cache.key"
    submit(
        tmp_path / "subs",
        "mallory",
        "MissingBiasGradient",
        f"CACHE = {str(tmp_path / 'cache')!r}\nKEY = {str(key)!r}\n{MALLORY}",
    )
    poisoned = batch(tmp_path, *sandboxed, env=env)
    assert "2 of 3 IMPLs reused" in poisoned.stderr, poisoned.stderr  # mallory's is graded: she ran
    assert not (tmp_path / "cache" / "planted.entry").exists()
    after = batch(tmp_path, *sandboxed, env=env)
    assert "3 of 3 IMPLs reused" in after.stderr, after.stderr
    assert {name: r["ok"] for name, r in rows(after).items()} == {
        "alice": True,
        "bob": False,
        "mallory": False,
    }
