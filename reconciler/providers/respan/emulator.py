"""The Respan API emulator: users (customers) and credit transactions, over HTTP.

``RespanState`` holds the organization's data (thread-safe; tests may change it directly while
the server runs). ``create_app`` serves it as the documented API: list with filters, sorting
and page links, retrieve, PATCH, DELETE, credit transactions, DRF-style error bodies, Bearer
auth, a per-organization rate limit and injected faults (see ``middleware``).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Hashable, Iterable, Mapping
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
from reconciler.emulator.http import (
    InvalidJSON,
    Refusal,
    json_body,
    path_tail,
    positive_int,
    refusing,
)
from reconciler.emulator.middleware import ProviderDialect, emulator_app
from reconciler.emulator.seeds import add_entries, seed_lists
from reconciler.errors import ConfigError
from reconciler.providers.parts import EmulatorParts
from reconciler.providers.respan import emulator_model as model
from reconciler.providers.respan.emulator_query import (
    Condition,
    QueryError,
    parse_filters,
    parse_sort,
    sort_customers,
)

DEFAULT_API_KEY = "emulator-key"
"""The documented key the CLI uses when none is given (not a secret)."""
DEFAULT_RATE_LIMIT = (60, 60.0)
"""The users API's documented limit: 60 requests per minute per organization."""
USERS_PREFIX = "/api/users/"
TRANSACTIONS_PREFIX = "/api/credit-transactions/"

CustomerKey = tuple[str, str]
"""``(environment, customer_identifier)``."""


