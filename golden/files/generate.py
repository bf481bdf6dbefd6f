"""Golden files, the write side: regenerate them from the oracle, deliberately, and check them for drift.

Which versions are released is known here, in code, not read from a manifest on disk: a missing or
corrupt manifest cannot lift the guard that keeps a released version's values from changing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from golden.errors import GoldenError, ReleasedVersion
from golden.files.atomic import write_atomically
from golden.files.document import SCHEMA_VERSION, build, dumps, sha256
from golden.files.store import MANIFEST, ROOT, check_schema, display, read_regular, validate_document
from oracle import CASES, ORACLE_VERSION

CURRENT = "v1"
RELEASED = frozenset({"v1"})  # a released version never changes; new cases and fields go into a new one
TEMPORARY = ".*.tmp"  # what write_atomically stages beside its targets


def generate(version: str = CURRENT) -> dict[str, bytes]:
    """Every file of `version` as bytes, computed in memory; cases first, the manifest last.

    Each case's claim is checked and each document validated against the schema before anything is
    returned, so a refused case stops the run before any file is touched.
    """
    if version != CURRENT:
        raise GoldenError(f"the oracle generates golden {CURRENT}, not {version!r}")
    files = {}
    for name, case in CASES.items():
        doc = build(case)
        check_schema(doc, "case", Path(version) / f"{name}.json")
        files[f"{name}.json"] = dumps(doc)
    manifest = {
        "golden_version": version,
        "schema_version": SCHEMA_VERSION,
        "oracle_version": ORACLE_VERSION,
        "released": True,
        "cases": {name: sha256(files[f"{name}.json"]) for name in CASES},
    }
    files[MANIFEST] = dumps(manifest)
    return files


def differences(old: Any, new: Any, where: str = "") -> list[str]:
    """Each leaf that differs, as ``expected.dJ_dw[1]: -0.6 → -0.61``."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in [*old, *(k for k in new if k not in old)]:
            path = f"{where}.{key}" if where else key
            if key not in new:
                out.append(f"{path}: {_short(old[key])} → (removed)")
            elif key not in old:
                out.append(f"{path}: (absent) → {_short(new[key])}")
            else:
                out.extend(differences(old[key], new[key], path))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for i, (o, n) in enumerate(zip(old, new, strict=True))
            for d in differences(o, n, f"{where}[{i}]")
        ]
    if old != new or type(old) is not type(new):
        return [f"{where or '(top level)'}: {_short(old)} → {_short(new)}"]
    return []


def regen(version: str = CURRENT, root: Path = ROOT, force: bool = False) -> list[str]:
    """Write the files of `version` that differ from the oracle's; return what was done, a line each.

    A released version's values change only with `force`: without it, any changed, unreadable or removed
    case file is a ReleasedVersion error that lists every change and nothing is written. Missing files
    are added. Temporaries left by an interrupted earlier run are removed.
    """
    files = generate(version)
    directory = root / version
    changed, lines = {}, []
    for name, data in files.items():
        path = directory / name
        old = _read(path)
        if old == data:
            continue
        changed[name] = data
        if old is None and not os.path.lexists(path):
            lines.append(f"added {display(path)}")
        elif old is None:
            lines.append(f"changed {display(path)}: unreadable, rewritten")
        elif name == MANIFEST:
            lines.append(f"changed {display(path)}: manifest rewritten")
        else:
            diffs = differences(_loose(old), json.loads(data))
            lines.extend(f"changed {display(path)}: {d}" for d in diffs or ["bytes only"])
    extra = tuple(p.name for p in sorted(directory.glob("*.json")) if p.name not in files)
    lines.extend(f"removed {display(directory / name)}: no such case in the oracle" for name in extra)
    if version in RELEASED and not force and any(line.startswith(("changed", "removed")) for line in lines):
        detail = "; ".join(lines)
        raise ReleasedVersion(
            f"golden {version} is released; regen would change it ({detail}); "
            "rerun with --force to rewrite it, or add a new version"
        )
    stale = sorted(directory.glob(TEMPORARY))
    for path in stale:
        path.unlink(missing_ok=True)
    lines.extend(f"removed {display(p)}: a temporary left by an interrupted run" for p in stale)
    if changed or extra:
        write_atomically(directory, changed, remove=extra)
    return lines or [f"{display(directory)}: {len(files)} files unchanged"]


def check(version: str = CURRENT, root: Path = ROOT) -> list[str]:
    """Each problem with the files on disk, a line each naming the file; an empty list when all agree.

    Regenerates in memory and reports every missing, extra, unreadable, stale (differs from the oracle)
    or hand-edited (sha256 differs from the manifest) file, any that fails the schema, and temporaries
    left by an interrupted regen.
    """
    files = generate(version)
    directory = root / version
    if not directory.is_dir():
        return [f"{display(directory)}: missing: run `neuron-oracle regen --version {version}`"]
    manifest = _read(directory / MANIFEST)
    recorded = _loose(manifest).get("cases", {}) if manifest is not None else {}
    problems = []
    for name, data in files.items():
        path = directory / name
        if not os.path.lexists(path):
            problems.append(f"{display(path)}: missing: run `neuron-oracle regen`")
            continue
        try:
            disk = read_regular(path)
        except GoldenError as e:
            problems.append(str(e))
            continue
        case = name.removesuffix(".json")
        if name != MANIFEST:
            if isinstance(recorded, dict) and case in recorded and sha256(disk) != recorded[case]:
                problems.append(f"{display(path)}: hand-edited: sha256 differs from {MANIFEST}")
            try:
                validate_document(disk, path)
            except GoldenError as e:
                problems.append(str(e))
                continue
        if disk != data:
            diffs = differences(_loose(disk), json.loads(data)) or ["bytes differ"]
            problems.append(f"{display(path)}: stale: file → oracle: {'; '.join(diffs[:5])}")
    for path in sorted(directory.glob("*.json")):
        if path.name not in files:
            problems.append(f"{display(path)}: extra: the oracle defines no such case")
    for path in sorted(directory.glob(TEMPORARY)):
        problems.append(
            f"{display(path)}: a temporary left by an interrupted regen; `neuron-oracle regen` removes it"
        )
    return problems


def _read(path: Path) -> bytes | None:
    """The file's bytes, or None when it is missing or is not a readable regular file."""
    try:
        return read_regular(path)
    except GoldenError:
        return None


def _loose(data: bytes) -> dict[str, Any]:
    """Bytes parsed as a JSON object for a diff; anything unreadable counts as empty."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # includes UnicodeDecodeError and JSONDecodeError
        return {}
    return value if isinstance(value, dict) else {}


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
