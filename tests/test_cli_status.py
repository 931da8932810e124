"""What runs show on stderr while they work: progress bars and the waits they sit through."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from reconciler.cli import status
from reconciler.cli.status import LineWaits, LiveWaits, progress_bar, showing_waits, wait_line
from reconciler.clients.pacing import Pacer
from reconciler.clients.waits import WAITS, Wait


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_no_progress_bar_without_a_terminal() -> None:
    """Off a terminal there is no bar to update (and nothing drawn on stderr)."""
    with progress_bar("Reading") as update:
        assert update is None


def test_progress_bar_knows_its_total_from_the_start() -> None:
    """A bar opened with a known total shows 0/3 before the first step, never 0/?."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with showing_waits(console), progress_bar("Applying", 3) as update:
        assert update is not None
        status.refresh()
        assert "0/3" in screen.getvalue()
    assert "0/?" not in screen.getvalue()


def test_live_status_shows_reason_and_time_left_until_the_wait_ends() -> None:
    """On a terminal a wait is a line with its reason and the seconds left, gone once over."""
    clock = FakeClock()
    waits = LiveWaits(clock)
    waits(Wait("rate limited by the API (429); retry 1 is next", 40.0))
    clock.now += 2.5
    assert waits.lines() == ["Waiting: rate limited by the API (429); retry 1 is next; 38 s left"]
    clock.now += 37.5
    assert waits.lines() == []


def test_live_status_is_drawn_through_rich_on_a_terminal() -> None:
    """An announced wait appears in the live display on the terminal."""
    screen = io.StringIO()
    with showing_waits(Console(file=screen, force_terminal=True, width=100)):
        WAITS.announce("pacing requests to 60/min (client-side rate limit)", 30.0)
        status.refresh()
    assert "Waiting: pacing requests to 60/min (client-side rate limit); 30 s left" in (
        screen.getvalue()
    )


def test_one_line_per_wait_without_a_terminal() -> None:
    """Off a terminal each wait is one line as it starts; back-to-back waits of one reason
    (pacing request after request) are one wait; a later one is a new line."""
    clock = FakeClock()
    lines: list[str] = []
    waits = LineWaits(lines.append, clock)
    for _ in range(5):
        waits(Wait("pacing requests to 60/min (client-side rate limit)", 1.05))
        clock.now += 1.1
    waits(Wait("rate limited by the API (429); retry 1 is next", 40.0))
    clock.now += 100
    waits(Wait("pacing requests to 60/min (client-side rate limit)", 1.05))
    assert lines == [
        "Waiting 2 s: pacing requests to 60/min (client-side rate limit)",
        "Waiting 40 s: rate limited by the API (429); retry 1 is next",
        "Waiting 2 s: pacing requests to 60/min (client-side rate limit)",
    ]


def test_pacer_announces_waits_longer_than_a_second(capsys: pytest.CaptureFixture[str]) -> None:
    """A pacer's wait over a second is announced with the limit; shorter ones are not."""
    clock = FakeClock()
    slept: list[float] = []
    pacer = Pacer(1, 2.0, safety_margin=0, clock=clock, sleep=slept.append)
    fast = Pacer(10, 1.0, safety_margin=0, clock=clock, sleep=slept.append)
    with showing_waits():
        pacer.wait()
        pacer.wait()
        fast.wait()
        fast.wait()
    assert slept[0] == 2.0
    assert all(wait <= 1.0 for wait in slept[1:])
    assert capsys.readouterr().err == (
        "Waiting 2 s: pacing requests to 1 per 2 s (client-side rate limit)\n"
    )


def test_wait_line_rounds_up() -> None:
    """A wait with 0.2 s left says 1 s: "0 s left" while still waiting would be wrong."""
    assert wait_line("x", 0.2) == "Waiting: x; 1 s left"


def test_an_answer_awaited_over_a_second_shows_until_it_arrives() -> None:
    """A request in flight shows on a terminal once it has lasted over a second, with the time
    left to its deadline, and goes when the answer is in; off a terminal it prints nothing."""
    clock = FakeClock()
    waits = LiveWaits(clock)
    slow = Wait("the answer of api.respan.ai to POST /api/users/list/", 30.0, in_flight=True)
    waits(slow)
    clock.now += 0.5
    assert waits.lines() == []
    clock.now += 1.0
    assert waits.lines() == [
        "Waiting: the answer of api.respan.ai to POST /api/users/list/; 29 s left"
    ]
    waits.ended(slow)
    assert waits.lines() == []
    lines: list[str] = []
    LineWaits(lines.append, clock)(slow)
    assert lines == []
