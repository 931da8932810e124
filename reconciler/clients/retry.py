"""What is retried, how long to wait, and how a server's ``retry_after`` is honoured.

Retries run through ``stamina`` (exponential backoff with jitter, bounded attempts); this module
holds the policy values and the pure decisions, so they can be tested without a network.

Retried, for requests that are safe to repeat (``GET``, read-only ``POST`` list endpoints,
``PATCH``, ``DELETE``, and calls a client marks idempotent, like a get-or-create by id):
429, 500, 502, 503, 504, timeouts and dropped connections. 500 is included although only
502/503/504 are conventionally transient: the vendors' 500 ``INTERNAL_ERROR`` is documented as a
generic failure and repeating an idempotent request cannot do harm.

Retried for every request, even one that is not safe to repeat: 429 (the server refused it
before doing anything) and failures to connect (the request never left).

Failures to connect (refused, unresolvable host, connect timeout) are retried briefly, within
``connect_budget`` seconds from the first attempt (10 s: a flapping network gets a second
chance, a wrong address fails fast with a message naming what to check). A failed TLS
handshake is not retried: a certificate does not change between attempts.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

RATE_LIMITED = 429
RETRYABLE_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})

# The request was never sent: repeating it cannot apply it twice.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently one request is retried.

    ``attempts`` counts the first try. Waits are seconds: the n-th backoff is
    ``min(wait_max, wait_initial * 2**(n-1) + uniform(0, wait_jitter))``. A server's
    ``retry_after`` replaces the backoff, capped at ``max_retry_after``. ``timeout`` bounds the
    whole retry loop of one request (``None``: bounded by ``attempts`` only).

    The defaults survive a server failing one request in five (the chance that ten attempts
    all fail is 1e-7). Tests pass tiny waits so that no test sleeps for real.
    """

    attempts: int = 10
    wait_initial: float = 0.25
    wait_max: float = 10.0
    wait_jitter: float = 0.5
    max_retry_after: float = 60.0
    timeout: float | None = 300.0
    # Failures to connect: no attempt that could end later than ``connect_budget`` seconds
    # after the first one started is made; each connection may take ``connect_timeout``.
    connect_budget: float = 10.0
    connect_timeout: float = 4.0
    connect_wait_max: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts counts the first try: it must be at least 1")
        waits = (self.wait_initial, self.wait_max, self.wait_jitter, self.max_retry_after)
        if min(*waits, self.connect_budget, self.connect_wait_max) < 0:
            raise ValueError("waits must not be negative")
        if self.connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")


def retry_after_seconds(
    headers: Mapping[str, str],
    body: Any,
    *,
    now: Callable[[], float] = time.time,
) -> float | None:
    """The wait a 429 asks for, in seconds, or ``None`` when it names none.

    Some APIs put ``retry_after`` (seconds) in the JSON body; a ``Retry-After`` header (seconds or
    an HTTP date) is honoured too. When both are present the longer one wins.
    """
    candidates: list[float] = []
    if isinstance(body, Mapping):
        from_body = _seconds(body.get("retry_after"))
        if from_body is not None:
            candidates.append(from_body)
    header = headers.get("retry-after")
    if header is not None:
        from_header = _seconds(header.strip())
        if from_header is None:
            from_header = _seconds_until_http_date(header, now())
        if from_header is not None:
            candidates.append(from_header)
    return max(candidates) if candidates else None


def capped_wait(retry_after: float, policy: RetryPolicy) -> float:
    """``retry_after`` limited to ``[0, policy.max_retry_after]``."""
    return min(max(retry_after, 0.0), policy.max_retry_after)


def is_retryable_status(status: int, *, idempotent: bool) -> bool:
    """Whether an answer with ``status`` may be retried for this kind of request."""
    if status == RATE_LIMITED:
        return True
    return idempotent and status in RETRYABLE_STATUSES


def is_retryable_transport_error(exc: httpx.TransportError, *, idempotent: bool) -> bool:
    """Whether a transport failure may be retried for this kind of request."""
    if isinstance(exc, NOT_SENT_ERRORS):
        return True
    # Timeouts, resets and protocol errors after sending: the server may have acted on it.
    return idempotent


def connect_retry_wait(retry_number: int, elapsed: float, policy: RetryPolicy) -> float | None:
    """The wait before connect attempt ``retry_number + 1``, or ``None`` when that attempt
    could end past ``policy.connect_budget`` (``elapsed``: seconds since the first started).

    Waits double from ``wait_initial`` up to ``connect_wait_max``, without jitter: a refused
    connection costs the server nothing, so there is no herd to spread out.
    """
    wait = min(policy.connect_wait_max, policy.wait_initial * 2.0 ** (retry_number - 1))
    if elapsed + wait + policy.connect_timeout > policy.connect_budget:
        return None
    return wait


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None
    return seconds if math.isfinite(seconds) else None


def _seconds_until_http_date(value: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return when.timestamp() - now
