"""Keeping the implementation's process out of ours: one call, importable before anything heavy.

``python -m golden.harness.guard MODULE ARGS...`` makes the new process undumpable first, then runs MODULE
as ``python -m MODULE ARGS...`` would: how the oracle's helper starts, so that nothing it imports runs
before it is guarded.
"""

from __future__ import annotations

import contextlib


def guard_this_process() -> None:
    """Make this process undumpable (Linux ``PR_SET_DUMPABLE`` 0): another process of the same user, the
    implementation's among them, can then neither open its /proc/<pid>/fd nor read its memory. Root is not
    bound by this; where it is unavailable, nothing happens. Used by the CLI, grading workers and the
    oracle's helper (``golden.harness.beside``), which starts through this module (see above)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


if __name__ == "__main__":  # python -m golden.harness.guard MODULE ARGS...: guarded, then MODULE runs
    import runpy
    import sys

    guard_this_process()
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
