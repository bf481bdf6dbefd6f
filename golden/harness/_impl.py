"""Load a neuron implementation named on the command line (in the child process), and check its protocol.

The protocol, the seed's API kept small::

    Impl(n_features)                              # Impl(n_features, activation=name) for other activations
    impl.w, impl.b, impl.alpha                    # readable and assignable
    impl.forward(X) -> a                          # X (m, n) -> a (m,)
    impl.gradient(X, y_true) -> (dJ_dw, dJ_db)    # (n,), scalar; sums over the batch
    impl.update_weights(dJ_dw, dJ_db, learning_rate)   # in place
    optional: linear(X) -> z, activation_derivative(z) -> da_dz, loss(X, y_true) -> J (per example),
              each counted only when the class defines it as a method
    optional: supported_activations, a class attribute listing the activations it implements
              (without it, only "leaky_relu"; cases of other activations are skipped)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from golden._text import first_line
from golden.errors import ImplError
from golden.harness._where import PLACES, raised
from golden.outcome import REQUIRED_METHODS as REQUIRED


def load_impl(path_spec: str, spec: str | None = None) -> type:
    """Import ``package.module:Name`` or ``path/to/file.py:Name`` and check the class's methods.

    Messages name IMPL as `spec` (as the user gave it), the file's path in `path_spec` made absolute.
    """
    spec = spec or path_spec
    module_part, sep, name = path_spec.rpartition(":")
    if not sep or not module_part or not name:
        raise ImplError(f"IMPL {spec!r}: expected package.module:Name or path/to/file.py:Name")
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        module = _load_file(Path(module_part), spec, spec.rpartition(":")[0])
    else:
        try:
            module = importlib.import_module(module_part)
        except ModuleNotFoundError as e:
            raise ImplError(f"IMPL {spec!r}: no module named {e.name!r}") from None
        except BaseException as e:
            what = raised(type(e).__name__, PLACES.where(e), first_line(e))
            raise ImplError(f"IMPL {spec!r}: importing {module_part} raised {what}") from None
    impl = getattr(module, name, None)
    if impl is None:
        raise ImplError(f"IMPL {spec!r}: module {spec.rpartition(':')[0]} has no attribute {name!r}")
    return check_protocol(impl, spec, name)


def check_protocol(impl: Any, spec: str, name: str) -> type:
    """`impl` if it is a class with the protocol's methods; ImplError naming IMPL `spec` otherwise."""
    if not isinstance(impl, type):
        raise ImplError(f"IMPL {spec!r}: {name} is a {type(impl).__name__}, expected a class")
    missing = [m for m in REQUIRED if not callable(getattr(impl, m, None))]
    if missing:
        raise ImplError(
            f"IMPL {spec!r}: {name} does not follow the protocol: no method {', '.join(missing)}; "
            f"it needs {', '.join(REQUIRED)}"
        )
    return impl


def _load_file(path: Path, spec: str, shown: str) -> Any:
    if not path.is_file():
        raise ImplError(f"IMPL {spec!r}: no such file {shown!r}")
    module_name = f"_neuron_impl_{path.stem}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise ImplError(f"IMPL {spec!r}: {shown} is not a Python file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    # so the file can import its neighbours; last, so that no file beside it stands in for a module of
    # the standard library, site-packages or this toolkit (a csv.py, a numpy.py, a golden.py)
    sys.path.append(str(path.resolve().parent))
    try:
        loader_spec.loader.exec_module(module)
    except BaseException as e:  # SystemExit, KeyboardInterrupt at import: one line too
        what = raised(type(e).__name__, PLACES.where(e), first_line(e))
        raise ImplError(f"IMPL {spec!r}: running {shown} raised {what}") from None
    return module
