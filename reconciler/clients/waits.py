"""Waits worth telling a person about: client-side pacing, retry backoff, a server's retry_after.

The transport and its pacers announce each wait here, before sleeping, with its reason and
length; whoever listens (the CLI: a live status on a terminal, one line otherwise) shows it.
Library code prints nothing: with no listener, an announcement costs a lock and a check.
Waits of a second or less are not announced: they pass before anyone could read them.

An answer being awaited (a slow page) is announced too, as ``in_flight`` with its deadline,
when the request starts, and ended when the answer is in: nobody knows yet whether it will be
slow, so a listener shows it only once it has lasted over a second.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

SHOWN_FROM_SECONDS: Final = 1.0
"""Waits longer than this are announced."""


@dataclass(frozen=True, slots=True)
class Wait:
    """One wait about to start: why, and for how many seconds."""

    reason: str
    seconds: float
    # An answer awaited rather than a sleep: ``seconds`` is its deadline, and it may end early.
    in_flight: bool = False


WaitListener = Callable[[Wait], None]
"""Called as a wait starts (and, with ``ended=``, as an in-flight one ends)."""


class WaitAnnouncer:
    """Where waits are announced and listened to (one per process: ``WAITS``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[tuple[WaitListener, WaitListener | None]] = []

    def announce(self, reason: str, seconds: float) -> None:
        """Tell the listeners a wait of ``seconds`` starts now (when it is long enough)."""
        if seconds <= SHOWN_FROM_SECONDS:
            return
        with self._lock:
            listeners = list(self._listeners)
        wait = Wait(reason, seconds)
        for started, _ in listeners:
            started(wait)

    @contextlib.contextmanager
    def awaiting(self, reason: str, deadline: float) -> Iterator[None]:
        """Announce an answer awaited for at most ``deadline`` seconds, ended with the block."""
        with self._lock:
            listeners = list(self._listeners)
        if not listeners:
            yield
            return
        wait = Wait(reason, deadline, in_flight=True)
        for started, _ in listeners:
            started(wait)
        try:
            yield
        finally:
            for _, ended in listeners:
                if ended is not None:
                    ended(wait)

    @contextlib.contextmanager
    def listening(
        self, listener: WaitListener, ended: WaitListener | None = None
    ) -> Iterator[None]:
        """Call ``listener`` with every wait announced inside the block (``ended`` with each
        in-flight one that ends)."""
        entry = (listener, ended)
        with self._lock:
            self._listeners.append(entry)
        try:
            yield
        finally:
            with self._lock:
                self._listeners.remove(entry)


WAITS: Final = WaitAnnouncer()
