"""Reading a file of ours safely: only a regular file, of at most a size, in one line when it is not.

A FIFO, a device, a directory or a symlink loop is a one-line ``UnreadableFile``, never a hang; a path is
shown relative to the working folder and printable (``display``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from golden._text import printable
from golden.errors import UnreadableFile

MAX_FILE = 16 * 1024 * 1024  # bytes; a golden case takes a few kB
SHOWN = 200  # characters of a value from disk that a message shows
# O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOCTTY: a terminal never becomes ours.
_OPEN = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def display(path: Path) -> str:
    """The path relative to the working directory where it lies below it, else as given (links unresolved).

    Never raises (a deleted working directory, a symlink loop) and is always one printable line.
    """
    try:
        relative = os.path.relpath(os.path.abspath(path))
        shown = relative if not relative.startswith("..") else str(path)
    except (OSError, ValueError):  # no working directory; on Windows, another drive
        shown = str(path)
    return printable(shown)


def read_regular(path: Path, limit: int = MAX_FILE, what: str = "a golden file") -> bytes:
    """The bytes of `path`, which must be a regular file of at most `limit` bytes; UnreadableFile otherwise.

    A symlink is followed, but what it leads to must be a regular file too: a FIFO, a device, a directory
    or a symlink loop is a one-line error without waiting or reading past `limit`.
    """
    try:
        fd = os.open(path, _OPEN)
    except OSError as e:
        raise UnreadableFile(display(path), f"cannot read: {e.strerror or e}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
            raise UnreadableFile(display(path), f"expected a regular file, got {kind}{_via(path)}")
        if info.st_size > limit:
            raise UnreadableFile(display(path), f"{info.st_size:,} bytes; {what} holds at most {limit:,}")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise UnreadableFile(display(path), f"cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UnreadableFile(display(path), f"more than {limit:,} bytes; {what} holds at most {limit:,}")
    return data


def _via(path: Path) -> str:
    """`` (a link to /dev/zero)`` when `path` is a symlink, else nothing."""
    try:
        return f" (a link to {printable(os.readlink(path), SHOWN)})" if os.path.islink(path) else ""
    except (OSError, ValueError):
        return ""
