"""The Autumn API emulator: customers get, list, get_or_create, update and delete, over HTTP.

``AutumnState`` keeps customers per environment (``sandbox``/``live``, picked by the key's
``am_sk_test_``/``am_sk_live_`` prefix). ``create_app`` serves the documented endpoints with
``x-api-version`` choosing the list shape (2.2.0 and older: offset pages; 2.3.0 and newer,
including the 2.5.0 autumn-sdk 1.2.0 sends: cursor pages; no header means 2.2.0), Autumn's
error body ``{"message", "code", "env"}``, and two rate limits: ``settings.rate_limit`` for
``customers.list`` (default 5/s) and five times that for every other call (default 25/s).

The emulator accepts the configured key and its twin for the other environment (same secret,
other prefix), so one emulator serves both environments.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

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
from reconciler.emulator.http import InvalidJSON, Refusal, json_body
from reconciler.emulator.middleware import ProviderDialect, emulator_app
from reconciler.emulator.seeds import add_entries, seed_lists
from reconciler.providers.autumn import emulator_model as model
from reconciler.providers.parts import EmulatorParts

DEFAULT_API_KEY = "am_sk_test_emulator"
"""The documented key the CLI uses when none is given (not a secret)."""
DEFAULT_RATE_LIMIT = (5, 1.0)
"""customers.list: 5 requests per second per organization; other calls get five times that."""
WRITE_LIMIT_FACTOR = 5
DEFAULT_VERSION = "2.2.0"
OFFSET_VERSIONS = frozenset({"2.0.0", "2.1.0", "2.2.0"})
CURSOR_VERSIONS = frozenset({"2.3.0", "2.4.0", "2.5.0"})
LIST_PATH = "/v1/customers.list"

CustomerKey = tuple[str, str]
"""``(env, id)``."""

# The body keys customers.update and customers.get_or_create accept (unknown ones are 400).
_BODY_KEYS = (
    "customer_id",
    "name",
    "email",
    "fingerprint",
    "metadata",
    "stripe_id",
    "send_email_receipts",
    "currency",
    "billing_controls",
    "config",
    "billing_details",
)
_UPDATE_KEYS = (*_BODY_KEYS, "new_customer_id")
_CREATE_KEYS = (*_BODY_KEYS, "create_in_stripe", "auto_enable_plan_id", "expand")


class CustomerExists(ValueError):
    """A rename would collide with another customer (409 ``customer_already_exists``)."""


class AutumnState:
    """An organization's Autumn customers in both environments, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._customers: dict[CustomerKey, dict[str, Any]] = {}

    @classmethod
    def from_seed(cls, seed: Mapping[str, Any] | None, *, source: str = "seed") -> AutumnState:
        """State from ``{"customers": [...]}`` (Autumn customer objects, ``env`` per customer);
        ``ConfigError`` names ``source`` and the bad entry."""
        state = cls()
        if seed is not None:
            customers = seed_lists(seed, ("customers",), source)["customers"]
            add_entries(source, "customers", customers, state.add_customer)
        return state

    def to_seed(self) -> dict[str, Any]:
        """The state as a seed document ``from_seed`` reads back: what a run keeps."""
        with self._lock:
            return {
                "customers": [model.view(self._customers[key]) for key in sorted(self._customers)]
            }

    @property
    def customers(self) -> dict[CustomerKey, dict[str, Any]]:
        """A snapshot of every customer as the API shows it, keyed by (env, id)."""
        with self._lock:
            return {key: model.view(record) for key, record in self._customers.items()}

    def add_customer(self, customer: Mapping[str, Any]) -> dict[str, Any]:
        """Store a customer object (``env`` picks the environment); ``ValueError`` if it exists."""
        record = model.customer_from_seed(dict(customer))
        key = (record["env"], record["id"])
        with self._lock:
            if key in self._customers:
                raise ValueError(f"customer {key[1]!r} already exists in {key[0]}")
            self._customers[key] = record
            return model.view(record)

    def get_customer(self, customer_id: str, *, env: str = "sandbox") -> dict[str, Any] | None:
        with self._lock:
            record = self._customers.get((env, customer_id))
            return None if record is None else model.view(record)

    def update_customer(
        self, customer_id: str, changes: Mapping[str, Any], *, env: str = "sandbox"
    ) -> dict[str, Any]:
        """Apply a ``customers.update`` body: metadata merged (null removes a key), each sent
        billing_controls array replaced. ``KeyError`` if unknown, ``InvalidInputs`` if bad,
        ``CustomerExists`` if ``new_customer_id`` is taken."""
        body = {k: v for k, v in changes.items() if k != "customer_id"}
        model.no_unknown_keys(body, _UPDATE_KEYS, "body")
        profile = _profile_fields(body)
        controls = (
            model.billing_controls(body["billing_controls"]) if "billing_controls" in body else {}
        )
        config = model.mapping(body["config"], "config") if "config" in body else None
        with self._lock:
            record = self._customers[(env, customer_id)]
            new_id = body.get("new_customer_id", customer_id)
            if new_id is None:
                raise model.InvalidInputs("new_customer_id: customer ID cannot be set to null")
            new_id = model.required_id(new_id, "new_customer_id")
            if new_id != customer_id and (env, new_id) in self._customers:
                raise CustomerExists(f"Customer with ID {new_id} already exists")
            record.update(profile)
            if body.get("metadata") is not None:
                merged = {**record["metadata"], **model.mapping(body["metadata"], "metadata")}
                record["metadata"] = {k: v for k, v in merged.items() if v is not None}
            record["billing_controls"] = {**record["billing_controls"], **controls}
            if config is not None:
                record["config"] = {**record.get("config", {}), **config}
            if new_id != customer_id:
                del self._customers[(env, customer_id)]
                record["id"] = new_id
                self._customers[(env, new_id)] = record
            return model.view(record)

    def get_or_create(
        self, customer_id: str, fields: Mapping[str, Any], *, env: str = "sandbox"
    ) -> tuple[dict[str, Any], bool]:
        """``customers.get_or_create``: ``(customer, created)``. An existing customer only gets
        a missing name or email filled in."""
        body = {k: v for k, v in fields.items() if k != "customer_id"}
        model.no_unknown_keys(body, _CREATE_KEYS, "body")
        profile = _profile_fields(body)
        controls = model.billing_controls(body.get("billing_controls") or {})
        if "config" in body:
            model.mapping(body["config"], "config")
        with self._lock:
            existing = self._customers.get((env, customer_id))
            if existing is not None:
                for name in ("name", "email"):
                    if existing[name] is None and profile.get(name) is not None:
                        existing[name] = profile[name]
                return model.view(existing), False
            metadata = model.mapping(body.get("metadata") or {}, "metadata")
            seed: dict[str, Any] = {
                "id": customer_id,
                "env": env,
                "created_at": int(time.time() * 1000),
                **profile,
                "metadata": {k: v for k, v in metadata.items() if v is not None},
                "billing_controls": controls,
            }
            if "config" in body:
                seed["config"] = body["config"]
            record = model.customer_record(seed)
            self._customers[(env, customer_id)] = record
            return model.view(record), True

    def delete_customer(self, customer_id: str, *, env: str = "sandbox") -> bool:
        with self._lock:
            return self._customers.pop((env, customer_id), None) is not None

    def list_customers(
        self,
        env: str,
        matches: Callable[[Mapping[str, Any]], bool] = lambda record: True,
        *,
        descending: bool = True,
    ) -> list[dict[str, Any]]:
        """Matching customers of ``env`` by creation time (newest first unless ascending)."""
        with self._lock:
            records = [r for (e, _), r in self._customers.items() if e == env and matches(r)]
            records.sort(key=model.sort_key, reverse=descending)
            return [model.view(record) for record in records]

    def count(self, env: str) -> int:
        with self._lock:
            return sum(1 for e, _ in self._customers if e == env)


