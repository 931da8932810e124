"""Stop requests: what a signal sets, how long work in flight is waited for, who wakes up."""

from __future__ import annotations

import signal
import threading
from collections.abc import Collection
from concurrent.futures import Future
from concurrent.futures import wait as futures_wait

import pytest

from reconciler import interrupts
from reconciler.errors import RunInterrupted
from reconciler.interrupts import GRACE_SECONDS, POLL_SECONDS, StopRequest, stop_on_signals


@pytest.mark.parametrize(
    ("number", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_a_requested_stop_raises_with_the_shell_exit_code(
    number: int, code: int, name: str
) -> None:
    """check() raises RunInterrupted (exit 128 + signal) once a stop is requested."""
    stop = StopRequest()
    stop.check()
    stop.request(number)
    stop.request(signal.SIGHUP)  # the first signal is the one reported
    with pytest.raises(RunInterrupted, match=f"interrupted by {name}") as caught:
        stop.check()
    assert caught.value.exit_code == code


def test_the_grace_period_runs_from_the_first_request() -> None:
    """Work in flight gets GRACE_SECONDS from the stop, by the injected clock."""
    now = [100.0]
    stop = StopRequest(clock=lambda: now[0])
    assert stop.grace_left() == GRACE_SECONDS
    stop.request(signal.SIGINT)
    now[0] += GRACE_SECONDS / 2
    assert stop.grace_left() == GRACE_SECONDS / 2
    now[0] += GRACE_SECONDS
    assert stop.grace_left() == 0


def test_a_stop_wakes_a_sleeper_and_a_waiter() -> None:
    """A pacer's sleep returns at once after a stop; a reader's wait raises instead of waiting."""
    stop = StopRequest()
    never: Future[None] = Future()
    woke = threading.Event()

    def sleeper() -> None:
        stop.sleep(3600)
        woke.set()

    thread = threading.Thread(target=sleeper)
    thread.start()
    stop.request(signal.SIGINT)
    thread.join()
    assert woke.is_set()
    with pytest.raises(RunInterrupted):
        stop.wait_any({never})


def test_wait_any_returns_what_is_done() -> None:
    """Without a stop, wait_any returns the finished futures."""
    done: Future[int] = Future()
    done.set_result(1)
    assert StopRequest().wait_any({done, Future()}) == {done}


def test_wait_any_polls_again_while_nothing_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    """A poll that finds no future done is followed by another (a stop checked between),
    until one is done."""
    later: Future[int] = Future()
    polls: list[float | None] = []

    def polling(
        futures: Collection[Future[int]], timeout: float | None, return_when: str
    ) -> tuple[set[Future[int]], set[Future[int]]]:
        polls.append(timeout)
        if len(polls) == 2:
            later.set_result(1)
        done, pending = futures_wait(futures, timeout=0, return_when=return_when)
        return done, pending

    monkeypatch.setattr(interrupts, "wait", polling)
    assert StopRequest().wait_any({later}) == {later}
    assert polls == [POLL_SECONDS, POLL_SECONDS]


def test_inside_stop_on_signals_a_signal_requests_a_stop_instead_of_raising() -> None:
    """SIGINT and SIGTERM set the request; outside, the previous handlers are back."""
    before = signal.getsignal(signal.SIGINT)
    stop = StopRequest()
    with stop_on_signals(stop):
        signal.raise_signal(signal.SIGTERM)
        assert stop.signal_number == signal.SIGTERM
    assert signal.getsignal(signal.SIGINT) is before
    with stop_on_signals(stop):
        assert not stop.requested  # each run starts afresh
