"""Tiny real HTTP servers on 127.0.0.1 for client tests: scripted answers and dropped sockets.

The emulator serves the documented API; these serve what it never would (a server that
repeats pages, echoes the Authorization header, or hangs up) so the client's defences are
exercised over real sockets too.
"""

from __future__ import annotations

import inspect
import json
import socket
import socketserver
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from reconciler.emulator.server import EmulatorServer


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """One scripted answer."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of ``body`` as JSON


Handler = Callable[[Seen], Answer | Awaitable[Answer]]


class ScriptedApp:
    """ASGI app answering each request with ``handler(seen)``; records every request.

    ``handler`` may be a coroutine function (to hold a request open without blocking the
    server). ``reset()`` swaps it, so one server can serve a whole test module.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    def reset(self, handler: Handler) -> ScriptedApp:
        with self._lock:
            self.handler = handler
            self.seen.clear()
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        request = Request(scope, receive)
        seen = Seen(
            method=request.method,
            raw_path=scope["raw_path"].decode("ascii"),
            query=scope["query_string"].decode("ascii"),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        with self._lock:
            self.seen.append(seen)
        answer = self.handler(seen)
        if inspect.isawaitable(answer):
            answer = await answer
        if answer.raw is not None:
            content, media = answer.raw, "text/html"
        elif answer.body is None:
            content, media = b"", None
        else:
            content, media = json.dumps(answer.body).encode(), "application/json"
        response = Response(content, answer.status, headers=answer.headers, media_type=media)
        await response(scope, receive, send)


def script(*answers: Answer) -> Handler:
    """A handler giving ``answers`` in order, repeating the last one forever."""
    queue = list(answers)
    lock = threading.Lock()

    def handler(seen: Seen) -> Answer:
        with lock:
            return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app on a random loopback port (the emulators' server); yield its base URL."""
    with EmulatorServer(app) as server:
        yield server.url


@contextmanager
def hang_up_then_answer(drops: int, answer: bytes) -> Iterator[tuple[str, list[int]]]:
    """A server that closes the first ``drops`` connections unanswered, then sends ``answer``.

    Yields the base URL and a one-item list counting connections accepted.
    """
    accepted = [0]
    lock = threading.Lock()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(65536)
            with lock:
                accepted[0] += 1
                drop = accepted[0] <= drops
            if not drop:
                self.request.sendall(answer)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", accepted
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def raw_json_answer(status: int, body: Any) -> bytes:
    """A complete HTTP/1.1 response that closes the connection."""
    content = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(content)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + content


@dataclass
class RawServer:
    """A loopback server answering with raw bytes: its URL and what it saw."""

    url: str
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)


Responder = Callable[[socket.socket, threading.Event], None]


@contextmanager
def serve_raw(respond: Responder, *, http: bool = True) -> Iterator[RawServer]:
    """A server that reads each request's head, then lets ``respond`` write to the socket.

    With ``http=False`` it reads only what first arrives (a TLS client hello, say).

    ``respond`` gets the connection and an event set when the server shuts down (a responder
    that trickles waits on it instead of sleeping, so the test never waits for it).
    """
    stopping = threading.Event()
    lock = threading.Lock()
    server_state = RawServer(url="")

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            head = b""
            while not head or (http and b"\r\n\r\n" not in head and len(head) < 65536):
                chunk = self.request.recv(65536)
                if not chunk:
                    break
                head += chunk
            with lock:
                server_state.connections += 1
                server_state.requests.append(head)
            # The client hanging up mid-answer is what hostile servers are for.
            with suppress(OSError):
                respond(self.request, stopping)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server_state
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def raw_answer(body: bytes, headers: dict[str, str] | None = None, status: int = 200) -> bytes:
    """A complete HTTP/1.1 answer with ``body`` as is (already encoded) and a length."""
    fields = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    fields.update(headers or {})
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return head.encode() + b"Connection: close\r\n\r\n" + body