def _profile_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The plain profile fields of a create/update body, checked."""
    profile: dict[str, Any] = {}
    for name in ("name", "email", "fingerprint", "stripe_id"):
        if name in body:
            profile[name] = model.text_or_null(body[name], name)
    if "send_email_receipts" in body:
        profile["send_email_receipts"] = model.boolean(
            body["send_email_receipts"], "send_email_receipts"
        )
    if body.get("metadata") is not None:
        model.mapping(body["metadata"], "metadata")
    if body.get("currency") is not None:
        model.text_or_null(body["currency"], "currency")
    return profile


# --- HTTP ----------------------------------------------------------------------------------------


def key_environment(key: str) -> str:
    """``sandbox`` or ``live`` from a secret key's prefix (sandbox when it has none)."""
    for prefix, env in model.KEY_PREFIXES.items():
        if key.startswith(prefix):
            return env
    return "sandbox"


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _error(request: Request, status: int, code: str, message: str) -> Refusal:
    return Refusal(
        status, {"message": message, "code": code, "env": key_environment(_bearer(request))}
    )


def _version(request: Request) -> str:
    version = request.headers.get("x-api-version", DEFAULT_VERSION).strip()
    if version not in OFFSET_VERSIONS | CURSOR_VERSIONS:
        supported = ", ".join(sorted(OFFSET_VERSIONS | CURSOR_VERSIONS))
        raise _error(
            request, 400, "invalid_inputs", f"Invalid x-api-version {version!r} ({supported})"
        )
    return version


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await json_body(request)
    except InvalidJSON as exc:
        raise _error(request, 400, "invalid_inputs", f"Invalid JSON body: {exc}") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise _error(request, 400, "invalid_inputs", "Request body must be a JSON object")
    return body


