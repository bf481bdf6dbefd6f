"""How our processes start: the implementation's clean, and ours as guarded copies of a guarded process.

- The implementation's child is a fresh interpreter: ``python -I -B golden/harness/_boot.py CONFIG`` (see
  ``boot``), started in a private empty working folder, perhaps inside the sandbox (``sandbox.command``).
  The folders it imports from are passed explicitly, since ``-I`` ignores ``PYTHONPATH``: this package's
  parent first, then the parent process's own site folders, then the implementation's own folder, last,
  so that no file beside it (a ``csv.py``, a ``numpy.py``) can stand in for a module.
- Our own helpers (the oracle's helper, grading workers) are ``fork``-ed from the process that judges,
  which is undumpable already: a copy is undumpable from its first instant and imports nothing, so no
  other process can reach its pipes or its memory, nor slip it a module, while it starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # where `golden` is importable from
BOOT = str(Path(__file__).resolve().with_name("_boot.py"))


def boot_command(config: dict[str, Any]) -> list[str]:
    """``python -I -B _boot.py CONFIG``, with the package's folder and this process's site folders added."""
    full: dict[str, Any] = {"package": PACKAGE_PARENT, "path": site_folders(), "limits": {}, "uid": None}
    return [sys.executable, "-I", "-B", BOOT, json.dumps(full | {"replies": -1} | config)]


def site_folders() -> list[str]:
    """This process's ``sys.path`` folders, without the working folder and the script's own folder: the
    site-packages it imports from (the user's too, when it uses them) and any folder it was given."""
    here = {os.getcwd(), os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else ""}
    out = []
    for entry in sys.path:
        if not isinstance(entry, str) or not entry or os.path.abspath(entry) in here:
            continue
        if os.path.isdir(entry) and entry not in out and os.path.abspath(entry) != PACKAGE_PARENT:
            out.append(entry)
    return out


def fork(run: Callable[[], None], keep: Iterable[int]) -> int:
    """Run `run` in a forked copy of this process, which closes every fd but `keep` and 0–2, puts
    /dev/null on stdin, and ends with ``os._exit`` (0, or 1 if `run` raised): it never returns here.

    The copy starts undumpable when this process is (``guard``) and is guarded again at once regardless.
    """
    keep = sorted(set(keep))
    with warnings.catch_warnings():  # 3.12+ warns of fork with threads; the copy runs only `run`
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        from golden.harness._guard import guard_this_process

        guard_this_process()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the judging process's to handle
        _close_all_but(keep)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        run()
        code = 0
    except BaseException:  # a copy must never return into its parent's code
        code = 1
    finally:
        with contextlib.suppress(OSError, ValueError):  # a closed or broken stream: the exit still comes
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _close_all_but(keep: list[int]) -> None:
    start = 3
    for fd in [*keep, 1 << 20]:
        if fd >= start:
            os.closerange(start, min(fd, 1 << 20))
            start = fd + 1
