"""The versioned golden files, their schema, loading, verification and the ``neuron-oracle`` CLI.

``validate`` and ``tdd`` (from ``golden.api``) check a class from Python: ``from golden import validate``.
They are imported on first use, so the CLI and the implementation's child process do not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from golden.api import tdd, validate

__all__ = ["tdd", "validate"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from golden import api

        return getattr(api, name)
    raise AttributeError(f"module 'golden' has no attribute {name!r}")
