"""Hostile servers over real loopback sockets: slow, huge, compressed, deep, and proxies."""

from __future__ import annotations

import gzip
import importlib.util
import json
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import point_at, run_cli
from hypothesis import given
from hypothesis import strategies as st
from scripted_http import Answer, RawServer, Responder, ScriptedApp, script, serve, serve_raw

from reconciler.clients.http import MAX_ANSWER_DEPTH, HttpTransport, encode_path
from reconciler.clients.limits import AnswerTooLarge, read_body, too_deep
from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.emulator import RunningEmulator
from reconciler.errors import ConfigError, InvalidRequestError, ServerError, TransportError
from reconciler.providers.respan.emulator import RespanState
from reconciler.settings.urls import is_loopback

KEY = "sk_test_SUPERSECRET_0123456789"
FAST = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0)
PAYLOAD = json.dumps({"results": [], "count": 0}).encode()


def transport(url: str, **options: Any) -> HttpTransport:
    options.setdefault("retry", FAST)
    return HttpTransport(url, Secret(KEY), **options)


def answering(data: bytes) -> Responder:
    """A responder sending ``data`` at once."""

    def respond(sock: socket.socket, stopping: threading.Event) -> None:
        sock.sendall(data)

    return respond


def answer_head(length: int | None = None, **headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/json", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def zeros_compressed(size: int, wbits: int) -> bytes:
    """``size`` zero bytes compressed with zlib ``wbits`` (gzip, zlib or raw deflate)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + compressor.flush()


# -- size ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "wbits"),
    [("gzip", 16 + zlib.MAX_WBITS), ("deflate", zlib.MAX_WBITS), ("deflate", -zlib.MAX_WBITS)],
)
def test_compression_bomb_is_refused_without_inflating_it(encoding: str, wbits: int) -> None:
    """64 MiB of zeros in a ~64 KB compressed answer is refused past the cap, in bounded memory."""
    bomb = zeros_compressed(64 * 1024 * 1024, wbits)
    data = answer_head(len(bomb), Content_Encoding=encoding) + bomb
    with (
        serve_raw(answering(data)) as server,
        transport(server.url, max_response_bytes=1_000_000) as client,
    ):
        tracemalloc.start()
        try:
            with pytest.raises(ServerError, match="larger than 1,000,000 bytes") as caught:
                client.request("GET", "/x/", idempotent=True)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
    assert "after decompression" in str(caught.value)
    assert server.connections == 1  # refused, not retried


def test_endless_plain_answer_is_refused_past_the_cap() -> None:
    """An answer with no length that never ends is cut at the cap, not read for ever."""

    def endless(sock: socket.socket, stopping: threading.Event) -> None:
        sock.sendall(answer_head())
        chunk = b" " * 65536
        while not stopping.is_set():
            sock.sendall(chunk)

    with (
        serve_raw(endless) as server,
        transport(server.url, max_response_bytes=300_000) as client,
        pytest.raises(ServerError, match="larger than 300,000 bytes"),
    ):
        client.request("GET", "/x/", idempotent=True)


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
        ("identity", lambda data: data),
    ],
)
def test_compressed_answers_within_the_cap_are_decoded(
    encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    """gzip, zlib and raw deflate answers are inflated and read as usual."""
    body = encode(PAYLOAD)
    data = answer_head(len(body), Content_Encoding=encoding) + body
    with serve_raw(answering(data)) as server, transport(server.url) as client:
        assert client.request("GET", "/x/", idempotent=True).body == {"results": [], "count": 0}
    assert b"accept-encoding: gzip, deflate\r\n" in server.requests[0].lower()


@pytest.mark.parametrize(
    ("encoding", "body", "message"),
    [
        ("br", b"\x1b\x00\x00", "content encoding 'br' was not asked for"),
        ("gzip, gzip", b"", "content encoding 'gzip, gzip' was not asked for"),
        ("gzip", b"\x1f\x8bnot gzip at all", "compressed answer is corrupt"),
    ],
)
def test_unasked_or_corrupt_encodings_are_a_clear_error(
    encoding: str, body: bytes, message: str
) -> None:
    """An encoding we did not ask for (brotli...) or corrupt data is a ServerError, not a crash."""
    data = answer_head(len(body), Content_Encoding=encoding) + body
    with (
        serve_raw(answering(data)) as server,
        transport(server.url) as client,
        pytest.raises(ServerError, match=message),
    ):
        client.request("GET", "/x/", idempotent=True)


def test_read_body_counts_raw_and_inflated_bytes() -> None:
    """The cap applies to what arrives and to what it inflates to; both at exactly the cap pass."""
    assert read_body({}, [b"ab", b"cd"], 4) == b"abcd"
    with pytest.raises(AnswerTooLarge):
        read_body({}, [b"abc", b"de"], 4)
    packed = gzip.compress(b"x" * 100)
    assert read_body({"content-encoding": "gzip"}, [packed], 100) == b"x" * 100
    with pytest.raises(AnswerTooLarge):
        read_body({"content-encoding": "gzip"}, [packed], 99)


# -- time ----------------------------------------------------------------------------------


def trickling(data: bytes, sent: list[int]) -> Responder:
    """A responder sending ``data`` a byte at a time, one byte every 50 ms."""

    def respond(sock: socket.socket, stopping: threading.Event) -> None:
        for byte in data:
            if stopping.wait(0.05):
                return
            sock.sendall(bytes([byte]))
            sent[0] += 1

    return respond


@pytest.mark.parametrize("phase", ["body", "head"])
def test_trickling_server_cannot_hold_a_request_past_its_deadline(phase: str) -> None:
    """A byte every 50 ms resets every read timeout; the total deadline still ends the attempt."""
    body = json.dumps({"results": ["x" * 400]}).encode()
    data = answer_head(len(body)) + body
    sent = [0]
    if phase == "body":
        head = answer_head(len(body))

        def respond(sock: socket.socket, stopping: threading.Event) -> None:
            sock.sendall(head)
            trickling(body, sent)(sock, stopping)

        responder: Responder = respond
    else:
        responder = trickling(data, sent)
    with serve_raw(responder) as server, transport(server.url, timeout=0.5) as client:
        with pytest.raises(TransportError, match=r"no complete answer .* within 0\.5 s"):
            client.request("GET", "/x/", idempotent=True)
        cut_at = sent[0]
    assert cut_at < len(body)
    assert server.connections == 1  # a deadline is not retried


def test_trickled_tls_handshake_is_cut_at_the_deadline() -> None:
    """A server trickling its TLS handshake a byte at a time is cut at the attempt's deadline."""
    sent = [0]
    # A TLS handshake record announcing 16 KiB, then its bytes one at a time.
    record = b"\x16\x03\x03\x40\x00" + bytes(16384)
    with (
        serve_raw(trickling(record, sent), http=False) as server,
        transport(server.url.replace("http://", "https://"), timeout=0.5) as client,
        pytest.raises(TransportError),
    ):
        client.request("GET", "/x/", idempotent=True)
    # The deadline and the TLS layer's own handshake timeout (the connect timeout, no longer
    # than the deadline) race here: either ends the attempt long before the record is sent.
    assert sent[0] < len(record) // 4


# -- depth and size of what is in an answer ------------------------------------------------


def nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[str, ScriptedApp]]:
    app = ScriptedApp(script(Answer(200, {})))
    with serve(app) as url:
        yield url, app


