"""What every provider emulator shares: its settings, request statistics, the rate limiter and
the fault injector.

These are plain thread-safe objects: the emulator serves HTTP on a background thread while
tests (or the CLI) read statistics and advance clocks from another.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import ConfigError

Clock = Callable[[], float]
"""Seconds on a monotonic scale; injectable so rate-limit tests never sleep."""


@dataclass(frozen=True, slots=True)
class EmulatorSettings:
    """How an emulator behaves: credentials, limits, and the faults it injects.

    ``rate_limit`` is ``(count, per_seconds)`` for the provider's primary limit, or ``None`` to
    serve without limiting. Rates (``fail_rate``, ``drop_rate``, ``rate_limit_429_rate``) are
    probabilities per API request, drawn from one RNG seeded with ``seed`` so that a test's
    faults repeat exactly. The API key never appears in ``repr``.
    """

    api_key: str = field(repr=False)
    rate_limit: tuple[int, float] | None = None
    retry_after_header: bool = False
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    rate_limit_429_rate: float = 0.0
    # retry_after (seconds) of an injected 429; small so that clients retry quickly.
    injected_retry_after: int = 1
    seed: int | None = None
    omit_fields: frozenset[str] = frozenset()
    clock: Clock = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ConfigError("the emulator needs a non-empty API key")
        for name in ("fail_rate", "drop_rate", "rate_limit_429_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"{name} must be between 0 and 1, got {rate}")
        for name in ("latency_ms", "jitter_ms"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative")
        if self.injected_retry_after < 0:
            raise ConfigError("injected_retry_after must not be negative")
        if self.rate_limit is not None:
            count, per_seconds = self.rate_limit
            if count < 1 or not per_seconds > 0:
                raise ConfigError("rate_limit needs a count >= 1 per a positive number of seconds")


class ManualClock:
    """A clock that moves only when told to: for rate-limit tests without sleeping."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class EmulatorStats:
    """Counts of API requests by ``"METHOD /route/{template}/"`` and responses by status.

    Served at ``GET /_emulator/stats``; requests to ``/_emulator/*`` are not counted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Notified on every request, so tests wait for one instead of polling.
        self._arrived = threading.Condition(self._lock)
        self._requests: Counter[str] = Counter()
        self._responses: Counter[str] = Counter()
        self._dropped = 0

    def record_request(self, route: str) -> None:
        with self._lock:
            self._requests[route] += 1
            self._arrived.notify_all()

    def wait_for_requests(self, route: str, count: int, timeout: float) -> int:
        """Block until ``route`` has had ``count`` requests (or ``timeout`` seconds passed);
        return how many it has had."""
        with self._lock:
            self._arrived.wait_for(lambda: self._requests[route] >= count, timeout)
            return self._requests[route]

    def record_response(self, status: int) -> None:
        with self._lock:
            self._responses[str(status)] += 1

    def record_drop(self) -> None:
        with self._lock:
            self._dropped += 1

    def snapshot(self) -> dict[str, Any]:
        """The JSON document ``/_emulator/stats`` serves."""
        with self._lock:
            return {
                "requests": dict(sorted(self._requests.items())),
                "responses": dict(sorted(self._responses.items())),
                "total_requests": sum(self._requests.values()),
                "dropped_connections": self._dropped,
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._responses.clear()
            self._dropped = 0


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The limiter's answer for one request; ``retry_after`` is whole seconds (>= 1) when denied."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int = 0


class SlidingWindowLimiter:
    """At most ``count`` requests in any ``per_seconds`` window (a sliding log of timestamps).

    Denied requests are not logged, so a client that backs off for ``retry_after`` seconds is
    guaranteed a slot.
    """

    def __init__(self, count: int, per_seconds: float, clock: Clock) -> None:
        self.count = count
        self.per_seconds = per_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._log: deque[float] = deque()

    def acquire(self, *, take: bool = True) -> RateDecision:
        """Whether a request may be served now; it takes a slot only when allowed and ``take``
        (a request refused for another reason, such as an injected 429, is not served)."""
        with self._lock:
            now = self._clock()
            while self._log and self._log[0] <= now - self.per_seconds:
                self._log.popleft()
            if len(self._log) < self.count:
                if take:
                    self._log.append(now)
                return RateDecision(True, self.count, self.count - len(self._log))
            wait = self._log[0] + self.per_seconds - now
            return RateDecision(False, self.count, 0, max(1, math.ceil(wait)))


@dataclass(frozen=True, slots=True)
class FaultDraw:
    """What the fault injector decided for one request."""

    delay_seconds: float
    drop: bool
    fail: bool
    throttle: bool


class FaultInjector:
    """Draws latency and faults for each API request from one seeded RNG.

    Every request consumes the same number of draws whatever the outcome, so a given seed
    yields the same sequence of faults run after run.
    """

    def __init__(self, settings: EmulatorSettings) -> None:
        self._settings = settings
        self._rng = random.Random(settings.seed)
        self._lock = threading.Lock()

    def draw(self) -> FaultDraw:
        s = self._settings
        with self._lock:
            jitter, drop, fail, throttle = (self._rng.random() for _ in range(4))
        return FaultDraw(
            delay_seconds=(s.latency_ms + jitter * s.jitter_ms) / 1000.0,
            drop=drop < s.drop_rate,
            fail=fail < s.fail_rate,
            throttle=throttle < s.rate_limit_429_rate,
        )
