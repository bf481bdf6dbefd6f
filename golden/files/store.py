"""Golden files on disk, the read side: safe reading, strict parsing, the schema, the manifest, the hashes.

A version is a folder ``golden/<version>/`` holding one ``<case>.json`` per case and a ``manifest.json``
with the sha256 of each. Every load reads only regular files of at most ``MAX_FILE`` bytes (a FIFO, a
device or a symlink loop is a one-line GoldenError, never a hang), parses strictly (NaN, Infinity,
numbers that overflow float64, nesting deeper than ``MAX_DEPTH`` and more than ``MAX_VALUES`` values are
errors), validates against the JSON Schema, checks the shapes agree, and checks the file's hash against
the manifest (reading: ``golden.files._read``; the package watch of ``GoldenSet``:
``golden.files._watch``). Every message is one line: paths and values read from disk are shown with control
characters escaped, and cut short (``golden.files._case.printable``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from golden._text import printable
from golden.errors import GoldenError
from golden.files._case import GoldenCase
from golden.files._document import EXPECTED, STEP, sha256, size
from golden.files._pinned import PINNED
from golden.files._read import MAX_FILE as MAX_FILE
from golden.files._read import SHOWN as SHOWN
from golden.files._read import display as display
from golden.files._read import read_regular as read_regular
from golden.files._versions import CURRENT
from golden.files._watch import package_changes, package_files
from golden.outcome import FEATURES, ROWS, TRAJECTORY

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = "manifest.json"
MAX_DEPTH = 32  # levels of JSON nesting; a golden case has 5 (expected.trajectory[s].dJ_dw)
# JSON values in one file: a golden case holds about 100, and the schema checks some 250,000 a second
MAX_VALUES = 100_000


def extent(value: Any) -> tuple[int, int]:
    """How deeply `value` nests lists and dicts, and how many values it holds (itself included).

    A number nests 0 levels, ``[]`` 1, ``[[1]]`` 2. Counted level by level without recursion, and no
    further than the first level past ``MAX_DEPTH`` or ``MAX_VALUES``.
    """
    deepest, count, level = 0, 1, [value]
    while deepest <= MAX_DEPTH and count <= MAX_VALUES:
        containers = [v for v in level if isinstance(v, (list, dict))]
        if not containers:
            break
        deepest += 1
        level = [child for v in containers for child in (v.values() if isinstance(v, dict) else v)]
        count += len(level)
    return deepest, count


@cache
def validator(kind: str) -> Any:
    """The Draft 2020-12 validator of ``golden/schema/<kind>.schema.json`` (case or manifest)."""
    schema = json.loads((ROOT / "schema" / f"{kind}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def versions(root: Path = ROOT) -> list[str]:
    """The golden versions present under `root`: folders named v<N>."""
    found = [p.name for p in root.glob("v*") if p.name[1:].isdigit() and p.is_dir()]
    return sorted(found, key=lambda v: int(v[1:]))


def version_dir(version: str, root: Path = ROOT) -> Path:
    """The folder of `version`; an unknown version is a GoldenError listing the known ones."""
    if version not in versions(root):
        known = ", ".join(versions(root)) or "none"
        raise GoldenError(f"unknown golden version {version!r} in {display(root)}; known: {known}")
    return root / version


def parse(data: bytes, path: Path, what: str = "a golden file") -> Any:
    """Parse JSON strictly: NaN, Infinity and numbers that overflow float64 are errors, not values."""

    def finite(text: str) -> float:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ValueError(f"{text} overflows float64")
        return value

    def constant(text: str) -> Any:
        raise ValueError(f"{text} is not a number {what} may hold")

    too_deep = f"{display(path)}: JSON nested too deeply: expected at most {MAX_DEPTH} levels, got more"
    commas = data.count(b",")
    if commas >= MAX_VALUES:  # before parsing: 16 MiB of "{}," would take 500 MB as objects
        raise GoldenError(
            f"{display(path)}: too many values: expected at most {MAX_VALUES:,}, got {commas:,} commas"
        )
    try:
        value = json.loads(data.decode("utf-8"), parse_float=finite, parse_constant=constant)
    except RecursionError:  # deeper than the parser goes: 200,000 brackets
        raise GoldenError(too_deep) from None
    except UnicodeDecodeError as e:
        raise GoldenError(f"{display(path)}: not UTF-8 text: {e.reason} at byte {e.start}") from None
    except json.JSONDecodeError as e:
        raise GoldenError(f"{display(path)}: not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except ValueError as e:
        raise GoldenError(f"{display(path)}: {printable(str(e), SHOWN)}") from None
    deepest, count = extent(value)
    if deepest > MAX_DEPTH:  # parsed, but the schema, diffs and reprs that follow recurse
        raise GoldenError(too_deep)
    if count > MAX_VALUES:  # parsed, but the schema check would take a minute
        raise GoldenError(
            f"{display(path)}: too many values: expected at most {MAX_VALUES:,}, got {count:,} or more"
        )
    return value


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
        where, what = printable(field(error.absolute_path), SHOWN), printable(error.message, SHOWN)
        raise GoldenError(f"{display(path)}: {where}: {what}")


Location = tuple[str | int, ...]  # a place in a JSON document: keys and indices, as ``field`` words it


def check_shapes(doc: dict[str, Any], path: Path) -> None:
    """Check the lengths the schema cannot: m rows of n features, and every field sized to match."""
    inputs, expected = doc["inputs"], doc["expected"]
    m, n = len(inputs["X"]), len(inputs["w"])
    rows = [k for k in EXPECTED if size(k) == ROWS]  # z, a, J, dJ_da, da_dz
    features = [k for k in EXPECTED if size(k) == FEATURES]  # dJ_dw, w_new
    steps = [k for k in STEP if size(k) == FEATURES]
    sized: dict[Location, int] = {("inputs", "X", i): n for i in range(m)}
    sized[("inputs", "y_true")] = m
    sized |= {("expected", k): m for k in rows}
    sized |= {("expected", k): n for k in features}
    trajectory = expected.get(TRAJECTORY.name, [])
    for s, _ in enumerate(trajectory):
        sized |= {("expected", TRAJECTORY.name, s, k): n for k in steps}
    for precision, per in doc.get("bounds", {}).items():  # schema 2: each bound shaped as its value
        if not isinstance(per, dict) or "unavailable" in per:
            continue
        where = ("bounds", precision)
        sized |= {(*where, k): m for k in rows} | {(*where, k): n for k in ("w", *features)}
        if len(per.get(TRAJECTORY.name, [])) != len(trajectory):
            shown = field((*where, TRAJECTORY.name))
            raise GoldenError(f"{display(path)}: {shown}: expected {len(trajectory)} steps")
        for s, _ in enumerate(trajectory):
            sized |= {(*where, TRAJECTORY.name, s, k): n for k in steps}
    for location, length in sized.items():
        got = len(_at(doc, location))
        if got != length:
            noun = "number" if length == 1 else "numbers"
            raise GoldenError(
                f"{display(path)}: {field(location)}: expected an array of {length} {noun}, got {got}"
            )
    if trajectory and len(trajectory) != inputs["steps"]:
        raise GoldenError(
            f"{display(path)}: expected.trajectory: expected {inputs['steps']} steps (inputs.steps), "
            f"got {len(trajectory)}"
        )
    if doc["name"] != path.stem:
        name = printable(repr(doc["name"]), SHOWN)
        raise GoldenError(f"{display(path)}: name: {name} does not match the file name")


def load_manifest(version: str = CURRENT, root: Path = ROOT, data: bytes | None = None) -> dict[str, Any]:
    """The manifest of `version` (from `data` when the caller has read its bytes already), schema-checked."""
    path = version_dir(version, root) / MANIFEST
    manifest = parse(read_regular(path) if data is None else data, path)
    check_schema(manifest, "manifest", path)
    if manifest["golden_version"] != version:
        raise GoldenError(
            f"{display(path)}: golden_version: {manifest['golden_version']!r} in folder {version!r}"
        )
    return dict(manifest)


def list_cases(version: str = CURRENT, root: Path = ROOT) -> list[str]:
    """The case names of `version`, in the manifest's order."""
    return list(load_manifest(version, root)["cases"])


