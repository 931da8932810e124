"""The ASGI layer every emulator puts in front of its routes: statistics, latency, injected
faults, authentication and rate limiting, in the order a real API gateway applies them.

For each API request: count it under its route template, sleep the configured latency, maybe
drop the connection, check the API key (401), take a slot from the rate limiter (429), maybe
answer an injected 429 or 500, then run the route. Paths under ``/_emulator/`` skip all of it.
How each provider words its 401/429/500 is given by a ``ProviderDialect``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.emulator.common import (
    EmulatorSettings,
    EmulatorStats,
    FaultInjector,
    RateDecision,
    SlidingWindowLimiter,
)

CONTROL_PREFIX = "/_emulator/"
_CONVERTER = re.compile(r"\{(\w+):\w+\}")
# The limiter of an API with one documented limit for every request.
ONE_BUCKET = "all"


@dataclass(frozen=True, slots=True)
class ProviderDialect:
    """How one provider authenticates requests and words the errors the middleware returns.

    ``authenticate`` returns ``None`` for a good key, else the 401 response. ``http_error``
    answers an unknown route or method in the API's words. ``bucket`` names the rate limiter a
    request draws from, a key of ``limits``: bucket -> ``(count, seconds)`` (empty: no limit).
    By default every request draws from one limiter at the emulator's ``rate_limit`` setting
    (an API with one documented limit); an API with a limit per endpoint class names both.
    """

    authenticate: Callable[[Request], Response | None]
    rate_limited: Callable[[Request, RateDecision], Response]
    internal_error: Callable[[Request], Response]
    http_error: Callable[[Request, Exception], Awaitable[Response]]
    bucket: Callable[[Request], str] = lambda request: ONE_BUCKET
    # ``None``: ``{ONE_BUCKET: settings.rate_limit}``, or no limit when that is unset.
    limits: Mapping[str, tuple[int, float]] | None = None

    def limits_for(self, settings: EmulatorSettings) -> Mapping[str, tuple[int, float]]:
        """Bucket -> ``(count, seconds)`` this dialect limits under ``settings``."""
        if self.limits is not None:
            return self.limits
        return {} if settings.rate_limit is None else {ONE_BUCKET: settings.rate_limit}


def route_template(method: str, path_template: str) -> str:
    """The stats name of a route: its method and path, converters left out.

    ``("GET", "/api/users/{customer_identifier:path}/")`` gives
    ``"GET /api/users/{customer_identifier}/"``.
    """
    return f"{method} {_CONVERTER.sub(_drop_converter, path_template)}"


def _drop_converter(match: re.Match[str]) -> str:
    return "{" + match.group(1) + "}"


class EmulatorMiddleware:
    """Wraps a provider's routes with statistics, faults, auth and rate limits (see module doc)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        settings: EmulatorSettings,
        stats: EmulatorStats,
        dialect: ProviderDialect,
        limiters: Mapping[str, SlidingWindowLimiter],
    ) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.settings = settings
        self.stats = stats
        self.dialect = dialect
        self.limiters = dict(limiters)
        self.faults = FaultInjector(settings)

    def _template(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE and isinstance(route, Route):
                return route_template(scope["method"], route.path)
        return f"{scope['method']} (unmatched)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        self.stats.record_request(self._template(scope))

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.stats.record_response(int(message["status"]))
            await send(message)

        draw = self.faults.draw()
        if draw.delay_seconds > 0:
            await asyncio.sleep(draw.delay_seconds)
        if draw.drop:
            self.stats.record_drop()
            await _drop_connection(scope, receive, send)  # uncounted: no answer is given
            return
        request = Request(scope, receive)
        refusal = self._refusal(request, throttle=draw.throttle, fail=draw.fail)
        if refusal is not None:
            await refusal(scope, receive, counting_send)
            return
        await self.app(scope, receive, counting_send)

    def _refusal(self, request: Request, *, throttle: bool, fail: bool) -> Response | None:
        unauthorized = self.dialect.authenticate(request)
        if unauthorized is not None:
            return unauthorized
        limiter = self.limiters.get(self.dialect.bucket(request))
        if limiter is not None:
            # An injected 429 is a refusal like the limiter's own: it is not served, so it
            # takes no slot (else a client pacing to the limit would meet real 429s too).
            decision = limiter.acquire(take=not throttle)
            if not decision.allowed:
                return self.dialect.rate_limited(request, decision)
        if throttle:
            injected = RateDecision(
                allowed=False,
                limit=limiter.count if limiter is not None else 0,
                remaining=0,
                retry_after=self.settings.injected_retry_after,
            )
            return self.dialect.rate_limited(request, injected)
        if fail:
            return self.dialect.internal_error(request)
        return None


async def _drop_connection(scope: Scope, receive: Receive, send: Send) -> None:
    """Close the connection before a complete answer, with ASGI alone.

    An ASGI app cannot close its connection, but a server must close one whose answer the app
    leaves unfinished. So the answer promises a body (``content-length: 1``) and ends without
    it: the client sees the connection close mid-answer, as when a server dies, and the
    request did nothing. A client must not take the bare ``200`` for a success.
    """
    # Read the whole request first: closing a socket with unread bytes (or receiving the rest
    # of the body after closing) makes the kernel send a reset instead of a clean close, and
    # the client's error would then depend on timing.
    message = await receive()
    while message["type"] == "http.request" and message.get("more_body", False):
        message = await receive()
    if message["type"] == "http.disconnect":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]}
    )


def _control_routes(stats: EmulatorStats) -> list[Route]:
    """Read and reset the statistics (under ``CONTROL_PREFIX``, so the middleware skips them)."""

    async def read_stats(request: Request) -> Response:
        return JSONResponse(stats.snapshot())

    async def reset_stats(request: Request) -> Response:
        stats.reset()
        return JSONResponse(stats.snapshot())

    return [
        Route(f"{CONTROL_PREFIX}stats", read_stats, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}reset-stats", reset_stats, methods=["POST"]),
    ]


def emulator_app(
    routes: Sequence[BaseRoute],
    settings: EmulatorSettings,
    stats: EmulatorStats,
    dialect: ProviderDialect,
    state: object,
) -> Starlette:
    """A provider's emulator app: its routes behind the shared middleware (stats, latency,
    faults, auth, rate limits), with the provider's own error bodies for unknown routes, plus
    the control routes ``GET /_emulator/stats`` and ``POST /_emulator/reset-stats``.

    ``app.state.stats`` and ``app.state.emulator_state`` give tests and the CLI the statistics
    and the provider's state.
    """
    limiters = {
        bucket: SlidingWindowLimiter(count, seconds, settings.clock)
        for bucket, (count, seconds) in dialect.limits_for(settings).items()
    }
    app = Starlette(
        routes=[*routes, *_control_routes(stats)],
        middleware=[
            Middleware(
                EmulatorMiddleware,
                routes=routes,
                settings=settings,
                stats=stats,
                dialect=dialect,
                limiters=limiters,
            )
        ],
        exception_handlers={HTTPException: dialect.http_error},
    )
    # A path without its trailing slash is a 404, as a client bug should be, not a redirect.
    app.router.redirect_slashes = False
    app.state.stats = stats
    app.state.emulator_state = state
    return app
