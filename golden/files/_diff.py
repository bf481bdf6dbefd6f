"""``neuron-oracle diff OLD NEW``: what a new golden version changed, case by case and field by field; and
``walk``, the comparison of two JSON documents leaf by leaf that ``regen`` and ``check`` word too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golden.files.store import ROOT, field, open_set

ADDED, REMOVED, CHANGED = "added", "removed", "changed"  # what a Difference is
Where = tuple[str | int, ...]  # a location in a JSON document: keys and list indices, from the top


@dataclass(frozen=True)
class Difference:
    """One place where two JSON documents differ: a key only the new one has (``ADDED``, with its `new`
    value), a key only the old one has (``REMOVED``, with its `old` value), or a value that changed
    (``CHANGED``: a leaf, a list that changed length, or a value of another type)."""

    kind: str
    path: Where
    old: Any = None
    new: Any = None


def walk(old: Any, new: Any, path: Where = ()) -> Iterator[Difference]:
    """Every difference between `old` and `new`, in `old`'s order (the keys only `new` has after those of
    each object): objects compared key by key, lists of the same length item by item."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            here = (*path, key)
            if key not in new:
                yield Difference(REMOVED, here, old=old[key])
            elif key not in old:
                yield Difference(ADDED, here, new=new[key])
            else:
                yield from walk(old[key], new[key], here)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (o, n) in enumerate(zip(old, new, strict=True)):
            yield from walk(o, n, (*path, i))
    elif old != new or type(old) is not type(new):
        yield Difference(CHANGED, path, old, new)


def diff(old: str, new: str, root: Path = ROOT) -> list[str]:
    """The lines of the report: cases added and removed, fields added and removed, values changed.

    Both versions are loaded and verified first. A field is named by its path in the case file
    (``bounds.float32.dJ_dw``); a value changed is shown as ``case: field: old → new``, in the order of
    the old case file.
    """
    before, after = open_set(old, root), open_set(new, root)
    added = [n for n in after.cases if n not in before.cases]
    removed = [n for n in before.cases if n not in after.cases]
    fields_added: set[str] = set()
    fields_removed: set[str] = set()
    changed: list[tuple[str, str]] = []
    for name in (n for n in after.cases if n in before.cases):
        for d in walk(before.cases[name].document, after.cases[name].document):
            if d.kind == ADDED:
                fields_added.add(_generic(d.path))
            elif d.kind == REMOVED:
                fields_removed.add(_generic(d.path))
            else:
                changed.append((name, f"{field(d.path)}: {d.old!r} → {d.new!r}"))
    lines = [f"golden {old} → {new}"]
    lines.append(f"cases added ({len(added)}): {', '.join(added) or 'none'}")
    lines.append(f"cases removed ({len(removed)}): {', '.join(removed) or 'none'}")
    lines.append(f"fields added: {', '.join(sorted(fields_added)) or 'none'}")
    lines.append(f"fields removed: {', '.join(sorted(fields_removed)) or 'none'}")
    lines.append(f"values changed ({len(changed)}):" + ("" if changed else " none"))
    grouped: dict[str, list[str]] = {}
    for case, change in changed:  # the same change in many cases is one line
        grouped.setdefault(change, []).append(case)
    for change, cases in grouped.items():
        lines.append(f"  {change}" + (f" (in {len(cases)} cases)" if len(cases) > 1 else f" (in {cases[0]})"))
    return lines


def _generic(path: Where) -> str:
    """A field's path without list indices: ``bounds.float32.trajectory.dJ_dw``."""
    return field(part for part in path if not isinstance(part, int))