class RespanState:
    """One organization's customers and credit transactions, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._customers: dict[CustomerKey, dict[str, Any]] = {}
        self._transactions: dict[str, dict[str, Any]] = {}
        # Sorted matches by query, dropped on every change: paging through a large organization
        # filters and sorts once, not once per page.
        self._orders: dict[Hashable, list[Mapping[str, Any]]] = {}
        # A listed customer's JSON text, by id() of its record; cleared with ``_orders``.
        self._list_json: dict[int, bytes] = {}

    @classmethod
    def from_seed(cls, seed: Mapping[str, Any] | None, *, source: str = "seed") -> RespanState:
        """State from ``{"customers": [...], "credit_transactions": [...]}`` in the API's own
        shapes; ``ConfigError`` names ``source`` and the bad entry and field."""
        state = cls()
        if seed is None:
            return state
        lists = seed_lists(seed, ("customers", "credit_transactions"), source)
        errors = (model.ValidationFailed, ValueError)
        add_entries(source, "customers", lists["customers"], state.add_customer, errors)
        for index, item in enumerate(lists["credit_transactions"]):
            try:
                state.add_credit_transaction(item, index=index)
            except errors as exc:
                raise ConfigError(f"{source}: credit_transactions[{index}]: {exc}") from None
        return state

    def to_seed(self) -> dict[str, Any]:
        """The state as a seed document ``from_seed`` reads back: what a run keeps."""
        with self._lock:
            return {
                "customers": [_copy(self._customers[key]) for key in sorted(self._customers)],
                "credit_transactions": [
                    _copy(record) for _, record in sorted(self._transactions.items())
                ],
            }

    # --- customers ----------------------------------------------------------------------------

    @property
    def customers(self) -> dict[CustomerKey, dict[str, Any]]:
        """A snapshot of every customer (stored shape), keyed by (environment, identifier)."""
        with self._lock:
            return {key: _copy(record) for key, record in self._customers.items()}

    def add_customer(self, customer: Mapping[str, Any]) -> dict[str, Any]:
        """Create a customer (as usage would) from an API-shaped object; ``ValueError`` if it
        exists already."""
        record = model.customer_from_seed(dict(customer))
        key = (record["environment"], record["customer_identifier"])
        with self._lock:
            if key in self._customers:
                raise ValueError(f"customer {key[1]!r} already exists in {key[0]}")
            self._customers[key] = record
            self._changed()
            return _copy(record)

    def get_customer(
        self, customer_identifier: str, *, environment: str = model.DEFAULT_ENVIRONMENT
    ) -> dict[str, Any] | None:
        with self._lock:
            record = self._customers.get((environment, customer_identifier))
            return None if record is None else _copy(record)

    def update_customer(
        self,
        customer_identifier: str,
        changes: Mapping[str, Any],
        *,
        environment: str = model.DEFAULT_ENVIRONMENT,
    ) -> dict[str, Any]:
        """Apply a PATCH body (validated as the API does) and bump ``updated_at``.

        ``KeyError`` for an unknown customer, ``ValidationFailed`` for a bad body.
        """
        normalized = model.validate_update(changes)
        with self._lock:
            record = self._customers[(environment, customer_identifier)]
            record.update(normalized)
            record["updated_at"] = model.now_timestamp()
            self._changed()
            return _copy(record)

    def delete_customer(
        self, customer_identifier: str, *, environment: str = model.DEFAULT_ENVIRONMENT
    ) -> bool:
        """Remove a customer; ``False`` when there was none."""
        with self._lock:
            self._changed()
            return self._customers.pop((environment, customer_identifier), None) is not None

    def page_list_json(
        self,
        environment: str,
        conditions: Iterable[Condition] = (),
        *,
        sort_field: str = "first_seen",
        descending: bool = True,
        match_all: bool = True,
        start: int = 0,
        stop: int | None = None,
    ) -> tuple[int, list[bytes]]:
        """How many customers match, and the sorted matches in ``[start:stop]``, each as its
        list item's JSON text (as Starlette's ``JSONResponse`` writes it), kept until the next
        change. Only the requested slice is written, under the lock.

        Writing a thousand list items as JSON was most of the time a list page took; a large
        plan reads every page, and on a shared machine the emulator's time is the plan's wait.
        """
        with self._lock:
            ordered = self._ordered(
                environment, tuple(conditions), sort_field, descending, match_all
            )
            rendered = self._list_json
            texts = []
            for record in ordered[start:stop]:
                text = rendered.get(id(record))
                if text is None:
                    text = rendered[id(record)] = _json_text(model.list_item(record))
                texts.append(text)
            return len(ordered), texts

    def _ordered(
        self,
        environment: str,
        wanted: tuple[Condition, ...],
        sort_field: str,
        descending: bool,
        match_all: bool,
    ) -> list[Mapping[str, Any]]:
        """The matches, sorted; cached per query until the next change. Holds the lock."""
        combine = all if match_all else any
        query: Hashable = (environment, wanted, sort_field, descending, match_all)
        try:
            hash(query)
        except TypeError:  # a filter value that is a list or object: not cached
            query = None
        ordered = self._orders.get(query) if query is not None else None
        if ordered is None:
            matching = [
                record
                for (env, _), record in self._customers.items()
                if env == environment
                and (not wanted or combine(condition.matches(record) for condition in wanted))
            ]
            ordered = sort_customers(matching, sort_field, descending)
            if query is not None:
                self._orders[query] = ordered
        return ordered

    def _changed(self) -> None:
        """Forget what was derived from the customers (sorted matches, list items' JSON)."""
        self._orders.clear()
        self._list_json.clear()

    # --- credit transactions ----------------------------------------------------------------

    def add_credit_transaction(
        self, transaction: Mapping[str, Any], *, index: int | None = None
    ) -> dict[str, Any]:
        """Record a transaction (either documented shape; missing fields are derived)."""
        with self._lock:
            number = len(self._transactions) + 1 if index is None else index + 1
            record = model.credit_transaction_from_seed(dict(transaction), number)
            if record["id"] in self._transactions:
                raise ValueError(f"credit transaction {record['id']!r} already exists")
            self._transactions[record["id"]] = record
            return _copy(record)

    def get_credit_transaction(self, transaction_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._transactions.get(transaction_id)
            return None if record is None else _copy(record)

    def credit_transactions(self) -> list[dict[str, Any]]:
        """Every transaction, newest first (ties by id)."""
        with self._lock:
            records = [_copy(record) for record in self._transactions.values()]
        records.sort(key=lambda r: r["id"])
        records.sort(key=lambda r: model.parse_timestamp(r["created_at"]), reverse=True)
        return records


def _copy(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in record.items()}


# --- HTTP ----------------------------------------------------------------------------------------

_NOT_FOUND = {"detail": "Not found."}


def _environment(request: Request) -> str:
    environment = request.query_params.get("environment") or model.DEFAULT_ENVIRONMENT
    if environment not in model.ENVIRONMENTS:
        raise Refusal(400, {"detail": f'"{environment}" is not a valid environment (prod, test).'})
    return environment


def _page(
    request: Request, results: list[bytes], total: int, page: int, page_size: int
) -> Response:
    """One page of ``total`` matches; ``results`` is already that page's slice, as JSON texts.

    The same bytes ``JSONResponse`` would write for the page as one object.
    """
    has_next = page * page_size < total
    links = _json_text(
        {
            "count": total,
            "next": str(request.url.include_query_params(page=page + 1)) if has_next else None,
            "previous": str(request.url.include_query_params(page=page - 1)) if page > 1 else None,
        }
    )
    body = b"".join((links[:-1], b',"results":[', b",".join(results), b"]}"))
    return Response(body, media_type="application/json")


def _json_text(value: Any) -> bytes:
    """``value`` as Starlette's ``JSONResponse`` renders it."""
    return _RENDERER.render(value)


_RENDERER = JSONResponse(None)


async def _object_body(request: Request) -> dict[str, Any]:
    try:
        body = await json_body(request)
    except InvalidJSON as exc:
        raise Refusal(400, {"detail": f"JSON parse error - {exc}"}) from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        kind = type(body).__name__
        raise Refusal(400, {"detail": f"Invalid data. Expected a dictionary, but got {kind}."})
    return body


def create_app(
    state: RespanState, settings: EmulatorSettings, *, stats: EmulatorStats | None = None
) -> Starlette:
    """The Respan API over ``state``; ``app.state.stats`` holds the request statistics."""
    stats = stats if stats is not None else EmulatorStats()

    @refusing
    async def list_customers(request: Request) -> Response:
        environment = _environment(request)
        page = positive_int(request, "page", 1)
        page_size = positive_int(request, "page_size", 50, maximum=1000)
        body = await _object_body(request) if request.method == "POST" else {}
        combine = body.get("operator") or "AND"
        try:
            sort_field, descending = parse_sort(request.query_params.get("sort_by"))
            conditions = parse_filters(body.get("filters"))
            if combine not in ("AND", "OR"):
                raise QueryError(f"Unsupported operator {combine!r}: use AND or OR.")
        except QueryError as exc:
            raise Refusal(400, {"detail": str(exc)}) from None
        start = (page - 1) * page_size
        total, records = state.page_list_json(
            environment,
            conditions,
            sort_field=sort_field,
            descending=descending,
            match_all=combine == "AND",
            start=start,
            stop=start + page_size,
        )
        return _page(request, records, total, page, page_size)

    @refusing
    async def customer(request: Request) -> Response:
        identifier = path_tail(request, USERS_PREFIX)
        if identifier == "list":
            # /api/users/list/ is the list endpoint whatever the method (a URL picks its view
            # before the method is looked at), so a PATCH or DELETE of a customer called
            # "list" is refused as the list's wrong method, as the API would.
            detail = {"detail": f'Method "{request.method}" not allowed.'}
            raise Refusal(405, detail, {"Allow": "GET, POST"})
        environment = _environment(request)
        record = state.get_customer(identifier, environment=environment)
        if record is None:
            raise Refusal(404, _NOT_FOUND)
        if request.method == "DELETE":
            if not state.delete_customer(identifier, environment=environment):
                raise Refusal(404, _NOT_FOUND)
            return Response(status_code=204)
        if request.method == "PATCH":
            body = await _object_body(request)
            try:
                record = state.update_customer(identifier, body, environment=environment)
            except model.ValidationFailed as exc:
                raise Refusal(422, {"detail": "Validation error", "errors": exc.errors}) from None
            except KeyError:
                raise Refusal(404, _NOT_FOUND) from None
        return JSONResponse(model.detail(record, settings.omit_fields))

    @refusing
    async def list_credit_transactions(request: Request) -> Response:
        page = positive_int(request, "page", 1)
        page_size = positive_int(request, "page_size", 100, maximum=1000)
        transactions = state.credit_transactions()
        start = (page - 1) * page_size
        shown = [_json_text(item) for item in transactions[start : start + page_size]]
        return _page(request, shown, len(transactions), page, page_size)

    @refusing
    async def credit_transaction(request: Request) -> Response:
        record = state.get_credit_transaction(path_tail(request, TRANSACTIONS_PREFIX))
        if record is None:
            raise Refusal(404, _NOT_FOUND)
        return JSONResponse(record)

    routes = [
        Route("/api/users/list/", list_customers, methods=["GET", "POST"]),
        Route(
            "/api/users/{customer_identifier:path}/", customer, methods=["GET", "PATCH", "DELETE"]
        ),
        Route("/api/credit-transactions/list/", list_credit_transactions, methods=["GET"]),
        Route("/api/credit-transactions/{id:path}/", credit_transaction, methods=["GET"]),
    ]
    return emulator_app(routes, settings, stats, _dialect(settings), state)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        body = {"detail": f'Method "{request.method}" not allowed.'}
        return JSONResponse(body, status_code=405, headers=exc.headers)
    if exc.status_code == 404:
        return JSONResponse(_NOT_FOUND, status_code=404)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _dialect(settings: EmulatorSettings) -> ProviderDialect:
    expected = settings.api_key.encode()

    def authenticate(request: Request) -> Response | None:
        header = request.headers.get("authorization", "").strip()
        if not header:
            return _unauthorized("Authentication credentials were not provided.")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            return _unauthorized("Invalid API key.")
        return None

    def rate_limited(request: Request, decision: RateDecision) -> Response:
        headers = (
            {"Retry-After": str(decision.retry_after)} if settings.retry_after_header else None
        )
        body = {"detail": "Rate limit exceeded", "retry_after": decision.retry_after}
        return JSONResponse(body, status_code=429, headers=headers)

    def internal_error(request: Request) -> Response:
        body = {"detail": "Internal server error", "error_code": "INTERNAL_ERROR"}
        return JSONResponse(body, status_code=500)

    return ProviderDialect(authenticate, rate_limited, internal_error, _http_error)


def _unauthorized(detail: str) -> Response:
    return JSONResponse(
        {"detail": detail}, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="api"'}
    )


PARTS = EmulatorParts(
    state_from_seed=RespanState.from_seed,
    create_app=create_app,
    default_api_key=DEFAULT_API_KEY,
    default_rate_limit=DEFAULT_RATE_LIMIT,
    omittable_fields=frozenset(model.DETAIL_FIELDS),
)
"""The ``ProviderPlugin.emulator`` target."""
