"""The shared HTTP transport over real loopback sockets: errors, retries, pacing, secrecy."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest
import stamina
import stamina.instrumentation
from scripted_http import (
    Answer,
    ScriptedApp,
    Seen,
    hang_up_then_answer,
    raw_json_answer,
    script,
    serve,
)

from reconciler.clients.http import (
    DEFAULT_PACE,
    ApiClient,
    Endpoint,
    HttpTransport,
    check_base_url,
    decode_json,
    encode_json,
    encode_path,
)
from reconciler.clients.pacing import Pacer, Unpaced
from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.clients.waits import WAITS, Wait
from reconciler.errors import (
    APIError,
    AuthenticationError,
    ConfigError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    RunInterrupted,
    ServerError,
    TransportError,
)
from reconciler.interrupts import STOP

KEY = "sk_test_SUPERSECRET_0123456789"
FAST = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0)


def transport(url: str, **options: Any) -> HttpTransport:
    options.setdefault("retry", FAST)
    return HttpTransport(url, Secret(KEY), **options)


Server = tuple[str, ScriptedApp]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """One scripted server for the module; each test installs its own answers."""
    app = ScriptedApp(script(Answer(200, {"ok": True})))
    with serve(app) as url:
        yield url, app


@pytest.fixture
def ok_app(server: Server) -> tuple[str, ScriptedApp]:
    url, app = server
    app.reset(script(Answer(200, {"ok": True})))
    return url, app


# -- base URLs, paths, bodies --------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://api.respan.ai",
        "https://api.respan.ai/",
        "http://127.0.0.1:8000",
        "http://localhost:1234/prefix",
        "http://[::1]:9",
    ],
)
def test_allowed_base_urls(url: str) -> None:
    """https anywhere and plain http to loopback are accepted (trailing slash dropped)."""
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.respan.ai", "refusing plain http:// to api.respan.ai"),
        ("http://10.0.0.5:8000", "refusing plain http://"),
        ("ftp://example.com", "must start with https://"),
        ("api.respan.ai", "must start with https://"),
        ("https://user:pw@api.respan.ai", "must not carry credentials"),
        ("https://api.respan.ai/?x=1", "query string"),
    ],
)
def test_refused_base_urls(url: str, message: str) -> None:
    """Non-loopback http, other schemes and URLs with credentials are a ConfigError."""
    with pytest.raises(ConfigError) as caught:
        check_base_url(url)
    assert message in str(caught.value)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("segment", "encoded"),
    [
        ("acme-corp", "acme-corp"),
        ("../credit-transactions/x", "..%2Fcredit-transactions%2Fx"),
        ("a/b?c#d", "a%2Fb%3Fc%23d"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("...", "..."),
        ("a%2Fb", "a%252Fb"),
        ("é x", "%C3%A9%20x"),
    ],
)
def test_encode_path_escapes_every_segment(segment: str, encoded: str) -> None:
    """Slashes, query and fragment marks, percent signs and dot-only segments are escaped."""
    assert encode_path("api", "users", segment) == f"/api/users/{encoded}/"


def test_an_endpoints_identifiers_fill_their_own_segments_encoded() -> None:
    """``Endpoint.url_path`` puts each identifier in its ``{}`` segment percent-encoded, so an
    id with slashes, dots or braces addresses that customer only; a path without ``{}`` is
    the path as written."""
    retrieve = Endpoint("GET", "/api/users/{}/", True)
    assert retrieve.url_path("../list") == "/api/users/..%2Flist/"
    assert retrieve.url_path("..") == "/api/users/%2E%2E/"
    assert retrieve.url_path("{0}") == "/api/users/%7B0%7D/"
    assert Endpoint("POST", "/v1/customers.list", True, "list").url_path() == "/v1/customers.list"


@pytest.mark.parametrize("identifier", ["../credit-transactions/x", "a/b?c#d", "..", ".", "%2F"])
def test_encoded_path_reaches_the_server_unnormalized(identifier: str, ok_app: Server) -> None:
    """httpx sends the encoded segment as is: no dot-segment removal, no re-decoding of %2F."""
    url, app = ok_app
    with transport(url) as client:
        client.request("GET", encode_path("api", "users", identifier), idempotent=True)
    assert app.seen[-1].raw_path == encode_path("api", "users", identifier)


def test_base_url_path_prefix_is_kept(ok_app: Server) -> None:
    """A base URL with a path (a proxy mount) prefixes every request path."""
    url, app = ok_app
    with transport(url + "/mount/") as client:
        client.request("GET", "/api/users/x/", idempotent=True, params={"environment": "prod"})
    assert app.seen[-1].raw_path == "/mount/api/users/x/"
    assert app.seen[-1].query == "environment=prod"


def test_decimals_go_out_as_json_numbers() -> None:
    """Integral decimals become ints, others floats that round-trip to the cent."""
    body = {"a": Decimal("250.00"), "b": Decimal("0.1"), "c": Decimal("19.99"), "d": None}
    assert json.loads(encode_json(body)) == {"a": 250, "b": 0.1, "c": 19.99, "d": None}
    assert encode_json({"a": Decimal("250.00")}) == b'{"a":250}'
    with pytest.raises(TypeError, match="set"):
        encode_json({"a": {1}})


def test_fractional_numbers_come_back_as_decimals() -> None:
    """Money read from an answer is exact: 45.67 is Decimal('45.67'), not a float."""
    assert decode_json(b'{"usage": 45.67, "n": 3}') == {"usage": Decimal("45.67"), "n": 3}


# -- answers and typed errors --------------------------------------------------------------


def test_success_returns_body_status_and_attempts(ok_app: Server) -> None:
    """A 2xx answer comes back decoded, with the attempt count; JSON bodies are sent as JSON."""
    url, app = ok_app
    with transport(url) as client:
        reply = client.request("PATCH", "/x/", body={"b": Decimal(5)}, idempotent=True)
    assert (reply.status, reply.body, reply.attempts) == (200, {"ok": True}, 1)
    assert app.seen[-1].body == b'{"b":5}'
    assert app.seen[-1].headers["content-type"] == "application/json"
    assert app.seen[-1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("status", "body", "error_type", "detail"),
    [
        (401, {"detail": "Invalid API key."}, AuthenticationError, "Invalid API key."),
        (404, {"detail": "Not found."}, NotFoundError, "Not found."),
        (400, {"message": "bad", "code": "invalid_inputs"}, InvalidRequestError, "bad"),
        (409, {"message": "exists", "code": "customer_already_exists"}, InvalidRequestError, ""),
        (418, "<html>teapot</html>", InvalidRequestError, "<html>teapot</html>"),
    ],
)
def test_client_errors_are_typed_and_not_retried(
    status: int, body: object, error_type: type[APIError], detail: str, server: Server
) -> None:
    """4xx answers raise their APIError subclass at once, with method, path and detail."""
    url, scripted = server
    app = scripted.reset(script(Answer(status, body)))
    with transport(url) as client, pytest.raises(error_type) as caught:
        client.request("GET", "/api/users/x/", idempotent=True)
    error = caught.value
    assert (error.method, error.path, error.status) == ("GET", "/api/users/x/", status)
    assert detail in (error.detail or "")
    assert f"GET /api/users/x/: the API answered {status}" in str(error)
    assert len(app.seen) == 1


class AcmeClient(ApiClient):
    """A provider's client: its API documents 7 requests a minute and words errors its way."""

    documented_rate_limit = (7, 60.0)

    @staticmethod
    def error_detail(body: object) -> tuple[str | None, dict[str, object] | None]:
        return (str(body["problem"]) if isinstance(body, dict) else None), None


