"""What one grading worker kept, for the others: drawn examples, shrinking runs, the oracle's values.

Under a batch's seed, a worker keeps what it computed for the next submission it grades (``_kept.DRAWN``,
``_kept.RUNS``, ``_memo.SHARED``), so a repeated mistake is shrunk once and each problem's exact values
are computed once: per worker. With two workers, each paid for every first: the examples drawn, each kind
of mistake's shrinking. So a worker sends, with each answer, what it kept since its last answer
(``export``); the pool hands it to every other worker with its next IMPL (``absorb``), which keeps it as
its own. A worker then pays for a first only when no other worker met it before.

The bytes are a pickle, and they never leave our processes: a worker pickles what it computed itself, in
our code; they travel on the pipes between a worker and the process that forked it, which no submission
can reach (a submission runs in a child of a worker, in its own session, sandbox and file descriptors:
``golden.harness._process``). What is kept is judged as before: a replayed example is judged on the new
implementation's own answers (``_kept``), so sharing changes the cost, never a verdict.
"""

from __future__ import annotations

import pickle
import zlib
from typing import Any

from golden.harness._kept import DRAWN, RUNS
from golden.harness._memo import SHARED


def journal() -> None:
    """From now on, note what this process keeps, for ``export``: a pool's worker that has others to tell
    (anywhere else nothing would take the notes, which would grow without end)."""
    DRAWN.journal = RUNS.journal = SHARED.journal = True


def export() -> bytes | None:
    """What this worker kept since its last export (none of what it absorbed), compressed; None if nothing."""
    drawn = [(key, found) for key in DRAWN.fresh if (found := DRAWN.get(key)) is not None]
    memo = [(key, found) for key in SHARED.fresh if (found := SHARED.stored(key)) is not None]
    runs = list(RUNS.fresh)
    DRAWN.fresh.clear()
    RUNS.fresh.clear()
    SHARED.fresh.clear()
    if not (drawn or runs or memo):
        return None
    return zlib.compress(pickle.dumps((drawn, runs, memo), protocol=pickle.HIGHEST_PROTOCOL), 1)


def absorb(blob: bytes) -> None:
    """Keep what another worker exported, as this worker keeps what it computes (and export none of it)."""
    drawn, runs, memo = _load(blob)
    for key, examples in drawn:
        DRAWN.keep(key, examples, fresh=False)
    for key, run in runs:
        RUNS.keep(key, run, fresh=False)
    for key, stored in memo:
        SHARED.absorb(key, stored)


def _load(blob: bytes) -> tuple[list[Any], list[Any], list[Any]]:
    loaded: tuple[list[Any], list[Any], list[Any]] = pickle.loads(zlib.decompress(blob))  # ours: see above
    return loaded
