"""The wire between the validating process and the implementation's child process: framed JSON, data only.

A message is a 4-byte big-endian length and that many bytes of UTF-8 JSON. The parent sends requests (a
list of calls to make on the implementation); the child answers with the values those calls returned,
encoded as data. Nothing that crosses the wire is code: the parent parses the child's bytes with
``json.loads`` under a size cap and a deadline, then checks every node (``decode``), so a child that
sends crafted bytes, a partial message or a gigabyte gets an error naming what it sent, never control.

Values, as the child encodes them and the parent reads them::

    {"t": "none"}                                   None
    {"t": "num", "dtype": "float32", "v": 1.5}      a Python, numpy or 0-d tensor number
    {"t": "arr", "dtype": "float32", "shape": [2], "v": [1.5, 2.0]}   an array or tensor, C order
    {"t": "arr", "dtype": "float32", "shape": [40], "f64": "AAAA…"}   the same, of more than 16 floats:
                                                    its values as float64, little-endian bytes, base64
    {"t": "list", "v": [1.5, 2]}                    a list of Python numbers
    {"t": "seq", "v": [value, ...]}                 a tuple, or a list of anything else
    {"t": "other", "type": "str", "repr": "'1.0'"}  anything else: not a number, reported as such

Floats travel as their shortest repr, or as float64 bytes (which hold every float16, bfloat16 and float32
value), so every value arrives exactly; NaN and infinity travel as the tokens NaN and Infinity (or as
their bytes) and are reported as errors.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import select
import struct
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from golden._text import short

MAX_MESSAGE = 4 * 1024 * 1024  # bytes; a neuron's answers on the golden cases take a few hundred
MAX_DEPTH = 4  # nesting of seq values
HEADER = struct.Struct(">I")
FLOAT_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64"})  # each one a float64 holds exactly
BYTES_FROM = 16  # an array of more floats than this goes as bytes: a tall forward, a wide gradient
F8 = np.dtype("<f8")  # the wire's arrays: little-endian float64
# Made once: json.dumps and json.loads given options build an encoder or decoder per call. Our messages
# hold no cycles (lists, dicts, numbers and strings built here, or parsed from JSON), so none is looked for.
_ENCODER = json.JSONEncoder(allow_nan=True, separators=(",", ":"), check_circular=False)
REAL_DTYPES = frozenset(
    {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64"}
    | {"uint8", "uint16", "uint32", "uint64"}
)


class WireError(Exception):
    """The other side broke the protocol, went silent past the deadline, or ended."""


class Silent(WireError):
    """No complete message arrived before the deadline."""


class Closed(WireError):
    """The other side closed its end: the process ended."""


# -- framing ---------------------------------------------------------------------------------------


def dumps(message: Any) -> bytes:
    """A message as the wire's JSON: UTF-8, no spaces."""
    return _ENCODER.encode(message).encode("utf-8")


def send(fd: int, message: Any, deadline: float | None = None) -> None:
    """Write one framed JSON message to `fd`; with a `deadline` (for a non-blocking fd), Silent when the
    other side stops reading before all of it is written."""
    send_body(fd, dumps(message), deadline)


def send_body(fd: int, data: bytes, deadline: float | None = None) -> None:
    """Write one framed message of bytes made by ``dumps`` (or of several of them, joined as JSON)."""
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            if not _ready(fd, select.POLLOUT, deadline):
                raise Silent(f"the other side stopped reading ({len(view):,} bytes unsent)") from None


def _ready(fd: int, event: int, deadline: float | None) -> bool:
    """Wait until `fd` is ready for `event` (poll, so any fd number works), or the deadline passes."""
    poller = select.poll()
    poller.register(fd, event | select.POLLHUP | select.POLLERR)
    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    return bool(poller.poll(None if left is None else left * 1000)) if left != 0.0 else False


class Reader:
    """Reads framed messages from one fd, keeping what arrived beyond the current message for the next."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()

    def receive(self, deadline: float | None = None, limit: int = MAX_MESSAGE) -> Any:
        """Read one message before `deadline` (time.monotonic) and parse it as data.

        Raises Silent when the deadline passes first (a partial message included), Closed at end of
        file, and WireError for a length over `limit` or bytes that are not JSON.
        """
        return parse(self.receive_body(deadline, limit))

    def receive_body(self, deadline: float | None = None, limit: int = MAX_MESSAGE) -> bytes:
        """Read one message's bytes, unparsed (``parse`` reads them), as ``receive`` does."""
        self._fill(HEADER.size, deadline)
        (length,) = HEADER.unpack_from(self._buffer)
        if length > limit:
            raise WireError(f"sent a message of {length:,} bytes; the limit is {limit:,}")
        self._fill(HEADER.size + length, deadline)
        body = bytes(self._buffer[HEADER.size : HEADER.size + length])
        del self._buffer[: HEADER.size + length]
        return body

    def _fill(self, size: int, deadline: float | None) -> None:
        while len(self._buffer) < size:
            if deadline is not None and not _ready(self.fd, select.POLLIN, deadline):
                got = len(self._buffer)
                raise Silent(f"no complete message within the deadline ({got} of {size} bytes came)")
            chunk = os.read(self.fd, max(size - len(self._buffer), 1 << 16))
            if not chunk:
                raise Closed("the process ended")
            self._buffer += chunk