def test_create_paces_at_the_documented_limit_and_reads_the_clients_error_bodies(
    server: Server,
) -> None:
    """``ApiClient.create`` paces every endpoint at the subclass's documented limit (another
    limit or ``None``, unpaced, when given), and errors keep the text its ``error_detail``
    reads from the API's own error bodies."""
    url, scripted = server
    scripted.reset(script(Answer(500, {"problem": "the ledger is locked"})))
    with AcmeClient.create(url, Secret(KEY), retry=FAST) as client:
        pacer = client.transport.pacers[DEFAULT_PACE]
        assert (getattr(pacer, "count", None), getattr(pacer, "per_seconds", None)) == (7, 60.0)
        with pytest.raises(ServerError, match="the ledger is locked"):
            client.transport.request("GET", "/customers", idempotent=True)
    with AcmeClient.create(url, Secret(KEY), rate_limit=(2, 1.0), burst=1) as client:
        assert getattr(client.transport.pacers[DEFAULT_PACE], "count", None) == 2
    with AcmeClient.create(url, Secret(KEY), rate_limit=None) as client:
        assert dict(client.transport.pacers) == {}


def test_a_client_sends_to_an_endpoint_as_its_table_says(server: Server) -> None:
    """``ApiClient.send`` uses the endpoint's method and path (or the path given with its ids
    filled in) and returns a status it was told to accept instead of raising it."""
    url, scripted = server
    app = scripted.reset(script(Answer(404, {"detail": "Not found."})))
    retrieve = Endpoint("GET", "/api/users/{}/", True)
    with ApiClient.create(url, Secret(KEY), retry=FAST) as client:
        reply = client.send(retrieve, retrieve.url_path("a/b"), params={"x": 1}, accept=(404,))
        with pytest.raises(NotFoundError):
            client.send(Endpoint("DELETE", "/api/users/list/", True))
    assert reply.status == 404
    assert [(seen.method, seen.raw_path) for seen in app.seen] == [
        ("GET", "/api/users/a%2Fb/"),
        ("DELETE", "/api/users/list/"),
    ]


