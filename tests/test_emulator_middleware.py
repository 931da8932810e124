"""Rate limiting, injected faults and dropped connections, seen by a real HTTP client."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.emulator import EmulatorSettings, ManualClock, RunningEmulator
from reconciler.emulator.middleware import ONE_BUCKET, ProviderDialect, route_template
from reconciler.providers.respan.emulator import RespanState

Factory = Callable[..., RunningEmulator[RespanState]]


def client(emu: RunningEmulator[Any]) -> httpx.Client:
    return emu.client()


def test_rate_limit_is_a_sliding_window_with_retry_after(respan_emulator: Factory) -> None:
    """Past the limit a 429 says how long until a slot frees; the slot frees exactly then."""
    clock = ManualClock()
    emu = respan_emulator(rate_limit=(3, 60.0), clock=clock)
    with client(emu) as api:
        statuses = [api.get("/api/users/list/").status_code for _ in range(3)]
        clock.advance(20)
        refused = api.get("/api/users/list/")
        clock.advance(39.5)
        still_refused = api.get("/api/users/list/")
        clock.advance(0.5)
        allowed = api.get("/api/users/list/")
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json() == {"detail": "Rate limit exceeded", "retry_after": 40}
    assert "retry-after" not in refused.headers
    assert still_refused.json()["retry_after"] == 1
    assert allowed.status_code == 200


def test_retry_after_header_when_asked(respan_emulator: Factory) -> None:
    """With retry_after_header the 429 also carries a Retry-After header."""
    emu = respan_emulator(rate_limit=(1, 60.0), clock=ManualClock(), retry_after_header=True)
    with client(emu) as api:
        api.get("/api/users/list/")
        refused = api.get("/api/users/list/")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"


def test_limit_is_shared_by_all_routes_and_skips_unauthenticated(
    respan_emulator: Factory,
) -> None:
    """Every authenticated call shares one organization limit; 401s and /_emulator/ don't count."""
    emu = respan_emulator(rate_limit=(2, 60.0), clock=ManualClock())
    with emu.client(key="") as anonymous:
        assert anonymous.get("/api/users/list/").status_code == 401
        assert anonymous.get("/_emulator/stats").status_code == 200
    with client(emu) as api:
        first = api.get("/api/users/list/").status_code
        second = api.get("/api/credit-transactions/list/").status_code
        third = api.get("/api/users/someone/").status_code
    assert [first, second, third] == [200, 200, 429]


def test_injected_429s(respan_emulator: Factory) -> None:
    """rate_limit_429_rate=1 answers every API call with the provider's 429 body."""
    emu = respan_emulator(rate_limit_429_rate=1.0, injected_retry_after=2)
    with client(emu) as api:
        response = api.get("/api/users/list/")
    assert response.status_code == 429
    assert response.json() == {"detail": "Rate limit exceeded", "retry_after": 2}


