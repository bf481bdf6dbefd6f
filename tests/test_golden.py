"""Golden files: their schema, deterministic regeneration, drift detection, atomic writing, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from golden.errors import GoldenError, ReleasedVersion
from golden.files import generate as regen_
from golden.files.document import dumps
from golden.files.store import ROOT, list_cases, load_case, validate_document
from oracle import CASES


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the committed golden v1, to break."""
    shutil.copytree(ROOT / "v1", tmp_path / "v1")
    return tmp_path


def edit(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_bytes(dumps(doc))


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "golden", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


# -- the committed files ------------------------------------------------------------------------


def test_committed_golden_files_agree_with_the_oracle() -> None:
    assert regen_.check("v1") == []


def test_every_case_has_a_file_and_loads() -> None:
    assert list_cases("v1") == [name for name, case in CASES.items() if case.since == 1]
    assert list_cases("v2") == list(CASES)
    for name in CASES:
        assert load_case(name).name == name


def test_loaded_case_holds_the_hand_derived_values() -> None:
    case = load_case("batch_input_gradients")
    assert case.expected.dJ_dw == [-0.375, -0.75]
    assert case.expected.dJ_db == -0.45
    assert case.inputs.y_true == [1.5, 0.8]


def test_trajectory_case_records_every_step() -> None:
    case = load_case("training_trajectory")
    steps = case.expected.trajectory
    assert len(steps) == case.inputs.steps == 5
    assert steps[0].w_new == case.expected.w_new == [0.31875, 0.4375]


def test_generation_is_byte_identical_twice() -> None:
    assert regen_.generate() == regen_.generate()


def test_files_end_with_a_newline_and_floats_round_trip() -> None:
    data = (ROOT / "v1" / "seed_worked_example_4x5.json").read_bytes()
    assert data.endswith(b"}\n")
    assert dumps(json.loads(data)) == data


# -- schema ------------------------------------------------------------------------------------

VALID = (ROOT / "v1" / "single_feature.json").read_bytes()


def test_a_valid_document_passes_the_schema() -> None:
    assert validate_document(VALID, Path("golden/v1/single_feature.json"), 1)["name"] == "single_feature"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["expected"].pop("dJ_db"), "expected: 'dJ_db' is a required property"),
        (lambda d: d["expected"].update(dJ_db="-0.1"), "expected.dJ_db: '-0.1' is not of type 'number'"),
        (lambda d: d["inputs"].update(activation="gelu"), "inputs.activation: 'gelu' is not one of"),
        (lambda d: d["expected"]["J"].__setitem__(0, -1.0), r"expected.J\[0\]: -1.0 is less than"),
        (lambda d: d.update(schema_version=2), "schema_version: 1 was expected"),
        (lambda d: d.update(extra=1), r"\(top level\): Additional properties are not allowed \('extra'"),
        (lambda d: d["inputs"].update(steps=2), "expected: 'trajectory' is a required property"),
        (
            lambda d: d["expected"]["dJ_dw"].append(0.0),
            r"expected.dJ_dw: expected an array of 1 number, got 2",
        ),
        (lambda d: d["inputs"]["X"][0].append(0.0), r"inputs.X\[0\]: expected an array of 1 number, got 2"),
        (lambda d: d.update(name="other"), "name: 'other' does not match the file name"),
    ],
)
def test_schema_violations_name_the_file_and_field(change: Any, message: str) -> None:
    doc = json.loads(VALID)
    change(doc)
    with pytest.raises(GoldenError, match="^golden/v1/single_feature.json: " + message):
        validate_document(dumps(doc), Path("golden/v1/single_feature.json"), 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"a": NaN}', "NaN is not a number a golden file may hold"),
        (b'{"a": -Infinity}', "-Infinity is not a number"),
        (b'{"a": 1e400}', "1e400 overflows float64"),
        (b'{"a": 1,}', "not JSON: .* at line 1 column 9"),
        (b"\xff\xfe", "not UTF-8 text"),
    ],
)
def test_malformed_json_is_one_clear_error(text: bytes, message: str) -> None:
    with pytest.raises(GoldenError, match="^x.json: " + message):
        validate_document(text, Path("x.json"), 1)


