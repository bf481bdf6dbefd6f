"""A user's case set, the write side: generate it from their case file, and review what changes.

``regen --case-file FILE --golden FOLDER`` writes a new set at once. In an existing set nothing is
replaced: each case that would change, or be added, is written beside it as ``<case>.json.new``, with the
manifest it would then have as ``manifest.json.new``, and a case the file no longer defines is
*unreferenced*; ``accept`` applies what is pending (removing an unreferenced case), ``reject`` discards it,
``review`` asks case by case, as syrupy's ``--snapshot-update`` and insta's ``cargo insta review`` do.
With ``CI`` set, an existing set is never written. A released set changes only with ``--force``. Every
write is atomic (``golden.files._atomic``); the manifest goes last.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golden.errors import GoldenError, ReleasedVersion
from golden.files._atomic import write_atomically
from golden.files._diff import ADDED, CHANGED, walk
from golden.files._document import dumps, sha256
from golden.files._generate import UNCHANGED, Change, worded_difference
from golden.files._sets import KIND, SET_SCHEMA, read_manifest
from golden.files.store import MANIFEST, check_schema, display, parse, read_regular
from oracle import ORACLE_VERSION

NEW = ".new"  # a pending file: <case>.json.new beside <case>.json, manifest.json.new beside manifest.json
UNREFERENCED = "unreferenced"  # a case of the set that its case file no longer defines


def set_files(
    documents: dict[str, dict[str, Any]], case_file: str, digest: str, released: bool
) -> dict[str, bytes]:
    """The files of a set holding `documents` (name → case document), made from case file `case_file`
    (named as given; `digest` its sha256): a JSON file per case, then the manifest."""
    files = {f"{name}.json": dumps(doc) for name, doc in documents.items()}
    manifest = {
        "kind": KIND,
        "schema_version": SET_SCHEMA,
        "oracle_version": ORACLE_VERSION,
        "released": released,
        "provenance": {"case_file": case_file, "case_file_sha256": digest, "oracle_version": ORACLE_VERSION},
        "cases": {name: sha256(files[f"{name}.json"]) for name in documents},
    }
    check_schema(manifest, "set-manifest", Path(MANIFEST))
    files[MANIFEST] = dumps(manifest)
    return files


@dataclass(frozen=True)
class Regenerated:
    """What ``regen`` did to a set: the changes, a line each, and whether they await review (exit 1)."""

    changes: list[Change]
    pending: bool = False


def regenerate_set(
    folder: Path, files: dict[str, bytes], *, force: bool = False, ci: bool = False
) -> Regenerated:
    """Write the set `files` (``set_files``) into `folder`: a new set at once; into an existing one, what
    changes as pending files for review. With `ci` an existing set is never written (only compared)."""
    if not os.path.lexists(folder / MANIFEST):
        if folder.is_dir() and any(folder.iterdir()):
            raise GoldenError(
                f"{display(folder)}: holds files but no {MANIFEST}: not a case set; give an empty folder"
            )
        write_atomically(folder, files)
        return Regenerated([Change(ADDED, folder / name) for name in files])
    manifest, _ = read_manifest(folder)
    new_manifest = json.loads(files[MANIFEST]) | {"released": manifest["released"]}
    files = {**files, MANIFEST: dumps(new_manifest)}
    changes = compare(folder, manifest, files)
    if not changes:
        if manifest["provenance"] != new_manifest["provenance"] and not ci:  # the file, not its cases
            write_atomically(folder, {MANIFEST: files[MANIFEST]})
            return Regenerated(
                [Change(CHANGED, folder / MANIFEST, "provenance: the case file changed, its cases did not")]
            )
        return Regenerated([Change(UNCHANGED, folder, f"{len(files)} files unchanged")])
    if manifest["released"] and not force:
        detail = "; ".join(c.line() for c in changes)
        raise ReleasedVersion(
            f"{display(folder)} is released; regen would change it ({detail}); rerun with --force to "
            "change it (through review), or make a new set"
        )
    if not ci:
        pending = {f"{c.path.name}{NEW}": files[c.path.name] for c in changes if c.kind != UNREFERENCED}
        stale = tuple(p.name for p in folder.glob(f"*.json{NEW}") if p.name not in pending)
        write_atomically(folder, {**pending, MANIFEST + NEW: files[MANIFEST]}, remove=stale)
    return Regenerated(changes, pending=True)


def compare(folder: Path, manifest: dict[str, Any], files: dict[str, bytes]) -> list[Change]:
    """Each case of `files` that differs from the set on disk, a Change per field, and each case of the
    set that `files` no longer holds (unreferenced)."""
    changes = []
    for name, data in files.items():
        if name == MANIFEST:
            continue
        path = folder / name
        if name.removesuffix(".json") not in manifest["cases"]:
            changes.append(Change(ADDED, path))
            continue
        old = read_regular(path)
        if old != data:
            changes.extend(Change(CHANGED, path, d) for d in worded(parse(old, path), json.loads(data)))
    for case in manifest["cases"]:
        if f"{case}.json" not in files:
            changes.append(
                Change(UNREFERENCED, folder / f"{case}.json", "the case file no longer defines it")
            )
    return changes


def worded(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """How a case changed, a line per field (``inputs.b: -0.375 → -0.5``); its bounds, which follow from
    the rest, in one line with their count."""
    found = list(walk(old, new))
    bounds = [d for d in found if d.path[:1] == ("bounds",)]
    lines = [worded_difference(d) for d in found if d not in bounds]
    if bounds:
        lines.append(f"bounds: {len(bounds)} values changed, as the values they bound did")
    return lines or ["bytes only"]


def pending(folder: Path) -> dict[str, str]:
    """The cases of the set in `folder` awaiting review, in order: name → ADDED, CHANGED or UNREFERENCED."""
    manifest, _ = read_manifest(folder)
    new = _pending_manifest(folder)
    if new is None:
        return {}
    found = {}
    for name in new["cases"]:
        if (folder / f"{name}.json{NEW}").is_file():
            found[name] = CHANGED if name in manifest["cases"] else ADDED
    found |= {name: UNREFERENCED for name in manifest["cases"] if name not in new["cases"]}
    return found


def _pending_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / (MANIFEST + NEW)
    if not os.path.lexists(path):
        return None
    manifest = parse(read_regular(path), path)
    check_schema(manifest, "set-manifest", path)
    return dict(manifest)


def decide(folder: Path, names: list[str] | None, accept: bool) -> list[Change]:
    """Accept (or reject) the pending cases `names` of the set in `folder`, every one when None: an
    accepted case replaces its file (an unreferenced one is removed); a rejected one keeps the set as it
    is. The manifest is rewritten last; once nothing is pending, ``manifest.json.new`` goes too."""
    waiting = pending(folder)
    chosen = list(waiting) if names is None else names
    unknown = [n for n in chosen if n not in waiting]
    if unknown:
        raise GoldenError(
            f"{display(folder)}: nothing pending for {', '.join(unknown)}; "
            f"pending: {', '.join(waiting) or 'none'}"
        )
    manifest, _ = read_manifest(folder)
    new = _pending_manifest(folder)
    assert new is not None  # something is pending
    cases, proposed = dict(manifest["cases"]), dict(new["cases"])
    files: dict[str, bytes] = {}
    remove: list[str] = []
    for name in chosen:
        kind, file = waiting[name], f"{name}.json"
        if kind != UNREFERENCED:
            remove.append(file + NEW)
        if accept and kind == UNREFERENCED:
            cases.pop(name)
            remove.append(file)
        elif accept:
            files[file] = _checked(folder / (file + NEW), proposed[name])
            cases[name] = proposed[name]
        elif kind == UNREFERENCED:
            proposed[name] = cases[name]  # kept: no longer pending
        elif kind == ADDED:
            proposed.pop(name)
        else:
            proposed[name] = cases[name]
    order = [*proposed, *(n for n in cases if n not in proposed)]
    done = not any(n not in chosen for n in waiting)
    written = {**manifest, "cases": {n: cases[n] for n in order if n in cases}}
    if done:
        written["provenance"] = new["provenance"]
        remove.append(MANIFEST + NEW)
    else:
        files[MANIFEST + NEW] = dumps({**new, "cases": proposed})
    files[MANIFEST] = dumps(written)
    write_atomically(folder, files, remove=tuple(remove))
    verb = "accepted" if accept else "rejected"
    return [Change(verb, folder / f"{n}.json", waiting[n]) for n in chosen]


def _checked(path: Path, digest: str) -> bytes:
    """A pending file's bytes, if they are still those regen wrote (the pending manifest's sha256)."""
    data = read_regular(path)
    if sha256(data) != digest:
        raise GoldenError(
            f"{display(path)}: sha256 differs from {MANIFEST}{NEW}: edited since regen wrote it; rerun regen"
        )
    return data


def release(folder: Path) -> Change:
    """Freeze the set in `folder`: from now on regen changes it only with ``--force``."""
    if pending(folder):
        raise GoldenError(f"{display(folder)}: cases are pending review; accept or reject them first")
    manifest, _ = read_manifest(folder)
    write_atomically(folder, {MANIFEST: dumps({**manifest, "released": True})})
    return Change(CHANGED, folder / MANIFEST, "released: regen now changes it only with --force")
