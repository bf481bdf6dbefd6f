"""Golden files on disk: strict loading against the schema and the manifest, and atomic writing.

A version is a folder ``golden/<version>/`` holding one ``<case>.json`` per case and a ``manifest.json``
with the sha256 of each. Every load parses strictly (NaN, Infinity and numbers that overflow float64 are
errors), validates against the JSON Schema, checks the shapes agree, and checks the file's hash.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from golden.document import sha256

ROOT = Path(__file__).parent
MANIFEST = "manifest.json"


class GoldenError(Exception):
    """A golden file or version that cannot be used; the message is one line naming file and field."""


def display(path: Path) -> str:
    """The path relative to the working directory where it lies below it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@cache
def validator(kind: str) -> Any:
    """The Draft 2020-12 validator of ``golden/schema/<kind>.schema.json`` (case or manifest)."""
    schema = json.loads((ROOT / "schema" / f"{kind}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def versions(root: Path = ROOT) -> list[str]:
    """The golden versions present under `root`: folders named v<N> holding a manifest."""
    found = [p.name for p in root.glob("v*") if (p / MANIFEST).is_file() and p.name[1:].isdigit()]
    return sorted(found, key=lambda v: int(v[1:]))


def version_dir(version: str, root: Path = ROOT) -> Path:
    """The folder of `version`; an unknown version is a GoldenError listing the known ones."""
    if version not in versions(root):
        known = ", ".join(versions(root)) or "none"
        raise GoldenError(f"unknown golden version {version!r} in {display(root)}; known: {known}")
    return root / version


def parse(data: bytes, path: Path) -> Any:
    """Parse JSON strictly: NaN, Infinity and numbers that overflow float64 are errors, not values."""

    def finite(text: str) -> float:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ValueError(f"{text} overflows float64")
        return value

    def constant(text: str) -> Any:
        raise ValueError(f"{text} is not a number a golden file may hold")

    try:
        return json.loads(data.decode("utf-8"), parse_float=finite, parse_constant=constant)
    except UnicodeDecodeError as e:
        raise GoldenError(f"{display(path)}: not UTF-8 text: {e.reason} at byte {e.start}") from None
    except json.JSONDecodeError as e:
        raise GoldenError(f"{display(path)}: not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except ValueError as e:
        raise GoldenError(f"{display(path)}: {e}") from None


def field(path: Any) -> str:
    """A JSON location as ``expected.dJ_dw[1]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def check_schema(document: Any, kind: str, path: Path) -> None:
    """Raise GoldenError naming the file and field of the most relevant schema violation."""
    error = jsonschema.exceptions.best_match(validator(kind).iter_errors(document))
    if error is not None:
        raise GoldenError(f"{display(path)}: {field(error.absolute_path)}: {error.message}")


def check_shapes(doc: dict[str, Any], path: Path) -> None:
    """Check the lengths the schema cannot: m rows of n features, and every field sized to match."""
    inputs, expected = doc["inputs"], doc["expected"]
    m, n = len(inputs["X"]), len(inputs["w"])
    sized = {f"inputs.X[{i}]": n for i in range(m)} | {"inputs.y_true": m}
    sized |= {f"expected.{k}": m for k in ("z", "a", "J", "dJ_da", "da_dz")}
    sized |= {"expected.dJ_dw": n, "expected.w_new": n}
    trajectory = expected.get("trajectory", [])
    for s, _ in enumerate(trajectory):
        sized |= {f"expected.trajectory[{s}].dJ_dw": n, f"expected.trajectory[{s}].w_new": n}
    for name, size in sized.items():
        got = len(_at(doc, name))
        if got != size:
            noun = "number" if size == 1 else "numbers"
            raise GoldenError(f"{display(path)}: {name}: expected an array of {size} {noun}, got {got}")
    if trajectory and len(trajectory) != inputs["steps"]:
        raise GoldenError(
            f"{display(path)}: expected.trajectory: expected {inputs['steps']} steps (inputs.steps), "
            f"got {len(trajectory)}"
        )
    if doc["name"] != path.stem:
        raise GoldenError(f"{display(path)}: name: {doc['name']!r} does not match the file name")


def load_manifest(version: str = "v1", root: Path = ROOT) -> dict[str, Any]:
    """The manifest of `version`, schema-checked."""
    path = version_dir(version, root) / MANIFEST
    manifest = parse(path.read_bytes(), path)
    check_schema(manifest, "manifest", path)
    if manifest["golden_version"] != version:
        raise GoldenError(
            f"{display(path)}: golden_version: {manifest['golden_version']!r} in folder {version!r}"
        )
    return dict(manifest)


def list_cases(version: str = "v1", root: Path = ROOT) -> list[str]:
    """The case names of `version`, in the manifest's order."""
    return list(load_manifest(version, root)["cases"])


def load_case(name: str, version: str = "v1", root: Path = ROOT) -> dict[str, Any]:
    """Load one case of `version`: schema-checked, shapes checked, and hash-checked against the manifest."""
    manifest = load_manifest(version, root)
    path = root / version / f"{name}.json"
    if name not in manifest["cases"]:
        raise GoldenError(f"unknown case {name!r} in golden {version}; see `neuron-oracle list`")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise GoldenError(f"{display(path)}: cannot read: {e.strerror}") from None
    doc = validate_document(data, path)
    if sha256(data) != manifest["cases"][name]:
        raise GoldenError(
            f"{display(path)}: sha256 differs from {MANIFEST}: edited by hand? "
            "golden files are generated: run `neuron-oracle regen`"
        )
    return doc


def validate_document(data: bytes, path: Path) -> dict[str, Any]:
    """Parse and check one case file's bytes (no hash check); the document on success."""
    doc = parse(data, path)
    check_schema(doc, "case", path)
    check_shapes(doc, path)
    return dict(doc)


def write_atomically(directory: Path, files: dict[str, bytes], remove: tuple[str, ...] = ()) -> None:
    """Write every file so that none is ever left half-written.

    All contents are first written and flushed to temporary files beside their targets; only when every
    one is complete are they renamed over the targets (``os.replace``, atomic on POSIX and Windows), in
    the given order, so the manifest goes last. A failure or interrupt before then leaves every previous
    file as it was, removes the temporary files, and raises OSError naming the target. A replaced file
    keeps its permissions; a new one gets those ``open`` would give it (0o666 less the umask).
    """
    umask = os.umask(0)
    os.umask(umask)
    staged: list[tuple[str, Path]] = []
    target = directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            target = directory / name
            fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
            staged.append((name, Path(tmp_name)))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~umask
            os.chmod(tmp_name, mode)
    except BaseException as e:
        for _, staged_path in staged:
            with contextlib.suppress(OSError):
                staged_path.unlink()
        if isinstance(e, OSError):
            raise OSError(e.errno, e.strerror or str(e), str(target)) from None
        raise
    for name, staged_path in staged:
        os.replace(staged_path, directory / name)
    for name in remove:
        (directory / name).unlink(missing_ok=True)


def _at(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.replace("[", ".[").split("."):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    return value
