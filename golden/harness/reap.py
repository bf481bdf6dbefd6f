"""Ending whatever the implementation started, including what left its process group and session.

A process that calls ``setsid`` or ``setpgid`` escapes a kill of the child's process group. While a run
is on, the judging process is a subreaper (``guard.become_subreaper``), so such a process, once its parent
has ended, becomes our child rather than init's. ``sweep`` then kills every child of ours that is not one
of our own processes (``own``/``disown``) and not of our session, with all its descendants, and reaps
them. In the sandbox this is seldom needed: when its first process ends, every process in it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal

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
    from golden.harness.guard import become_subreaper, is_subreaper

    if _Adoption.runs == 0 and not is_subreaper():
        become_subreaper(True)
        _Adoption.turned_on = True
    _Adoption.runs += 1


def release() -> None:
    """Sweep the orphans adopted; when no other run still wants them adopted, stop adopting."""
    from golden.harness.guard import become_subreaper

    sweep()
    _Adoption.runs = max(0, _Adoption.runs - 1)
    if _Adoption.runs == 0 and _Adoption.turned_on:
        become_subreaper(False)
        _Adoption.turned_on = False


def processes() -> dict[int, tuple[int, int]]:
    """Every process this one can see: pid -> (parent pid, session id), from /proc."""
    table = {}
    for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        table[int(name)] = (int(fields[1]), int(fields[3]))
    return table


def descendants(roots: list[int], table: dict[int, tuple[int, int]]) -> list[int]:
    """`roots` and every process below them."""
    found, frontier = list(roots), list(roots)
    while frontier:
        frontier = [pid for pid, (parent, _) in table.items() if parent in frontier and pid not in found]
        found += frontier
    return found


def sweep(rounds: int = 50) -> int:
    """Kill (SIGKILL) and reap every orphan we adopted, with all its descendants; how many were killed.

    An orphan is a child of ours that we did not start (not in ``OWN``) and that is not of our own
    session: the processes the implementation's code left behind. A process that forks as we kill is
    re-parented to us when its parent dies, so sweeping repeats until a round finds none.
    """
    me, session = os.getpid(), os.getsid(0)
    killed = 0
    for _ in range(rounds):
        table = processes()
        orphans = [
            pid for pid, (parent, sid) in table.items() if parent == me and pid not in OWN and sid != session
        ]
        if not orphans:
            break
        for pid in descendants(orphans, table):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        for pid in orphans:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    return killed