def test_validation_errors_carry_the_per_field_messages(server: Server) -> None:
    """A 422 keeps the API's ``errors`` mapping and names the fields in its message."""
    url, scripted = server
    body = {"detail": "Validation error", "errors": {"period_budget": ["must be >= 0"]}}
    scripted.reset(script(Answer(422, body)))
    with transport(url) as client, pytest.raises(InvalidRequestError) as caught:
        client.request("PATCH", "/api/users/x/", body={}, idempotent=True)
    assert caught.value.errors == {"period_budget": "must be >= 0"}
    assert "period_budget: must be >= 0" in str(caught.value)


def test_accepted_status_is_returned_instead_of_raised(server: Server) -> None:
    """A status the caller accepts (DELETE's 404) comes back as a reply."""
    url, scripted = server
    scripted.reset(script(Answer(404, {"detail": "Not found."})))
    with transport(url) as client:
        reply = client.request("DELETE", "/x/", idempotent=True, accept=(404,))
    assert (reply.status, reply.attempts) == (404, 1)


def test_non_json_success_is_a_server_error(server: Server) -> None:
    """A 200 whose body is not JSON is a ServerError; an empty 2xx body is simply None."""
    url, scripted = server
    scripted.reset(script(Answer(200, raw=b"<html>maintenance</html>"), Answer(204)))
    with transport(url) as client:
        with pytest.raises(ServerError, match="answered 200 with a body that is not JSON"):
            client.request("GET", "/x/", idempotent=True)
        assert client.request("DELETE", "/x/", idempotent=True).body is None


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"id": KEY}).encode(),
        json.dumps({"note": f"x{KEY}y"}).encode(),
        ('{"id": "' + "".join(f"\\u{ord(c):04x}" for c in KEY) + '"}').encode(),
    ],
)
def test_a_success_answer_carrying_the_key_is_refused(server: Server, raw: bytes) -> None:
    """A 2xx body holding the key (plain, inside text, or JSON-escaped) is a ServerError whose
    message does not hold it; nothing of the body is returned."""
    url, scripted = server
    scripted.reset(script(Answer(200, raw=raw)))
    with (
        transport(url) as client,
        pytest.raises(ServerError, match="contains the API key") as caught,
    ):
        client.request("GET", "/x/", idempotent=True)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("raw", [b'{"name": "a\\ud800b"}', b'{"metadata": {"k\\udfff": 1}}'])
