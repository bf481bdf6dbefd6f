"""Ending whatever the implementation started, including what left its process group and session.

A process that calls ``setsid`` or ``setpgid`` escapes a kill of the child's process group. While a run
is on, the judging process is a subreaper (``guard.become_subreaper``), so such a process, once its parent
has ended, becomes our child rather than init's. ``sweep`` then kills every child of ours that is not one
of our own processes (``own``/``disown``) and not of our session, with all its descendants, and reaps
them, having stopped them all first so that none can fork past the kill. In the sandbox this is seldom
needed: when its first process ends, every process in it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

OWN: set[int] = set()  # processes we started and still answer for: children, helpers, workers


def own(pid: int) -> None:
    """Count `pid` as one of ours: ``sweep`` leaves it alone."""
    OWN.add(pid)


def disown(pid: int) -> None:
    """`pid` has ended (or is being ended) by its owner."""
    OWN.discard(pid)


class _Adoption:
    """How many runs in this process want orphans adopted, and whether it was we who turned that on."""

    runs = 0
    turned_on = False


def adopt() -> None:
    """From now on this process adopts the orphans among its descendants, until the matching ``release``
    (runs in one process may overlap: a pytest session and a ``golden.validate`` call, say)."""
    from golden.harness._guard import become_subreaper, is_subreaper

    if _Adoption.runs == 0 and not is_subreaper():
        become_subreaper(True)
        _Adoption.turned_on = True
    _Adoption.runs += 1


def release() -> None:
    """Sweep the orphans adopted; when no other run still wants them adopted, stop adopting (unless some
    could not be ended: then this process stays their reaper rather than hand them to init)."""
    from golden.harness._guard import become_subreaper

    left = sweep()
    _Adoption.runs = max(0, _Adoption.runs - 1)
    if _Adoption.runs == 0 and _Adoption.turned_on and not left:
        become_subreaper(False)
        _Adoption.turned_on = False


def processes() -> dict[int, tuple[int, int, str]]:
    """Every process this one can see: pid -> (parent pid, session id, state), from /proc. The state is
    ``R``, ``S``, ``D`` …, ``T`` or ``t`` when stopped, ``Z`` for a zombie."""
    table = {}
    for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        table[int(name)] = (int(fields[1]), int(fields[3]), fields[0].decode())
    return table


def descendants(roots: list[int], table: dict[int, tuple[int, int, str]]) -> list[int]:
    """`roots` and every process below them."""
    found, frontier = list(roots), list(roots)
    while frontier:
        frontier = [pid for pid, (parent, *_) in table.items() if parent in frontier and pid not in found]
        found += frontier
    return found


def orphans(table: dict[int, tuple[int, int, str]]) -> list[int]:
    """The children of this process that it did not start (not in ``OWN``) and that are not of its
    session: the processes the implementation's code left behind, adopted."""
    me, session = os.getpid(), os.getsid(0)
    return [pid for pid, (up, sid, _) in table.items() if up == me and pid not in OWN and sid != session]


STOPPED = ("T", "t", "Z", "X")  # states in which a process runs no more code: it cannot fork


def sweep(seconds: float = 5.0) -> int:
    """End every orphan adopted, with all its descendants, and reap them; how many are left (0 unless
    some could not be ended within `seconds`).

    Killing a tree while it forks can lose the race: a child born after the look escapes the kill. So the
    tree is first frozen: every process in it is stopped (SIGSTOP, which cannot be caught), and looked at
    again, until every process found is stopped, when none can fork any more; then all are killed
    (SIGKILL) at once. What dies below an orphan is re-parented to this process, which reaps it in turn.
    """
    start = time.monotonic()
    while True:
        table = processes()
        found = orphans(table)
        if not found or time.monotonic() > start + seconds:
            return len(found)
        tree = descendants(found, table)
        running = [pid for pid in tree if table[pid][2] not in STOPPED]
        for pid in running:
            _signal(pid, signal.SIGSTOP)
        if not running or time.monotonic() > start + seconds / 2:  # frozen (or some never stop: D state)
            for pid in tree:
                _signal(pid, signal.SIGKILL)
            for pid in found:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
        time.sleep(0.001)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)