def load_case(name: str, version: str = CURRENT, root: Path = ROOT) -> GoldenCase:
    """Load one case of `version`: schema-checked, shapes checked, and hash-checked against the manifest."""
    return load_set(version, root, [name]).cases[name]


@dataclass
class GoldenSet:
    """Golden cases read and verified at one moment, with the hash of every byte they were read from.

    ``watch_package`` also records every entry of this toolkit's own packages, bytecode included, just
    before an implementation first runs; ``verify`` then reports any that changed, and removes whatever
    appeared (bytecode, a module, a folder, a symlink) and any bytecode that changed, so that no later run
    loads what an implementation planted there.
    """

    version: str
    root: Path
    cases: dict[str, GoldenCase]
    hashes: dict[Path, str] = dataclass_field(default_factory=dict)
    package: dict[Path, tuple[str, str]] | None = None

    def watch_package(self) -> None:
        """Record the toolkit's files now (once: the first call counts)."""
        if self.package is None:
            self.package = package_files()

    def verify(self) -> list[str]:
        """Each file that no longer holds the bytes it was read from, a line each; empty when intact.

        What appeared in the toolkit's packages since ``watch_package``, and bytecode that changed, is
        removed, and said so.
        """
        changes = []
        for path, digest in self.hashes.items():
            try:
                now = sha256(read_regular(path))
            except GoldenError as e:
                changes.append(str(e))
                continue
            if now != digest:
                changes.append(f"{display(path)}: changed")
        if self.package is not None:
            changes += package_changes(self.package, package_files())
        return changes


