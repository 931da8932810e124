"""Waits worth telling a person about: client-side pacing, retry backoff, a server's retry_after.

The transport and its pacers announce each wait here, before sleeping, with its reason and
length; whoever listens (the CLI: a live status on a terminal, one line otherwise) shows it.
Library code prints nothing: with no listener, an announcement costs a lock and a check.
Waits of a second or less are not announced: they pass before anyone could read them.
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


WaitListener = Callable[[Wait], None]


class WaitAnnouncer:
    """Where waits are announced and listened to (one per process: ``WAITS``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[WaitListener] = []

    def announce(self, reason: str, seconds: float) -> None:
        """Tell the listeners a wait of ``seconds`` starts now (when it is long enough)."""
        if seconds <= SHOWN_FROM_SECONDS:
            return
        with self._lock:
            listeners = list(self._listeners)
        wait = Wait(reason, seconds)
        for listener in listeners:
            listener(wait)

    @contextlib.contextmanager
    def listening(self, listener: WaitListener) -> Iterator[None]:
        """Call ``listener`` with every wait announced inside the block."""
        with self._lock:
            self._listeners.append(listener)
        try:
            yield
        finally:
            with self._lock:
                self._listeners.remove(listener)


WAITS: Final = WaitAnnouncer()
