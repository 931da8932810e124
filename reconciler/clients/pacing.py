"""Client-side request pacing: one request every ``interval`` seconds, never a burst.

Used by the HTTP transport so that a run within the provider's documented rate limit receives
no 429 at all. Requests are spaced *evenly* rather than admitted in bursts up to the limit:
a burst at a window edge plus network jitter is exactly what trips a server's sliding window.

Why not ``pyrate-limiter``: its blocking mode (GCRA with ``burst=1`` does space evenly) polls
with a hard-wired ``time.sleep`` that tests cannot replace, advances a waiting item's timestamp
by the planned sleep instead of re-reading the clock (so an oversleeping thread is admitted
"in the past" and the next request can follow it closer than one interval), and wakes waiters
in no particular order. A reservation pacer is a dozen lines, exact, FIFO and fully injectable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from reconciler.interrupts import STOP

# Pace slightly below the nominal limit: N evenly spaced requests per window put the (N+1)th
# exactly on the window edge, where any jitter in arrival times makes a sliding window count
# N+1. Five percent leaves 50 ms of slack per one-second window (3 s per minute) and still
# sends 500 requests at 50/s in 10.5 s.
DEFAULT_SAFETY_MARGIN = 0.05


class RequestPacer(Protocol):
    """What the transport needs from a pacer: block until the next request may go."""

    def wait(self) -> float:
        """Block until the caller may send; return the seconds waited."""
        ...


class Pacer:
    """Thread-safe interval pacer: each ``wait()`` reserves the next free slot and sleeps to it.

    Slots are ``interval = per_seconds / count * (1 + safety_margin)`` apart. The first request
    after an idle period goes at once; callers are served in the order they asked. ``clock``
    (monotonic seconds) and ``sleep`` are injectable so tests never sleep for real.
    """

    __slots__ = ("_clock", "_lock", "_next_slot", "_sleep", "count", "interval", "per_seconds")

    def __init__(
        self,
        count: int,
        per_seconds: float,
        *,
        safety_margin: float = DEFAULT_SAFETY_MARGIN,
        clock: Callable[[], float] = time.monotonic,
        # Wakes early when the run is stopped (Ctrl-C): the transport then sends nothing.
        sleep: Callable[[float], None] = STOP.sleep,
    ) -> None:
        if count <= 0 or per_seconds <= 0:
            raise ValueError("a pace needs a positive count and period")
        if safety_margin < 0:
            raise ValueError("safety_margin must not be negative")
        self.count = count
        self.per_seconds = per_seconds
        self.interval = per_seconds / count * (1 + safety_margin)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot: float | None = None

    def __repr__(self) -> str:
        return f"Pacer({self.count}/{self.per_seconds:g}s, interval={self.interval:.4f}s)"

    def reserve(self) -> float:
        """Reserve the next slot and return how many seconds from now it starts (no sleeping)."""
        with self._lock:
            now = self._clock()
            slot = now if self._next_slot is None else max(self._next_slot, now)
            self._next_slot = slot + self.interval
            return slot - now

    def wait(self) -> float:
        """Block until this caller's slot; return the seconds waited."""
        delay = self.reserve()
        # Sleep outside the lock: later callers reserve later slots meanwhile.
        if delay > 0:
            self._sleep(delay)
        return delay


class Unpaced:
    """A pacer that never waits (``--rate-limit`` turned off, or an emulator without limits)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Unpaced()"

    def reserve(self) -> float:
        return 0.0

    def wait(self) -> float:
        return 0.0
