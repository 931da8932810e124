"""Client-side pacing: evenly spaced requests, thread-safe, with an injected clock."""

import threading

import pytest

from reconciler.clients.pacing import Pacer, Unpaced


class FakeTime:
    """A clock that only moves when the pacer sleeps (or a test advances it)."""

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


def test_first_request_goes_at_once_then_one_per_interval() -> None:
    """After idling, the first request waits nothing; the next ones are spaced by the interval."""
    fake = FakeTime()
    pacer = Pacer(10, 1.0, safety_margin=0, clock=fake.clock, sleep=fake.sleep)
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
    pacer = Pacer(2, 1.0, safety_margin=0, clock=fake.clock, sleep=fake.sleep)
    pacer.wait()
    fake.now += 60
    assert pacer.reserve() == 0.0
    assert pacer.reserve() == pytest.approx(0.5)


def test_concurrent_callers_get_distinct_evenly_spaced_slots() -> None:
    """Threads asking at the same instant are given slots exactly one interval apart."""
    fake = FakeTime()
    pacer = Pacer(100, 1.0, safety_margin=0, clock=fake.clock, sleep=fake.sleep)
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


def test_unpaced_never_waits() -> None:
    """The null pacer admits everything at once."""
    assert Unpaced().wait() == 0.0
    assert "Unpaced" in repr(Unpaced())
