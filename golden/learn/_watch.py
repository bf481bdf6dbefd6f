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
    """
    import watchfiles

    path = watch_path(spec)
    if not path.is_file():
        raise ImplError(f"IMPL {spec!r}: no such file {str(path)!r} to watch")
    folder = path.resolve().parent
    run()
    changes = watchfiles.watch(
        folder, watch_filter=_python_source, debounce=200, recursive=False, raise_interrupt=True
    )
    for _ in changes:
        if not path.is_file():
            continue  # deleted or being replaced: run again once it is back
        print("\033[2J\033[H", end="")  # clear the screen, as a watcher does
        run()


def _python_source(change: object, name: str) -> bool:
    """A change worth a new run: to a ``.py`` file (not bytecode, not an editor's swap or backup file)."""
    return name.endswith(".py")
