"""The LiteLLM proxy emulator: its customer endpoints over HTTP, on the shared ``emulator_app``.

Routes as the proxy serves them (``/customer/*`` and their older ``/end_user/*`` names):
``POST /customer/new``, ``GET /customer/info?end_user_id=``, ``GET /customer/list``
(``page``, ``page_size`` 1-100, ordered by ``user_id``, a bare array), ``POST /customer/update``
and ``POST /customer/delete``. Auth: ``Authorization: Bearer <master key>``. Errors are
LiteLLM's ``{"error": {"message", "type", "param", "code"}}`` (``code`` a string), and FastAPI's
``{"detail": [...]}`` for a 422 or ``{"detail": "Not Found"}`` for an unknown route.

LiteLLM documents no rate limit for these endpoints; ``settings.rate_limit``, when set, limits
all of them together and its 429 has LiteLLM's error shape (``rate_limit_error``).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.emulator.common import (
    EmulatorSettings,
    EmulatorStats,
    RateDecision,
)
from reconciler.emulator.http import InvalidJSON, json_body
from reconciler.emulator.middleware import ProviderDialect, emulator_app
from reconciler.emulator.seeds import add_entries, seed_lists
from reconciler.errors import ConfigError
from reconciler.providers.litellm.emulator_model import (
    LiteLLMState,
    ProxyError,
    ValidationProblems,
)
from reconciler.providers.parts import EmulatorParts

DEFAULT_API_KEY: Final = "sk-emulator-master-key"
"""The documented key the emulator uses when none is given (not a secret)."""
MAX_PAGE_SIZE: Final = 100
DEFAULT_PAGE_SIZE: Final = 50
PREFIXES: Final = ("/customer", "/end_user")


def state_from_seed(seed: Mapping[str, Any] | None, *, source: str = "seed") -> LiteLLMState:
    """State from ``{"customers": [...], "models": [...]}``: customer objects as
    ``/customer/list`` returns them, and optionally the model names the proxy serves (then a
    create's ``default_model`` must be one of them). ``ConfigError`` names ``source`` and the
    bad entry."""
    if seed is None:
        return LiteLLMState()
    lists = seed_lists(seed, ("customers", "models"), source)
    # No models listed: the proxy serves any model (a create's default_model is not checked).
    models = lists["models"] if "models" in seed else None
    if models is not None and not all(isinstance(m, str) for m in models):
        raise ConfigError(f"{source}: models must be a list of model names")
    state = LiteLLMState(models)
    add_entries(source, "customers", lists["customers"], state.add_customer)
    return state


def error_body(status: int, message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    """LiteLLM's ``ProxyException.to_dict()`` under ``error``."""
    return {"error": {"message": message, "type": kind, "param": param, "code": str(status)}}


def _proxy_error(exc: ProxyError) -> Response:
    return JSONResponse(error_body(exc.status, exc.message, exc.kind, exc.param), exc.status)


def _query_problem(name: str, kind: str, message: str, value: Any) -> Response:
    detail = [{"type": kind, "loc": ["query", name], "msg": message, "input": value}]
    return JSONResponse({"detail": detail}, 422)


def _int_param(request: Request, name: str, default: int, maximum: int | None) -> int | Response:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        return _query_problem(name, "int_parsing", "Input should be a valid integer", text)
    if value < 1:
        return _query_problem(name, "greater_than_equal", "Input should be >= 1", text)
    if maximum is not None and value > maximum:
        return _query_problem(name, "less_than_equal", f"Input should be <= {maximum}", text)
    return value


Handler = Callable[[Request], Awaitable[Response]]


def create_app(
    state: LiteLLMState, settings: EmulatorSettings, *, stats: EmulatorStats | None = None
) -> Starlette:
    """The LiteLLM customer endpoints over ``state``; ``app.state.stats`` holds statistics."""
    stats = stats if stats is not None else EmulatorStats()

    def with_body(handle: Callable[[dict[str, Any]], Response]) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                body = await json_body(request)
            except InvalidJSON as exc:
                detail = [{"type": "json_invalid", "loc": ["body"], "msg": str(exc)}]
                return JSONResponse({"detail": detail}, 422)
            if not isinstance(body, dict):
                detail = [
                    {
                        "type": "model_attributes_type",
                        "loc": ["body"],
                        "msg": "Input should be a valid dictionary or object",
                        "input": body,
                    }
                ]
                return JSONResponse({"detail": detail}, 422)
            try:
                return handle(body)
            except ValidationProblems as exc:
                return JSONResponse({"detail": exc.problems}, 422)
            except ProxyError as exc:
                return _proxy_error(exc)

        return endpoint

    def new(body: dict[str, Any]) -> Response:
        return JSONResponse(state.create(body))

    def update(body: dict[str, Any]) -> Response:
        return JSONResponse(state.update(body))

    def delete(body: dict[str, Any]) -> Response:
        user_ids = body.get("user_ids")
        if not isinstance(user_ids, list) or not all(isinstance(u, str) for u in user_ids):
            kind = "missing" if "user_ids" not in body else "list_type"
            problem = {
                "type": kind,
                "loc": ["body", "user_ids"],
                "input": user_ids,
                "msg": "Field required"
                if kind == "missing"
                else "Input should be a valid list of strings",
            }
            raise ValidationProblems([problem])
        if not user_ids:
            # LiteLLM raises a plain ValueError here, which its handler answers as a 500.
            message = f"user_id is required, passed user_id = {user_ids}"
            raise ProxyError(500, message, "internal_server_error")
        deleted = state.delete(user_ids)
        return JSONResponse(
            {
                "deleted_customers": deleted,
                "message": f"Successfully deleted customers with ids: {user_ids}",
            }
        )

    async def info(request: Request) -> Response:
        user_id = request.query_params.get("end_user_id")
        if user_id is None:
            return _query_problem("end_user_id", "missing", "Field required", None)
        customer = state.get(user_id)
        if customer is None:
            message = f"End User Id={user_id} does not exist in db"
            return _proxy_error(ProxyError(404, message, "not_found", "end_user_id"))
        return JSONResponse(customer)

    async def list_customers(request: Request) -> Response:
        page = _int_param(request, "page", 1, None)
        if isinstance(page, Response):
            return page
        page_size = _int_param(request, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        if isinstance(page_size, Response):
            return page_size
        search = request.query_params.get("search") or None
        return JSONResponse(state.list_page(page, page_size, search))

    routes = []
    for prefix in PREFIXES:
        routes += [
            Route(f"{prefix}/new", with_body(new), methods=["POST"]),
            Route(f"{prefix}/info", info, methods=["GET"]),
            Route(f"{prefix}/list", list_customers, methods=["GET"]),
            Route(f"{prefix}/update", with_body(update), methods=["POST"]),
            Route(f"{prefix}/delete", with_body(delete), methods=["POST"]),
        ]
    return emulator_app(routes, settings, stats, _dialect(settings), state)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # FastAPI's (Starlette's) own answers for an unknown route or method.
    detail = "Method Not Allowed" if exc.status_code == 405 else "Not Found"
    return JSONResponse({"detail": detail}, exc.status_code)


def _dialect(settings: EmulatorSettings) -> ProviderDialect:
    master_key = settings.api_key.encode()

    def authenticate(request: Request) -> Response | None:
        header = request.headers.get("authorization")
        if header is None:
            message = "Authentication Error, No api key passed in."
        else:
            scheme, _, token = header.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                message = (
                    "Authentication Error, Malformed API Key passed in. "
                    "Ensure Key has `Bearer ` prefix."
                )
            elif hmac.compare_digest(token.strip().encode(), master_key):
                return None
            else:
                message = "Authentication Error, Invalid proxy server token passed."
        return JSONResponse(error_body(401, message, "auth_error"), 401)

    def rate_limited(request: Request, decision: RateDecision) -> Response:
        headers = {"Retry-After": str(decision.retry_after)} if settings.retry_after_header else {}
        body = error_body(429, "Rate limit exceeded", "rate_limit_error")
        return JSONResponse(body, 429, headers=headers)

    def internal_error(request: Request) -> Response:
        return JSONResponse(error_body(500, "Internal Server Error", "internal_server_error"), 500)

    return ProviderDialect(authenticate, rate_limited, internal_error, _http_error)


PARTS = EmulatorParts(
    state_from_seed=state_from_seed,
    create_app=create_app,
    default_api_key=DEFAULT_API_KEY,
    # LiteLLM documents no limit on its management endpoints.
    default_rate_limit=None,
)
"""The ``ProviderPlugin.emulator`` target."""
