"""How a manifest file spells its text (byte order mark, encoding, line ends), kept on rewrite.

The loader reads what PyYAML reads: UTF-8 with or without a byte order mark, and UTF-16 with
one, with ``\\n`` or ``\\r\\n`` line ends. ``export --update`` edits the text with those
removed and writes it back spelled as it found it, so that the file's diff in git is the
lines that changed, not every line (a Windows editor's CRLF) or the first (its BOM).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

# The marks PyYAML recognises, and what it then decodes (anything else is UTF-8).
_MARKS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True, slots=True)
class TextForm:
    """A file's byte order mark (``b""``: none), encoding, and whether every line ends CRLF."""

    mark: bytes = b""
    encoding: str = "utf-8"
    crlf: bool = False

    def encode(self, text: str) -> bytes:
        """``text`` (``\\n`` line ends) as the file spelled it."""
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return self.mark + text.encode(self.encoding)


def read_text(path: Path) -> tuple[str, TextForm]:
    """The text of ``path`` with its mark removed and CRLF made ``\\n``, and how it was spelled.

    Raises ``OSError`` or ``UnicodeDecodeError`` (the loader has read the file already).
    """
    data = path.read_bytes()
    mark, encoding = next(
        ((mark, encoding) for mark, encoding in _MARKS if data.startswith(mark)), (b"", "utf-8")
    )
    text = data[len(mark) :].decode(encoding)
    # Only a file whose every line ends CRLF is written back so; a mixed one gets "\n".
    crlf = "\r\n" in text and text.count("\n") == text.count("\r\n")
    return text.replace("\r\n", "\n"), TextForm(mark, encoding, crlf)
