"""Bounds on one answer: a total deadline per attempt and a cap on the bytes it may bring.

httpx bounds each socket operation (connect, one read), not a whole response, and decodes
``gzip``/``deflate`` without limit. A hostile or broken server could therefore hold a request
for ever by trickling a byte at a time, or send a small compressed answer that inflates to
gigabytes. Here:

- ``Deadline`` is a watchdog for one attempt: when its time is up it shuts the attempt's
  connection down (learnt from httpx's ``trace`` extension when the connection opens), which
  ends any read in progress at once, whatever phase it is in: TLS handshake, headers or body;
- ``read_body`` streams the raw body, decompresses it itself with a bound on the output of
  every step, and stops as soon as more than ``limit`` bytes (raw or decoded) have arrived.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

ACCEPTED_ENCODINGS: Final = "gzip, deflate"
"""What requests ask for: the encodings ``read_body`` can inflate under a bound."""

_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
# The trace event after which httpx's new connection has a socket.
_CONNECTED: Final = "connection.connect_tcp.complete"


class DeadlineExceeded(Exception):
    """The attempt's time ran out before its answer was complete."""


class AnswerTooLarge(Exception):
    """The answer brought more than the allowed number of bytes."""


class UnreadableEncoding(Exception):
    """The answer's ``Content-Encoding`` was not asked for, or its data is corrupt."""


class _Connection:
    """One TCP connection, by descriptor and by its two addresses.

    The descriptor stays the same when TLS wraps the socket (the plain socket object is then
    detached, hence the number rather than the object); the addresses make sure a descriptor
    number reused by another connection after this one closed is never cut.
    """

    __slots__ = ("_addresses", "_descriptor")

    def __init__(self, sock: socket.socket) -> None:
        self._descriptor = sock.fileno()
        self._addresses = (sock.getsockname(), sock.getpeername())

    def cut(self) -> None:
        """End every read and write on the connection now, from any thread.

        ``shutdown`` (unlike ``close``) wakes a thread blocked in ``recv``. It goes through a
        duplicate of the descriptor, so the TLS object and httpx's socket are left alone; their
        owner still closes them.
        """
        try:
            with socket.socket(fileno=os.dup(self._descriptor)) as duplicate:
                if (duplicate.getsockname(), duplicate.getpeername()) == self._addresses:
                    duplicate.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed, reset, or the number now names something else


class Deadline:
    """Cut one attempt's connection ``seconds`` after ``start()``.

    Pass ``trace`` as the request's ``trace`` extension; call ``finish()`` when the attempt is
    over (in a ``finally``). ``expired`` then says whether the watchdog fired. Each attempt
    uses a fresh connection (the transport keeps none alive), so the connection learnt from
    the trace is this attempt's own.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._connection: _Connection | None = None
        self._finished = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> Deadline:
        self._timer.start()
        return self

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpx's ``trace`` extension: remember the connection when it opens."""
        if event != _CONNECTED:
            return
        stream = info.get("return_value")
        found = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(found, socket.socket):
            return
        try:
            connection = _Connection(found)
        except OSError:
            return  # closed before we saw it: nothing to cut
        with self._lock:
            self._connection = connection
            if self.expired:
                connection.cut()

    def finish(self) -> None:
        with self._lock:
            self._finished = True
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            if self._connection is not None:
                self._connection.cut()


def read_body(headers: Mapping[str, str], raw_chunks: Iterable[bytes], limit: int) -> bytes:
    """The decoded body from ``raw_chunks``; ``AnswerTooLarge`` beyond ``limit`` bytes.

    Both what arrives and what it inflates to count against ``limit``, and inflation is asked
    for at most one byte more than the room left: a compressed answer never takes more than
    ``limit + 1`` bytes of memory once decoded, whatever its ratio.
    """
    inflate = _inflater(headers.get("content-encoding", ""))
    received = 0
    body = bytearray()
    for chunk in itertools.chain(raw_chunks, (b"",)):  # b"": the end, flush what is left
        received += len(chunk)
        if received > limit:
            raise AnswerTooLarge(received)
        body += inflate(chunk, limit + 1 - len(body))
        if len(body) > limit:
            raise AnswerTooLarge(len(body))
    return bytes(body)


