"""Golden files, the write side: regenerate them from the oracle, deliberately, and check them for drift.

Which versions are released is known here, in code, not read from a manifest on disk: a missing or
corrupt manifest cannot lift the guard that keeps a released version's values from changing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golden._text import printable
from golden.errors import GoldenError, ReleasedVersion, UnreadableFile
from golden.files._atomic import temporaries, write_atomically
from golden.files._diff import ADDED, CHANGED, REMOVED, Difference, walk
from golden.files._document import build, dumps, sha256
from golden.files._pinned import PINNED
from golden.files._versions import CURRENT, RELEASED, VERSIONS
from golden.files.store import (
    MANIFEST,
    MAX_DEPTH,
    MAX_VALUES,
    ROOT,
    SHOWN,
    check_schema,
    display,
    extent,
    field,
    parse,
    read_regular,
    schema_kind,
    validate_document,
)
from oracle import CASES

TEMPORARY = temporaries("*.json")  # what write_atomically stages beside golden files: .<name>.json.*.tmp


def generate(version: str = CURRENT) -> dict[str, bytes]:
    """Every file of `version` as bytes, computed in memory; cases first, the manifest last.

    Each case's claim is checked and each document validated against the schema before anything is
    returned, so a refused case stops the run before any file is touched.
    """
    if version not in VERSIONS:
        raise GoldenError(f"the oracle generates golden {', '.join(VERSIONS)}, not {version!r}")
    spec, number = VERSIONS[version], int(version[1:])
    cases = {name: case for name, case in CASES.items() if case.since <= number}
    files = {}
    for name, case in cases.items():
        doc = build(case, spec.schema, spec.oracle)
        check_schema(doc, schema_kind(spec.schema), Path(version) / f"{name}.json")
        files[f"{name}.json"] = dumps(doc)
    manifest = {
        "golden_version": version,
        "schema_version": spec.schema,
        "oracle_version": spec.oracle,
        "released": version in RELEASED,
        "cases": {name: sha256(files[f"{name}.json"]) for name in cases},
    }
    files[MANIFEST] = dumps(manifest)
    return files


def differences(old: Any, new: Any) -> list[str]:
    """Each leaf that differs (``golden.files._diff.walk``), as ``expected.dJ_dw[1]: -0.6 → -0.61``."""
    return [worded_difference(d) for d in walk(old, new)]


def worded_difference(d: Difference) -> str:
    """One difference as ``expected.dJ_dw[1]: -0.6 → -0.61``."""
    where = printable(field(d.path), SHOWN)
    if d.kind == REMOVED:
        return f"{where}: {_short(d.old)} → (removed)"
    if d.kind == ADDED:
        return f"{where}: (absent) → {_short(d.new)}"
    return f"{where}: {_short(d.old)} → {_short(d.new)}"


UNCHANGED = "unchanged"  # with diff's ADDED, CHANGED and REMOVED: what a Change is


@dataclass(frozen=True)
class Change:
    """One thing regen did: a file ``ADDED``, ``CHANGED`` (`detail` says what changed, one field per
    Change) or ``REMOVED`` (`detail` says why), or a folder whose files were all ``UNCHANGED``."""

    kind: str
    path: Path
    detail: str = ""

    def line(self) -> str:
        """As ``neuron-oracle regen`` prints it: ``changed v1/x.json: expected.dJ_db: -0.2 → -0.1``."""
        if self.kind == ADDED:
            return f"added {display(self.path)}"
        if self.kind == UNCHANGED:
            return f"{display(self.path)}: {self.detail}"
        return f"{self.kind} {display(self.path)}: {self.detail}"


def regen(version: str = CURRENT, root: Path = ROOT, force: bool = False) -> list[str]:
    """``regenerate``, with what was done as the lines ``neuron-oracle regen`` prints."""
    return [change.line() for change in regenerate(version, root, force)]


def regenerate(version: str = CURRENT, root: Path = ROOT, force: bool = False) -> list[Change]:
    """Write the files of `version` that differ from the oracle's; return what was done, a Change each.

    A released version's values change only with `force`: without it, any changed, unreadable or removed
    case file is a ReleasedVersion error that lists every change and nothing is written. Which versions
    are released is `RELEASED`, so a missing or corrupt manifest does not lift that guard. Missing files
    are added. Whatever stands where a file goes (a FIFO, a device, a symlink, a loop of them) is replaced,
    except a directory, which is an error before anything is written. Temporaries left by an interrupted
    earlier run are removed.
    """
    files = generate(version)
    directory = root / version
    changed: dict[str, bytes] = {}
    done: list[Change] = []
    for name, data in files.items():
        path = directory / name
        old: bytes | None = None
        try:
            old = read_regular(path)
        except UnreadableFile as e:  # missing, or not a regular file of at most MAX_FILE bytes
            why = e.why
        if old == data:
            continue
        _not_a_directory(path)
        changed[name] = data
        if old is None and not os.path.lexists(path):
            done.append(Change(ADDED, path))
        elif old is None:
            done.append(Change(CHANGED, path, f"{why}; rewritten"))
        elif name == MANIFEST:
            done.append(Change(CHANGED, path, "manifest rewritten"))
        elif (old_doc := _loose(old)) is None:
            done.append(Change(CHANGED, path, "not a JSON object (or too big or deep to compare); rewritten"))
        else:
            diffs = differences(old_doc, json.loads(data))
            done.extend(Change(CHANGED, path, d) for d in diffs or ["bytes only"])
    extra = tuple(p.name for p in sorted(directory.glob("*.json")) if p.name not in files)
    for name in extra:
        _not_a_directory(directory / name)
    done.extend(Change(REMOVED, directory / name, "no such case in the oracle") for name in extra)
    if version in PINNED and root.resolve() == ROOT:  # bundled and released: only its release's bytes
        _released_bytes(version, files, extra)
    elif version in RELEASED and not force and any(c.kind != ADDED for c in done):
        detail = "; ".join(c.line() for c in done)
        raise ReleasedVersion(
            f"golden {version} is released; regen would change it ({detail}); "
            "rerun with --force to rewrite it, or add a new version"
        )
    stale = sorted(directory.glob(TEMPORARY))
    for path in stale:
        try:
            path.unlink(missing_ok=True)
        except OSError as e:
            raise GoldenError(
                f"{display(path)}: a temporary left by an interrupted regen: cannot remove it: "
                f"{e.strerror or e}"
            ) from None
    done.extend(Change(REMOVED, p, "a temporary left by an interrupted run") for p in stale)
    if changed or extra:
        write_atomically(directory, changed, remove=extra)
    return done or [Change(UNCHANGED, directory, f"{len(files)} files unchanged")]


def _released_bytes(version: str, files: dict[str, bytes], extra: tuple[str, ...]) -> None:
    """Refuse (ReleasedVersion) unless the oracle generates, byte for byte, the files `version` was
    released with: regen may restore a bundled released version, never change it, even with --force."""
    pinned = PINNED[version]
    differ = sorted(n for n, data in files.items() if pinned.get(n) != sha256(data))
    differ += sorted(set(pinned) - set(files)) + list(extra)
    if differ:
        raise ReleasedVersion(
            f"golden {version} is released and bundled with the toolkit: it never changes, and the oracle "
            f"no longer generates {', '.join(differ[:5])} as released; put the change into a new version"
        )


def pinned_source() -> str:
    """The text of ``golden/files/_pinned.py``: the sha256 of every file of each released version, as
    they are on disk now. Run when a version is released (``python -m golden.files._generate``)."""
    lines = [
        '"""The sha256 of every file of each released golden version bundled with the toolkit.',
        "",
        "Generated by ``python -m golden.files._generate`` when a version is released; never edited by hand.",
        "``golden.files.store`` refuses a bundled file that differs, manifest or not; ``regen`` restores it.",
        '"""',
        "",
        "PINNED: dict[str, dict[str, str]] = {",
    ]
    for version in sorted(RELEASED, key=lambda v: int(v[1:])):
        lines.append(f'    "{version}": {{')
        for path in sorted((ROOT / version).glob("*.json")):
            lines.append(f'        "{path.name}": "{sha256(path.read_bytes())}",')
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def check(version: str = CURRENT, root: Path = ROOT) -> list[str]:
    """Each problem with the files on disk, a line each naming the file; an empty list when all agree.

    Regenerates in memory and reports every missing, extra, unreadable, stale (differs from the oracle)
    or hand-edited (sha256 differs from the manifest) file, any that fails the schema, and temporaries
    left by an interrupted regen.
    """
    files = generate(version)
    directory = root / version
    if not directory.is_dir():
        return [f"{display(directory)}: missing: run `neuron-oracle regen --golden {version}`"]
    manifest = _read(directory / MANIFEST)
    recorded = (_loose(manifest) or {}).get("cases", {}) if manifest is not None else {}
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
        try:
            if name == MANIFEST:
                check_schema(parse(disk, path), "manifest", path)
            else:
                if isinstance(recorded, dict) and case in recorded and sha256(disk) != recorded[case]:
                    problems.append(f"{display(path)}: hand-edited: sha256 differs from {MANIFEST}")
                validate_document(disk, path, VERSIONS[version].schema)
        except GoldenError as e:
            problems.append(str(e))
            continue
        if disk != data:
            diffs = differences(_loose(disk) or {}, json.loads(data)) or ["bytes differ"]
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


def _not_a_directory(path: Path) -> None:
    """Raise GoldenError when a directory stands where regen must write or remove a file."""
    if os.path.isdir(path) and not os.path.islink(path):
        raise GoldenError(
            f"{display(path)}: expected a file, got a directory; regen does not delete directories: "
            "remove it and rerun"
        )


def _loose(data: bytes) -> dict[str, Any] | None:
    """Bytes parsed as a JSON object for a diff (NaN allowed); None when they are none, or too big or deep.

    Bounded as `parse` is: the commas are counted before parsing, the depth and values after.
    """
    if data.count(b",") >= MAX_VALUES:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # includes UnicodeDecodeError and JSONDecodeError
        return None
    if not isinstance(value, dict):
        return None
    deepest, count = extent(value)
    return value if deepest <= MAX_DEPTH and count <= MAX_VALUES else None


def _short(value: Any) -> str:
    return printable(json.dumps(value, ensure_ascii=False), 60)


if __name__ == "__main__":  # a version was released: pin its files
    (Path(__file__).with_name("_pinned.py")).write_text(pinned_source(), encoding="utf-8")