def test_a_success_answer_with_a_lone_surrogate_is_refused(server: Server, raw: bytes) -> None:
    """Text with a lone surrogate escape (no character, which UTF-8 cannot write) is a
    ServerError naming it, never a value that fails a later write with a traceback."""
    url, scripted = server
    scripted.reset(script(Answer(200, raw=raw)))
    with transport(url) as client, pytest.raises(ServerError, match="lone UTF-16 surrogate"):
        client.request("GET", "/x/", idempotent=True)


def test_an_answer_without_the_key_is_returned_even_when_it_shares_parts_of_it(
    server: Server,
) -> None:
    """Fragments of the key and other letter cases are not the key: the answer is kept."""
    url, scripted = server
    body = {"a": KEY[:-1], "b": KEY[1:], "c": KEY.swapcase()}
    scripted.reset(script(Answer(200, body)))
    with transport(url) as client:
        assert client.request("GET", "/x/", idempotent=True).body == body


# -- retries -------------------------------------------------------------------------------


def test_rate_limit_retry_after_in_body_is_honoured(
    caplog: pytest.LogCaptureFixture, server: Server
) -> None:
    """A 429 with ``retry_after`` in the body is retried after that wait, then succeeds."""
    url, scripted = server
    scripted.reset(
        script(Answer(429, {"detail": "Rate limit exceeded", "retry_after": 0.01}), Answer(200, {}))
    )
    caplog.set_level(logging.DEBUG, logger="reconciler.http")
    with transport(url) as client:
        reply = client.request("GET", "/x/", idempotent=True)
    assert reply.attempts == 2
    assert "retrying in 0.01 s as the server asked" in caplog.text


def test_the_first_429_switches_the_pacer_to_even_spacing(server: Server) -> None:
    """Requests go in a burst until a 429; from then on each waits its interval."""
    url, scripted = server
    answers = [Answer(200, {})] * 3 + [Answer(429, {"retry_after": 0.01})] + [Answer(200, {})] * 4
    scripted.reset(script(*answers))
    slept: list[float] = []
    pacer = Pacer(10, 3600.0, sleep=slept.append)
    with transport(url, pacers={"default": pacer}) as client:
        for _ in range(3):
            client.request("GET", "/x/", idempotent=True)
        assert slept == []
        for _ in range(3):
            client.request("GET", "/x/", idempotent=True)
    assert pacer.throttled
    # The retry and the next two requests each waited for an even slot (never really slept).
    assert len(slept) == 3
    assert slept[1] - slept[0] == pytest.approx(pacer.interval, rel=0.01)


def test_rate_limit_retry_after_header_is_honoured_and_capped(
    caplog: pytest.LogCaptureFixture, server: Server
) -> None:
    """A Retry-After header is honoured too, never beyond the policy's cap."""
    url, scripted = server
    scripted.reset(
        script(Answer(429, {"detail": "slow down"}, {"Retry-After": "3600"}), Answer(200, {}))
    )
    caplog.set_level(logging.DEBUG, logger="reconciler.http")
    policy = RetryPolicy(attempts=2, wait_initial=0, wait_jitter=0, max_retry_after=0.02)
    with transport(url, retry=policy) as client:
        reply = client.request("POST", "/x/", body={}, idempotent=False)
    assert reply.attempts == 2
    assert "retrying in 0.02 s as the server asked" in caplog.text


def test_rate_limited_until_attempts_run_out(server: Server) -> None:
    """Endless 429s end in RateLimitedError naming the attempts made."""
    url, scripted = server
    app = scripted.reset(script(Answer(429, {"detail": "Rate limit exceeded", "retry_after": 0})))
    with transport(url) as client, pytest.raises(RateLimitedError) as caught:
        client.request("GET", "/x/", idempotent=True)
    assert caught.value.status == 429
    assert "gave up after 3 attempts" in str(caught.value)
    assert len(app.seen) == 3


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_for_idempotent_requests(status: int, server: Server) -> None:
    """A transient 5xx on a safe request is retried and the later success returned."""
    url, scripted = server
    scripted.reset(script(Answer(status, {"detail": "Internal server error"}), Answer(200, {})))
    with transport(url) as client:
        assert client.request("PATCH", "/x/", body={}, idempotent=True).attempts == 2