def test_injected_429s_take_no_rate_limit_slot(respan_emulator: Factory) -> None:
    """An injected 429 is a refused request: it leaves the limiter's slots to the requests
    that are served, as the limiter's own 429s do."""
    # Fault seed 6 throttles the first of three requests at rate 0.5, not the other two.
    emu = respan_emulator(
        rate_limit=(2, 60.0), clock=ManualClock(), rate_limit_429_rate=0.5, fault_seed=6
    )
    with client(emu) as api:
        answers = [api.get("/api/users/list/") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [429, 200, 200]
    assert answers[0].json()["retry_after"] == 1  # the injected one


def test_injected_500s(respan_emulator: Factory) -> None:
    """fail_rate=1 answers every API call with the documented 500 body."""
    emu = respan_emulator(fail_rate=1.0)
    with client(emu) as api:
        response = api.patch("/api/users/x/", json={"name": "n"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error", "error_code": "INTERNAL_ERROR"}
    assert emu.stats()["responses"] == {"500": 1}


def test_dropped_connections_get_no_response(respan_emulator: Factory) -> None:
    """drop_rate=1 closes each API connection before a complete answer; control routes answer."""
    emu = respan_emulator(seed={"customers": [{"customer_identifier": "x"}]}, drop_rate=1.0)
    with client(emu) as api:
        for _ in range(3):
            with pytest.raises(httpx.RemoteProtocolError):
                api.patch("/api/users/x/", json={"name": "changed"})
        stats = api.get("/_emulator/stats").json()
    assert stats["dropped_connections"] == 3
    assert stats["requests"] == {"PATCH /api/users/{customer_identifier}/": 3}
    assert stats["responses"] == {}
    assert emu.state.customers[("prod", "x")]["name"] is None  # the dropped request did nothing


def test_a_drop_on_the_wire_is_a_status_line_whose_body_never_comes(
    respan_emulator: Factory,
) -> None:
    """What docs/emulator.md says a dropped request sees: headers promising one byte, a close."""
    emu = respan_emulator(drop_rate=1.0)
    host, port = emu.url.removeprefix("http://").rsplit(":", 1)
    request = b"GET /api/users/list/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request + emu.api_key.encode() + b"\r\n\r\n")
        received = b""
        while chunk := connection.recv(4096):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"content-length: 1" in head.lower()
    assert body == b""


def test_drops_are_clean_closes_even_with_large_bodies(respan_emulator: Factory) -> None:
    """A dropped request is read in full first, so the client sees a close, never a reset."""
    emu = respan_emulator(drop_rate=1.0)
    body = b'{"name": "' + b"x" * 200_000 + b'"}'
    with client(emu) as api:
        for _ in range(20):
            with pytest.raises(httpx.RemoteProtocolError):
                api.patch("/api/users/x/", content=body)
    assert emu.stats()["dropped_connections"] == 20


def test_faults_repeat_for_a_given_seed(respan_emulator: Factory) -> None:
    """Two emulators with the same seed inject the same faults in the same order."""

    def statuses(emu: RunningEmulator[Any]) -> list[int]:
        with client(emu) as api:
            return [api.get("/api/users/list/").status_code for _ in range(30)]

    first = statuses(respan_emulator(fail_rate=0.5, rate_limit_429_rate=0.3, fault_seed=7))
    second = statuses(respan_emulator(fail_rate=0.5, rate_limit_429_rate=0.3, fault_seed=7))
    assert first == second
    assert {200, 429, 500} <= set(first)


def test_latency_still_answers(respan_emulator: Factory) -> None:
    """With latency and jitter configured, requests are still answered correctly."""
    emu = respan_emulator(latency_ms=5, jitter_ms=5)
    with client(emu) as api:
        assert api.get("/api/users/list/").status_code == 200


def test_route_template_drops_converters() -> None:
    """Stats name routes by method and path template, without converter names."""
    assert route_template("GET", "/api/users/{customer_identifier:path}/") == (
        "GET /api/users/{customer_identifier}/"
    )
    assert route_template("POST", "/api/users/list/") == "POST /api/users/list/"


def test_a_dialect_draws_every_request_from_one_limiter_unless_it_names_its_own() -> None:
    """Without ``limits``, every request goes to one bucket at the emulator's ``rate_limit``
    (none when it is unset); a dialect naming its buckets keeps them whatever the setting."""

    def unused(*args: Any) -> Any:
        raise AssertionError("not called")

    one = ProviderDialect(unused, unused, unused, unused)
    assert one.limits_for(EmulatorSettings("k", rate_limit=(60, 60.0))) == {ONE_BUCKET: (60, 60.0)}
    assert one.limits_for(EmulatorSettings("k")) == {}
    own = ProviderDialect(unused, unused, unused, unused, limits={"list": (5, 1.0)})
    assert own.limits_for(EmulatorSettings("k", rate_limit=(60, 60.0))) == {"list": (5, 1.0)}
