"""Text that reaches a message or a report: one cleaner (``golden.files._case.printable``) in two forms, and
one way to put an exception on one line (``golden._text.first_line``)."""

from __future__ import annotations

import pytest

from golden import _text
from golden._text import printable

FORGED = "ok.json\nfake: \x1b[31mred\x85\u2028\u202eevil"


def test_text_from_disk_is_escaped_so_it_shows_what_is_there() -> None:
    assert printable(FORGED) == "ok.json\\nfake: \\x1b[31mred\\x85\\u2028\\u202eevil"
    assert printable("plain: −0.5 → ½") == "plain: −0.5 → ½"  # printable text is left as it is


def test_an_implementation_s_text_is_blanked_so_a_report_has_no_escapes_to_read() -> None:
    assert _text.short(FORGED) == "ok.json fake:  [31mred   evil"
    assert printable(FORGED, blank=True) == _text.short(FORGED)


@pytest.mark.parametrize("blank", [False, True])
def test_no_cleaned_text_can_break_a_line_or_a_terminal(blank: bool) -> None:
    text = "".join(map(chr, range(0x30000)))  # every control, separator, format character and surrogate
    cleaned = printable(text, blank=blank)
    assert cleaned.isprintable()
    assert cleaned.encode("utf-8")  # no lone surrogate is left: every report is UTF-8


def test_a_name_that_is_not_utf8_shows_the_bytes_it_stood_for_in_both_forms() -> None:
    name = b"caf\xe9.json".decode("utf-8", "surrogateescape")
    assert printable(name) == _text.short(name) == "caf\\xe9.json"
    assert printable("\ud800") == "\\ud800"  # a surrogate that stands for no byte


@pytest.mark.parametrize("blank", [False, True])
def test_a_cut_keeps_the_limit_and_says_so_with_one_mark(blank: bool) -> None:
    assert printable("x" * 10, 10, blank=blank) == "x" * 10
    assert printable("x" * 11, 10, blank=blank) == "x" * 9 + "…"
    assert printable("\n" * 100, 10) == "\\n" * 4 + "\\…"  # escapes count as what they show
    assert printable("x" * 5000) == "x" * 5000  # no limit, no cut
    assert _text.short("x" * 5000) == "x" * 199 + "…"  # a report's default limit


class Unreadable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


@pytest.mark.parametrize(
    ("error", "first", "whole"),
    [
        (ValueError("bad value\nsecond line"), "bad value", "ValueError: bad value"),
        (KeyError("w"), "'w'", "KeyError: 'w'"),
        (RuntimeError(), "", "RuntimeError"),
        (RuntimeError("  \n  "), "", "RuntimeError"),
        (Unreadable(), "(its message could not be read)", "Unreadable: (its message could not be read)"),
    ],
)
def test_an_exception_is_its_type_and_the_first_line_of_its_message(
    error: BaseException, first: str, whole: str
) -> None:
    assert _text.first_line(error) == first
    assert _text.one_line(error) == whole
