"""Why an API could not be reached, and what to check, in words a newcomer can act on.

httpx reports every failure to connect as ``ConnectError`` or ``ConnectTimeout``; the cause
(refused, unresolvable host, TLS handshake) is in the exception chain or its text. The
transport names the host; this module names the cause and the thing to check.
"""

from __future__ import annotations

import errno
import socket
import ssl

import httpx

CONNECT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout)
"""Failures to open a connection: the request never left."""

_REFUSED_ERRNOS = frozenset({errno.ECONNREFUSED})
_UNRESOLVABLE_TEXTS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "no address associated",
    "getaddrinfo failed",
)


def is_tls_failure(exc: BaseException) -> bool:
    """Whether the TLS handshake failed (a certificate, or TLS spoken to a plain server)."""
    return any(isinstance(cause, ssl.SSLError) for cause in _chain(exc)) or (
        "ssl" in str(exc).lower() and "certificate" in str(exc).lower()
    )


def connect_failure(exc: httpx.TransportError, connect_timeout: float) -> str:
    """``what happened; check ...`` for a failure to connect."""
    if isinstance(exc, httpx.ConnectTimeout):
        return (
            f"no connection within {connect_timeout:g} s; check the network, a firewall or "
            "proxy on the way, and that the address is right"
        )
    if is_tls_failure(exc):
        return (
            f"the TLS handshake failed{_tls_reason(exc)}; check the URL's scheme and host "
            "(an https:// URL to a plain-HTTP server fails this way), the server's "
            "certificate, or a proxy that intercepts TLS"
        )
    if _unresolvable(exc):
        return "the host name does not resolve; check its spelling in the URL, and DNS"
    if _refused(exc):
        return (
            "the connection was refused (nothing listens there); check the URL's host and "
            "port, and that the API or emulator is running"
        )
    return "the connection failed; check the URL, the network, and a proxy on the way"


def _tls_reason(exc: BaseException) -> str:
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError) and cause.verify_message:
            return f" ({cause.verify_message[:200]})"
    return ""


def _refused(exc: BaseException) -> bool:
    for cause in _chain(exc):
        if isinstance(cause, ConnectionRefusedError) or (
            isinstance(cause, OSError) and cause.errno in _REFUSED_ERRNOS
        ):
            return True
    return "connection refused" in str(exc).lower()


def _unresolvable(exc: BaseException) -> bool:
    if any(isinstance(cause, socket.gaierror) for cause in _chain(exc)):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _UNRESOLVABLE_TEXTS)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
