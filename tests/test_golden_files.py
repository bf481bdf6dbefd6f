"""Golden trees broken by accident or on purpose: every load is one line and a bounded run, regen repairs.

Each test breaks a copy of golden v1 in `tmp_path` (never the repository's), then holds `list`, `show`,
`validate`, `check` and `regen` to one line on stderr naming the file, the documented exit status, no
traceback, no hang (subprocess timeout) and no memory blow-up (an address-space limit), and `regen
--force` to a repair after which `check` is clean.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from golden.errors import GoldenError, ReleasedVersion
from golden.files import _generate as regen_
from golden.files._document import dumps, sha256
from golden.files.store import (
    MAX_DEPTH,
    MAX_FILE,
    MAX_VALUES,
    ROOT,
    display,
    load_set,
    parse,
    read_regular,
    version_dir,
    versions,
)
from oracle import CASES

V1_CASES = [name for name, case in CASES.items() if case.since == 1]  # what the copy of v1 holds

posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs, devices and rlimits are POSIX")
CASE = "single_feature"
MEMORY = 2 << 30  # bytes of address space a CLI run may take; reading /dev/zero whole would exceed it


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the committed golden v1, to break."""
    shutil.copytree(ROOT / "v1", tmp_path / "v1")
    return tmp_path


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m golden --root ROOT ARGS`` on golden v1, run in `root`: messages name ``v1/<x>.json``."""
    flag = "--golden"
    pinned = [*args, flag, "v1"] if flag not in args else list(args)
    return subprocess.run(
        [sys.executable, "-m", "golden", "--root", str(root), *pinned],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=30,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        preexec_fn=_limit_memory if os.name == "posix" else None,
    )


def one_line(out: subprocess.CompletedProcess[str], status: int, *fragments: str) -> str:
    """Assert the run exited `status` with one line on stderr holding every fragment; return the line."""
    lines = out.stderr.strip().splitlines()
    assert out.returncode == status, out.stdout[-2000:] + out.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def snapshot(directory: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry of `directory` as it stands, without opening a FIFO or a device."""
    out: dict[str, tuple[Any, ...]] = {}
    for entry in sorted(os.listdir(directory)):
        path = directory / entry
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            out[entry] = ("link", os.readlink(path))
        elif stat.S_ISREG(info.st_mode):
            out[entry] = ("file", path.read_bytes(), info.st_mtime_ns)
        else:
            out[entry] = ("other", stat.S_IFMT(info.st_mode), info.st_mtime_ns)
    return out


def edit(path: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_bytes(dumps(doc))


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# -- the ways a case file can be broken ------------------------------------------------------------


def nested(path: Path) -> str:
    path.write_text("[" * 200_000 + "]" * 200_000)
    return "JSON nested too deeply"


def symlink_loop(path: Path) -> str:
    other = path.parent.parent / "b.json"  # a -> b -> a, b outside the version folder
    path.unlink()
    os.symlink(other, path)
    os.symlink(path, other)
    return "cannot read: Too many levels of symbolic links"


def fifo(path: Path) -> str:
    path.unlink()
    os.mkfifo(path)
    return "expected a regular file, got a FIFO"


def dev_zero(path: Path) -> str:
    path.unlink()
    os.symlink("/dev/zero", path)
    return "expected a regular file, got a character device (a link to /dev/zero)"


def too_big(path: Path) -> str:
    with path.open("wb") as f:
        f.truncate(MAX_FILE + 1)  # sparse: no 16 MiB written
    return f"{MAX_FILE + 1:,} bytes; a golden file holds at most {MAX_FILE:,}"


BREAKERS = [
    pytest.param(nested, id="nested-200k"),
    pytest.param(symlink_loop, id="symlink-loop", marks=posix_only),
    pytest.param(fifo, id="fifo", marks=posix_only),
    pytest.param(dev_zero, id="dev-zero", marks=posix_only),
    pytest.param(too_big, id="over-16MiB"),
]


@pytest.mark.parametrize("breaker", BREAKERS)
def test_a_broken_case_file_is_one_line_everywhere_and_regen_force_repairs_it(
    root: Path, breaker: Callable[[Path], str]
) -> None:
    name = f"v1/{CASE}.json"
    message = breaker(root / name)
    for args in (("list",), ("show", CASE), ("validate", "--no-properties")):
        one_line(cli(root, *args), 2, f"error: {name}: {message}")

    out = cli(root, "check")
    assert out.returncode == 1 and "Traceback" not in out.stderr + out.stdout
    assert any(line.startswith(f"{name}: {message}") for line in out.stdout.splitlines()), out.stdout

    before = snapshot(root / "v1")
    found = "not a JSON object (or too big or deep to compare)" if breaker is nested else message
    refused = f"golden v1 is released; regen would change it (changed {name}: {found}"
    one_line(cli(root, "regen"), 1, refused)
    assert snapshot(root / "v1") == before  # nothing written

    out = cli(root, "regen", "--force")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"changed {name}: {found}") and "; rewritten\n" in out.stdout
    assert stat.S_ISREG(os.lstat(root / name).st_mode)
    out = cli(root, "check")
    assert out.returncode == 0 and "every file agrees with the oracle" in out.stdout, out.stdout
    assert temporaries(root / "v1") == []


