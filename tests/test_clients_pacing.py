"""Client-side pacing: a sliding window spent in bursts, even spacing after a 429, thread-safe,
with an injected clock."""

import signal
import threading

import pytest

from reconciler.clients.pacing import Pacer, Unpaced
from reconciler.interrupts import StopRequest


class FakeTime:
    """A clock that only moves when a test advances it; the pacer's sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)


def test_burst_of_one_sends_the_first_at_once_then_one_per_interval() -> None:
    """With burst=1 the first request waits nothing; the next ones are spaced by the interval."""
    fake = FakeTime()
    pacer = Pacer(10, 1.0, 1, safety_margin=0, clock=fake.clock, sleep=fake.sleep)
    waits = [pacer.wait() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert fake.sleeps == pytest.approx([0.1, 0.2, 0.3])


def test_interval_includes_the_safety_margin() -> None:
    """The default margin paces a little under the nominal rate (never a request on the edge)."""
    pacer = Pacer(50, 1.0)
    assert pacer.interval == pytest.approx(0.02 * 1.05)
    assert Pacer(60, 60.0, safety_margin=0).interval == pytest.approx(1.0)


def test_idle_time_is_not_banked_into_a_burst() -> None:
    """A long pause does not let the following requests go out back to back."""
    fake = FakeTime()
    pacer = Pacer(2, 1.0, 1, safety_margin=0, clock=fake.clock, sleep=fake.sleep)
    pacer.wait()
    fake.now += 60
    assert pacer.reserve() == 0.0
    assert pacer.reserve() == pytest.approx(0.5)


def test_concurrent_callers_get_distinct_evenly_spaced_slots() -> None:
    """Threads asking at the same instant are given slots exactly one interval apart."""
    fake = FakeTime()
    pacer = Pacer(100, 1.0, 1, safety_margin=0, clock=fake.clock, sleep=fake.sleep)
    delays: list[float] = []
    lock = threading.Lock()

    def ask() -> None:
        delay = pacer.reserve()
        with lock:
            delays.append(delay)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(delays) == pytest.approx([i * 0.01 for i in range(20)])


def test_invalid_paces_are_refused() -> None:
    """A zero or negative rate is a programming error, not a silent 'unlimited'."""
    with pytest.raises(ValueError, match="positive"):
        Pacer(0, 1.0)
    with pytest.raises(ValueError, match="margin"):
        Pacer(1, 1.0, safety_margin=-0.1)
    with pytest.raises(ValueError, match="burst"):
        Pacer(1, 1.0, 0)


def test_unpaced_never_waits() -> None:
    """The null pacer admits everything at once and ignores answers and 429s."""
    unpaced = Unpaced()
    unpaced.done()
    unpaced.rate_limited()
    assert unpaced.wait() == 0.0
    assert "Unpaced" in repr(unpaced)


def send(pacer: Pacer, fake: FakeTime, latency: float = 0.0) -> float:
    """One request through ``pacer``: wait for its slot, take ``latency``, log its answer."""
    delay = pacer.wait()
    fake.now += max(delay, 0.0) + latency
    pacer.done()
    return delay


def test_thirty_requests_go_out_without_waiting_under_burst_sixty() -> None:
    """Under 60/min with the default burst, a 30-request run never waits."""
    fake = FakeTime()
    pacer = Pacer(60, 60.0, clock=fake.clock, sleep=fake.sleep)
    assert pacer.burst == 60
    assert [send(pacer, fake, latency=0.02) for _ in range(30)] == [0.0] * 30
    assert fake.sleeps == []


def test_the_window_count_is_never_exceeded() -> None:
    """The 61st request under 60/min waits until the first one's window (plus margin) passed."""
    fake = FakeTime()
    pacer = Pacer(60, 60.0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(60):
        send(pacer, fake)
    assert pacer.reserve() == pytest.approx(63.0)
    # The next ones queue behind it, each a window after the request it replaces.
    assert pacer.reserve() == pytest.approx(63.0)


def test_the_window_runs_from_the_answer_not_the_send() -> None:
    """A slow answer moves the next window: the server had the request no later than that."""
    fake = FakeTime()
    pacer = Pacer(2, 1.0, safety_margin=0, clock=fake.clock, sleep=fake.sleep)
    pacer.wait()
    pacer.wait()
    fake.now += 0.3  # both answers arrive 0.3 s after they were sent
    pacer.done()
    pacer.done()
    assert pacer.reserve() == pytest.approx(1.0)


def test_a_burst_below_the_count_is_spread_over_the_window() -> None:
    """burst=2 of 4/s: two at once, then the pair's share of the window before the next two."""
    fake = FakeTime()
    pacer = Pacer(4, 1.0, 2, safety_margin=0, clock=fake.clock, sleep=fake.sleep)
    assert [pacer.reserve() for _ in range(4)] == pytest.approx([0.0, 0.0, 0.5, 0.5])
    assert Pacer(4, 1.0, 99).burst == 4


def test_the_first_429_switches_to_even_spacing() -> None:
    """After a 429 the bursts end: one request per interval from the last one sent."""
    fake = FakeTime()
    pacer = Pacer(10, 1.0, safety_margin=0, clock=fake.clock, sleep=fake.sleep)
    assert [send(pacer, fake) for _ in range(3)] == [0.0] * 3
    pacer.rate_limited()
    assert pacer.throttled
    assert "burst=1" in repr(pacer)
    assert pacer.reserve() == pytest.approx(0.1)
    assert pacer.reserve() == pytest.approx(0.2)
    assert pacer.reserve() == pytest.approx(0.3)


def test_a_stopped_wait_returns_at_once() -> None:
    """A pacer wait ends as soon as the run is stopped (Ctrl-C), however long its slot is."""
    stop = StopRequest()
    pacer = Pacer(1, 3600.0, sleep=stop.sleep)
    pacer.wait()
    woke = threading.Event()

    def waiter() -> None:
        pacer.wait()
        woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    stop.request(signal.SIGINT)
    thread.join()
    assert woke.is_set()
