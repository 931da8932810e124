"""Control characters from outside shown as escapes, ordinary text left alone."""

from __future__ import annotations

import pytest

from reconciler.printable import printable, printable_lines


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\tb", "a\\r\\tb"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b"),
        ("a\u2028b\u2029", "a\\u2028b\\u2029"),
        ("\u202eevil\u2066\u200f", "\\u202eevil\\u2066\\u200f"),
    ],
)
def test_control_characters_become_escapes(raw: str, shown: str) -> None:
    """Newlines, ESC, C1 controls, line separators and bidi controls are escaped."""
    assert printable(raw) == shown


def test_ordinary_text_is_unchanged() -> None:
    """Ids, accents, non-Latin scripts, emoji and backslashes read as they are."""
    text = "acme-corp café 日本 🚀 a\\nb \"q\" 'x' [a]"
    assert printable(text) == text


def test_printable_lines_keeps_our_own_newlines() -> None:
    """A multi-line message keeps its lines; controls inside each line are escaped."""
    assert printable_lines("first\nsecond \x1b[31m") == "first\nsecond \\x1b[31m"
