"""One walk over two JSON documents (``golden.files._diff.walk``), worded by diff, regen and check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import REPO

from golden.files._diff import ADDED, CHANGED, REMOVED, Difference, diff, walk
from golden.files._document import dumps, sha256
from golden.files._generate import differences
from golden.files.store import ROOT, load_set

OLD = {"name": "x", "expected": {"z": [1.0, 2.0], "J": [0.5]}, "tolerance": 1, "steps": [1, 2]}
NEW = {"name": "x", "expected": {"z": [1.0, 2.5], "J": 0.5}, "steps": [1, 2, 3], "bounds": {"z": [0.1]}}


def test_the_walk_finds_each_difference_in_the_old_document_s_order() -> None:
    assert list(walk(OLD, NEW)) == [
        Difference(CHANGED, ("expected", "z", 1), 2.0, 2.5),
        Difference(CHANGED, ("expected", "J"), [0.5], 0.5),  # a list became a number: one leaf
        Difference(REMOVED, ("tolerance",), old=1),
        Difference(CHANGED, ("steps",), [1, 2], [1, 2, 3]),  # another length: the list as a whole
        Difference(ADDED, ("bounds",), new={"z": [0.1]}),
    ]


def test_equal_documents_and_values_of_another_type_alone() -> None:
    assert list(walk(OLD, OLD)) == []
    assert list(walk({"b": 1}, {"b": 1.0})) == [Difference(CHANGED, ("b",), 1, 1.0)]
    assert list(walk(1, 2)) == [Difference(CHANGED, (), 1, 2)]


def test_regen_words_each_difference_on_one_line() -> None:
    assert differences(OLD, NEW) == [
        "expected.z[1]: 2.0 → 2.5",
        "expected.J: [0.5] → 0.5",
        "tolerance: 1 → (removed)",
        "steps: [1, 2] → [1, 2, 3]",
        'bounds: (absent) → {"z": [0.1]}',
    ]
    assert differences(1, 2) == ["(top level): 1 → 2"]
    assert differences({"a\nb": "x" * 100}, {}) == ["a\\nb: " + '"' + "x" * 58 + "… → (removed)"]


def test_diff_between_versions_names_fields_without_indices_and_values_by_case(tmp_path: Path) -> None:
    for version in ("v2", "v3"):
        shutil.copytree(ROOT / version, tmp_path / version)
    lines = diff("v2", "v3", tmp_path)
    assert lines[:5] == [
        "golden v2 → v3",
        "cases added (3): tall_batch_past_block_edges, wide_batch_past_feature_tiles, "
        "long_trajectory_contracts",
        "cases removed (0): none",
        "fields added: none",
        "fields removed: none",
    ]
    assert lines[5] == f"values changed ({len(load_set('v2', tmp_path).cases)}):"
    assert len(lines) == 7 and lines[6].startswith('  bounds.derivation: "oracle.bounds: a rigorous bound')


def test_diff_collects_fields_across_cases_and_list_items(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "v1", tmp_path / "v1")
    shutil.copytree(ROOT / "v2", tmp_path / "v2")
    lines = diff("v1", "v2", tmp_path)
    assert "fields added: bounds" in lines and "fields removed: tolerance" in lines
    assert "  schema_version: 1 → 2 (in 16 cases)" in lines


def test_the_cli_prints_the_same_lines_in_the_same_order_every_run(tmp_path: Path) -> None:
    """Several values of one case changed: they come in the file's order, whatever the hash seed."""
    for version in ("v1", "v2"):
        shutil.copytree(ROOT / version, tmp_path / version)
    case, manifest = tmp_path / "v2" / "single_feature.json", tmp_path / "v2" / "manifest.json"
    before = sha256(case.read_bytes())
    doc = json.loads(case.read_text())
    for key in ("z", "a", "dJ_dw", "w_new"):
        doc["expected"][key][0] += 1
    case.write_bytes(dumps(doc))
    manifest.write_text(manifest.read_text().replace(before, sha256(case.read_bytes())))
    outs = [
        subprocess.run(
            [sys.executable, "-m", "golden", "--root", str(tmp_path), "diff", "v1", "v2"],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
            timeout=60,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    ]
    assert outs[0] == outs[1] == outs[2]
    changed = [line.split(":")[0].strip() for line in outs[0].splitlines() if "(in single_feature)" in line]
    assert changed == ["expected.z[0]", "expected.a[0]", "expected.dJ_dw[0]", "expected.w_new[0]"]
