"""Text from outside (live ids and values, server messages, manifest strings) made safe to show.

A live customer id is whatever the API says it is. Printed raw, a newline in it starts a line
that looks like reconciler's own (``Plan: 0 to delete``), an ESC recolours or clears the
terminal, and a bidirectional override makes ``evil`` read as ``live``. Every output a person
reads (text and Markdown plans, apply reports, GitHub annotations, error messages) shows such
characters as escapes instead: ``\\n``, ``\\x1b``, ``\\u202e``. Only characters that are never
legitimate in one line of output are escaped, so ordinary ids and non-Latin text read as is.
"""

from __future__ import annotations

import re
from typing import Final

# C0 and C1 controls and DEL; line and paragraph separators; bidirectional embeddings,
# overrides, isolates and marks (what "Trojan Source" uses to reorder what people read).
_UNSAFE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with every control character shown as a backslash escape (one line, inert)."""
    return _UNSAFE.sub(_escape, text)


def printable_lines(text: str) -> str:
    """Like ``printable``, but the newlines of a multi-line message of our own are kept."""
    return "\n".join(printable(line) for line in text.split("\n"))


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