def parse(body: bytes) -> Any:
    """A message's bytes as data; WireError for bytes that are not JSON."""
    try:
        return _DECODER.decode(body.decode("utf-8"))
    except RecursionError:
        raise WireError("sent JSON nested too deeply") from None
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise WireError(f"sent bytes that are not JSON: {short(str(e))}") from None


def _constant(token: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[token]


_DECODER = json.JSONDecoder(parse_constant=_constant)


# -- values: the child encodes -----------------------------------------------------------------------


def encode(value: Any, depth: int = 0) -> dict[str, Any]:
    """The wire form of a value an implementation returned (runs in the child)."""
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return _other(value)
    if isinstance(value, int | float):
        return {"t": "num", "dtype": "int" if isinstance(value, int) else "float64", "v": value}
    if isinstance(value, list | tuple):
        plain = all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
        if plain and isinstance(value, list):  # a tuple stays a sequence: gradient's (dJ_dw, dJ_db)
            return {"t": "list", "v": [x if isinstance(x, float) else int(x) for x in value]}
        if depth >= MAX_DEPTH:
            return _other(value)
        return {"t": "seq", "v": [encode(x, depth + 1) for x in value]}
    array, dtype = _as_numpy(value)
    if array is None or dtype not in REAL_DTYPES:
        return _other(value, dtype)
    if array.size * 24 > MAX_MESSAGE:
        return _other(value, dtype, f"an array of {array.size:,} numbers, too large to send")
    data = array.astype(np.float64) if dtype in ("bfloat16", "float16") else array
    if array.ndim == 0:
        return {"t": "num", "dtype": dtype, "v": data.item()}
    if array.size > BYTES_FROM and dtype in FLOAT_DTYPES:  # widened to float64 exactly, sent as bytes
        return {"t": "arr", "dtype": dtype, "shape": list(array.shape), "f64": to_f64(data)}
    return {"t": "arr", "dtype": dtype, "shape": list(array.shape), "v": data.ravel().tolist()}


def _as_numpy(value: Any) -> tuple[NDArray[Any] | None, str]:
    """A numpy view of an array-like result (numpy, torch, JAX, ml_dtypes) and its dtype's name."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        tensor = value.detach().cpu()
        name = str(tensor.dtype).removeprefix("torch.")
        if name in ("bfloat16", "float16"):  # no numpy view of bfloat16: widen, exactly
            tensor = tensor.float()
        return (tensor.numpy() if name in REAL_DTYPES else None), name
    if isinstance(value, np.ndarray | np.generic) or hasattr(value, "__array__"):
        array = np.asarray(value)
        if array.dtype not in _NAMES:
            _NAMES[array.dtype] = array.dtype.name
        return array, _NAMES[array.dtype]
    return None, type(value).__name__


_NAMES: dict[Any, str] = {}  # dtype -> its name, which numpy works out anew each time it is asked


def _other(value: Any, dtype: str | None = None, why: str | None = None) -> dict[str, Any]:
    kind = type(value).__name__ + (f" of {dtype}" if dtype and dtype != type(value).__name__ else "")
    try:
        text = why or repr(value)
    except BaseException:  # a __repr__ that raises tells nothing more
        text = "(its repr raised)"
    return {"t": "other", "type": short(kind, 80), "repr": short(text)}


# -- values: the parent decodes --------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A value the implementation returned, read as data: numbers as exact float64, or why not."""

    array: NDArray[np.float64] | None  # the numbers, exactly, widened to float64
    dtype: str | None  # what they were computed in: float32, bfloat16 … ("float64" for Python floats)
    items: tuple[Value, ...] | None = None  # a sequence that is not plain numbers (a gradient's pair)
    description: str = ""  # for a value that is not numbers: "a str '1.0'"

    @property
    def is_none(self) -> bool:
        """The method returned None."""
        return self.description == "None"


def decode(node: Any, depth: int = 0) -> Value:
    """Check and read one value node the child sent; WireError for anything malformed."""
    if not isinstance(node, dict) or not isinstance(node.get("t"), str):
        raise WireError(f"sent a value that is not a tagged object: {short(repr(node))}")
    tag = node["t"]
    if tag == "none":
        return Value(None, None, description="None")
    if tag == "num":
        v = _number(node.get("v"))
        dtype = _dtype(node.get("dtype"), extra=("int",))
        return Value(_held(np.array(v, dtype=np.float64), dtype), "int64" if dtype == "int" else dtype)
    if tag == "list":
        values = node.get("v")
        if not isinstance(values, list):
            raise WireError("sent a list value without a list")
        numbers = _numbers(values)
        ints = all(isinstance(x, int) for x in numbers) and numbers
        return Value(np.array(numbers, dtype=np.float64), "int64" if ints else "float64")
    if tag == "arr":
        dtype = _dtype(node.get("dtype"))
        shape, values = node.get("shape"), node.get("v")
        if not isinstance(shape, list) or not all(type(s) is int and 0 <= s <= MAX_MESSAGE for s in shape):
            raise WireError(f"sent an array with shape {short(repr(shape))}")
        if math.prod(s for s in shape if s) > MAX_MESSAGE:  # no message holds it, even with a 0 among them
            raise WireError(f"sent an array with shape {short(repr(shape))}")
        if len(shape) > 8:
            raise WireError("sent an array whose data does not fill its shape")
        if "f64" in node and dtype in FLOAT_DTYPES:
            return Value(_held(from_f64(node["f64"], shape), dtype), dtype)
        if not isinstance(values, list) or len(values) != math.prod(shape):
            raise WireError("sent an array whose data does not fill its shape")
        return Value(_held(np.array(_numbers(values), dtype=np.float64).reshape(shape), dtype), dtype)
    if tag == "seq":
        items = node.get("v")
        if not isinstance(items, list) or depth >= MAX_DEPTH:
            raise WireError("sent a malformed sequence")
        return Value(None, None, tuple(decode(x, depth + 1) for x in items), f"a sequence of {len(items)}")
    if tag == "other":
        kind, text = node.get("type"), node.get("repr")
        if not isinstance(kind, str) or not isinstance(text, str):
            raise WireError("sent a malformed description")
        return Value(None, None, description=f"a {short(kind, 80)} {short(text, 80)}")
    raise WireError(f"sent a value tagged {short(repr(tag), 40)}")


def to_f64(values: Any) -> str:
    """An array's values as float64, little-endian, C order (whatever its strides), in base64: how arrays
    go on the wire both ways (``from_f64`` reads them)."""
    return binascii.b2a_base64(np.asarray(values, dtype=F8).tobytes(), newline=False).decode("ascii")


def from_f64(text: Any, shape: list[int]) -> NDArray[np.float64]:
    """A fresh float64 array of `shape` from ``to_f64``'s text, checked to be base64 that fills it exactly;
    WireError if not."""
    if not isinstance(text, str):
        raise WireError("sent an array whose data does not fill its shape")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        raise WireError("sent an array whose bytes are not base64") from None
    if len(raw) != 8 * math.prod(shape):
        raise WireError("sent an array whose data does not fill its shape")
    return np.frombuffer(raw, dtype="<f8").astype(np.float64).reshape(shape)


def _held(values: NDArray[np.float64], dtype: str) -> NDArray[np.float64]:
    """`values`, after checking each is a number of `dtype` (the precision is judged by the dtype sent)."""
    if dtype == "float64":  # every float64 is one
        return values
    finite = values[np.isfinite(values)]
    if dtype in ("float32", "float16", "bfloat16"):
        narrow = finite.astype(np.float16 if dtype == "float16" else np.float32)
        held = narrow.astype(np.float64) == finite
        if dtype == "bfloat16":
            held &= (narrow.view(np.uint32) & 0xFFFF) == 0
    else:
        held = finite == np.round(finite)
    if not held.all():
        raise WireError(
            f"sent {dtype} numbers that {dtype} cannot hold ({short(repr(finite[~held][0]), 40)})"
        )
    return values


def _numbers(values: list[Any]) -> list[float | int]:
    """`values`, each checked as ``_number`` does (all floats, the usual case, at once)."""
    if all(type(x) is float for x in values):
        return values
    return [_number(x) for x in values]


def _number(x: Any) -> float | int:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise WireError(f"sent {short(repr(x), 40)} where a number belongs")
    if isinstance(x, int) and abs(x) > 2**64:
        raise WireError("sent an integer beyond 64 bits")
    return x


def _dtype(name: Any, extra: tuple[str, ...] = ()) -> str:
    if not isinstance(name, str) or (name not in REAL_DTYPES and name not in extra):
        raise WireError(f"sent a number of dtype {short(repr(name), 40)}")
    return str(name)


# -- text that reaches a report ------------------------------------------------------------------------
