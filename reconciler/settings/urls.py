"""Which API addresses may be used: checked where ``reconciler.yaml`` is read (so ``validate``
places a bad ``base_url`` at its line and column) and again where a connection is made.

Kept apart from the HTTP client so that checking settings loads no HTTP stack.
"""

from __future__ import annotations

import ipaddress
from typing import Final
from urllib.parse import urlsplit

from reconciler.errors import ConfigError

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine: ``localhost`` or a loopback IP address."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """``url`` without a trailing slash, or ``ConfigError`` when it must not be used.

    ``https://`` anything is fine; plain ``http://`` only to this machine (127.0.0.1,
    localhost, [::1]) because the API key would otherwise cross the network in clear text.
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError as exc:
        raise ConfigError(f"base URL is not a valid URL: {exc}") from None
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "base URL must not carry credentials; put the API key in the environment instead"
        )
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(
            f"base URL must start with https:// (or http:// to a loopback address), "
            f"got {parts.scheme or 'no scheme'!s}://{host or ''}"
        )
    if parts.query or parts.fragment:
        raise ConfigError("base URL must not have a query string or fragment")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"refusing plain http:// to {host}: the API key would travel unencrypted; "
            "use https:// (plain http is only allowed to 127.0.0.1, localhost or [::1])"
        )
    return url.strip().rstrip("/")
