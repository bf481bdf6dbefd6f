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
    """Run `run` now and again each time IMPL's file is saved, until Ctrl-C."""
    import watchfiles

    path = watch_path(spec)
    if not path.is_file():
        raise ImplError(f"IMPL {spec!r}: no such file {str(path)!r} to watch")
    run()
    for _ in watchfiles.watch(path, debounce=200, raise_interrupt=True):
        print("\033[2J\033[H", end="")  # clear the screen, as a watcher does
        run()