@dataclass
class Sets:
    """The golden sets one run judges against, in the order given; each is a group of its own in every
    report. With one set a case is named as itself; with several, as ``SET/CASE`` (a user case may share
    a bundled case's name). It reads and verifies as a GoldenSet does."""

    sets: list[GoldenSet]

    @property
    def version(self) -> str:
        """The sets' names: ``v3``, or ``v3 + grader/hidden``."""
        return " + ".join(s.version for s in self.sets)

    def key(self, golden: GoldenSet, case: str) -> str:
        """How the run names case `case` of set `golden`."""
        return case if len(self.sets) == 1 else f"{golden.version}/{case}"

    @property
    def cases(self) -> dict[str, GoldenCase]:
        """Every case of every set, by ``key``, in order."""
        return {self.key(s, name): case for s in self.sets for name, case in s.cases.items()}

    def group(self, key: str) -> str:
        """The name of the set that holds the case named `key`."""
        return self._groups[key]

    @functools.cached_property
    def _groups(self) -> dict[str, str]:
        """Each case's key → its set's name, made once: a run asks it for every case it judges."""
        return {self.key(s, name): s.version for s in self.sets for name in s.cases}

    def find(self, case: str) -> str | None:
        """The key of the first set's case named `case` (the curriculum names bundled cases), or None."""
        return next((self.key(s, case) for s in self.sets if case in s.cases), None)

    def watch_package(self) -> None:
        """Record the toolkit's files now (``GoldenSet.watch_package``), once for the run."""
        self.sets[0].watch_package()

    def verify(self) -> list[str]:
        """What changed since each set was read (``GoldenSet.verify``), a line each."""
        return [line for s in self.sets for line in s.verify()]


def open_sets(names: tuple[str, ...] | list[str], root: Path = ROOT) -> Sets:
    """The golden sets `names` (``open_set`` each), loaded and verified."""
    return Sets([open_set(name, root) for name in names])


