"""Stopping a run on Ctrl-C (SIGINT) or SIGTERM: no new request starts, what is in flight
finishes or is abandoned within ``GRACE_SECONDS``, and the caller reports what was done.

For the transport (which refuses to start a request once a stop is requested), the applier and
the concurrent readers (which stop submitting work and stop waiting after the grace period),
and the CLI (which installs the signal handlers around reading and applying, and exits with
128 + the signal number: 130 for SIGINT, 143 for SIGTERM).

A signal is process-wide, so the stop request is too: ``STOP``. The handler only sets it;
everything else happens in ordinary code at points where stopping is safe, never in the
middle of an audit write.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from typing import Any, Final

from reconciler.errors import RunInterrupted

GRACE_SECONDS: Final = 2.0
# How often a waiting thread looks at the stop request: short against the grace period.
POLL_SECONDS: Final = 0.05
SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Whether (and by which signal, since when) the run was asked to stop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._event = threading.Event()
        self.signal_number: int | None = None
        self._since = 0.0

    def request(self, signal_number: int) -> None:
        """Ask the run to stop (the first request counts; later ones change nothing)."""
        if self.signal_number is None:
            self.signal_number = signal_number
            self._since = self._clock()
            self._event.set()

    def reset(self) -> None:
        self._event.clear()
        self.signal_number = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise ``RunInterrupted`` when a stop was requested (before starting a request)."""
        if self.signal_number is not None:
            raise RunInterrupted(self.signal_number)

    def grace_left(self) -> float:
        """Seconds left to wait for work in flight (the full grace before any request)."""
        if self.signal_number is None:
            return GRACE_SECONDS
        return max(0.0, self._since + GRACE_SECONDS - self._clock())

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when a stop is requested meanwhile."""
        self._event.wait(seconds)

    def wait_any(self, futures: Collection[Future[Any]]) -> set[Future[Any]]:
        """The futures of ``futures`` that are done, once at least one is; raises
        ``RunInterrupted`` as soon as a stop is requested (readers abandon what is in flight)."""
        while True:
            self.check()
            done, _ = wait(futures, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            if done:
                return done


STOP: Final = StopRequest()
"""The process's stop request, set by the CLI's signal handlers."""


@contextmanager
def stop_on_signals(
    stop: StopRequest = STOP, *, reading_only: bool = False
) -> Iterator[StopRequest]:
    """While inside, SIGINT and SIGTERM request a stop instead of killing the run at once; a
    second signal exits at once. Outside (e.g. at a confirmation prompt) they act as usual.

    ``reading_only``: nothing inside sends a write, so when the block has not ended
    ``GRACE_SECONDS`` after the stop (a read hanging on a slow server, a thread pool joining
    it), the process leaves with 128 + the signal number rather than wait for the read.
    Only the main thread can install handlers; elsewhere this only resets ``stop``.
    """
    stop.reset()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    watchdog: list[threading.Timer] = []

    def handle(signal_number: int, frame: object) -> None:
        if stop.requested:
            # Asked twice: the person wants out now, in-flight requests or not.
            signal.signal(signal_number, signal.SIG_DFL)
            signal.raise_signal(signal_number)
        stop.request(signal_number)
        if reading_only:
            timer = threading.Timer(GRACE_SECONDS, _leave_reading, (signal_number,))
            timer.daemon = True
            watchdog.append(timer)
            timer.start()

    previous = {number: signal.signal(number, handle) for number in SIGNALS}
    try:
        yield stop
    finally:
        for timer in watchdog:
            timer.cancel()
        for number, handler in previous.items():
            signal.signal(number, handler)


def _leave_reading(signal_number: int) -> None:
    """End a process whose reads did not stop within the grace period (nothing was sent)."""
    message = f"Error: {RunInterrupted(signal_number)}; reads still in flight were abandoned\n"
    try:
        sys.stdout.flush()
        os.write(2, message.encode("utf-8", "replace"))
    finally:
        os._exit(128 + signal_number)