def _limit(request: Request, body: Mapping[str, Any], default: int, maximum: int) -> int:
    limit = body.get("limit", default)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise _error(
            request, 400, "invalid_inputs", f"limit: expected an integer from 1 to {maximum}"
        )
    return limit


def create_app(
    state: AutumnState, settings: EmulatorSettings, *, stats: EmulatorStats | None = None
) -> Starlette:
    """The Autumn customers API over ``state``; ``app.state.stats`` holds the statistics."""
    stats = stats if stats is not None else EmulatorStats()

    def endpoint(
        handler: Callable[[Request, dict[str, Any], str, str], Response],
    ) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            try:
                version = _version(request)
                body = await _body(request)
                env = key_environment(_bearer(request))
                return handler(request, body, env, version)
            except model.InvalidInputs as exc:
                return _error(request, 400, "invalid_inputs", str(exc)).response()
            except CustomerExists as exc:
                return _error(request, 409, "customer_already_exists", str(exc)).response()
            except Refusal as refusal:
                return refusal.response()

        return run

    def customer_id(request: Request, body: Mapping[str, Any]) -> str:
        return model.required_id(body.get("customer_id"), "customer_id")

    def not_found(request: Request, identifier: str) -> Refusal:
        return _error(request, 404, "customer_not_found", f"Customer {identifier} not found")

    def get(request: Request, body: dict[str, Any], env: str, version: str) -> Response:
        model.no_unknown_keys(body, ("customer_id", "expand"), "body")
        identifier = customer_id(request, body)
        customer = state.get_customer(identifier, env=env)
        if customer is None:
            raise not_found(request, identifier)
        return JSONResponse(customer)

    def list_customers(request: Request, body: dict[str, Any], env: str, version: str) -> Response:
        filters = ("search", "plans", "subscription_status", "processors")
        if version in OFFSET_VERSIONS:
            model.no_unknown_keys(body, ("offset", "limit", "expand", *filters), "body")
            limit = _limit(request, body, default=10, maximum=1000)
            offset = body.get("offset", 0)
            if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
                raise model.InvalidInputs("offset: expected a non-negative integer")
            matching = state.list_customers(env, model.list_filter(body))
            page = matching[offset : offset + limit]
            return JSONResponse(
                {
                    "list": page,
                    "total": len(page),
                    "total_count": state.count(env),
                    "total_filtered_count": len(matching),
                    "limit": limit,
                    "offset": offset,
                    # As the real server computes it: a full last page is followed by an empty one.
                    "has_more": len(page) == limit,
                }
            )
        allowed = ("start_cursor", "limit", "sort_order", "created_at_range", "expand", *filters)
        model.no_unknown_keys(body, allowed, "body")
        limit = _limit(request, body, default=50, maximum=5000)
        order = body.get("sort_order") or "desc"
        if order not in ("asc", "desc"):
            raise model.InvalidInputs("sort_order: expected asc or desc")
        cursor = body.get("start_cursor") or ""
        if not isinstance(cursor, str):
            raise model.InvalidInputs("start_cursor: expected a string")
        matching = state.list_customers(env, model.list_filter(body), descending=order == "desc")
        if cursor:
            after = model.decode_cursor(cursor)
            if order == "desc":
                matching = [c for c in matching if model.sort_key(c) < after]
            else:
                matching = [c for c in matching if model.sort_key(c) > after]
        page = matching[:limit]
        more = len(matching) > limit
        return JSONResponse(
            {"list": page, "next_cursor": model.encode_cursor(page[-1]) if more else None}
        )

    def get_or_create(request: Request, body: dict[str, Any], env: str, version: str) -> Response:
        customer, _ = state.get_or_create(customer_id(request, body), body, env=env)
        return JSONResponse(customer)

    def update(request: Request, body: dict[str, Any], env: str, version: str) -> Response:
        identifier = customer_id(request, body)
        try:
            return JSONResponse(state.update_customer(identifier, body, env=env))
        except KeyError:
            raise not_found(request, identifier) from None

    def delete(request: Request, body: dict[str, Any], env: str, version: str) -> Response:
        model.no_unknown_keys(body, ("customer_id", "delete_in_stripe"), "body")
        identifier = customer_id(request, body)
        if "delete_in_stripe" in body:
            model.boolean(body["delete_in_stripe"], "delete_in_stripe")
        if not state.delete_customer(identifier, env=env):
            raise not_found(request, identifier)
        return JSONResponse({"success": True})

    routes = [
        Route("/v1/customers.get", endpoint(get), methods=["POST"]),
        Route(LIST_PATH, endpoint(list_customers), methods=["POST"]),
        Route("/v1/customers.get_or_create", endpoint(get_or_create), methods=["POST"]),
        Route("/v1/customers.update", endpoint(update), methods=["POST"]),
        Route("/v1/customers.delete", endpoint(delete), methods=["POST"]),
    ]
    return emulator_app(routes, settings, stats, _dialect(settings), state)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        refusal = _error(
            request, 405, "method_not_allowed", f"{request.method} is not allowed here"
        )
    else:
        refusal = _error(request, exc.status_code, "not_found", f"No route {request.url.path}")
    return refusal.response()


