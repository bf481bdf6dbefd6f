"""A submission's folder copied for its sandbox, within limits: how deep, how many entries, how many bytes.

The sandbox shows the child a copy of the implementation's folder (``golden.harness._process``), and a
Dask task carries one (``golden.grading._dask``): both stop at ``COPY_LIMITS``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable

from golden._text import short

COPY_LIMITS = {"depth": 32, "entries": 10_000, "bytes": 64 << 20}  # of a folder copied into the sandbox


class TooMuch(Exception):
    """A folder past ``COPY_LIMITS`` (not an OSError or shutil.Error, which copytree would gather)."""


def bounded(source: str) -> Callable[[str, list[str]], list[str]]:
    """An ignore function for copytree that refuses a folder past any of ``COPY_LIMITS``: its depth
    (before copytree's own recursion runs out), the entries it holds, their bytes."""
    seen = {"entries": 0, "bytes": 0}
    top = source.rstrip(os.sep).count(os.sep)

    def ignore(folder: str, names: list[str]) -> list[str]:
        if folder.rstrip(os.sep).count(os.sep) - top >= COPY_LIMITS["depth"]:
            raise TooMuch(f"{source} is more than {COPY_LIMITS['depth']} folders deep")
        seen["entries"] += len(names)
        for name in names:
            with contextlib.suppress(OSError):
                seen["bytes"] += os.lstat(os.path.join(folder, name)).st_size
        for what, unit in (("entries", "files and folders"), ("bytes", "bytes")):
            if seen[what] > COPY_LIMITS[what]:
                raise TooMuch(f"{source} holds more than {COPY_LIMITS[what]:,} {unit}")
        return []

    return ignore


def first_error(e: BaseException) -> str:
    """One line for a failed copy: copytree gathers its errors as a list of (source, target, why)."""
    if isinstance(e, shutil.Error) and e.args and isinstance(e.args[0], list) and e.args[0]:
        return short(str(e.args[0][0][-1]), 200)
    return short(str(e), 200)