def test_server_errors_give_up_with_a_typed_error(server: Server) -> None:
    """A server failing every attempt ends in ServerError after the policy's attempts."""
    url, scripted = server
    body = {"detail": "Internal server error", "error_code": "INTERNAL_ERROR"}
    app = scripted.reset(script(Answer(500, body)))
    with transport(url) as client, pytest.raises(ServerError) as caught:
        client.request("GET", "/x/", idempotent=True)
    assert "INTERNAL_ERROR" in str(caught.value)
    assert "gave up after 3 attempts" in str(caught.value)
    assert len(app.seen) == 3


def test_non_idempotent_request_is_not_retried_on_5xx(server: Server) -> None:
    """A request that may not be repeated fails on its first 5xx."""
    url, scripted = server
    app = scripted.reset(script(Answer(503, {"detail": "busy"}), Answer(200, {})))
    with transport(url) as client, pytest.raises(ServerError):
        client.request("POST", "/create/", body={}, idempotent=False)
    assert len(app.seen) == 1


def test_dropped_connections_are_retried_then_succeed() -> None:
    """A server hanging up without an answer is retried for a safe request."""
    answer = raw_json_answer(200, {"ok": 1})
    with hang_up_then_answer(2, answer) as (url, accepted), transport(url) as client:
        reply = client.request("GET", "/x/", idempotent=True)
    assert (reply.body, reply.attempts, accepted[0]) == ({"ok": 1}, 3, 3)


def test_dropped_connections_give_up_with_transport_error() -> None:
    """A server that always hangs up ends in TransportError; unsafe requests try once."""
    with hang_up_then_answer(99, b"") as (url, accepted):
        with transport(url) as client, pytest.raises(TransportError) as caught:
            client.request("GET", "/x/", idempotent=True)
        assert "gave up after 3 attempts" in str(caught.value)
        assert accepted[0] == 3
        with transport(url) as client, pytest.raises(TransportError):
            client.request("POST", "/create/", body={}, idempotent=False)
        assert accepted[0] == 4


def test_connection_refused_is_a_transport_error() -> None:
    """Nothing listening: TransportError naming the host, after retrying (nothing was sent)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with transport(f"http://127.0.0.1:{port}") as client, pytest.raises(TransportError) as c:
        client.request("POST", "/create/", body={}, idempotent=False)
    assert f"cannot connect to 127.0.0.1:{port}: the connection was refused" in str(c.value)
    assert "check the URL's host and port, and that the API or emulator is running" in str(c.value)
    assert client.counter.total == 3


def test_connection_refused_stops_retrying_within_the_connect_budget() -> None:
    """A refused connection is retried only while another attempt fits the connect budget:
    with no budget left after the first, one attempt and the error."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    policy = RetryPolicy(attempts=10, wait_initial=0.001, connect_budget=1.0, connect_timeout=1.0)
    with (
        transport(f"http://127.0.0.1:{port}", retry=policy) as client,
        pytest.raises(TransportError),
    ):
        client.request("GET", "/users/", idempotent=True)
    assert client.counter.total == 1


def test_unresolvable_host_names_dns_to_check() -> None:
    """A host name that does not resolve says so and names the URL's spelling and DNS."""
    with (
        transport("https://no-such-host.invalid", retry=RetryPolicy(attempts=1)) as client,
        pytest.raises(TransportError) as caught,
    ):
        client.request("GET", "/users/", idempotent=True)
    assert "cannot connect to no-such-host.invalid: the host name does not resolve" in str(
        caught.value
    )
    assert "DNS" in str(caught.value)


def test_tls_handshake_failure_is_not_retried_and_names_the_scheme(server: Server) -> None:
    """https:// to a plain-HTTP server fails the TLS handshake once, naming what to check."""
    url, _ = server
    with (
        transport(url.replace("http://", "https://"), retry=FAST) as client,
        pytest.raises(TransportError) as caught,
    ):
        client.request("GET", "/users/", idempotent=True)
    assert "the TLS handshake failed" in str(caught.value)
    assert "an https:// URL to a plain-HTTP server" in str(caught.value)
    assert client.counter.total == 1


