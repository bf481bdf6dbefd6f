"""The implementation's process: load IMPL, make the calls the parent asks for, send back what they return.

It only computes. It never sees an expected value, a tolerance or a verdict, and nothing it sends is
trusted: the parent reads the replies as data (``golden.harness._protocol``) and judges them itself. So the
implementation may patch this module, numpy or anything else in its own process without effect on the
verdict. The parent starts it through ``golden.harness._boot`` (isolated mode, guarded and limited first),
as ``golden.harness._child REQUESTS REPLIES`` (two pipe fds), in a session of its own, with its stdout and
stderr on a pipe the parent drains.

Requests (JSON): ``{"load": "/abs/path.py:Name", "shown": "path.py:Name"}`` (a spec; the path absolute,
as shown) or ``{"load_pickled": base64, "name": "module:Name", "path":
[the parent's sys.path]}`` (a class sent by value with cloudpickle: only this process unpickles) first,
then ``{"batches": [[call, ...], ...]}``, answered with one reply per batch, in order, with calls::

    ["new", id, n_features, activation]     Impl(n) or Impl(n, activation=name)
    ["new", id, n, activation, [[attr, value], ...]]   the same, then each instance.attr = value
    ["set", id, attr, value]                 instance.attr = value
    ["get", id, attr]                        instance.attr
    ["call", id, method, [args]]             instance.method(*args)

The load request may also carry ``cwd`` (the parent's working folder) and ``cells`` (a notebook's cell
labels by file name), with which an error names its place in the implementation's code.

Arguments are numbers, or ``{"f64": base64, "shape": [...]}`` for float64 arrays (their little-endian
bytes). A reply gives one value per call made; calling stops at the first that raises, and the error
says which and how.
"""

from __future__ import annotations

import base64
import inspect
import os
import sys
import types
from typing import Any

import numpy as np

from golden._text import first_line, one_line, short
from golden.harness import _protocol as protocol
from golden.harness._where import PLACES

# Instances live here between requests, by the id the parent gave them.
INSTANCES: dict[int, Any] = {}
MAX_LOAD = 1 << 30  # bytes; the load request comes from the parent, and a class sent by value may be large


def main(argv: list[str]) -> None:
    """Serve requests on the fds named in `argv` until the parent closes the pipe."""
    requests, replies = protocol.Reader(int(argv[0])), int(argv[1])
    sys.stdout = sys.stderr  # prints go to the drained pipe, never onto the wire
    try:
        impl = _load(requests.receive(limit=MAX_LOAD))
        ready = describe_class(impl)
    except protocol.WireError:
        return
    except BaseException as e:  # any failure to load is reported, whatever it raised
        protocol.send(replies, {"error": _describe(e)})
        return
    protocol.send(replies, {"ready": ready})
    while True:
        try:
            request = requests.receive()
        except protocol.WireError:
            return
        for calls in request.get("batches", []):  # one reply per batch, as soon as it is made
            protocol.send(replies, serve(impl, calls))


def _load(request: dict[str, Any]) -> type:
    """The class the load request names: by spec (``load``) or by value (``load_pickled``, cloudpickle)."""
    from golden.harness._impl import check_protocol, load_impl

    PLACES.configure(request)
    if "load_pickled" not in request:
        return load_impl(str(request["load"]), str(request.get("shown", request["load"])))
    import cloudpickle

    from golden.errors import ImplError

    name = str(request.get("name", "the class"))
    sys.path += [p for p in request.get("path", []) if isinstance(p, str) and p and p not in sys.path]
    try:
        impl = cloudpickle.loads(base64.b64decode(request["load_pickled"]))
    except BaseException as e:  # a module it refers to by name may be missing here
        raise ImplError(f"IMPL {name!r}: unpickling the class in its process raised {one_line(e)}") from None
    return check_protocol(impl, name, getattr(impl, "__name__", "it"))