def _accepted_keys(configured: str) -> dict[bytes, str]:
    """The configured key and its twin for the other environment, each with its env."""
    for prefix in model.KEY_PREFIXES:
        if configured.startswith(prefix):
            secret = configured.removeprefix(prefix)
            return {(p + secret).encode(): env for p, env in model.KEY_PREFIXES.items()}
    return {configured.encode(): "sandbox"}


def _dialect(settings: EmulatorSettings) -> ProviderDialect:
    accepted = _accepted_keys(settings.api_key)

    def authenticate(request: Request) -> Response | None:
        if not request.headers.get("authorization", "").strip():
            return _error(request, 401, "no_secret_key", "Secret key not found").response()
        token = _bearer(request).encode()
        if not any(hmac.compare_digest(token, key) for key in accepted):
            return _error(request, 401, "invalid_secret_key", "Invalid secret key").response()
        return None

    def rate_limited(request: Request, decision: RateDecision) -> Response:
        headers = {"RateLimit-Reset": str(decision.retry_after)}
        if decision.limit:  # an injected 429 while no limit is set has no limit to state
            headers["RateLimit-Limit"] = str(decision.limit)
            headers["RateLimit-Remaining"] = str(decision.remaining)
        if settings.retry_after_header:
            headers["Retry-After"] = str(decision.retry_after)
        refusal = _error(request, 429, "rate_limit_exceeded", "Rate limit exceeded")
        return JSONResponse(refusal.body, status_code=429, headers=headers)

    def internal_error(request: Request) -> Response:
        return _error(request, 500, "internal_error", "Internal server error").response()

    return ProviderDialect(
        authenticate=authenticate,
        rate_limited=rate_limited,
        internal_error=internal_error,
        bucket=lambda request: "list" if request.url.path == LIST_PATH else "other",
        http_error=_http_error,
        limits=_limits(settings.rate_limit),
    )


def _limits(rate_limit: tuple[int, float] | None) -> dict[str, tuple[int, float]]:
    """``customers.list`` at the rate limit; every other call at a multiple of it."""
    if rate_limit is None:
        return {}
    count, per_seconds = rate_limit
    return {"list": (count, per_seconds), "other": (count * WRITE_LIMIT_FACTOR, per_seconds)}


PARTS = EmulatorParts(
    state_from_seed=AutumnState.from_seed,
    create_app=create_app,
    default_api_key=DEFAULT_API_KEY,
    default_rate_limit=DEFAULT_RATE_LIMIT,
)
"""The ``ProviderPlugin.emulator`` target."""
