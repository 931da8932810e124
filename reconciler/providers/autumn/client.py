"""The Autumn customers API (``POST /v1/customers.*``), as typed calls over ``HttpTransport``.

Every call is a ``POST`` with a JSON body and the customer id inside it, so no identifier ever
reaches a URL. The endpoint table below is the only place that knows Autumn's paths.

API version: each request pins ``x-api-version`` explicitly, ``2.2.0`` by default, because a
server default can change under us and the version decides the list shape.

- ``2.2.0`` (the default: the version of the API reference page this project follows, whose
  customer object and ``billing_controls`` shape we compare against) pages ``customers.list``
  by ``offset``/``limit``. The server computes ``has_more`` as ``len(list) == limit``, so a
  full last page is followed by an empty one: the pager therefore stops on the first *short or
  empty* page and never trusts ``has_more``. Listing N customers costs ``N // 1000 + 1``
  requests.
- ``2.3.0`` pages by cursor (``start_cursor`` in, ``next_cursor`` out) and is used only when
  ``api_version: 2.3.0`` is configured. Cursor pages do not shift when customers are created
  or deleted mid-listing, which offset pages can (an item may then be read twice, which the
  pager drops, or skipped).

Other versions are refused (``ConfigError``): their customer shapes are unverified.

Environments: Autumn derives the environment from the secret key's prefix (``am_sk_test_``:
sandbox, ``am_sk_live_``: live); ``key_environment`` reads it without revealing the key.

Bodies are returned as decoded JSON (``dict``); numbers with a fraction are ``Decimal``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, Final

from reconciler.clients.http import Answer, ApiClient, Endpoint, HttpTransport, Reply
from reconciler.clients.identity import listed_id, sent_id
from reconciler.clients.pacing import Pacer, RequestPacer
from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.errors import ConfigError, NotFoundError
from reconciler.providers.autumn.fields import AUTUMN

logger = logging.getLogger("reconciler.http")

API_VERSION: Final = "2.2.0"
OFFSET_VERSIONS: Final = frozenset({"2.2.0"})
CURSOR_VERSIONS: Final = frozenset({"2.3.0"})
SUPPORTED_VERSIONS: Final = OFFSET_VERSIONS | CURSOR_VERSIONS
PAGE_SIZE: Final = 1000  # 2.2.0's maximum (2.3.0 allows 5000; one size keeps pages alike)
# Past this many pages (a million customers) a server still saying "more" is refused.
MAX_PAGES: Final = 1_000

KEY_PREFIXES: Final[Mapping[str, str]] = {"am_sk_test_": "sandbox", "am_sk_live_": "live"}
# Documented per-organization limits: customers.list 5/s (2.2.0), update and delete 25/s.
# Every call but list is paced as a write: the limit of get and get_or_create is not
# documented, and the emulator counts them with the writes.
DEFAULT_RATE_LIMITS: Final[Mapping[str, tuple[int, float]]] = {
    "list": (5, 1.0),
    "write": (25, 1.0),
}


# The one table of Autumn URLs. All are POSTs. get_or_create is idempotent by customer_id and
# update sets absolute values (metadata keys, whole arrays), so retrying either is harmless.
ENDPOINTS: Final[Mapping[str, Endpoint]] = {
    "get_customer": Endpoint("POST", "/v1/customers.get", True, "write"),
    "list_customers": Endpoint("POST", "/v1/customers.list", True, "list"),
    "get_or_create_customer": Endpoint("POST", "/v1/customers.get_or_create", True, "write"),
    "update_customer": Endpoint("POST", "/v1/customers.update", True, "write"),
    "delete_customer": Endpoint("POST", "/v1/customers.delete", True, "write"),
}


def key_environment(api_key: Secret) -> str | None:
    """``sandbox`` or ``live`` from the key's prefix, ``None`` when it has neither."""
    key = api_key.reveal()
    for prefix, environment in KEY_PREFIXES.items():
        if key.startswith(prefix):
            return environment
    return None


