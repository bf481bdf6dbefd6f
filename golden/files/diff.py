"""``neuron-oracle diff OLD NEW``: what a new golden version changed, case by case and field by field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from golden.files.store import ROOT, load_set


def diff(old: str, new: str, root: Path = ROOT) -> list[str]:
    """The lines of the report: cases added and removed, fields added and removed, values changed.

    Both versions are loaded and verified first. A field is named by its path in the case file
    (``bounds.float32.dJ_dw``); a value changed is shown as ``case: field: old → new``.
    """
    before, after = load_set(old, root), load_set(new, root)
    added = [n for n in after.cases if n not in before.cases]
    removed = [n for n in before.cases if n not in after.cases]
    fields_added: set[str] = set()
    fields_removed: set[str] = set()
    changed: list[tuple[str, str]] = []
    for name in (n for n in after.cases if n in before.cases):
        _walk(
            before.cases[name].document,
            after.cases[name].document,
            "",
            name,
            fields_added,
            fields_removed,
            changed,
        )
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


def _walk(
    old: Any,
    new: Any,
    where: str,
    case: str,
    added: set[str],
    removed: set[str],
    changed: list[tuple[str, str]],
) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in new.keys() - old.keys():
            added.add(_generic(f"{where}.{key}" if where else key))
        for key in old.keys() - new.keys():
            removed.add(_generic(f"{where}.{key}" if where else key))
        for key in old.keys() & new.keys():
            _walk(old[key], new[key], f"{where}.{key}" if where else key, case, added, removed, changed)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (o, n) in enumerate(zip(old, new, strict=True)):
            _walk(o, n, f"{where}[{i}]", case, added, removed, changed)
    elif old != new or type(old) is not type(new):
        changed.append((case, f"{where}: {old!r} → {new!r}"))


def _generic(path: str) -> str:
    """A field's path without list indices: ``bounds.float32.trajectory.dJ_dw``."""
    return re.sub(r"\[\d+\]", "", path)
