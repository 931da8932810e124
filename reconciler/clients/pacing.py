"""Client-side request pacing: spend the documented window, never trip the server's limit.

A provider documents "``count`` requests per ``per_seconds``". The pacer lets up to ``burst``
requests (default: all ``count``) go at once, and never more than ``count`` within any window
of ``per_seconds`` plus a margin, measured on this client's own times: a 30-change pull request
under a 60-per-minute limit goes out at once instead of one per second, while a bulk job is
held to the same long-run rate as before.

Why a server's sliding window never sees too many: a request's time in the window log is its
reserved slot while it is in flight, and the moment its answer arrived once it is done. The
server received it no later than that, so when the next request waits for the window to pass
from that moment, the server's window cannot hold both, whatever the network's jitter. The
margin (5 %) covers clocks and windows measured at a different point of the server.

On the first 429 of a run the pacer stops bursting: the rest of the run is spaced evenly
(``per_seconds / count`` apart, plus the margin). The refused request itself is retried after
the server's ``retry_after`` (``reconciler.clients.retry``), and then waits for its even slot
too. ``burst=1`` asks for that even spacing from the start.

Why not ``pyrate-limiter`` (4.x has sliding-window buckets): its blocking acquire sleeps with
a hard-wired ``time.sleep`` while holding the limiter's lock, so Ctrl-C cannot wake a waiting
request (``reconciler.interrupts`` needs the wait to end at once) and tests cannot replace the
clock's sleep; it advances a waiting item's timestamp by the planned sleep instead of reading
the clock again, so an oversleeping thread is logged "in the past"; it knows the send of an
item but not when its answer came back, which is what makes the guarantee above independent of
jitter; and switching a bucket to even spacing after a 429 would mean replacing it mid-run.
The sliding log below is thirty lines, exact, FIFO and fully injectable.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from reconciler.clients.waits import WAITS
from reconciler.interrupts import STOP

# Windows are measured 5 % longer than documented: 3 s on a one-minute window, 50 ms on a
# one-second one. Requests are never logged earlier than they happened (see above), so this
# only has to absorb a server that measures at a different point than the client does.
DEFAULT_SAFETY_MARGIN = 0.05


class RequestPacer(Protocol):
    """What the transport needs from a pacer."""

    def wait(self) -> float:
        """Block until the caller may send; return the seconds waited."""
        ...

    def done(self) -> None:
        """A request let through by ``wait`` has its answer (or was not sent after all)."""
        ...

    def rate_limited(self) -> None:
        """The server answered 429: space the rest of the run evenly."""
        ...


class Pacer:
    """Thread-safe sliding-window pacer: each ``wait()`` reserves the next free slot and
    sleeps to it.

    A slot is free when fewer than ``count`` logged requests fall within the last
    ``per_seconds * (1 + safety_margin)`` seconds and fewer than ``burst`` within the last
    ``burst`` intervals (``interval = per_seconds / count * (1 + safety_margin)``). Idle time
    is not banked beyond that. Callers are served in the order they asked. ``clock``
    (monotonic seconds) and ``sleep`` are injectable so tests never sleep for real.
    """

    __slots__ = (
        "_burst",
        "_clock",
        "_done",
        "_in_flight",
        "_lock",
        "_sleep",
        "burst",
        "count",
        "interval",
        "per_seconds",
        "throttled",
        "window",
    )

    def __init__(
        self,
        count: int,
        per_seconds: float,
        burst: int | None = None,
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
        if burst is not None and burst < 1:
            raise ValueError("burst must be at least 1")
        self.count = count
        self.per_seconds = per_seconds
        # More than the window's count at once would only be refused by the count rule.
        self.burst = count if burst is None else min(burst, count)
        self.window = per_seconds * (1 + safety_margin)
        self.interval = self.window / count
        self.throttled = False
        self._burst = self.burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # Answer times of finished requests (the last ``count`` are enough), oldest first,
        # and the slots of requests let through and not finished, in the order let through.
        self._done: deque[float] = deque(maxlen=count)
        self._in_flight: deque[float] = deque()

    def __repr__(self) -> str:
        return (
            f"Pacer({self.count}/{self.per_seconds:g}s, burst={self._burst}, "
            f"interval={self.interval:.4f}s)"
        )

    def _limit(self) -> str:
        if self.per_seconds in (1.0, 60.0):
            return f"{self.count}/{'s' if self.per_seconds == 1.0 else 'min'}"
        return f"{self.count} per {self.per_seconds:g} s"

    def reserve(self) -> float:
        """Reserve the next slot and return how many seconds from now it starts (no sleeping).

        Every reservation must be followed by ``done()`` once its request is over.
        """
        with self._lock:
            now = self._clock()
            slot = now
            # The newest ``count`` logged times, newest first.
            recent = heapq.nlargest(self.count, [*self._done, *self._in_flight])
            if len(recent) >= self.count:
                slot = max(slot, recent[self.count - 1] + self.window)
            if len(recent) >= self._burst:
                slot = max(slot, recent[self._burst - 1] + self._burst * self.interval)
            self._in_flight.append(slot)
            return slot - now

    def wait(self) -> float:
        """Block until this caller's slot; return the seconds waited."""
        delay = self.reserve()
        # Sleep outside the lock: later callers reserve later slots meanwhile.
        if delay > 0:
            WAITS.announce(f"pacing requests to {self._limit()} (client-side rate limit)", delay)
            self._sleep(delay)
        return delay

    def done(self) -> None:
        """Log the end of the oldest request in flight at the present time.

        Answers come back in any order; giving the present to the oldest slot keeps the log's
        times sorted and never earlier than any request really was received.
        """
        with self._lock:
            if self._in_flight:
                slot = self._in_flight.popleft()
                self._done.append(max(slot, self._clock()))

    def rate_limited(self) -> None:
        """Space the rest of the run evenly (the first 429 says the window was misjudged)."""
        with self._lock:
            self.throttled = True
            self._burst = 1


class Unpaced:
    """A pacer that never waits (``--rate-limit`` turned off, or an emulator without limits)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Unpaced()"

    def reserve(self) -> float:
        return 0.0

    def wait(self) -> float:
        return 0.0

    def done(self) -> None:
        pass

    def rate_limited(self) -> None:
        pass
