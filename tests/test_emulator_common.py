"""Emulator building blocks: settings validation, the limiter, the fault RNG, statistics."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.emulator.common import (
    EmulatorSettings,
    EmulatorStats,
    FaultInjector,
    ManualClock,
    SlidingWindowLimiter,
)
from reconciler.errors import ConfigError


def test_settings_repr_never_shows_the_key() -> None:
    """The API key is not part of the settings' repr."""
    settings = EmulatorSettings(api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(settings)


@pytest.mark.parametrize(
    "overrides",
    [
        {"api_key": ""},
        {"fail_rate": 1.5},
        {"drop_rate": -0.1},
        {"rate_limit_429_rate": 2},
        {"latency_ms": -1},
        {"jitter_ms": -1},
        {"rate_limit": (0, 60.0)},
        {"rate_limit": (5, 0.0)},
        {"injected_retry_after": -1},
    ],
)
def test_settings_reject_nonsense(overrides: dict[str, Any]) -> None:
    """Out-of-range settings raise ConfigError instead of misbehaving later."""
    options: dict[str, Any] = {"api_key": "k", **overrides}
    with pytest.raises(ConfigError):
        EmulatorSettings(**options)


def test_limiter_slides_and_rounds_retry_after_up() -> None:
    """Slots free one by one as old requests leave the window; retry_after is ceil and >= 1."""
    clock = ManualClock(start=0.0)
    limiter = SlidingWindowLimiter(2, 10.0, clock)
    assert limiter.acquire().allowed
    clock.advance(4)
    second = limiter.acquire()
    assert (second.allowed, second.remaining) == (True, 0)
    clock.advance(1.5)
    refused = limiter.acquire()
    assert (refused.allowed, refused.retry_after) == (False, 5)  # 4.5 s rounds up
    clock.advance(4.5)
    assert limiter.acquire().allowed  # the first request left the window
    assert not limiter.acquire().allowed
    clock.advance(3.9999)
    assert limiter.acquire().retry_after == 1


def test_fault_injector_is_seeded_and_bounded() -> None:
    """Same seed, same draws; delays stay within latency + jitter; rates 0 and 1 are exact."""
    halves = EmulatorSettings(api_key="k", fail_rate=0.5, drop_rate=0.5, seed=3)
    first, second = FaultInjector(halves), FaultInjector(halves)
    sequence = [first.draw() for _ in range(20)]
    assert sequence == [second.draw() for _ in range(20)]
    assert len({draw.fail for draw in sequence}) == 2
    settings = EmulatorSettings(
        api_key="k", latency_ms=10, jitter_ms=5, fail_rate=1.0, drop_rate=0.0, seed=3
    )
    injector = FaultInjector(settings)
    for draw in (injector.draw() for _ in range(200)):
        assert 0.010 <= draw.delay_seconds <= 0.015
        assert draw.fail
        assert not draw.drop


def test_stats_snapshot_and_reset() -> None:
    """Stats count requests per route and responses per status, and reset to zero."""
    stats = EmulatorStats()
    stats.record_request("GET /a/")
    stats.record_request("GET /a/")
    stats.record_response(200)
    stats.record_drop()
    assert stats.snapshot() == {
        "requests": {"GET /a/": 2},
        "responses": {"200": 1},
        "total_requests": 2,
        "dropped_connections": 1,
    }
    stats.reset()
    assert stats.snapshot()["total_requests"] == 0
