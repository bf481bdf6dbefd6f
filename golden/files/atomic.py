"""Write files so that none is ever left half-written: every temporary first, every rename last."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def write_atomically(directory: Path, files: dict[str, bytes], remove: tuple[str, ...] = ()) -> None:
    """Write every file so that none is ever left half-written.

    All contents are first written and flushed to temporary files beside their targets; only when every
    one is complete are they renamed over the targets (``os.replace``, atomic on POSIX and Windows), in
    the given order, so the manifest goes last. A failure or interrupt before then leaves every previous
    file as it was, removes the temporary files, and raises OSError naming the target. A replaced file
    keeps its permissions; a new one gets those ``open`` would give it (0o666 less the umask).
    """
    umask = os.umask(0)
    os.umask(umask)
    staged: list[tuple[str, Path]] = []
    target = directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            target = directory / name
            fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
            staged.append((name, Path(tmp_name)))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~umask
            os.chmod(tmp_name, mode)
    except BaseException as e:
        for _, staged_path in staged:
            with contextlib.suppress(OSError):
                staged_path.unlink()
        if isinstance(e, OSError):
            raise OSError(e.errno, e.strerror or str(e), str(target)) from None
        raise
    for name, staged_path in staged:
        os.replace(staged_path, directory / name)
    for name in remove:
        (directory / name).unlink(missing_ok=True)