def describe_class(impl: type) -> dict[str, Any]:
    """What the parent needs to plan: the class's name, optional methods, activations, declared precision."""
    from golden.outcome import OPTIONAL_METHODS

    declared = inspect.getattr_static(impl, "supported_activations", ("leaky_relu",))
    activations = [a for a in declared if isinstance(a, str)] if isinstance(declared, list | tuple) else []
    precision = inspect.getattr_static(impl, "precision", None)
    conventions = inspect.getattr_static(impl, "conventions", None)
    if isinstance(conventions, dict):
        conventions = {short(str(k), 40): short(str(v), 40) for k, v in conventions.items()}
    return {
        "name": short(impl.__name__, 80),
        "optional": [m for m in OPTIONAL_METHODS if is_method(impl, m)],
        "activations": activations,
        "precision": short(precision, 40) if isinstance(precision, str) else None,
        "conventions": conventions if isinstance(conventions, dict) else None,
    }


def is_method(impl: type, name: str) -> bool:
    """Whether the class itself defines `name` as a method (an instance attribute of that name is not one)."""
    attr = inspect.getattr_static(impl, name, None)
    return isinstance(attr, types.FunctionType | staticmethod | classmethod)


def serve(impl: type, calls: list[Any]) -> dict[str, Any]:
    """Make `calls` in order; stop at the first that raises. Every value is encoded as data.

    ``changed`` lists [call, argument] positions of the array arguments a call changed in place.
    """
    results: list[Any] = []
    changed: list[list[int]] = []
    for index, call in enumerate(calls):
        try:
            value, mutated = _make(impl, call)
            results.append(protocol.encode(value))
        except Setting as e:  # a new instance's attribute could not be set: say which
            error = _describe(e.__cause__ or e) | {"setting": e.attr}
            return {"results": results, "error": error, "changed": changed}
        except BaseException as e:  # SystemExit and KeyboardInterrupt too: they cost the call, not us
            return {"results": results, "error": _describe(e), "changed": changed}
        changed += [[index, arg] for arg in mutated]
    return {"results": results, "error": None, "changed": changed}


def _make(impl: type, call: list[Any]) -> tuple[Any, list[int]]:
    op, key = call[0], call[1]
    if op == "new":
        n, activation = call[2], call[3]
        instance = INSTANCES[key] = impl(n) if activation == "leaky_relu" else impl(n, activation=activation)
        for attr, value in call[4] if len(call) > 4 else ():
            try:
                setattr(instance, attr, _argument(value))
            except BaseException as e:
                raise Setting(attr) from e
        return None, []
    if op == "set":
        setattr(INSTANCES[key], call[2], _argument(call[3]))
        return None, []
    if op == "get":
        return getattr(INSTANCES[key], call[2]), []
    args = [_argument(a) for a in call[3]]
    sent = [(a.tobytes(), a.shape) if isinstance(a, np.ndarray) else None for a in args]
    value = getattr(INSTANCES[key], call[2])(*args)
    return value, [i for i, was in enumerate(sent) if was is not None and _changed(args[i], *was)]


def _changed(now: Any, data: bytes, shape: tuple[int, ...]) -> bool:
    """Whether the array argument `now`, sent as `data` in `shape`, holds other numbers now (by value:
    -0.0 written over 0.0 is no change); its bytes first, the usual case, at once."""
    if now.dtype == np.float64 and now.shape == shape and now.tobytes() == data:
        return False
    return not np.array_equal(now, np.frombuffer(data, dtype=np.float64).reshape(shape))


class Setting(Exception):
    """Setting attribute `attr` of a new instance raised (its ``__cause__``)."""

    def __init__(self, attr: str) -> None:
        super().__init__(attr)
        self.attr = attr


def _argument(value: Any) -> Any:
    """A call's argument: a number, or a float64 array sent as its bytes and shape (``proxy.wire``), given
    as an array of its own (the implementation may write into it)."""
    if not isinstance(value, dict):
        return value
    return protocol.from_f64(value["f64"], value["shape"])


def _describe(e: BaseException) -> dict[str, Any]:
    """An exception as data: its type's name, its message's first line, where in the implementation's own
    code it was raised (``golden.harness._where``), whether it means 'not yet', and whether it is a
    MemoryError (the parent then names the limit)."""
    return {
        "type": short(type(e).__name__, 80),
        "message": short(first_line(e), 200),
        "where": PLACES.where(e),
        "not_implemented": isinstance(e, NotImplementedError),
        "memory": isinstance(e, MemoryError),
    }


if __name__ == "__main__":
    os.dup2(2, 1)  # C-level prints too
    main(sys.argv[1:])
