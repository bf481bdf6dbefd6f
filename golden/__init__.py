"""The versioned golden files, their schema, loading, verification and the ``neuron-oracle`` CLI.

``validate`` and ``tdd`` (from ``golden.api``) check a class from Python: ``from golden import validate``.
They are imported on first use, so the CLI and the implementation's child process do not pay for them.
This file imports nothing at all (its types are in ``__init__.pyi``): ``python -m golden`` runs it while
the working folder is still first on ``sys.path``, where a ``typing.py`` would stand in for the module.
"""

__all__ = ["tdd", "validate"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from golden import api

        return getattr(api, name)
    raise AttributeError(f"module 'golden' has no attribute {name!r}")
