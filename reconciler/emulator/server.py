"""Run an emulator's ASGI app with uvicorn on a background thread, on a real loopback socket.

``EmulatorServer`` binds the socket itself (port 0 picks a free one), so the URL is known as
soon as ``start()`` returns; the socket listens from that moment, so a request sent before
uvicorn accepts waits in the backlog instead of failing. ``start()`` returns once the app has
received the ASGI lifespan startup event, so a server that cannot run is reported at once.

Only uvicorn's public API is used (``uvicorn.Config`` and ``uvicorn.Server`` with its
``serve``, ``should_exit`` and ``shutdown``): no subclass of its server or protocol classes, so
a uvicorn release cannot break the emulator through its internals. uvicorn notices
``should_exit`` on a 0.1 s tick; tests start hundreds of emulators, so ``stop()`` cancels
that wait and runs the same ``shutdown`` itself (closing the listener and every connection).
Dropped connections are made with ASGI alone (see ``reconciler.emulator.middleware``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.errors import ConfigError

_START_TIMEOUT_SECONDS = 10.0
_STOP_TIMEOUT_SECONDS = 5.0
_UNFINISHED_ANSWER = "ASGI callable returned without completing response."


class _DeliberateDrops(logging.Filter):
    """uvicorn logs an error for an answer the app leaves unfinished; in the emulator that is a
    dropped connection injected on purpose (``emulator.middleware``), not a fault to report."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _UNFINISHED_ANSWER


_UVICORN_ERRORS = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _DeliberateDrops) for f in _UVICORN_ERRORS.filters):
    _UVICORN_ERRORS.addFilter(_DeliberateDrops())


class _Lifespan:
    """The app, plus an answer to the ASGI lifespan protocol that signals when serving starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.started = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
                self.started.set()
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


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
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

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
        app = _Lifespan(self.app)
        config = uvicorn.Config(
            app,
            ws="none",
            lifespan="on",
            interface="asgi3",
            loop="asyncio",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=int(_STOP_TIMEOUT_SECONDS),
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=self._run, args=(server, sock), name=f"emulator:{bound_port}", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not app.started.wait(timeout=0.05):
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(timeout=_STOP_TIMEOUT_SECONDS)
                self._server = self._thread = None
                sock.close()
                raise RuntimeError("the emulator server failed to start") from self._failure
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._url = f"http://{host}:{bound_port}"
        return self._url

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            asyncio.run(self._serve(server, sock))
        except BaseException as exc:  # reported by start(); a thread has nobody else to tell
            self._failure = exc
        finally:
            sock.close()

    async def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        stopping = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if serving.done():
            serving.result()  # uvicorn stopped by itself: report why
            return
        server.should_exit = True
        serving.cancel()
        try:
            await serving
        except asyncio.CancelledError:
            await server.shutdown(sockets=[sock])

    def stop(self, *, wait: bool = True) -> None:
        """Stop serving. With ``wait`` (the default) return once the listener and every
        connection are closed; without it return at once (uvicorn's shutdown takes 0.1 s
        however idle the server is, which adds up over a test suite) and ``join()`` later."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(stop.set)
        self._server = None
        self._url = None
        if wait:
            self.join()

    def join(self) -> None:
        """Wait until a stopped server's thread has ended (bounded)."""
        thread = self._thread
        if thread is not None and self._server is None:
            thread.join(timeout=_STOP_TIMEOUT_SECONDS + 1.0)
            self._thread = None

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
