"""HTTP helpers shared by the emulators' routes: JSON bodies, refusals, path segments, paging."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

Endpoint = Callable[[Request], Awaitable[Response]]


class Refusal(Exception):
    """Stop handling a request and answer ``status`` with the JSON ``body``."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        self.status = status
        self.body = body
        self.headers = headers
        super().__init__(f"{status}: {body}")

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def refusing(handler: Endpoint) -> Endpoint:
    """Turn a ``Refusal`` raised by ``handler`` into its JSON response."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Refusal as refusal:
            return refusal.response()

    endpoint.__name__ = getattr(handler, "__name__", "endpoint")
    return endpoint


class InvalidJSON(ValueError):
    """A request body that is not JSON (the message says why)."""


def _reject_constant(name: str) -> Any:
    raise InvalidJSON(f"{name} is not valid JSON")


async def json_body(request: Request) -> Any:
    """The request body parsed as strict JSON (no NaN/Infinity); ``None`` when empty."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidJSON(str(exc)) from exc


def path_tail(request: Request, prefix: str) -> str:
    """The path segment after ``prefix`` (and before the final ``/``), percent-decoded once.

    Read from the raw path, so ``/api/users/a%2Fb/`` names ``a/b`` whatever the server did to
    ``scope["path"]``; returns ``""`` when the segment is not valid UTF-8 (nothing matches it).
    """
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    root = request.scope.get("root_path", "").encode()
    if root and raw.startswith(root):
        raw = raw[len(root) :]
    head = prefix.encode()
    if not raw.startswith(head) or not raw.endswith(b"/"):
        return ""
    try:
        return unquote_to_bytes(raw[len(head) : -1]).decode("utf-8")
    except UnicodeDecodeError:
        return ""


def positive_int(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    """A positive integer query parameter; 400 ``{"detail": ...}`` when invalid or too large."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise Refusal(400, {"detail": f"{name} must be a positive integer, got {text!r}."})
    if maximum is not None and value > maximum:
        raise Refusal(400, {"detail": f"{name} must be at most {maximum}, got {value}."})
    return value