def test_deeply_nested_live_metadata_is_refused_naming_the_customer(
    scripted: tuple[str, ScriptedApp],
) -> None:
    """Metadata 500 levels deep in a list page is a ServerError naming the customer, cut short."""
    url, app = scripted
    name = "acme-" + "x" * 200
    page = {
        "results": [
            {"customer_identifier": "fine"},
            {"customer_identifier": name, "metadata": nested(500)},
        ]
    }
    app.reset(script(Answer(200, page)))
    with (
        transport(url, id_keys=("customer_identifier",)) as client,
        pytest.raises(ServerError) as caught,
    ):
        client.request("POST", "/api/users/list/", idempotent=True)
    message = str(caught.value)
    assert f"nests more than {MAX_ANSWER_DEPTH} levels deep at results[1].metadata" in message
    assert "customer 'acme-xxx" in message
    assert len(message) < 500


def test_json_too_deep_for_the_parser_is_refused(scripted: tuple[str, ScriptedApp]) -> None:
    """An answer nested 100,000 levels (beyond Python's recursion) is refused, no traceback."""
    url, app = scripted
    raw = b"[" * 100_000 + b"]" * 100_000
    app.reset(script(Answer(200, raw=raw)))
    with transport(url) as client, pytest.raises(ServerError, match="nests more than"):
        client.request("GET", "/x/", idempotent=True)


def test_too_deep_finds_the_place_and_accepts_the_limit_itself() -> None:
    """Exactly the limit is accepted; one more level names its JSON path."""
    assert too_deep(nested(5), 5) is None
    assert too_deep({"results": [{"id": "c1", "m": nested(5)}]}, 5, ("id",)) == (
        "results[0].m.a.a (customer 'c1')"
    )