# -- check catches each kind of drift ---------------------------------------------------------


def test_check_passes_on_an_intact_copy(root: Path) -> None:
    assert regen_.check("v1", root) == []


def test_check_names_a_hand_edited_file(root: Path) -> None:
    path = root / "v1" / "single_feature.json"
    edit(path, lambda d: d["expected"].update(dJ_db=-0.2))
    problems = "\n".join(regen_.check("v1", root))
    assert f"{path}: hand-edited: sha256 differs from manifest.json" in problems
    assert f"{path}: stale: file → oracle: expected.dJ_db: -0.2 → -0.1" in problems


def test_check_names_missing_and_extra_files(root: Path) -> None:
    (root / "v1" / "tanh_batch.json").unlink()
    shutil.copy(root / "v1" / "single_feature.json", root / "v1" / "not_a_case.json")
    problems = regen_.check("v1", root)
    assert f"{root}/v1/tanh_batch.json: missing: run `neuron-oracle regen`" in problems
    assert f"{root}/v1/not_a_case.json: extra: the oracle defines no such case" in problems


def test_check_names_a_stale_file_whose_hash_was_updated_too(root: Path) -> None:
    from golden.files.document import sha256

    path = root / "v1" / "single_feature.json"
    edit(path, lambda d: d.update(description="changed"))
    edit(root / "v1" / "manifest.json", lambda m: m["cases"].update(single_feature=sha256(path.read_bytes())))
    problems = regen_.check("v1", root)
    assert any(p.startswith(f"{path}: stale") and "description" in p for p in problems)
    assert not any("hand-edited" in p for p in problems)


def test_check_names_a_file_that_breaks_the_schema(root: Path) -> None:
    path = root / "v1" / "single_feature.json"
    path.write_text('{"name": NaN}')
    assert f"{path}: NaN is not a number a golden file may hold" in regen_.check("v1", root)


# -- regen ---------------------------------------------------------------------------------------


def test_regen_of_an_intact_copy_changes_no_file(root: Path) -> None:
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (root / "v1").iterdir()}
    assert regen_.regen("v1", root) == [f"{root}/v1: 17 files unchanged"]
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (root / "v1").iterdir()} == before


def test_regen_into_an_empty_folder_writes_every_file(tmp_path: Path) -> None:
    lines = regen_.regen("v1", tmp_path)
    assert len(lines) == sum(case.since == 1 for case in CASES.values()) + 1
    assert regen_.check("v1", tmp_path) == []


def test_regen_refuses_to_change_a_released_version_without_force(root: Path) -> None:
    path = root / "v1" / "single_feature.json"
    edit(path, lambda d: d["expected"].update(dJ_db=-0.2))
    edited = path.read_bytes()
    with pytest.raises(
        ReleasedVersion, match=r"released; .*changed .*single_feature.json: expected.dJ_db: -0.2 → -0.1"
    ):
        regen_.regen("v1", root)
    assert path.read_bytes() == edited
    lines = regen_.regen("v1", root, force=True)
    assert f"changed {path}: expected.dJ_db: -0.2 → -0.1" in lines
    assert regen_.check("v1", root) == []


def test_regen_with_force_removes_a_file_of_no_case(root: Path) -> None:
    extra = root / "v1" / "not_a_case.json"
    shutil.copy(root / "v1" / "single_feature.json", extra)
    with pytest.raises(ReleasedVersion, match=r"removed .*not_a_case\.json: no such case"):
        regen_.regen("v1", root)
    regen_.regen("v1", root, force=True)
    assert not extra.exists()


