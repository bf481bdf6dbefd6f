"""How alike a batch's submissions are (``--similarity``): the pairs of files whose code is shared.

Graders that run one container per submission cannot compare submissions; a batch can, once its grades
are in. Each graded IMPL's file is fingerprinted, and the helper modules beside it when the IMPL has a
folder of its own (no other IMPL's file in it), with copydetect's API: the code tokenized (every name
becomes one letter, strings another, comments and spaces go), each run of ``NOISE`` characters of it
hashed, every hash kept (a winnowing window of one: the hashes' own values, which Python draws afresh in
each process, then decide nothing, so a rerun finds the same pairs), and the hashes of the scaffold's
template left out as boilerplate (``golden/learn/templates``: the protocol's class and method lines,
which every submission holds whether it started from the scaffold or not). Each file's share is the part
of its code found in the other file (copydetect's similarity); a pair of files of two IMPLs is reported
when the larger share reaches the threshold, as copydetect's own report flags a pair, so that code copied
and then padded is still found.

The files are read, never imported or run: this runs in the parent, after the grades. copydetect is an
optional extra (``pip install 'neuron-oracle[similarity]'``); ``require`` refuses ``--similarity``
without it, in one line, before any IMPL runs.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golden.errors import GoldenError, OptionError

NOISE = 25  # copydetect's default noise and guarantee thresholds: characters of tokenized code per hash
MAX_FILE = 1 << 20  # bytes of a file compared: a submission's module, not its data
MAX_FILES = 50  # helper modules of one submission compared at most (its folder's first, by name)
EXTRA = "pip install 'neuron-oracle[similarity]'"


@dataclass(frozen=True)
class Pair:
    """Two files of two IMPLs, and the share of each file's code that is in the other."""

    impls: tuple[str, str]
    files: tuple[str, str]
    shares: tuple[float, float]

    @property
    def score(self) -> float:
        """The larger share: how much of one file is in the other."""
        return max(self.shares)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``impls``, ``files``, ``shares`` (in the order of ``files``) and ``score``."""
        return {"impls": list(self.impls), "files": list(self.files), "shares": list(self.shares)} | {
            "score": self.score
        }


@dataclass(frozen=True)
class Similarity:
    """A batch's similarity report: the pairs at or above `threshold`, most similar first."""

    threshold: float
    tool: str  # copydetect and its version
    files: int  # files compared
    pairs: list[Pair] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)  # IMPLs with no file to read (a module's name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the batch's JSON table (its ``similarity`` key)."""
        return {
            "tool": self.tool,
            "threshold": self.threshold,
            "boilerplate": "the scaffold's template",
            "files": self.files,
            "pairs": [p.as_dict() for p in self.pairs],
            "not_compared": self.not_compared,
        }


def require() -> None:
    """Import copydetect, or refuse ``--similarity`` in one line naming the extra that brings it."""
    try:
        import copydetect  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise OptionError(f"--similarity needs copydetect, which is not installed: {EXTRA}") from None


def similar(impls: Sequence[str], threshold: float) -> Similarity:
    """The pairs of files of two different IMPLs of `impls` whose larger share is at least `threshold`.

    An IMPL named by a file (``subs/alice.py:Neuron``) is compared by that file and, when its folder holds
    no other IMPL's file, by the other ``.py`` files beside it (at most ``MAX_FILES``); an IMPL named by a
    module, or whose file cannot be read as a regular file of at most ``MAX_FILE`` bytes, is listed in
    ``not_compared``. Two IMPLs of one file (two classes of it) are not compared with each other.
    """
    import copydetect

    boilerplate = _boilerplate()
    files, not_compared = _files(impls)
    prints = {path: _fingerprint(path, text, boilerplate) for path, (_, text) in files.items()}
    pairs = []
    for a, b in itertools.combinations(files, 2):
        (impl_a, _), (impl_b, _) = files[a], files[b]
        if impl_a == impl_b or os.path.realpath(a) == os.path.realpath(b):
            continue
        _, shares, _ = copydetect.compare_files(prints[a], prints[b])
        pair = Pair((impl_a, impl_b), (a, b), (round(float(shares[0]), 3), round(float(shares[1]), 3)))
        if pair.score >= threshold:
            pairs.append(pair)
    pairs.sort(key=lambda p: (-p.score, p.files))
    tool = f"copydetect {copydetect.__version__}"
    return Similarity(threshold, tool, len(files), pairs, not_compared)


def _files(impls: Sequence[str]) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Each file to compare, as the IMPLs name it, with its IMPL and text; the IMPLs with none."""
    paths = {spec: spec.rpartition(":")[0] for spec in impls}
    mine = [p for p in paths.values() if p.endswith(".py")]
    files: dict[str, tuple[str, str]] = {}
    not_compared = []
    for spec, path in paths.items():
        text = _read(path) if path.endswith(".py") else None
        if text is None:
            not_compared.append(spec)
            continue
        files.setdefault(path, (spec, text))
        if _own_folder(path, mine):
            folder = os.path.dirname(path)
            helpers = sorted(p for p in Path(folder or ".").glob("*.py") if p.name != os.path.basename(path))
            for helper in helpers[:MAX_FILES]:
                shown = os.path.join(folder, helper.name)
                if (found := _read(shown)) is not None:
                    files.setdefault(shown, (spec, found))
    return files, not_compared


def _own_folder(path: str, files: Sequence[str]) -> bool:
    """Whether the folder of `path` holds no other of `files`, at any depth."""
    folder = os.path.join(os.path.dirname(os.path.abspath(path)), "")
    others = [os.path.abspath(f) for f in files if os.path.abspath(f) != os.path.abspath(path)]
    return not any(f.startswith(folder) for f in others)


def _read(path: str) -> str | None:
    """The text of `path`, a regular file (not a symlink) of at most MAX_FILE bytes; None otherwise."""
    from golden.files.store import read_regular

    if os.path.islink(path):
        return None
    try:
        return read_regular(Path(path), MAX_FILE, "a submission's file").decode("utf-8", "replace")
    except GoldenError:
        return None


def _boilerplate() -> Any:
    """The hashes of the scaffold's template, which no pair is reported for sharing."""
    import numpy as np

    from golden.learn._scaffold import TEMPLATE

    template = _fingerprint("template.py", TEMPLATE.read_text(encoding="utf-8"), None)
    return np.unique(np.array(sorted(template.hashes), dtype=np.int64))


def _fingerprint(path: str, text: str, boilerplate: Any) -> Any:
    """copydetect's fingerprint of `text` (Python, whatever `path` is called), without `boilerplate`."""
    import copydetect

    return copydetect.CodeFingerprint(
        path, NOISE, 1, boilerplate=boilerplate, language="python", fp=io.StringIO(text)
    )
