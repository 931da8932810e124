"""Run an emulator's ASGI app with uvicorn on a background thread, on a real loopback socket.

``EmulatorServer`` binds the socket itself (port 0 picks a free one), so the URL is known as
soon as ``start()`` returns, and ``start()`` returns only once uvicorn accepts connections.

Dropped connections: an ASGI app cannot close its connection (raising yields a 500), so the
server speaks HTTP through a small subclass of uvicorn's h11 protocol that puts the
connection's asyncio transport into ``scope["extensions"]`` under ``TRANSPORT_EXTENSION``. The
fault middleware aborts that transport to drop a connection without any response.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from reconciler.errors import ConfigError

TRANSPORT_EXTENSION = "reconciler.emulator.transport"
_START_TIMEOUT_SECONDS = 10.0
_STOP_TIMEOUT_SECONDS = 5.0


class _TransportExposingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, handing the connection's transport to the app (see module doc)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        inner = self.app

        async def app_with_transport(scope: Scope, receive: Receive, send: Send) -> None:
            extensions = {**scope.get("extensions", {}), TRANSPORT_EXTENSION: transport}
            await inner({**scope, "extensions": extensions}, receive, send)

        self.app = app_with_transport


class _BackgroundServer(uvicorn.Server):
    """A uvicorn server that signals when it listens and stops as soon as it is asked to.

    uvicorn's own loop polls ``should_exit`` every 100 ms and pauses 100 ms on shutdown; tests
    start many emulators, so this one waits on events instead.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = threading.Event()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        await super().startup(sockets=sockets)
        if self.started:
            self.listening.set()

    async def main_loop(self) -> None:
        assert self._wake is not None
        if not self.should_exit:
            await self._wake.wait()

    def request_stop(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        # Let in-flight responses finish, bounded; idle keep-alive connections close at once.
        deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
        while self.server_state.tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        for task in list(self.server_state.tasks):
            task.cancel()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    # create_server leaves proto=0, so asyncio does not set TCP_NODELAY on accepted sockets
    # (it checks proto == IPPROTO_TCP); Nagle plus delayed ACKs then cost ~40 ms per request on
    # a kept-alive connection. Accepted sockets inherit the option from the listening one.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class EmulatorServer:
    """Serves an ASGI app over HTTP on ``host:port`` from a background thread.

    Use as a context manager, or call ``start()`` (returns the base URL) and ``stop()``.
    """

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._url: str | None = None
        self._server: _BackgroundServer | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (only once started)."""
        if self._url is None:
            raise RuntimeError("the emulator server is not running")
        return self._url

    def start(self) -> str:
        if self._server is not None:
            raise RuntimeError("the emulator server is already running")
        sock = _bind(self.host, self.port)
        bound_port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            http=_TransportExposingH11Protocol,
            ws="none",
            lifespan="off",
            interface="asgi3",
            loop="asyncio",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
        )
        server = _BackgroundServer(config)
        thread = threading.Thread(
            target=self._run, args=(server, sock), name=f"emulator:{bound_port}", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not server.listening.wait(timeout=0.05):
            if not thread.is_alive() or time.monotonic() > deadline:
                server.request_stop()
                thread.join(timeout=_STOP_TIMEOUT_SECONDS)
                self._server = self._thread = None
                sock.close()
                raise RuntimeError("the emulator server failed to start") from self._failure
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._url = f"http://{host}:{bound_port}"
        return self._url

    def _run(self, server: _BackgroundServer, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported by start(); a thread has nobody else to tell
            self._failure = exc
        finally:
            sock.close()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.request_stop()
        thread.join(timeout=_STOP_TIMEOUT_SECONDS + 1.0)
        self._server = self._thread = None
        self._url = None

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorServer(url={self._url!r})"
