"""What a batch grades: IMPLs and globs expanded to files, each file once.

A glob is recognised in the part before the last colon (``'subs/*.py:Neuron'``) and matched by a walk of
its own that does not follow symlinked folders.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Sequence

from golden.errors import ImplError

GLOB = re.compile(r"[*?[]")


def expand(impls: Sequence[str]) -> tuple[list[str], bool]:
    """The IMPLs to run, each glob replaced by the files it matches; and whether this is a batch.

    A glob is recognised in the part before the last colon (``'subs/*.py:Neuron'``) and matched as
    ``glob.glob`` would (``**`` included, hidden names only by a part that starts with a dot), sorted, but
    by a walk of its own that does not follow a symlink to a folder (so a loop of them cannot make it
    endless), and a file reached twice, through two names of its folder, is run once. A batch is several
    IMPLs, or any glob, even if it matched one file: its result is a table. ImplError when a glob matches
    no file.
    """
    found: list[str] = []
    seen: set[str] = set()
    batch = len(impls) > 1
    for spec in impls:
        path, sep, name = spec.rpartition(":")
        if not (sep and GLOB.search(path)):
            real = _identity(path) if sep else spec
            if real not in seen:
                seen.add(real)
                found.append(spec)
            continue
        batch = True
        matched = walk_glob(path)
        if not matched:
            raise ImplError(f"IMPL {spec!r}: {path!r} matches no file")
        for file in matched:
            if _identity(file) not in seen:
                seen.add(_identity(file))
                found.append(f"{file}:{name}")
    return found, batch


def _identity(path: str) -> str:
    """What makes two names of an IMPL's file the same IMPL: the real folder, and the name in it. A file
    reached through two names of one folder is run once; a symlink to another file is an IMPL of its own
    (refused by ``run_one``), never a silent duplicate of its target."""
    return os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path))


def walk_glob(pattern: str) -> list[str]:
    """The regular files `pattern` matches, sorted, found without following symlinked folders."""
    parts = pattern.split("/")
    fixed: list[str] = []
    while len(parts) > 1 and not GLOB.search(parts[0]):
        fixed.append(parts.pop(0))
    base = "/".join(fixed) or ("/" if pattern.startswith("/") else "")
    start = base or "."
    if not os.path.isdir(start):
        return []
    out = []
    for folder, dirs, files in os.walk(start, followlinks=False):
        dirs.sort()
        rel = os.path.relpath(folder, start)
        prefix = [] if rel == "." else rel.split(os.sep)
        for name in files:
            if _match([*prefix, name], parts) and os.path.isfile(os.path.join(folder, name)):
                out.append(os.path.join(base, *prefix, name) if base else os.path.join(*prefix, name))
    return sorted(out)


def _match(names: list[str], parts: list[str]) -> bool:
    """Whether path components `names` match pattern components `parts`: ``**`` stands for any number
    of folders, and a name that starts with a dot is matched only by a part that does."""
    if not parts:
        return not names
    if parts[0] == "**":
        return any(
            _match(names[i:], parts[1:]) and not any(n.startswith(".") for n in names[:i])
            for i in range(len(names) + 1)
        )
    if not names or (names[0].startswith(".") and not parts[0].startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], parts[0]) and _match(names[1:], parts[1:])