Inflate = Callable[[bytes, int], bytes]
"""Decode a raw chunk (``b""``: the end) into at most the given number of bytes."""


def _inflater(content_encoding: str) -> Inflate:
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return lambda chunk, room: chunk
    if encoding in ("gzip", "x-gzip"):
        return _BoundedInflate(_GZIP_WBITS)
    if encoding == "deflate":
        return _BoundedInflate(zlib.MAX_WBITS, raw_fallback=True)
    raise UnreadableEncoding(f"content encoding {encoding[:40]!r} was not asked for")


class _BoundedInflate:
    """zlib inflation that never produces more than it is given room for."""

    def __init__(self, wbits: int, *, raw_fallback: bool = False) -> None:
        self._inflater = zlib.decompressobj(wbits)
        # "deflate" should be zlib-wrapped, but servers often send raw deflate (as browsers
        # and httpx tolerate): switch to raw if the very first bytes are not a zlib header.
        self._raw_fallback = raw_fallback
        self._started = False

    def __call__(self, chunk: bytes, room: int) -> bytes:
        try:
            if not chunk:
                return self._inflater.flush() if self._started else b""
            if not self._started and self._raw_fallback:
                try:
                    return self._drain(chunk, room)
                except zlib.error:
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._drain(chunk, room)
        except zlib.error as exc:
            raise UnreadableEncoding(f"the compressed answer is corrupt ({exc})") from None

    def _drain(self, chunk: bytes, room: int) -> bytes:
        # ``room`` is at least 1 here (a max_length of 0 would mean "no limit").
        decoded = bytearray(self._inflater.decompress(chunk, room))
        self._started = True
        while self._inflater.unconsumed_tail and len(decoded) < room:
            tail = self._inflater.unconsumed_tail
            decoded += self._inflater.decompress(tail, room - len(decoded))
        return bytes(decoded)


_NAME_SHOWN: Final = 60


def too_deep(value: Any, limit: int, id_keys: Sequence[str] = ()) -> str | None:
    """Where decoded JSON ``value`` nests deeper than ``limit``, or ``None`` when it does not.

    The place is a JSON path (``results[3].metadata``) naming the customer it is in when an
    enclosing object has an identifier under one of ``id_keys`` (the provider's, cut to a
    readable length): a whole list page is refused, and the message says which customer to
    look at.
    """
    # Answers are almost always shallow: a walk that only counts levels costs a tenth of one
    # that names every place (a list page of 1,000 customers: 16 ms), so the place is named
    # only once a level past the limit is known to exist.
    if not _reaches(value, limit):
        return None
    stack: list[tuple[Any, int, str, str | None]] = [(value, 0, "", None)]
    while stack:
        node, depth, path, owner = stack.pop()
        if isinstance(node, dict):
            children: Iterable[tuple[str, Any]] = (
                (f"{path}.{key}" if path else str(key), child) for key, child in node.items()
            )
            owner = owner or _identifier(node, id_keys)
        elif isinstance(node, list):
            children = ((f"{path}[{index}]", child) for index, child in enumerate(node))
        else:
            continue
        if depth >= limit:
            where = _shorten(path) or "the top level"
            return f"{where} (customer {owner})" if owner else where
        stack.extend((child, depth + 1, child_path, owner) for child_path, child in children)
    return None


def _reaches(value: Any, limit: int) -> bool:
    """Whether a mapping or list of ``value`` sits ``limit`` or more levels below it."""
    level = [value] if isinstance(value, (dict, list)) else []
    for _ in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return False
    return bool(level)


def _identifier(node: Mapping[str, Any], id_keys: Sequence[str]) -> str | None:
    for name in id_keys:
        identifier = node.get(name)
        if isinstance(identifier, str) and identifier:
            return repr(_shorten(identifier))
    return None


def _shorten(text: str) -> str:
    return text if len(text) <= _NAME_SHOWN else text[: _NAME_SHOWN - 1] + "…"
