"""What regen did, as records (``Change``) that the CLI renders: nothing reads the rendered lines back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from golden.errors import ReleasedVersion
from golden.files import _generate as generate
from golden.files._diff import ADDED, CHANGED, REMOVED
from golden.files._generate import UNCHANGED, Change
from golden.files.store import ROOT


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of golden v1 (released, but not the bundled folder: force may rewrite it)."""
    shutil.copytree(ROOT / "v1", tmp_path / "v1")
    return tmp_path


def kinds(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.kind, c.path.name) for c in changes]


def test_a_change_is_rendered_as_regen_prints_it(tmp_path: Path) -> None:
    path = tmp_path / "v9" / "x.json"
    assert Change(ADDED, path).line() == f"added {path}"
    assert Change(CHANGED, path, "expected.dJ_db: -0.2 → -0.1").line() == (
        f"changed {path}: expected.dJ_db: -0.2 → -0.1"
    )
    assert Change(REMOVED, path, "no such case in the oracle").line() == (
        f"removed {path}: no such case in the oracle"
    )
    assert Change(UNCHANGED, path.parent, "3 files unchanged").line() == f"{path.parent}: 3 files unchanged"


def test_an_intact_folder_is_one_unchanged_record(root: Path) -> None:
    assert generate.regenerate("v1", root) == [Change(UNCHANGED, root / "v1", "17 files unchanged")]


def test_each_field_changed_is_a_record_of_its_own(root: Path) -> None:
    path = root / "v1" / "single_feature.json"
    doc = json.loads(path.read_text())
    doc["expected"]["dJ_db"], doc["description"] = -0.2, "old"
    path.write_text(json.dumps(doc))
    changes = generate.regenerate("v1", root, force=True)
    assert [(c.kind, c.path, c.detail.split(":")[0]) for c in changes] == [
        (CHANGED, path, "description"),
        (CHANGED, path, "expected.dJ_db"),
    ]
    assert generate.regen("v1", root) == [f"{root}/v1: 17 files unchanged"]


def test_added_removed_and_changed_files_are_told_apart_by_kind(root: Path) -> None:
    (root / "v1" / "tanh_batch.json").unlink()
    (root / "v1" / "manifest.json").write_text("{}")
    shutil.copy(root / "v1" / "single_feature.json", root / "v1" / "not_a_case.json")
    (root / "v1" / ".single_feature.json.1.tmp").write_text("")
    changes = generate.regenerate("v1", root, force=True)
    assert kinds(changes) == [
        (ADDED, "tanh_batch.json"),
        (CHANGED, "manifest.json"),
        (REMOVED, "not_a_case.json"),
        (REMOVED, ".single_feature.json.1.tmp"),
    ]
    assert changes[1].detail == "manifest rewritten"


def test_a_released_version_refuses_every_change_but_an_addition(root: Path) -> None:
    (root / "v1" / "tanh_batch.json").unlink()
    (root / "v1" / "manifest.json").unlink()
    assert kinds(generate.regenerate("v1", root)) == [(ADDED, "tanh_batch.json"), (ADDED, "manifest.json")]
    shutil.copy(root / "v1" / "single_feature.json", root / "v1" / "not_a_case.json")
    with pytest.raises(ReleasedVersion, match=r"regen would change it \(removed .*not_a_case\.json: no such"):
        generate.regenerate("v1", root)
    assert (root / "v1" / "not_a_case.json").exists()
