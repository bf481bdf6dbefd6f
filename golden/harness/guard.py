"""Keeping the implementation's process out of ours: one call, importable before anything heavy."""

from __future__ import annotations

import contextlib


def guard_this_process() -> None:
    """Make this process undumpable (Linux ``PR_SET_DUMPABLE`` 0): another process of the same user, the
    implementation's among them, can then neither open its /proc/<pid>/fd nor read its memory. Root is not
    bound by this; where it is unavailable, nothing happens. Used by the CLI, grading workers and the
    oracle's helper (``golden.harness.beside``), which calls it before it imports anything else."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