def test_too_deep_names_the_customer_by_the_providers_id_key_only() -> None:
    """The customer is named by the key the provider's model says ids are under, and by no
    other key an answer happens to carry."""
    page = {"data": [{"id": "row-7", "user_id": "u1", "m": nested(5)}]}
    assert too_deep(page, 5, ("user_id",)) == "data[0].m.a.a (customer 'u1')"
    assert too_deep(page, 5) == "data[0].m.a.a"


def _depth(value: object) -> int:
    """How many levels of mappings and lists ``value`` has below itself (0: a scalar's)."""
    if isinstance(value, dict):
        return 1 + max((_depth(child) for child in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(child) for child in value), default=0)
    return 0


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["id", "a", "b"]), children, max_size=3)
    ),
    max_leaves=30,
)


@given(value=_JSON, limit=st.integers(min_value=0, max_value=8))
def test_too_deep_refuses_exactly_what_nests_past_the_limit(value: object, limit: int) -> None:
    """An answer is refused exactly when a mapping or list sits ``limit`` levels below it."""
    assert (too_deep(value, limit) is not None) == (_depth(value) > limit)


def test_identifier_too_long_for_a_url_is_a_clear_error(
    scripted: tuple[str, ScriptedApp],
) -> None:
    """An identifier over 64 KiB cannot be addressed: InvalidRequestError, message cut short."""
    url, app = scripted
    app.reset(script(Answer(200, {})))
    path = encode_path("api", "users", "x" * 70_000)
    with transport(url) as client, pytest.raises(InvalidRequestError) as caught:
        client.request("DELETE", path, idempotent=True)
    assert "too long to address" in str(caught.value)
    assert len(str(caught.value)) < 400
    assert app.seen == []


# -- proxies -------------------------------------------------------------------------------

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[RawServer]:
    """A proxy in every proxy variable that records each connection and refuses it (502)."""
    refusal = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    with serve_raw(answering(refusal)) as server:
        for variable in PROXY_VARIABLES:
            monkeypatch.setenv(variable, server.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        yield server


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_proxies_are_never_used_for_loopback(
    proxy: RawServer, scripted: tuple[str, ScriptedApp], host: str
) -> None:
    """With HTTP_PROXY, HTTPS_PROXY and ALL_PROXY set, a loopback API is reached directly."""
    url, app = scripted
    app.reset(script(Answer(200, {"ok": True})))
    with transport(url.replace("127.0.0.1", host)) as client:
        assert client.request("GET", "/x/", idempotent=True).body == {"ok": True}
    assert proxy.connections == 0
    assert app.seen[-1].headers["authorization"] == f"Bearer {KEY}"


def test_proxies_are_still_used_for_remote_apis(proxy: RawServer) -> None:
    """A remote https API goes through the environment's proxy (a CONNECT tunnel, key inside)."""
    with (
        transport("https://api.example.com", retry=RetryPolicy(attempts=1)) as client,
        pytest.raises(TransportError),
    ):
        client.request("GET", "/x/", idempotent=True)
    assert proxy.connections == 1
    assert proxy.requests[0].startswith(b"CONNECT api.example.com:443")
    assert KEY.encode() not in proxy.requests[0]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("LocalHost", True),
        ("api.respan.ai", False),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        (None, False),
    ],
)
def test_is_loopback(host: str | None, loopback: bool) -> None:
    """Loopback means this machine: localhost, 127.0.0.0/8 and ::1."""
    assert is_loopback(host) is loopback


def test_proxy_variable_that_cannot_be_used_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A socks5:// proxy without its optional package is a ConfigError, not a traceback."""
    if importlib.util.find_spec("socksio") is not None:
        pytest.skip("socksio is installed: socks proxies are usable")
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:9")
    with pytest.raises(ConfigError, match="cannot use the proxy settings of the environment"):
        HttpTransport("https://api.example.com", Secret(KEY))
    HttpTransport("http://127.0.0.1:9", Secret(KEY)).close()  # loopback ignores proxies


def test_plan_against_live_metadata_500_levels_deep_is_a_clean_error(
    workdir: Path,
    respan_emulator: Callable[..., RunningEmulator[RespanState]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Live metadata 500 levels deep: plan exits 1 naming the customer, without a traceback."""
    seed = {"customers": [{"customer_identifier": "acme", "metadata": nested(500)}]}
    point_at(monkeypatch, respan_emulator(seed=seed))
    (workdir / "c.yaml").write_text(
        "provider: respan\nenvironment: prod\ncustomers:\n"
        "  - customer_identifier: acme\n    metadata: {tier: gold}\n",
        encoding="utf-8",
    )
    run = run_cli(capsys, "plan", "c.yaml", "--rate-limit", "10000/s")
    assert run.code == 1
    assert "Traceback" not in run.err
    assert f"nests more than {MAX_ANSWER_DEPTH} levels deep" in run.err
    assert "(customer 'acme')" in run.err
