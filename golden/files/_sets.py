"""A user's case set on disk, the read side: a folder of golden case files a user generated from their own
case file (``neuron-oracle regen --case-file FILE --golden FOLDER``), and its manifest.

It is read as a bundled version is (``golden.files.store``): regular files only, strict JSON, the case
schema, the shapes, every file's sha256 against the manifest, so a hand edit is refused naming the file.
Its manifest (``golden/schema/set-manifest.schema.json``) also says where the cases came from: the case
file's name and sha256, and the oracle's version. A set is named as the user named its folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from golden._text import printable
from golden.errors import GoldenError
from golden.files._document import sha256
from golden.files.store import (
    MANIFEST,
    SHOWN,
    GoldenSet,
    check_schema,
    display,
    parse,
    read_case,
    read_regular,
    versions,
)

KIND = "case-set"  # a user set's manifest says so; a bundled version's names its golden_version
SET_SCHEMA = 2  # a user set's case files are in the current case schema


def read_manifest(folder: Path) -> tuple[dict[str, Any], bytes]:
    """The manifest of the user set in `folder`, schema-checked, and its bytes; a folder that is missing
    or holds no user set says what a golden set is."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise GoldenError(
            f"{display(folder)}: no such folder: a golden set is a bundled version ({', '.join(versions())}) "
            "or a folder made by `neuron-oracle regen --case-file FILE --golden FOLDER`"
        )
    data = read_regular(path)
    manifest = parse(data, path)
    if isinstance(manifest, dict) and "golden_version" in manifest:
        raise GoldenError(f"{display(path)}: a bundled version's manifest; expected a user set's")
    check_schema(manifest, "set-manifest", path)
    return dict(manifest), data


def load_user_set(folder: Path, names: list[str] | None = None, shown: str | None = None) -> GoldenSet:
    """Load and verify the cases `names` (all by default) of the user set in `folder`, named `shown`."""
    manifest, data = read_manifest(folder)
    golden = GoldenSet(shown or str(folder), folder, {}, {folder / MANIFEST: sha256(data)})
    for name in manifest["cases"] if names is None else names:
        if name not in manifest["cases"]:
            shown_name = printable(repr(name), SHOWN)
            raise GoldenError(f"unknown case {shown_name} in {display(folder)}; see `neuron-oracle list`")
        file = folder / f"{name}.json"
        repair = "neuron-oracle regen --case-file FILE --golden FOLDER"
        golden.cases[name], golden.hashes[file] = read_case(file, manifest, repair)
    return golden
