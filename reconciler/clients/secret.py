"""A wrapper that keeps an API key out of every repr, str, log line and error message."""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Final, final
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

REDACTED: Final = "***"
# Shorter keys (and shorter base64 fragments of a key) would mask ordinary words.
_MIN_MASKED = 4
_MIN_BASE64_FRAGMENT = 8


@final
class Secret:
    """An API key. ``repr()`` and ``str()`` show ``***``; only ``reveal()`` gives the value.

    The transport calls ``reveal()`` in exactly one place: when it installs the
    ``Authorization`` header on an outgoing request.
    """

    __slots__ = ("_echoes", "_needles", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._echoes: re.Pattern[str] | None = None
        self._needles: tuple[bytes, ...] | None = None

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __bool__(self) -> bool:
        return bool(self._value)

    def __copy__(self) -> Secret:
        return self  # immutable: a copy may share it

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self

    def __reduce__(self) -> str:
        # Pickling would write the key to wherever the pickle goes; nothing needs it.
        raise TypeError("a Secret cannot be pickled")

    def reveal(self) -> str:
        """The key itself: only for the ``Authorization`` header."""
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with every echo of the key replaced by ``***``.

        For text that came from elsewhere (an error body that echoes the request, say) and is
        about to end up in a message or a log. A server may echo the key changed: in another
        letter case, percent-, JSON- or HTML-escaped, or base64-encoded (an ``Authorization``
        header logged as bytes); each of those is masked too, in any letter case.
        """
        if len(self._value) < _MIN_MASKED:
            # A key this short would redact ordinary words; there is nothing real to hide.
            return text
        return self._echo_pattern().sub(REDACTED, text)

    def appears_in(self, data: bytes) -> bool:
        """Whether ``data`` (an answer's raw bytes) holds the key, in its own letter case, in a
        form ``redact`` masks.

        Fast enough for every list page: one ``bytes.find`` per literal that each masked form
        must contain (the key's longest run of characters no encoding changes, and its base64
        fragments), and the full pattern only where one of those is found.
        """
        if len(self._value) < _MIN_MASKED:
            return False
        if self._needles is None:
            self._needles = _needles(self._value)
        if self._needles and not any(needle in data for needle in self._needles):
            return False
        return self._echo_pattern().search(data.decode("utf-8", "replace")) is not None

    def _echo_pattern(self) -> re.Pattern[str]:
        if self._echoes is None:
            self._echoes = _echo_pattern(self._value)
        return self._echoes


def _echo_pattern(key: str) -> re.Pattern[str]:
    """One case-insensitive pattern for the key and the encodings a server may echo it in."""
    forms = {
        key,
        quote(key, safe=""),
        quote_plus(key, safe=""),
        json.dumps(key)[1:-1],
        json.dumps(key, ensure_ascii=False)[1:-1],
        json.dumps(key)[1:-1].replace("/", "\\/"),  # JSON encoders that escape slashes
        html.escape(key),
        repr(key.encode("utf-8"))[2:-1],
    }
    forms.update(_base64_fragments(key.encode("utf-8")))
    # Longest first: a longer form must win over a shorter one that is a part of it.
    ordered = sorted(forms, key=len, reverse=True)
    return re.compile("|".join(re.escape(form) for form in ordered), re.IGNORECASE)


def _needles(key: str) -> tuple[bytes, ...]:
    """Literals of which every form in ``_echo_pattern`` holds one, in the same letter case.

    Percent-, JSON- and HTML-escaping leave letters, digits, ``_`` and ``-`` as they are, so the
    longest such run of the key stands in each of those forms; a base64 form holds one of the
    fragments. Empty when the key has no run long enough to look for (every answer is then
    checked with the full pattern).
    """
    runs = re.findall(r"[A-Za-z0-9_-]+", key)
    longest = max(runs, key=len, default="")
    if len(longest) < _MIN_MASKED:
        return ()
    fragments = _base64_fragments(key.encode("utf-8"))
    return (longest.encode("ascii"), *sorted(fragment.encode("ascii") for fragment in fragments))


def _base64_fragments(raw: bytes) -> set[str]:
    """The part of ``base64(prefix + key + suffix)`` that depends only on the key.

    Base64 encodes three bytes at a time, so the key's own characters inside a longer encoded
    text (``base64("Bearer " + key)``) depend on where it starts: one fragment per alignment,
    without the characters shared with the neighbouring bytes.
    """
    fragments = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        # Each character holds 6 bits: keep those made of the key's bits only.
        start = -(-8 * offset // 6)
        stop = 8 * (offset + len(raw)) // 6
        fragment = encoded[start:stop]
        if len(fragment) >= _MIN_BASE64_FRAGMENT:
            fragments.add(fragment)
            fragments.add(fragment.replace("+", "-").replace("/", "_"))
    return fragments


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment (where credentials could hide): what may be
    written down (saved plans, export headers) and compared."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
