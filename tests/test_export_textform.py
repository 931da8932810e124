"""How a manifest file spells its text: read without mark and CRLF, written back with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.export.textform import TextForm, read_text


@pytest.mark.parametrize(
    "data",
    [
        b"a: 1\nb: 2\n",
        b"\xef\xbb\xbfa: 1\r\nb: 2\r\n",
        b"\xff\xfea\x00:\x00 \x001\x00\n\x00",
        b"\xfe\xff\x00a\x00:\x00 \x001\x00\r\x00\n",
    ],
)
def test_text_round_trips_to_the_same_bytes(tmp_path: Path, data: bytes) -> None:
    """Read and encoded again, a file is byte for byte what it was; its text has "\\n" ends."""
    path = tmp_path / "m.yaml"
    path.write_bytes(data)
    text, form = read_text(path)
    assert "\r" not in text
    assert not text.startswith("\ufeff")
    assert form.encode(text) == data


def test_mixed_line_ends_are_written_back_as_newlines(tmp_path: Path) -> None:
    """Only a file whose every line ends CRLF keeps CRLF; a mixed one is written with "\\n"."""
    path = tmp_path / "m.yaml"
    path.write_bytes(b"a: 1\r\nb: 2\n")
    text, form = read_text(path)
    assert (text, form) == ("a: 1\nb: 2\n", TextForm())
