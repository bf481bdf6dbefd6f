"""Keeping the implementation's processes out of ours: undumpable processes, and a reaper for what escapes.

Two Linux process controls (``prctl``), standard library only:

- ``guard_this_process`` (``PR_SET_DUMPABLE`` 0): another process of the same user, the implementation's
  among them, can then neither open our /proc/<pid>/fd nor read or write our memory. Root is not bound.
- ``become_subreaper`` (``PR_SET_CHILD_SUBREAPER``): a process the implementation started that leaves its
  group and session (``setsid``, ``setpgid``) and outlives its parent is re-parented to us, not to init, so
  ``golden.harness._reap`` finds it and ends it.

A control that cannot be applied on Linux (``ctypes`` missing, ``prctl`` refused) raises ``GuardError``:
it is reported, never passed over. Elsewhere there is no such control, and ``available()`` says so.
"""

from __future__ import annotations

import sys

from golden.errors import GuardError

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


def available() -> bool:
    """Whether this platform has the controls (Linux)."""
    return sys.platform.startswith("linux")


def _prctl(option: int, value: int) -> None:
    try:
        import ctypes
    except ImportError as e:
        raise GuardError(f"cannot guard this process: ctypes cannot be imported ({e})") from None
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise GuardError(f"cannot guard this process: prctl({option}, {value}) failed, errno {errno}")


def guard_this_process() -> None:
    """Make this process undumpable (Linux); GuardError if that fails there, nothing elsewhere."""
    if available():
        _prctl(PR_SET_DUMPABLE, 0)


def become_subreaper(on: bool = True) -> None:
    """Adopt the orphans among our descendants (Linux), or stop adopting them; GuardError if refused."""
    if available():
        _prctl(PR_SET_CHILD_SUBREAPER, int(on))


def is_subreaper() -> bool:
    """Whether this process adopts its orphaned descendants."""
    if not available():
        return False
    import ctypes

    flag = ctypes.c_int(0)
    ctypes.CDLL(None, use_errno=True).prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0)
    return bool(flag.value)