def open_set(name: str = CURRENT, root: Path = ROOT, names: list[str] | None = None) -> GoldenSet:
    """The golden set `name`, loaded and verified: a bundled version (``v3``), else a user's set, the
    folder `name` (``tests/golden``: ``golden.files._sets``), named as given."""
    from golden.files._sets import load_user_set

    if name in versions(root) or (name[:1] == "v" and name[1:].isdigit() and not Path(name).is_dir()):
        return load_set(name, root, names)  # an unknown version is refused naming the known ones
    return load_user_set(Path(name), names, shown=name)


def load_set(version: str = CURRENT, root: Path = ROOT, names: list[str] | None = None) -> GoldenSet:
    """Load and verify the cases `names` of `version` (all of them by default), and the manifest."""
    directory = version_dir(version, root)
    manifest_data = read_regular(directory / MANIFEST)
    manifest = load_manifest(version, root, manifest_data)
    check_pinned(version, root, directory / MANIFEST, manifest_data)
    golden = GoldenSet(version, root, {}, {directory / MANIFEST: sha256(manifest_data)})
    for name in manifest["cases"] if names is None else names:
        if name not in manifest["cases"]:
            raise GoldenError(f"unknown case {name!r} in golden {version}; see `neuron-oracle list`")
        path = directory / f"{name}.json"
        released = functools.partial(check_pinned, version, root)
        golden.cases[name], golden.hashes[path] = read_case(path, manifest, "neuron-oracle regen", released)
    return golden


def read_case(
    path: Path,
    manifest: dict[str, Any],
    repair: str,
    released: Callable[[Path, bytes], bool] | None = None,
) -> tuple[GoldenCase, str]:
    """The case file `path` of the set whose manifest is `manifest`, checked (the schema and shapes; only
    the shapes for a released file's pinned bytes, which `released` recognises), and its sha256, which
    must be the manifest's: a hand edit is refused by name, saying to run `repair`."""
    data = read_regular(path)
    if released is not None and released(path, data):  # the release's own bytes, schema-checked at release
        doc = parse(data, path)
        check_shapes(doc, path)
    else:
        doc = validate_document(data, path, manifest["schema_version"])
    digest = sha256(data)
    if digest != manifest["cases"][path.stem]:
        raise GoldenError(
            f"{display(path)}: sha256 differs from {MANIFEST}: edited by hand? golden files are generated: "
            f"run `{repair}`"
        )
    return GoldenCase.from_document(doc, manifest["oracle_version"]), digest


def check_pinned(version: str, root: Path, path: Path, data: bytes) -> bool:
    """Whether `data` is a file of a released version bundled with the toolkit, which must hold the bytes
    it was released with (``golden.files._pinned``; ``tests/test_golden.py`` checks those against the
    schema): a case file rewritten together with its manifest is refused, by name."""
    if version not in PINNED or root.resolve() != ROOT:
        return False
    if sha256(data) != PINNED[version].get(path.name):
        raise GoldenError(
            f"{display(path)}: sha256 differs from the released golden {version} (pinned in the toolkit): "
            f"changed since its release; `neuron-oracle regen --golden {version}` restores it"
        )
    return True


def schema_kind(schema: int) -> str:
    """The JSON Schema file a case of `schema` is checked against: ``case`` (golden v1) or ``case-2``."""
    return "case" if schema == 1 else f"case-{schema}"


def validate_document(data: bytes, path: Path, schema: int) -> dict[str, Any]:
    """Parse and check one case file's bytes (no hash check) against case schema `schema`."""
    doc = parse(data, path)
    check_schema(doc, schema_kind(schema), path)
    check_shapes(doc, path)
    return dict(doc)


def _at(doc: dict[str, Any], location: Location) -> Any:
    """The value at `location` (keys and indices) in `doc`."""
    value: Any = doc
    for part in location:
        value = value[part]
    return value
