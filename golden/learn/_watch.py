"""`tdd --watch`: run the walk again each time the implementation's file is saved (watchfiles)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from golden.errors import ImplError


def watch_path(spec: str) -> Path:
    """The file to watch for IMPL `spec`: the .py file, or where the module lives."""
    module = spec.rpartition(":")[0]
    if module.endswith(".py") or "/" in module:
        return Path(module)
    import importlib.util

    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None or found.origin is None:
        raise ImplError(f"IMPL {spec!r}: cannot find the file of module {module} to watch")
    return Path(found.origin)


def watch(spec: str, run: Callable[[], object]) -> None:
    """Run `run` now and again each time IMPL's file, or a module beside it, is saved, until Ctrl-C.

    The folder is watched, not the file: many editors (and ``sed -i``) save by writing a new file and
    renaming it over the old one, which a watch on the file itself loses from then on. Any ``.py`` file
    of the folder counts (the helper modules IMPL imports live there); a save that leaves IMPL's file
    missing (deleted, to be written again) waits for the file to come back.

    The watch starts once the first run has ended, so a save during that run (or just after it, before
    the watch is in place) is found by comparing the sources with what they held before the run, as soon
    as the watch is known to be in place (its first answer, a change or a timeout of half a second).
    """
    import watchfiles

    path = watch_path(spec)
    if not path.is_file():
        raise ImplError(f"IMPL {spec!r}: no such file {str(path)!r} to watch")
    folder = path.resolve().parent
    before: dict[str, bytes] | None = _sources(folder)
    run()
    changes = watchfiles.watch(
        folder,
        watch_filter=_python_source,
        debounce=200,
        recursive=False,
        raise_interrupt=True,
        rust_timeout=500,
        yield_on_timeout=True,
    )
    for changed in changes:
        saved = bool(changed)
        if before is not None:  # the watch is in place: was anything saved before it was?
            saved, before = saved or _sources(folder) != before, None
        if not saved or not path.is_file():
            continue  # nothing saved; or deleted or being replaced: run again once it is back
        print("\033[2J\033[H", end="")  # clear the screen, as a watcher does
        run()


def _sources(folder: Path) -> dict[str, bytes]:
    """The ``.py`` files of `folder` (not below it), each name with its bytes (an unreadable one's empty)."""
    found = {}
    for file in folder.glob("*.py"):
        try:
            found[file.name] = file.read_bytes()
        except OSError:
            found[file.name] = b""
    return found


def _python_source(change: object, name: str) -> bool:
    """A change worth a new run: to a ``.py`` file (not bytecode, not an editor's swap or backup file)."""
    return name.endswith(".py")
