"""The key of an IMPL's entry in ``--cache DIR`` (``golden.grading._cache``): what its outcomes depend on.

It is the sha256 of two canonical JSON documents (sorted keys, no spaces):

- the batch's (``context``): the toolkit's version and the sha256 of its sources (its packages' ``.py``
  and ``.json`` files); the versions of Python, numpy and Hypothesis (one seed draws other examples under
  another Hypothesis); each golden set's name and its manifest's sha256 (which holds every case file's,
  checked on reading); the items planned (the cases ``--cases`` selects, the properties unless
  ``--no-properties``); the options that change a verdict: ``--timeout``, ``--examples``, ``--precision``,
  ``--activations``, ``--convention``, the sandbox (on or off) and its limits; and, when the properties
  run, the seed;
- the IMPL's: its spec as given (messages name it), whether its folder is exposed, and every file it is
  graded with, by name, sorted: its ``.py`` alone in a folder holding other submissions
  (``_shared_folders``: all a sandboxed IMPL is shown of it), else its whole folder, helper modules and
  all (a symlink by its target, as the sandbox copies it). A folder past the sandbox's copy limits,
  holding a FIFO or a device, or unreadable, is not cached; nor is a module spec (``package.module:Name``).

Not in it, since they change no outcome: ``--feedback`` (outcomes are kept whole, redacted when rendered:
``golden.feedback``), ``--weights`` (outcomes are kept, not scores), ``--format``, ``--output``, ``--jobs``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import stat
from dataclasses import asdict
from pathlib import Path
from typing import Any

from golden.files.store import MANIFEST, Sets
from golden.harness._copy import COPY_LIMITS
from golden.harness._sandbox import Isolation
from golden.options import Options

FORMAT = "neuron-oracle-cache/1"


def planned(golden: Sets, options: Options) -> list[str]:
    """The items a batch runs, in order: the golden cases selected, then the properties, if they run."""
    from golden.harness.properties import PROPERTIES
    from golden.harness.session import select

    return list(select(golden, options)) + (list(PROPERTIES) if options.properties else [])


def context(golden: Sets, options: Options, isolation: Isolation) -> bytes:
    """The batch's part of every key: what, besides an IMPL's own files, its outcomes depend on."""
    from importlib.metadata import PackageNotFoundError, version

    import hypothesis
    import numpy

    from golden.files._watch import PACKAGES, package_files
    from golden.files.store import ROOT

    try:
        toolkit = version("neuron-oracle")
    except PackageNotFoundError:
        toolkit = "unknown"
    tops = [ROOT.parent / name for name in PACKAGES]
    sources = sorted(
        (str(path.relative_to(ROOT.parent)), detail)
        for path, (kind, detail) in package_files().items()
        if kind == "file" and path.suffix in (".py", ".json") and any(within(path, t) for t in tops)
    )
    manifests = [[s.version, *(d for p, d in s.hashes.items() if p.name == MANIFEST)] for s in golden.sets]
    return _canonical(
        {
            "format": FORMAT,
            "toolkit": toolkit,
            "sources": hashlib.sha256(_canonical(sources)).hexdigest(),
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "hypothesis": hypothesis.__version__,
            "sets": manifests,
            "items": planned(golden, options),
            "seed": options.seed if options.properties else None,
            "timeout": options.timeout,
            "examples": options.examples,
            "precision": options.precision,
            "activations": list(options.activations),
            "conventions": dict(options.conventions),
            "sandbox": isolation.sandbox,
            "limits": asdict(isolation.limits),
        }
    )


def impl_key(batch: bytes, spec: str, exposed: bool, skip: Path) -> str | None:
    """The key of IMPL `spec` in the batch whose ``context`` is `batch`: None when it is not cached (a
    module spec; a folder that cannot be hashed whole). `skip` (the cache) is left out of its folder."""
    file, sep, _ = spec.rpartition(":")
    if not (sep and (file.endswith(".py") or "/" in file or "\\" in file)):
        return None  # a module spec: what it imports is found on the path when it runs
    path = Path(os.path.abspath(file))
    files = _files(path.parent, Path(os.path.realpath(skip))) if exposed else _files(path, skip)
    if files is None:
        return None
    digest = hashlib.sha256(batch + b"\n")
    digest.update(_canonical({"impl": spec, "exposed": exposed, "files": files}))
    return digest.hexdigest()


def _files(top: Path, skip: Path) -> list[list[str]] | None:
    """``[name, kind, sha256 or a symlink's target]`` of `top` (a file) or of every entry under it (a
    folder, `skip` left out), in sorted order; None past ``COPY_LIMITS`` or for an entry that is neither
    a file, a folder nor a symlink, or cannot be read."""
    if not top.is_dir():
        entry = _entry(top, COPY_LIMITS["bytes"])
        return None if entry is None else [[top.name, *entry[:2]]]
    out: list[list[str]] = []
    left = COPY_LIMITS["bytes"]
    for folder, dirs, names in os.walk(top):  # never descends into a symlink
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if os.path.realpath(here / d) != str(skip))  # loops too
        if len(here.relative_to(top).parts) > COPY_LIMITS["depth"]:
            return None
        for name in sorted([*names, *(d for d in dirs if (here / d).is_symlink())]):
            entry = _entry(here / name, left)
            if entry is None or len(out) >= COPY_LIMITS["entries"]:
                return None
            left -= int(entry[2]) if entry[0] == "file" else 0
            out.append([(here / name).relative_to(top).as_posix(), *entry[:2]])
    return sorted(out)


def _entry(path: Path, left: int) -> list[str] | None:
    """``[kind, sha256 or target, size]`` of one entry, reading at most `left` bytes; None if not kept."""
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            return ["symlink", os.readlink(path), "0"]
        if not stat.S_ISREG(info.st_mode) or info.st_size > left:
            return None
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb") as f:
            data = f.read(left + 1)
    except OSError:
        return None
    return None if len(data) > left else ["file", hashlib.sha256(data).hexdigest(), str(len(data))]


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def within(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies under it."""
    return path == folder or folder in path.parents