# -- pacing, concurrency, counting ---------------------------------------------------------


def test_every_attempt_goes_through_the_pacer_and_is_counted(server: Server) -> None:
    """Retries are paced and counted like first attempts."""
    url, scripted = server
    waits: list[float] = []
    pacer = Pacer(1000, 1.0, sleep=waits.append)
    scripted.reset(script(Answer(500, {}), Answer(200, {})))
    with transport(url, pacers={"default": pacer}) as client:
        client.request("GET", "/x/", idempotent=True)
        client.request("PATCH", "/x/", body={}, idempotent=True)
        assert client.counter.by_method() == {"GET": 2, "PATCH": 1}
        assert client.counter.total == 3


def test_requests_use_the_pacer_of_their_endpoint_class(server: Server) -> None:
    """A request naming a pace class waits on that class's pacer only."""
    url, scripted = server
    slept: dict[str, list[float]] = {"list": [], "write": []}
    pacers = {name: Pacer(1, 3600.0, sleep=slept[name].append) for name in slept}
    scripted.reset(script(Answer(200, {})))
    with transport(url, pacers=pacers) as client:
        for _ in range(3):
            client.request("POST", "/list/", idempotent=True, pace="list")
        client.request("POST", "/update/", idempotent=True, pace="write")
    assert len(slept["list"]) == 2
    assert slept["write"] == []


def test_concurrency_is_bounded(server: Server) -> None:
    """No more than ``max_concurrency`` requests are ever in flight at once, and that many are."""
    url, scripted = server
    in_flight = 0
    highest = 0
    both_in_flight = asyncio.Event()

    async def handler(seen: Seen) -> Answer:
        nonlocal in_flight, highest
        in_flight += 1
        highest = max(highest, in_flight)
        if in_flight >= 2:
            both_in_flight.set()
        # Hold each request until two are in flight together, so the bound is reached on every
        # run however the threads are scheduled (a client that never overlaps times out here).
        await asyncio.wait_for(both_in_flight.wait(), timeout=30)
        in_flight -= 1
        return Answer(200, {})

    scripted.reset(handler)
    with (
        transport(url, max_concurrency=2) as client,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        list(pool.map(lambda _: client.request("GET", "/x/", idempotent=True), range(8)))
    assert highest == 2


# -- secrecy -------------------------------------------------------------------------------


def test_api_key_never_leaks(caplog: pytest.LogCaptureFixture, server: Server) -> None:
    """The key appears in no log line (any logger, DEBUG), repr, or error, even when echoed."""
    url, scripted = server

    def echo(seen: Seen) -> Answer:
        auth = seen.headers["authorization"]
        if seen.raw_path == "/bad/":
            return Answer(422, {"detail": f"bad header {auth}", "errors": {auth: [auth]}})
        if seen.raw_path == "/broken/":
            return Answer(500, {"detail": f"crashed on {auth}"})
        return Answer(200, {"ok": True})

    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    scripted.reset(echo)
    with transport(url) as client:
        texts += [repr(client), str(client)]
        client.request("GET", "/fine/", idempotent=True)
        for path in ("/bad/", "/broken/"):
            with pytest.raises(APIError) as caught:
                client.request("PATCH", path, body={}, idempotent=True)
            error = caught.value
            texts += [str(error), repr(error), str(error.detail), str(error.errors)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.__dict__) for record in caplog.records]
    texts.append(caplog.text)
    assert any("/bad/" in text for text in texts)
    assert not [text for text in texts if KEY in text]
    assert "***" in " ".join(texts)


def test_clients_package_exports_are_pinned() -> None:
    """The clients package's public names are deliberate; changing them is an API change."""
    import reconciler.clients

    assert sorted(reconciler.clients.__all__) == [
        "HttpTransport",
        "Pacer",
        "Reply",
        "RequestCounter",
        "RequestPacer",
        "RetryPolicy",
        "Secret",
        "Unpaced",
        "check_base_url",
        "encode_path",
    ]
    assert all(hasattr(reconciler.clients, name) for name in reconciler.clients.__all__)


