"""EmulatorServer: a real socket, known URL once started, clean stop."""

from __future__ import annotations

import socket

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from reconciler.emulator import EmulatorServer
from reconciler.errors import ConfigError


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers every request with "hello"."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def test_start_returns_the_bound_url_and_serves() -> None:
    """start() binds a free port, returns http://127.0.0.1:PORT and answers at once."""
    server = EmulatorServer(hello)
    with pytest.raises(RuntimeError):
        _ = server.url
    url = server.start()
    try:
        assert url == server.url
        assert url.startswith("http://127.0.0.1:")
        assert int(url.rsplit(":", 1)[1]) > 0
        response = httpx.get(url + "/anything")
        assert response.text == "hello"
    finally:
        server.stop()


def test_stop_closes_the_socket_even_with_keep_alive_clients() -> None:
    """After stop() (with a keep-alive connection open) nothing listens on the port."""
    with EmulatorServer(hello) as server:
        url = server.url
        with httpx.Client() as client:
            assert client.get(url).status_code == 200
            server.stop()
            server.stop()  # idempotent
            with pytest.raises(httpx.TransportError):
                client.get(url, headers={"Connection": "close"})
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def test_busy_port_is_a_clear_error() -> None:
    """A port already in use raises ConfigError naming it."""
    blocker = socket.create_server(("127.0.0.1", 0))
    port = blocker.getsockname()[1]
    try:
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port}"):
            EmulatorServer(hello, port=port).start()
    finally:
        blocker.close()


def test_start_twice_is_refused() -> None:
    """A running server cannot be started again."""
    with EmulatorServer(hello) as server, pytest.raises(RuntimeError):
        server.start()


def test_stop_without_waiting_then_join_closes_the_port() -> None:
    """stop(wait=False) returns at once; after join() nothing listens on the port."""
    server = EmulatorServer(hello)
    url = server.start()
    assert httpx.get(url).text == "hello"
    server.stop(wait=False)
    with pytest.raises(RuntimeError):
        _ = server.url
    server.join()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)
