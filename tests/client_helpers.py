"""Retry policies, fault cases and secret-leak probes shared by the provider client tests."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.clients.retry import RetryPolicy
from reconciler.emulator import RunningEmulator
from reconciler.errors import RateLimitedError, ServerError, TransportError

FAST = RetryPolicy(attempts=10, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0)
"""Enough attempts to outlast injected faults, with waits too short to cost time."""
ONCE = RetryPolicy(attempts=1)
GIVE_UP = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.001, wait_jitter=0)

PERSISTENT_FAULTS = pytest.mark.parametrize(
    ("faults", "error_type"),
    [
        ({"fail_rate": 1.0}, ServerError),
        ({"drop_rate": 1.0}, TransportError),
        ({"rate_limit_429_rate": 1.0, "injected_retry_after": 0}, RateLimitedError),
    ],
)
"""Emulator settings under which every attempt fails, with the error each must end in."""


def injected_failures(emulator: RunningEmulator[Any]) -> int:
    """How many requests the emulator answered with a fault (dropped, 429 or 500)."""
    stats = emulator.stats()
    faults = [n for status, n in stats["responses"].items() if status in ("429", "500")]
    return int(stats["dropped_connections"]) + int(sum(faults))


def texts_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Everything logged: the formatted text and each record's attributes."""
    return [caplog.text] + [repr(record.__dict__) for record in caplog.records]