# -- interrupts ----------------------------------------------------------------------------


@pytest.fixture
def stopped() -> Iterator[None]:
    """The process-wide stop request, cleared again when the test ends."""
    yield
    STOP.reset()


@pytest.mark.usefixtures("stopped")
def test_a_stopped_run_starts_no_request(server: Server) -> None:
    """Once Ctrl-C is pressed, a new request is refused before it is sent."""
    url, scripted = server
    app = scripted.reset(script(Answer(200, {})))
    STOP.request(signal.SIGINT)
    with transport(url) as client, pytest.raises(RunInterrupted) as caught:
        client.request("PATCH", "/x/", body={}, idempotent=True)
    assert caught.value.exit_code == 130
    assert app.seen == []


@pytest.mark.usefixtures("stopped")
def test_a_stop_during_a_request_starts_no_retry(server: Server) -> None:
    """A request failing after the stop is not retried: its error is the answer."""
    url, scripted = server

    def answer(seen: object) -> Answer:
        STOP.request(signal.SIGTERM)
        return Answer(500, {"detail": "Internal server error"})

    app = scripted.reset(answer)
    with transport(url) as client, pytest.raises(ServerError):
        client.request("PATCH", "/x/", body={}, idempotent=True)
    assert len(app.seen) == 1


class StoppedOnRetry(Unpaced):
    """A pacer on which Ctrl-C lands while the second attempt waits for its slot."""

    def __init__(self) -> None:
        self.waits = 0

    def wait(self) -> float:
        self.waits += 1
        if self.waits == 2:
            STOP.request(signal.SIGINT)
        return 0.0


@pytest.mark.usefixtures("stopped")
@pytest.mark.parametrize(
    ("first", "after_sending"),
    [(Answer(503, {"detail": "unavailable"}), True), (Answer(429, {"detail": "slow down"}), False)],
)
def test_a_stop_while_waiting_to_retry_says_whether_an_attempt_went_out(
    server: Server, first: Answer, after_sending: bool
) -> None:
    """Stopped before a retry, the request is interrupted; after a 5xx (which the server may
    have acted on) the interruption says an attempt went out, after a 429 it does not."""
    url, scripted = server
    app = scripted.reset(script(first, Answer(200, {})))
    pacer = StoppedOnRetry()
    with (
        transport(url, pacers={"default": pacer}) as client,
        pytest.raises(RunInterrupted) as caught,
    ):
        client.request("PATCH", "/x/", body={}, idempotent=True)
    assert caught.value.after_sending is after_sending
    assert len(app.seen) == 1


def test_retry_backoff_is_announced_through_stamina_hooks() -> None:
    """The backoff stamina schedules for a failed connection is announced as a wait with its
    reason (stamina's on-retry hook); a retry of anything else is not the transport's."""
    seen: list[Wait] = []
    request = httpx.Request("GET", "http://127.0.0.1:9/users/")
    for cause, announced in (
        (httpx.ConnectError("refused", request=request), True),
        (ValueError("not ours"), False),
    ):
        details = stamina.instrumentation.RetryDetails(
            name="<context block>",
            args=(),
            kwargs={},
            retry_num=1,
            wait_for=2.0,
            waited_so_far=0.0,
            caused_by=cause,
        )
        with WAITS.listening(seen.append):
            for hook in stamina.instrumentation.get_on_retry_hooks():
                hook(details)
        assert (seen == [Wait("cannot connect to 127.0.0.1:9; retry 1 is next", 2.0)]) is announced
        seen.clear()


def test_every_attempt_is_announced_as_an_awaited_answer(ok_app: tuple[str, ScriptedApp]) -> None:
    """Each attempt announces the answer it awaits (host, method, path, deadline) and ends it."""
    url, _ = ok_app
    started: list[Wait] = []
    ended: list[Wait] = []
    with WAITS.listening(started.append, ended.append), transport(url, timeout=7.0) as client:
        client.request("GET", "/users/", idempotent=True)
    host = url.removeprefix("http://")
    assert started == [Wait(f"the answer of {host} to GET /users/", 7.0, in_flight=True)]
    assert ended == started
