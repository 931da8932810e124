"""The Respan users and credit-transactions API, as typed calls over ``HttpTransport``.

The endpoint table below is the only place that knows Respan's URLs. Every identifier goes into
its path segment percent-encoded, so ``a/b?c#d`` or ``../credit-transactions/x`` address that
customer and nothing else (the vendor's own SDK does not encode them).

Bodies are returned as decoded JSON (``dict``); numbers with a fraction are ``Decimal``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

from reconciler.clients.http import (
    Answer,
    ApiClient,
    Endpoint,
    Reply,
)
from reconciler.clients.identity import listed_id
from reconciler.errors import InvalidRequestError, NotFoundError
from reconciler.providers.respan.fields import RESPAN

logger = logging.getLogger("reconciler.http")

PAGE_SIZE: Final = 1000  # the API's maximum
# The users API's documented limit: 60 requests per minute per organization.
DEFAULT_RATE_LIMIT: Final = (60, 60.0)
# Without a usable ``count`` a pager still stops on an empty page or a null ``next``; past this
# many pages (a hundred thousand customers) a server still saying "more" is refused.
MAX_PAGES_WITHOUT_COUNT: Final = 100
# List pages held at once after the first (which tells how many there are): the page being
# read and up to PAGE_PREFETCH - 1 following ones in flight.
PAGE_PREFETCH: Final = 8


# Path segments that are endpoints of their own, so no identifier can take their place.
RESERVED_SEGMENTS: Final = frozenset({"list"})

# The one table of Respan URLs. The list endpoint is a POST but only reads: safe to retry.
ENDPOINTS: Final[Mapping[str, Endpoint]] = {
    "list_customers": Endpoint("POST", "/api/users/list/", True),
    "retrieve_customer": Endpoint("GET", "/api/users/{}/", True),
    "update_customer": Endpoint("PATCH", "/api/users/{}/", True),
    "delete_customer": Endpoint("DELETE", "/api/users/{}/", True),
    "list_credit_transactions": Endpoint("GET", "/api/credit-transactions/list/", True),
    "retrieve_credit_transaction": Endpoint("GET", "/api/credit-transactions/{}/", True),
}


class RespanClient(ApiClient):
    """Typed calls to Respan's users API. Thread-safe; share one per run.

    ``transport`` carries the base URL, key, pacing and retries; this class only knows
    endpoints, parameters and pagination.
    """

    # One pacer covers every endpoint: the documented limit is per organization.
    documented_rate_limit = DEFAULT_RATE_LIMIT
    id_key = RESPAN.id_field

    def __repr__(self) -> str:
        return f"RespanClient({self.transport!r})"

    # -- customers ---------------------------------------------------------------------------

    def iter_customer_pages(
        self,
        environment: str,
        filters: Mapping[str, Any] | None = None,
        sort_by: str | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the customers of ``environment`` page by page, each customer once.

        Rows of another environment are left out (whoever lists prod must never act on a test
        row); a row whose ``customer_identifier`` is not text is a ``ServerError``.
        """

        def fetch(page: int) -> Any:
            params: dict[str, str | int] = {
                "page": page,
                "page_size": PAGE_SIZE,
                "environment": environment,
            }
            if sort_by:
                params["sort_by"] = sort_by
            return self._call(
                "list_customers", params=params, body={"filters": dict(filters or {})}
            )

        def key(item: Mapping[str, Any]) -> tuple[str, str]:
            return (
                str(item.get("environment") or environment),
                str(item.get("customer_identifier")),
            )

        route = f"{ENDPOINTS['list_customers'].method} {ENDPOINTS['list_customers'].path}"
        for page in _pages(fetch, key, prefetch=PAGE_PREFETCH):
            for item in page:
                listed_id(item, "customer_identifier", route)
            ours = [item for item in page if item.get("environment", environment) == environment]
            if len(ours) < len(page):
                logger.debug("left out %d row(s) of another environment", len(page) - len(ours))
            if ours:
                yield ours

    def list_customers(
        self,
        environment: str,
        filters: Mapping[str, Any] | None = None,
        sort_by: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every customer of ``environment`` matching ``filters`` (all pages)."""
        return [
            item
            for page in self.iter_customer_pages(environment, filters, sort_by)
            for item in page
        ]

    def retrieve_customer(self, environment: str, identifier: str) -> dict[str, Any]:
        """One customer's detail (the fields the list does not carry, and period usage)."""
        return self._call_object(
            "retrieve_customer", identifier, params={"environment": environment}
        )

    def update_customer(
        self, environment: str, identifier: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PATCH the given fields only; ``NotFoundError`` when the customer does not exist."""
        return self._call_object(
            "update_customer", identifier, params={"environment": environment}, body=body
        )

    def delete_customer(self, environment: str, identifier: str) -> Reply:
        """Delete a customer (irreversible: its usage data goes too).

        A 404 on the first attempt is ``NotFoundError``; a 404 after a retried attempt means an
        earlier attempt did delete it, and counts as done (the returned ``Reply`` says 404).
        """
        endpoint = ENDPOINTS["delete_customer"]
        path = _addressable(endpoint, identifier)
        reply = self.send(endpoint, path, params={"environment": environment}, accept=(404,))
        if reply.status == 404 and reply.attempts == 1:
            raise NotFoundError(
                f"{endpoint.method} {path}: the API answered 404: customer not found",
                method=endpoint.method,
                path=path,
                status=404,
                detail=self.transport.redact(_text(reply.body) or "") or None,
            )
        return reply

    # -- credit transactions -----------------------------------------------------------------

    def list_credit_transactions(self) -> list[dict[str, Any]]:
        """Every credit transaction of the organization, newest first (all pages)."""

        def fetch(page: int) -> Any:
            return self._call(
                "list_credit_transactions", params={"page": page, "page_size": PAGE_SIZE}
            )

        def key(item: Mapping[str, Any]) -> tuple[str, str]:
            return ("", str(item.get("id")))

        return [item for page in _pages(fetch, key) for item in page]

    def retrieve_credit_transaction(self, transaction_id: str) -> dict[str, Any]:
        """One credit transaction by id."""
        return self._call_object("retrieve_credit_transaction", str(transaction_id))

    # -- plumbing ----------------------------------------------------------------------------

    def _call(
        self,
        name: str,
        *path_args: str,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
    ) -> Answer:
        endpoint = ENDPOINTS[name]
        path = _addressable(endpoint, *path_args)
        reply = self.send(endpoint, path, params=params, body=body)
        return Answer(endpoint.method, path, reply)

    def _call_object(
        self,
        name: str,
        *path_args: str,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        return self._call(name, *path_args, params=params, body=body).object()


def _pages(
    fetch: Callable[[int], Answer],
    key: Callable[[Mapping[str, Any]], tuple[str, str]],
    *,
    prefetch: int = 1,
) -> Iterator[list[dict[str, Any]]]:
    """Walk ``page=1, 2, ...`` of a ``{"count", "next", "results"}`` list endpoint.

    Stops at an empty page or a null ``next``. A server that goes on past that is refused
    with a ``ServerError`` rather than read for ever or cut short in silence: a page that adds
    no item not seen before while ``next`` says there is more (a server repeating itself), or
    more pages than ``ceil(count / PAGE_SIZE) + 2`` (``MAX_PAGES_WITHOUT_COUNT`` when
    ``count`` is missing or not a number). So is a page holding anything but objects: skipping
    an item would hide a customer (or a credit) from everything read. Yields only items not
    seen on an earlier page, in page order.

    Page 1 tells how many pages there are; with ``prefetch > 1``, after each full page up to
    ``prefetch - 1`` of the following pages, but never one past ``ceil(count / PAGE_SIZE)``, are
    in flight at once, so their latency overlaps while the request count stays what a sequential
    walk would make. A server whose pages disagree with its count is walked one page at a time.
    Requests still go through the transport's pacing and concurrency bound.
    """
    seen: set[tuple[str, str]] = set()
    max_pages = MAX_PAGES_WITHOUT_COUNT
    expected_pages = 0
    with ThreadPoolExecutor(max_workers=max(1, prefetch - 1)) as pool:
        ahead: dict[int, Future[Answer]] = {}
        page = 1
        try:
            while page <= max_pages:
                pending = ahead.pop(page, None)
                reply = pending.result() if pending is not None else fetch(page)
                answer = reply.reply.body
                if not isinstance(answer, Mapping) or not isinstance(answer.get("results"), list):
                    raise reply.malformed('a page ({"results": [...]})')
                if not all(isinstance(item, dict) for item in answer["results"]):
                    raise reply.malformed('a page of objects ({"results": [{...}, ...]})')
                if page == 1:
                    count = answer.get("count")
                    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                        expected_pages = math.ceil(count / PAGE_SIZE)
                        max_pages = expected_pages + 2
                fresh = []
                for item in answer["results"]:
                    # Items are freshly decoded JSON objects: kept as they are, not copied.
                    if key(item) not in seen:
                        seen.add(key(item))
                        fresh.append(item)
                if fresh:
                    yield fresh
                if not answer["results"] or not answer.get("next"):
                    return
                if not fresh:
                    raise reply.endless(f"page {page} repeats only customers already listed")
                page += 1
                if len(answer["results"]) != PAGE_SIZE:
                    continue  # a short page from a server that says there is more: go slowly
                for later in range(page, min(page + prefetch - 1, expected_pages + 1)):
                    if later not in ahead:
                        ahead[later] = pool.submit(fetch, later)
            raise reply.endless(f"it still says there is more after {max_pages} pages")
        finally:
            for future in ahead.values():
                future.cancel()


def _addressable(endpoint: Endpoint, *identifiers: str) -> str:
    """The endpoint's path for ``identifiers``, refusing ones no URL can address.

    ``list`` is the list endpoint's own segment (``GET /api/users/list/`` lists, it does not
    retrieve a customer called "list"), and an empty segment addresses the collection.
    """
    path = endpoint.url_path(*identifiers)
    for identifier in identifiers:
        if identifier in RESERVED_SEGMENTS or not identifier:
            raise InvalidRequestError(
                f"{endpoint.method} {path}: the identifier {identifier!r} cannot be addressed "
                "through the API (it names the endpoint itself)",
                method=endpoint.method,
                path=path,
            )
    return path


def _text(body: Any) -> str | None:
    if isinstance(body, Mapping) and body.get("detail") is not None:
        return str(body["detail"])
    return None
