"""Retry decisions: what is retried for which request, and how retry_after is read."""

import email.utils

import httpx
import pytest

from reconciler.clients.retry import (
    RetryPolicy,
    capped_wait,
    connect_retry_wait,
    is_retryable_status,
    is_retryable_transport_error,
    retry_after_seconds,
)


def test_retry_after_from_the_json_body() -> None:
    """Respan's 429 body names the wait in seconds."""
    body = {"detail": "Rate limit exceeded", "retry_after": 30}
    assert retry_after_seconds({}, body) == 30.0


def test_retry_after_from_the_header_in_seconds_or_as_a_date() -> None:
    """A Retry-After header counts too, as seconds or as an HTTP date."""
    assert retry_after_seconds({"retry-after": "7"}, None) == 7.0
    date = email.utils.formatdate(1_000_030.0, usegmt=True)
    assert retry_after_seconds({"retry-after": date}, None, now=lambda: 1_000_000.0) == 30.0


def test_retry_after_takes_the_longer_of_body_and_header() -> None:
    """When both name a wait, the more patient one wins."""
    assert retry_after_seconds({"retry-after": "2"}, {"retry_after": 5}) == 5.0
    assert retry_after_seconds({"retry-after": "9"}, {"retry_after": 5}) == 9.0


@pytest.mark.parametrize("value", ["soon", None, True, "inf", "nan", [1]])
def test_retry_after_ignores_garbage(value: object) -> None:
    """A retry_after that is not a finite number is ignored (exponential backoff applies)."""
    assert retry_after_seconds({}, {"retry_after": value}) is None
    assert retry_after_seconds({"retry-after": str(value)}, "not a mapping") is None


def test_capped_wait_bounds_the_servers_request() -> None:
    """A server asking for an hour gets the policy's cap; a negative wait becomes zero."""
    policy = RetryPolicy(max_retry_after=60)
    assert capped_wait(3600, policy) == 60
    assert capped_wait(-5, policy) == 0
    assert capped_wait(1.5, policy) == 1.5


def test_statuses_retried_depend_on_idempotency() -> None:
    """5xx are retried only for idempotent requests; 429 always; 4xx never."""
    for status in (500, 502, 503, 504):
        assert is_retryable_status(status, idempotent=True)
        assert not is_retryable_status(status, idempotent=False)
    assert is_retryable_status(429, idempotent=False)
    for status in (400, 401, 404, 409, 422, 501):
        assert not is_retryable_status(status, idempotent=True)


def test_transport_errors_retried_when_safe() -> None:
    """A connect failure is always retried (nothing was sent); a drop only when idempotent."""
    refused = httpx.ConnectError("refused")
    dropped = httpx.RemoteProtocolError("peer closed connection")
    timed_out = httpx.ReadTimeout("slow")
    assert is_retryable_transport_error(refused, idempotent=False)
    assert is_retryable_transport_error(dropped, idempotent=True)
    assert not is_retryable_transport_error(dropped, idempotent=False)
    assert not is_retryable_transport_error(timed_out, idempotent=False)


def test_policy_rejects_nonsense() -> None:
    """Zero attempts or negative waits are refused at construction."""
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(wait_max=-1)


def test_connect_retries_fit_the_connect_budget() -> None:
    """Connect retries wait 0.25 s, doubling to 2 s, and stop when the next attempt could end
    past the budget (10 s with 4 s per connection): a wrong address fails within 10 s."""
    policy = RetryPolicy()
    assert connect_retry_wait(1, 0.0, policy) == 0.25
    assert connect_retry_wait(2, 0.25, policy) == 0.5
    assert connect_retry_wait(5, 1.0, policy) == 2.0
    assert connect_retry_wait(3, 5.0, policy) == 1.0
    assert connect_retry_wait(3, 5.5, policy) is None
    assert connect_retry_wait(1, 4.0, policy) is not None
    elapsed, number = 0.0, 1
    while (wait := connect_retry_wait(number, elapsed, policy)) is not None:
        elapsed += wait + policy.connect_timeout  # each attempt at its slowest
        number += 1
    assert elapsed <= policy.connect_budget