def test_a_failure_while_writing_leaves_every_previous_file_intact(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in (root / "v1").glob("*.json"):
        if path.name != "manifest.json":
            edit(path, lambda d: d.update(description="old"))
    before = {p.name: p.read_bytes() for p in (root / "v1").iterdir()}
    real_fsync, calls = os.fsync, []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left") as failure:
        regen_.regen("v1", root, force=True)
    assert {p.name: p.read_bytes() for p in (root / "v1").iterdir()} == before  # no temp file left
    assert Path(failure.value.filename).name in before  # the error names the target, not a temp file


@pytest.mark.skipif(os.name != "posix", reason="file permissions are POSIX")
def test_new_files_get_the_umask_and_a_rewritten_file_keeps_its_mode(tmp_path: Path) -> None:
    old_umask = os.umask(0o027)
    try:
        regen_.regen("v1", tmp_path)
        kept = tmp_path / "v1" / "single_feature.json"
        kept.chmod(0o600)
        edit(kept, lambda d: d.update(description="old"))
        regen_.regen("v1", tmp_path, force=True)
    finally:
        os.umask(old_umask)
    assert json.loads(kept.read_text())["description"] != "old"  # it was rewritten
    assert kept.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "v1" / "manifest.json").stat().st_mode & 0o777 == 0o640  # 0o666 less the umask


def test_a_refused_claim_stops_regen_before_any_file_is_touched(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "v1" / "tanh_batch.json").unlink()
    before = {p.name: p.read_bytes() for p in (root / "v1").iterdir()}
    case = CASES["single_feature"]
    monkeypatch.setitem(
        CASES, "single_feature", case.__class__(*[*vars(case).values()][:3], lambda r: False, case.build)
    )
    with pytest.raises(ValueError, match="case single_feature: claim does not hold"):
        regen_.regen("v1", root)
    assert {p.name: p.read_bytes() for p in (root / "v1").iterdir()} == before


# -- the CLI -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cli_check_passes_on_the_committed_files(version: str) -> None:
    out = cli("check", "--version", version)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"golden {version}: every file agrees with the oracle" in out.stdout


def test_cli_check_checks_the_newest_version_by_default() -> None:
    assert cli("check").stdout == "golden v2: every file agrees with the oracle\n"


def test_cli_check_fails_naming_a_file_changed_by_hand(root: Path) -> None:
    path = root / "v1" / "zero_z_takes_derivative_one.json"
    path.write_text(path.read_text().replace('"b_new": 0.1', '"b_new": 0.11'))
    out = cli("--root", str(root), "check", "--version", "v1")
    assert out.returncode == 1
    assert f"{path}: hand-edited" in out.stdout
    assert "expected.b_new: 0.11 → 0.1" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "nope", "--version", "v1"), "unknown case 'nope' in golden v1"),
        (("list", "--version", "v9"), "unknown golden version 'v9'"),
        (
            ("show", "single_feature", "--version", "v1"),
            "single_feature.json: not JSON: Expecting value at line 1",
        ),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_no_traceback(
    root: Path, args: tuple[str, ...], message: str
) -> None:
    (root / "v1" / "single_feature.json").write_text("oops")
    out = cli("--root", str(root), *args)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_cli_show_prints_inputs_and_every_intermediate() -> None:
    out = cli("show", "batch_input_gradients")
    assert out.returncode == 0
    for line in (
        "X              [[1.0, 2.0], [0.5, 1.0]]",
        "dJ_dw          [-0.375, -0.75]",
        "dJ_db          -0.45",
    ):
        assert line in out.stdout


def test_cli_show_json_is_the_file() -> None:
    out = cli("show", "single_feature", "--json", "--version", "v1")
    assert json.loads(out.stdout) == json.loads(VALID)
    newest = cli("show", "single_feature", "--json")
    assert json.loads(newest.stdout) == json.loads((ROOT / "v2" / "single_feature.json").read_bytes())