def twin_key(api_key: Secret, environment: str) -> Secret:
    """The same secret with ``environment``'s prefix (for an emulator serving both)."""
    key = api_key.reveal()
    for prefix in KEY_PREFIXES:
        if key.startswith(prefix):
            target = next(p for p, env in KEY_PREFIXES.items() if env == environment)
            return Secret(target + key.removeprefix(prefix))
    raise ValueError("the key has no Autumn environment prefix")


def pacers_for(
    rate_limits: Mapping[str, tuple[int, float]] | None, burst: int | None = None
) -> dict[str, RequestPacer]:
    """One pacer per endpoint class; clients of one organization should share them.

    ``burst`` (``None``: each class's whole count) applies to every class (see ``Pacer``).
    """
    return {name: Pacer(*limit, burst) for name, limit in (rate_limits or {}).items()}


class AutumnClient(ApiClient):
    """Typed calls to Autumn's customers API. Thread-safe; share one per key and run.

    ``pacers`` (from ``pacers_for``), when given, replaces ``rate_limits``: two clients of one
    organization (its sandbox and live keys) then share one budget of requests.
    """

    def __init__(
        self,
        base_url: str,
        api_key: Secret,
        *,
        api_version: str = API_VERSION,
        rate_limits: Mapping[str, tuple[int, float]] | None = DEFAULT_RATE_LIMITS,
        pacers: Mapping[str, RequestPacer] | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 8,
        timeout: float = 30.0,
    ) -> None:
        if api_version not in SUPPORTED_VERSIONS:
            supported = ", ".join(sorted(SUPPORTED_VERSIONS))
            raise ConfigError(
                f"Autumn api_version {api_version!r} is not supported: use {supported} "
                f"(default {API_VERSION})"
            )
        self.api_version = api_version
        self.environment = key_environment(api_key)
        super().__init__(
            HttpTransport(
                base_url,
                api_key,
                pacers=pacers if pacers is not None else pacers_for(rate_limits),
                retry=retry,
                max_concurrency=max_concurrency,
                timeout=timeout,
                headers={"x-api-version": api_version},
                id_keys=(AUTUMN.id_field,),
            )
        )

    def __repr__(self) -> str:
        return f"AutumnClient({self.transport!r}, api_version={self.api_version!r})"

    # -- reading -----------------------------------------------------------------------------

    def iter_customer_pages(
        self, filters: Mapping[str, Any] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the key's environment's customers page by page, each customer once.

        ``filters`` are the list endpoint's own (``search``, ``plans``, ...), sent as given.
        """
        if self.api_version in CURSOR_VERSIONS:
            yield from self._cursor_pages(dict(filters or {}))
        else:
            yield from self._offset_pages(dict(filters or {}))

    def list_customers(self, filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every customer of the key's environment matching ``filters`` (all pages)."""
        return [item for page in self.iter_customer_pages(filters) for item in page]

    def get_customer(self, customer_id: str) -> dict[str, Any]:
        """One customer; ``NotFoundError`` when it does not exist."""
        return self._call_object("get_customer", {"customer_id": _id(customer_id)})

    # -- writing -----------------------------------------------------------------------------

    def get_or_create_customer(self, customer_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Create the customer with ``fields``, or return it unchanged if it exists.

        On an existing customer Autumn only fills in a missing name or email: callers that need
        ``fields`` enforced compare the answer and follow up with ``update_customer``.
        """
        return self._call_object(
            "get_or_create_customer", {**fields, "customer_id": _id(customer_id)}
        )

    def update_customer(self, customer_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Set the given fields only (metadata merged, a ``null`` key removed; each sent
        ``billing_controls`` array replaced); ``NotFoundError`` if the customer is unknown."""
        return self._call_object("update_customer", {**fields, "customer_id": _id(customer_id)})

    def delete_customer(self, customer_id: str) -> Reply:
        """Delete the customer in Autumn, never in Stripe (``delete_in_stripe: false``).

        A 404 on the first attempt is ``NotFoundError``; a 404 after a retried attempt means an
        earlier attempt did delete it, and counts as done (the returned ``Reply`` says 404).
        """
        endpoint = ENDPOINTS["delete_customer"]
        body = {"customer_id": _id(customer_id), "delete_in_stripe": False}
        reply = self.send(endpoint, body=body, accept=(404,))
        if reply.status == 404 and reply.attempts == 1:
            detail = reply.body.get("message") if isinstance(reply.body, Mapping) else None
            raise NotFoundError(
                f"POST {endpoint.path}: the API answered 404: customer {customer_id!r} not found",
                method="POST",
                path=endpoint.path,
                status=404,
                detail=self.transport.redact(str(detail)) if detail is not None else None,
            )
        return reply

    # -- plumbing ----------------------------------------------------------------------------

    def _call(self, name: str, body: Mapping[str, Any]) -> Answer:
        endpoint = ENDPOINTS[name]
        reply = self.send(endpoint, body=body)
        return Answer("POST", endpoint.path, reply)

    def _call_object(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call(name, body).object()

    def _list_page(self, body: Mapping[str, Any]) -> tuple[Answer, list[dict[str, Any]]]:
        answer = self._call("list_customers", body)
        page = answer.reply.body
        if not isinstance(page, Mapping) or not isinstance(page.get("list"), list):
            raise answer.malformed('a page ({"list": [...]})')
        if not all(isinstance(item, Mapping) for item in page["list"]):
            # Skipped, it would shorten a full page (ending the listing early) and hide a
            # customer, which a plan would then create over the live one.
            raise answer.malformed('a page of customer objects ({"list": [{...}, ...]})')
        items = [dict(item) for item in page["list"]]
        for item in items:
            listed_id(item, "id", f"POST {answer.path}")  # a row without a text id: refused
        return answer, items

    def _offset_pages(self, filters: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        seen: set[str] = set()
        offset = 0
        for page in range(1, MAX_PAGES + 1):
            answer, items = self._list_page({**filters, "offset": offset, "limit": PAGE_SIZE})
            fresh = _fresh(items, seen)
            if fresh:
                yield fresh
            # ``has_more`` is ``len(list) == limit`` on the server: a short page is the last.
            if len(items) < PAGE_SIZE:
                return
            if not fresh:
                raise answer.endless(f"page {page} repeats only customers already listed")
            offset += len(items)
        raise answer.endless(f"it still sends full pages after {MAX_PAGES} pages")

    def _cursor_pages(self, filters: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        seen: set[str] = set()
        cursors: set[str] = set()
        cursor: str | None = None
        for page in range(1, MAX_PAGES + 1):
            body = {**filters, "limit": PAGE_SIZE}
            if cursor:
                body["start_cursor"] = cursor
            answer, items = self._list_page(body)
            fresh = _fresh(items, seen)
            if fresh:
                yield fresh
            next_cursor = answer.reply.body.get("next_cursor")
            if not items or not isinstance(next_cursor, str) or not next_cursor:
                return
            if not fresh or next_cursor in cursors:
                raise answer.endless(f"page {page} repeats a cursor or only listed customers")
            cursors.add(next_cursor)
            cursor = next_cursor
        raise answer.endless(f"it still names a next cursor after {MAX_PAGES} pages")


def _fresh(items: list[dict[str, Any]], seen: set[str]) -> list[dict[str, Any]]:
    """Items whose id was not on an earlier page (an offset page can repeat one)."""
    fresh = []
    for item in items:
        identifier = item.get("id")
        if isinstance(identifier, str) and identifier not in seen:
            seen.add(identifier)
            fresh.append(item)
    return fresh


def _id(customer_id: str) -> str:
    return sent_id(customer_id, "POST /v1/customers")
