"""The toolkit's own packages, watched while an implementation runs: what appeared or changed there.

``package_files`` records every entry of ``golden``, ``oracle`` and ``neuron`` (and of their mirror under
``sys.pycache_prefix``) by lstat, opening only regular files; ``package_changes`` compares two records,
removes whatever appeared and any bytecode that changed, and says so, a line each.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
from pathlib import Path

from golden._text import printable
from golden.files._document import sha256
from golden.files._read import _KINDS, _OPEN, MAX_FILE, display

ROOT = Path(__file__).resolve().parent.parent  # the golden package
PACKAGES = ("golden", "oracle", "neuron")  # this toolkit's own packages, beside each other


def package_files() -> dict[Path, tuple[str, str]]:
    """Every entry of the toolkit's packages: path -> (kind, detail). A regular file is ``("file",
    sha256)``, a symlink ``("symlink", target)``, a folder ``("folder", "")``, anything else its kind (``"a
    FIFO (named pipe)"`` …). Only regular files are opened and no symlink is followed, so no entry planted
    there can make this wait or lead it elsewhere."""
    entries = {}
    for top in package_folders():
        for folder, dirs, names in os.walk(top):  # never descends into a symlink
            dirs.sort()
            for entry in [*dirs, *names]:
                path = Path(folder) / entry
                entries[path] = _entry(path)
    return entries


def package_folders() -> list[Path]:
    """The toolkit's package folders, and, when Python keeps bytecode under a prefix
    (``PYTHONPYCACHEPREFIX``), the mirror of each there, where it reads their bytecode from."""
    folders = [ROOT.parent / name for name in PACKAGES]
    if sys.pycache_prefix:
        prefix = Path(sys.pycache_prefix)
        folders += [prefix / Path(*folder.resolve().parts[1:]) for folder in folders]
    return folders


def _entry(path: Path) -> tuple[str, str]:
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            return "symlink", os.readlink(path)
        if stat.S_ISDIR(info.st_mode):
            return "folder", ""
        if not stat.S_ISREG(info.st_mode):
            return next((kind for test, kind in _KINDS if test(info.st_mode)), "not a regular file"), ""
        with os.fdopen(os.open(path, _OPEN | getattr(os, "O_NOFOLLOW", 0)), "rb") as f:
            return "file", sha256(f.read(MAX_FILE))
    except OSError as e:
        return "unreadable", e.strerror or str(e)


def package_changes(before: dict[Path, tuple[str, str]], now: dict[Path, tuple[str, str]]) -> list[str]:
    """A line for each entry that changed, appeared or went. What appeared (bytecode, a module, a folder
    that would shadow a module, a symlink, a FIFO) is removed, and so is bytecode that changed (a machine
    that writes bytecode has the package's own there) and an entry that became another kind (a
    ``__pycache__`` folder swapped for a symlink to planted bytecode), so that no later run can import it."""
    out = []
    for path, (kind, _) in now.items():
        if path in before:
            if before[path] == now[path]:
                continue
            if path.suffix == ".pyc":  # Python compiles the source again
                out.append(f"{display(path)}: bytecode changed in the toolkit's package ({_remove(path)})")
            elif kind != before[path][0]:  # a folder or file became a symlink, a FIFO …: it may lead anywhere
                why = f"{before[path][0]} became {kind} in the toolkit's package while IMPL ran"
                out.append(f"{display(path)}: {why} ({_remove(path)})")
            else:
                out.append(f"{display(path)}: changed in the toolkit's package while IMPL ran")
        elif not any(parent in now and parent not in before for parent in path.parents):  # else: with it
            what = "bytecode" if kind == "file" and path.suffix == ".pyc" else kind
            held: list[str] = []
            if kind == "folder":
                with contextlib.suppress(OSError):
                    held = sorted(os.listdir(path))
                what += (
                    f" holding {', '.join(printable(n, 60) for n in held[:3])}{' …' if len(held) > 3 else ''}"
                    if held
                    else ""
                )
            why = f"appeared in the toolkit's package while IMPL ran ({_remove(path)})"
            out.append(f"{display(path)}: {what} {why}")
    gone = [p for p in before if p not in now]
    out += [
        f"{display(p)}: removed from the toolkit's package"
        for p in gone
        if not any(parent in before and parent not in now for parent in p.parents)
    ]
    return out


def _remove(path: Path) -> str:
    """Remove `path` (a folder with all it holds; a symlink itself, never its target); how that went."""
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError as e:
        return f"could not be removed: {e.strerror or e}"
    return "removed"
