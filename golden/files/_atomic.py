"""Write files so that none is ever left half-written: every temporary first, every rename last."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def temporaries(name: str = "*") -> str:
    """The glob of the temporaries `write_atomically` stages beside a file called `name`."""
    return f".{name}.*.tmp"


def write_atomically(directory: Path, files: dict[str, bytes], remove: tuple[str, ...] = ()) -> None:
    """Write every file so that none is ever left half-written.

    All contents are first written and flushed to temporary files beside their targets; only when every
    one is complete are they renamed over the targets (``os.replace``, atomic on POSIX and Windows), in
    the given order, so the manifest goes last. A failure or interrupt before then leaves every previous
    file as it was and removes the temporary files. One during the renames (``KeyboardInterrupt``, a
    target that cannot be replaced) leaves the files renamed so far new and the rest old, and removes
    the temporaries not yet renamed. Either way an OSError names the target, never a temporary. A
    replaced regular file keeps its permissions; a new one, or one that replaces anything else (a
    FIFO, a link to a device), gets those ``open`` would give it (0o666 less the umask).
    """
    umask = os.umask(0)
    os.umask(umask)
    staged: list[tuple[Path, Path]] = []  # (temporary, target)
    target = directory
    renamed = 0
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            target = directory / name
            fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
            staged.append((Path(tmp_name), target))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp_name, _mode(target, umask))
        for staged_path, target in staged:
            os.replace(staged_path, target)
            renamed += 1
        for name in remove:
            target = directory / name
            target.unlink(missing_ok=True)
    except BaseException as e:
        for staged_path, _ in staged[renamed:]:
            with contextlib.suppress(OSError):
                staged_path.unlink()
        if isinstance(e, OSError):
            reason = e.strerror or str(e)
            if 0 < renamed < len(staged):
                reason += (
                    f"; {renamed} of {len(staged)} files were replaced before it, the others keep "
                    "their previous contents"
                )
            elif staged and renamed == len(staged):
                reason += f"; every one of the {len(staged)} new files was written before it"
            raise OSError(e.errno, reason, str(target)) from None
        raise


def _mode(target: Path, umask: int) -> int:
    """The permissions `target` keeps if it is a regular file (a link to one counts), else the umask's."""
    try:
        info = os.stat(target)
    except (OSError, ValueError):  # missing, a dangling link, a symlink loop
        return 0o666 & ~umask
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else 0o666 & ~umask