@pytest.mark.parametrize("breaker", BREAKERS)
def test_a_broken_file_is_a_golden_error_in_process(root: Path, breaker: Callable[[Path], str]) -> None:
    path = root / "v1" / f"{CASE}.json"
    message = breaker(path)
    with pytest.raises(GoldenError, match="^" + re.escape(f"{path}: {message}")):
        load_set("v1", root)
    assert any(p.startswith(f"{path}: {message}") for p in regen_.check("v1", root))


@posix_only
def test_a_golden_set_read_before_a_case_became_a_fifo_reports_it_on_verify(root: Path) -> None:
    golden = load_set("v1", root)
    assert golden.verify() == []
    path = root / "v1" / f"{CASE}.json"
    fifo(path)
    assert golden.verify() == [f"{path}: expected a regular file, got a FIFO (named pipe)"]


def test_nesting_past_the_limit_is_refused_even_when_python_parses_it() -> None:
    deep = ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode()
    with pytest.raises(GoldenError, match=f"^x.json: JSON nested too deeply: expected at most {MAX_DEPTH}"):
        parse(deep, Path("x.json"))
    assert parse(("[" * MAX_DEPTH + "]" * MAX_DEPTH).encode(), Path("x.json")) is not None


def test_too_many_values_are_refused_before_the_schema_spends_a_minute_on_them() -> None:
    many = b"[" + b"0," * MAX_VALUES + b"0]"
    with pytest.raises(GoldenError, match=f"^x.json: too many values: expected at most {MAX_VALUES:,}"):
        parse(many, Path("x.json"))
    few_commas = b"[" + b",".join([b"[0]"] * (MAX_VALUES // 2)) + b"]"  # fewer commas than values
    with pytest.raises(
        GoldenError, match=f"too many values: expected at most {MAX_VALUES:,}, got .* or more"
    ):
        parse(few_commas, Path("x.json"))


def test_a_directory_in_place_of_a_case_file_stops_regen_before_it_writes(root: Path) -> None:
    path = root / "v1" / f"{CASE}.json"
    path.unlink()
    path.mkdir()
    (path / "keep.txt").write_text("not ours to delete")
    edit(root / "v1" / "tanh_batch.json", lambda d: d.update(description="old"))
    before = snapshot(root / "v1")
    with pytest.raises(GoldenError, match=f"^{path}: expected a file, got a directory; .* remove it"):
        regen_.regen("v1", root, force=True)
    assert snapshot(root / "v1") == before
    assert f"{path}: expected a regular file, got a directory" in regen_.check("v1", root)


# -- the manifest cannot lift regen's guard -----------------------------------------------------------


@pytest.mark.parametrize("manifest", ["missing", "corrupt", "fifo"])
def test_a_missing_or_corrupt_manifest_does_not_let_plain_regen_rewrite_a_released_version(
    root: Path, manifest: str
) -> None:
    path = root / "v1" / "manifest.json"
    if manifest == "missing":
        path.unlink()
    elif manifest == "corrupt":
        path.write_text("this is not JSON")
    elif os.name == "posix":
        fifo(path)
    else:
        pytest.skip("FIFOs are POSIX")
    case = root / "v1" / "zero_z_takes_derivative_one.json"
    case.write_text(case.read_text().replace('"b_new": 0.1', '"b_new": 0.11'))
    before = snapshot(root / "v1")

    out = cli(root, "regen")
    one_line(out, 1, "golden v1 is released; regen would change it", "zero_z_takes_derivative_one.json")
    assert out.stdout == ""
    assert snapshot(root / "v1") == before  # not a byte written, not a file added

    for args in (("list",), ("validate", "--no-properties")):
        one_line(cli(root, *args), 2, "error: v1/manifest.json: ")
    problems = regen_.check("v1", root)
    assert any(p.startswith(f"{path}: ") for p in problems)
    assert f"{case}: stale: file → oracle: expected.b_new: 0.11 → 0.1" in problems
    if manifest == "corrupt":
        assert f"{path}: not JSON: Expecting value at line 1 column 1" in problems  # not a diff of {}

    out = cli(root, "regen", "--force")
    assert out.returncode == 0, out.stderr
    assert "changed v1/zero_z_takes_derivative_one.json: expected.b_new: 0.11 → 0.1" in out.stdout
    assert regen_.check("v1", root) == []


def test_a_missing_manifest_alone_is_added_back_by_plain_regen(root: Path) -> None:
    (root / "v1" / "manifest.json").unlink()
    assert regen_.regen("v1", root) == [f"added {root}/v1/manifest.json"]
    assert regen_.check("v1", root) == []


def test_versions_and_version_dir_ignore_a_broken_manifest(root: Path) -> None:
    (root / "v1" / "manifest.json").write_text("{")
    (root / "v2").mkdir()
    if os.name == "posix":
        os.symlink(root / "v3", root / "v3")  # a loop where a version could be
    (root / "v4").write_text("a file, not a folder")
    assert versions(root) == ["v1", "v2"]
    assert version_dir("v1", root) == root / "v1"
    with pytest.raises(GoldenError, match=r"^unknown golden version 'v9' in .*; known: v1, v2$"):
        version_dir("v9", root)
    with pytest.raises(GoldenError, match=r"unknown golden version 'v3'"):
        version_dir("v3", root)
    with pytest.raises(GoldenError, match=r"manifest.json: not JSON: Expecting property name"):
        load_set("v1", root)


# -- display ----------------------------------------------------------------------------------------


@posix_only
def test_display_never_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loop = tmp_path / "loop.json"
    os.symlink(loop, loop)
    monkeypatch.chdir(tmp_path)
    assert display(loop) == "loop.json"
    assert display(Path("loop.json")) == "loop.json"
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()  # no working directory now
    assert display(Path("v1/x.json")) == "v1/x.json"
    assert display(loop) == str(loop)


@posix_only
def test_names_from_disk_cannot_forge_lines_or_break_the_terminal(root: Path) -> None:
    directory = os.fsencode(root / "v1")
    for raw in (b"evil\nfake: ok.json", b"\x1b[31mred.json", b"\xff\xfe.json"):
        (Path(os.fsdecode(directory + b"/" + raw))).write_bytes(b"{}")
    problems = regen_.check("v1", root)
    extras = [p for p in problems if "extra" in p]
    assert len(extras) == 3
    assert all("\n" not in p and "\x1b" not in p and p.isprintable() for p in problems)
    assert any("evil\\nfake: ok.json: extra" in p for p in extras)
    out = cli(root, "check")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert len(out.stdout.splitlines()) == len(problems) + 1


# -- an interrupted regen ------------------------------------------------------------------------------


def make_old(root: Path) -> list[str]:
    """Rewrite v1 as an older oracle would have left it: every case file different, the manifest agreeing.

    Returns the case names in the order regen writes them.
    """
    directory = root / "v1"
    manifest = json.loads((directory / "manifest.json").read_text())
    for name in V1_CASES:
        edit(directory / f"{name}.json", lambda d: d.update(description="an older description"))
        manifest["cases"][name] = sha256((directory / f"{name}.json").read_bytes())
    (directory / "manifest.json").write_bytes(dumps(manifest))
    problems = regen_.check("v1", root)
    assert len(problems) == len(V1_CASES) + 1 and not any("hand-edited" in p for p in problems)
    return list(V1_CASES)


def test_an_interrupt_during_the_renames_leaves_no_temporary_and_check_reports_the_mix(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = make_old(root)
    real_replace, calls = os.replace, []

    def interrupted(src: Any, dst: Any) -> None:
        if calls:
            raise KeyboardInterrupt
        calls.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        regen_.regen("v1", root, force=True)
    monkeypatch.undo()
    directory = root / "v1"
    assert calls == [directory / f"{order[0]}.json"]
    assert temporaries(directory) == []  # write_atomically removed the ones it had not renamed

    problems = regen_.check("v1", root)
    first = directory / f"{order[0]}.json"
    assert f"{first}: hand-edited: sha256 differs from manifest.json" in problems  # new, manifest old
    assert not any(p.startswith(f"{first}: stale") for p in problems)
    for name in order[1:]:
        assert any(p.startswith(f"{directory / name}.json: stale") for p in problems), name
    assert any(p.startswith(f"{directory}/manifest.json: stale") for p in problems)

    with pytest.raises(ReleasedVersion):
        regen_.regen("v1", root)
    regen_.regen("v1", root, force=True)
    assert regen_.check("v1", root) == []


@posix_only
def test_a_kill_during_the_renames_leaves_temporaries_that_check_reports_and_regen_removes(
    root: Path,
) -> None:
    order = make_old(root)
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from golden.files import _generate as generate

        real = os.replace

        def replace(src, dst):
            real(src, dst)
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup can run

        os.replace = replace
        generate.regen("v1", Path(sys.argv[1]), force=True)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    directory = root / "v1"
    left = temporaries(directory)
    assert len(left) == len(V1_CASES)  # every case but the first, and the manifest
    assert all(name.startswith(".") and ".json." in name for name in left)

    problems = regen_.check("v1", root)
    assert f"{directory / order[0]}.json: hand-edited: sha256 differs from manifest.json" in problems
    for name in left:
        assert (
            f"{directory / name}: a temporary left by an interrupted regen; `neuron-oracle regen` removes it"
            in problems
        )
    out = cli(root, "check")
    assert out.returncode == 1 and f"v1/{left[0]}: a temporary left by an interrupted regen" in out.stdout

    before = snapshot(directory)
    one_line(cli(root, "regen"), 1, "golden v1 is released")
    assert snapshot(directory) == before  # refusing, it removes nothing either

    out = cli(root, "regen", "--force")
    assert out.returncode == 0, out.stderr
    for name in left:
        assert f"removed v1/{name}: a temporary left by an interrupted run" in out.stdout
    assert temporaries(directory) == []
    assert regen_.check("v1", root) == []


def test_plain_regen_removes_stale_temporaries_of_an_otherwise_intact_version(root: Path) -> None:
    directory = root / "v1"
    stale = directory / f".{CASE}.json.k3j_9x2a.tmp"
    stale.write_text('{"half": ')
    unrelated = directory / ".notes.tmp"  # not a name write_atomically stages: not ours to remove
    unrelated.write_text("mine")
    assert regen_.check("v1", root) == [
        f"{stale}: a temporary left by an interrupted regen; `neuron-oracle regen` removes it"
    ]
    assert regen_.regen("v1", root) == [f"removed {stale}: a temporary left by an interrupted run"]
    assert not stale.exists() and unrelated.read_text() == "mine"
    assert regen_.check("v1", root) == []


def test_a_failed_rename_names_the_target_and_says_how_far_it_got(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_old(root)
    real_replace, calls = os.replace, []

    def failing(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 3:
            raise PermissionError(errno.EACCES, "Permission denied", str(src), None, str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    replaced = f"Permission denied; 2 of {len(V1_CASES) + 1} files were replaced before it"
    with pytest.raises(OSError, match=replaced) as failure:
        regen_.regen("v1", root, force=True)
    assert failure.value.filename == str(calls[2])
    assert not str(failure.value.filename).endswith(".tmp")
    assert ".tmp" not in str(failure.value)
    assert temporaries(root / "v1") == []


@posix_only
def test_the_cli_names_the_target_when_a_write_fails(root: Path) -> None:
    make_old(root)

    def small_files() -> None:  # a write past 1 kB is EFBIG "File too large", whoever runs it
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    before = snapshot(root / "v1")
    out = subprocess.run(
        [sys.executable, "-m", "golden", "--root", str(root), "regen", "--force", "--golden", "v1"],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=30,
        preexec_fn=small_files,
    )
    line = one_line(out, 2, f"error: v1/{next(iter(V1_CASES))}.json: File too large")
    assert ".tmp" not in line
    assert snapshot(root / "v1") == before  # every previous file intact, no temporary left


# -- validate and tdd load the golden set before IMPL starts -------------------------------------------


MARKED_IMPL = """
from pathlib import Path

from neuron import Neuron

Path({marker!r}).write_text("IMPL ran")
"""


@pytest.mark.parametrize("command", ["validate", "tdd"])
def test_a_corrupt_golden_set_stops_the_run_before_impl_is_imported(
    root: Path, tmp_path: Path, command: str
) -> None:
    marker = tmp_path / "impl-ran"
    impl = tmp_path / "marked_impl.py"
    impl.write_text(MARKED_IMPL.format(marker=str(marker)))
    (root / "v1" / "tanh_batch.json").write_text('{"name": "tanh_batch", "oops"')
    args = [command, f"{impl}:Neuron", "--golden", "v1"] + (
        ["--no-properties"] if command == "validate" else []
    )
    one_line(cli(root, *args), 2, "error: v1/tanh_batch.json: not JSON")
    assert not marker.exists()


def test_the_marker_does_write_when_the_golden_set_is_intact(root: Path, tmp_path: Path) -> None:
    """The control for the test above: the same IMPL, on an intact copy, is imported (and passes)."""
    marker = tmp_path / "impl-ran"
    impl = tmp_path / "marked_impl.py"
    impl.write_text(MARKED_IMPL.format(marker=str(marker)))
    out = cli(root, "validate", f"{impl}:Neuron", "--no-properties", "--cases", CASE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert marker.read_text() == "IMPL ran"


def test_read_regular_stops_at_the_limit_whatever_the_size_says(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b"0" * 11)
    assert read_regular(path, limit=11) == b"0" * 11
    with pytest.raises(GoldenError, match=r"x.json: 11 bytes; a golden file holds at most 10"):
        read_regular(path, limit=10)
    status = Path("/proc/self/status")  # a regular file whose size reads 0
    if status.exists() and status.stat().st_size == 0:
        with pytest.raises(GoldenError, match=r"status: more than 10 bytes; a golden file holds at most 10"):
            read_regular(status, limit=10)


@posix_only
def test_a_file_written_over_a_link_to_a_device_gets_the_umask_not_the_device_mode(tmp_path: Path) -> None:
    from golden.files._atomic import write_atomically

    os.symlink("/dev/zero", tmp_path / "x.json")  # /dev/zero is 0o666: world-writable
    os.mkfifo(tmp_path / "y.json", 0o666)
    old_umask = os.umask(0o027)
    try:
        write_atomically(tmp_path, {"x.json": b"{}\n", "y.json": b"{}\n"})
    finally:
        os.umask(old_umask)
    for name in ("x.json", "y.json"):
        info = os.lstat(tmp_path / name)
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o640, name
