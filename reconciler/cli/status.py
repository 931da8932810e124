"""What a run shows on stderr while it works: progress bars and the waits it sits through.

On a terminal, one rich ``Progress`` display holds both: the bars a command asks for and, above
them, one line per wait in progress ("Waiting: rate limited by the API (429)...; 37 s left"),
updated live and gone when the wait is over; an answer awaited for over a second shows the
same way, counting down to its deadline. Without a terminal, each wait is one line, printed
as it starts; back-to-back waits of the same reason (pacing request after request) are one wait.

Why rich: already the progress library of the project; its ``Progress.get_renderables`` is the
documented way to add lines to a progress display, which keeps one live display per run.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Final

import click

from reconciler.cli import common
from reconciler.cli.common import ProgressUpdate
from reconciler.clients.waits import SHOWN_FROM_SECONDS, WAITS, Wait

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

Clock = Callable[[], float]

CONTINUATION_SECONDS: Final = 1.0
"""A wait starting this soon after the last one of the same reason ended continues it."""


def wait_line(reason: str, seconds_left: float) -> str:
    """``Waiting: REASON; N s left`` (rounded up: "0 s left" would be a lie)."""
    return f"Waiting: {reason}; {max(math.ceil(seconds_left), 0)} s left"


class LineWaits:
    """A wait listener for stderr without a terminal: one line when a wait starts."""

    def __init__(self, echo: Callable[[str], None], clock: Clock = time.monotonic) -> None:
        self._echo = echo
        self._clock = clock
        self._lock = threading.Lock()
        self._ends: dict[str, float] = {}

    def __call__(self, wait: Wait) -> None:
        if wait.in_flight:
            return  # may end at once; a slow answer is a live status only
        now = self._clock()
        with self._lock:
            previous = self._ends.get(wait.reason)
            self._ends[wait.reason] = max(previous or now, now + wait.seconds)
            continued = previous is not None and now <= previous + CONTINUATION_SECONDS
        if not continued:
            self._echo(f"Waiting {math.ceil(wait.seconds)} s: {wait.reason}")


class LiveWaits:
    """A wait listener for a terminal: the waits in progress, for a live display to draw."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ends: dict[str, float] = {}
        # Answers awaited: (started, deadline) by wait; shown once older than a second.
        self._in_flight: dict[int, tuple[Wait, float, float]] = {}

    def __call__(self, wait: Wait) -> None:
        now = self._clock()
        end = now + wait.seconds
        with self._lock:
            if wait.in_flight:
                self._in_flight[id(wait)] = (wait, now, end)
            else:
                self._ends[wait.reason] = max(self._ends.get(wait.reason, end), end)

    def ended(self, wait: Wait) -> None:
        """An awaited answer arrived (or the request failed)."""
        with self._lock:
            self._in_flight.pop(id(wait), None)

    def lines(self) -> list[str]:
        """One line per wait still in progress, the ones that ended dropped."""
        now = self._clock()
        with self._lock:
            for reason in [r for r, end in self._ends.items() if end <= now]:
                del self._ends[reason]
            lines = [wait_line(reason, end - now) for reason, end in self._ends.items()]
            lines.extend(
                wait_line(wait.reason, end - now)
                for wait, started, end in self._in_flight.values()
                if now - started > SHOWN_FROM_SECONDS
            )
            return lines


_current: _Display | None = None


class _Display:
    """One live display on stderr: wait lines above the progress bars (rich)."""

    def __init__(self, console: Console | None = None) -> None:
        from rich import progress as bars
        from rich.console import Console
        from rich.text import Text

        waits = self.waits = LiveWaits()

        class WaitsAndBars(bars.Progress):
            def get_renderables(self) -> Iterable[RenderableType]:
                for line in waits.lines():
                    yield Text(line, style="yellow")
                if self.tasks:
                    yield self.make_tasks_table(self.tasks)

        self.progress = WaitsAndBars(
            bars.TextColumn("{task.description}"),
            bars.BarColumn(),
            bars.MofNCompleteColumn(),
            bars.TimeRemainingColumn(),
            console=console or Console(stderr=True, force_terminal=True),
            transient=True,
            # Output printed meanwhile goes above the display, never through it (a prompt).
            redirect_stdout=False,
            redirect_stderr=False,
        )

    @contextlib.contextmanager
    def bar(self, label: str, total: int | None) -> Iterator[ProgressUpdate]:
        task = self.progress.add_task(label, total=total)

        def update(done: int, new_total: int | None) -> None:
            self.progress.update(task, completed=done, total=new_total)

        try:
            yield update
        finally:
            self.progress.remove_task(task)


@contextlib.contextmanager
def showing_waits(console: Console | None = None) -> Iterator[None]:
    """Show the waits announced inside the block: live on a terminal (or ``console``), else
    one line each on stderr. Progress bars opened inside share the live display."""
    global _current
    if console is None and not common.stderr_is_terminal():
        with WAITS.listening(LineWaits(lambda line: click.echo(line, err=True))):
            yield
        return
    if _current is not None:  # already shown by an enclosing block
        yield
        return
    display = _Display(console)
    with display.progress, WAITS.listening(display.waits, display.waits.ended):
        _current = display
        try:
            yield
        finally:
            _current = None


@contextlib.contextmanager
def progress_bar(label: str, total: int | None = None) -> Iterator[ProgressUpdate | None]:
    """A transient progress bar on stderr when it is a terminal; ``None`` otherwise.

    ``total``: the number of steps when known at the start (else set by the updates)."""
    if _current is not None:
        with _current.bar(label, total) as update:
            yield update
        return
    if not common.stderr_is_terminal():
        yield None
        return
    with showing_waits():
        assert _current is not None
        with _current.bar(label, total) as update:
            yield update


def refresh() -> None:
    """Draw the live display now, if one is shown (rich otherwise draws ten times a second)."""
    if _current is not None:
        _current.progress.refresh()
