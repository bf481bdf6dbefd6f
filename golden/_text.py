"""Text that reaches a message, a report or a file name shown: on one line, safe to print, cut to fit.

A leaf: it imports nothing of ours, so that every layer (the golden files' store, the wire to the
implementation's process, the renderers) words text the same way without importing another's.
"""

from __future__ import annotations

from typing import Any


def printable(text: str, limit: int | None = None, *, blank: bool = False) -> str:
    """`text` on one line, with nothing in it that could forge a line, colour a terminal or break a report,
    cut to at most `limit` characters (… marks a cut).

    Lone surrogates (a file name that is not UTF-8) are first shown as the bytes they stood for
    (``encodable``); then every character that is not printable (C0 and C1 controls such as newlines and
    ESC, line separators, format characters such as bidi overrides) is escaped as Python writes it
    (``\\n``, ``\\x1b``): a path or a value read from disk is shown as it is. With `blank`, each is a space
    instead: an implementation's text in a report, where escapes would be noise.
    """
    flat: str = encodable(text if limit is None else text[: limit * 4])  # no character becomes shorter
    if not flat.isprintable():
        flat = "".join(c if c.isprintable() else " " if blank else repr(c)[1:-1] for c in flat)
    return flat if limit is None or len(flat) <= limit else flat[: limit - 1] + "…"


def encodable(value: Any) -> Any:
    """`value` (a string, or lists and dicts of them) with every lone surrogate escaped: a file name that
    is not UTF-8 reaches Python as one (``\\udcff`` for the byte 0xff), and no UTF-8 text can hold it, so it
    is shown as ``\\xff``, as the byte it stood for (any other surrogate as ``\\ud800``)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            try:
                return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            except UnicodeEncodeError:
                return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(v) for v in value]
    return value


def short(text: str, limit: int = 200) -> str:
    """`text` as a report shows it: on one line, every character that could forge a line or colour a
    terminal blanked, undecodable bytes escaped, at most `limit` characters (``printable``
    with ``blank``)."""
    return printable(text, limit, blank=True)


def first_line(e: BaseException) -> str:
    """The first line of `e`'s message: empty when it has none, and said so when its ``__str__`` raises."""
    try:
        lines = str(e).strip().splitlines()
    except BaseException:  # an exception whose __str__ raises tells nothing more
        return "(its message could not be read)"
    return lines[0] if lines else ""


def one_line(e: BaseException) -> str:
    """An exception as one line: its type and the first line of its message (``ValueError: bad``)."""
    line = first_line(e)
    return f"{type(e).__name__}: {line}" if line else type(e).__name__
