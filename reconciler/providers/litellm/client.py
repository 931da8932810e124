"""The LiteLLM proxy's customer endpoints, as typed calls over the shared ``HttpTransport``.

Endpoints (``litellm/proxy/management_endpoints/customer_endpoints.py``): ``GET /customer/list``
(``page``, ``page_size`` 1-100, ordered by ``user_id``; a bare JSON array, no count),
``GET /customer/info?end_user_id=``, ``POST /customer/new``, ``POST /customer/update`` and
``POST /customer/delete`` (``{"user_ids": [...]}``). Auth: ``Authorization: Bearer`` with the
proxy's master key (or an admin key). Identifiers travel in query strings and JSON bodies,
never in a path, so no identifier can address another endpoint.

Errors: LiteLLM answers ``{"error": {"message", "type", "param", "code"}}`` (its
``ProxyException``), and FastAPI's own ``{"detail": [...]}`` for a 422. The shared transport
reads neither shape, so this client accepts the 4xx statuses and raises the same typed errors
with LiteLLM's message (the key redacted). 429 and 5xx stay with the transport's retries.

Retries: list, info, update (absolute values) and delete (settled by the 404 rule) are safe to
repeat. ``/customer/new`` is not marked safe: a repeat after a lost answer would get 400
"already exists"; it is retried only where the transport knows it was not acted on (429,
connection never made).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from reconciler.clients.http import Answer, ApiClient, Endpoint, Reply
from reconciler.clients.identity import listed_id, sent_id
from reconciler.errors import (
    APIError,
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
)
from reconciler.providers.litellm.fields import ID_FIELD

PAGE_SIZE: Final = 100  # the list endpoint's maximum
# A pager stops on a short page; past this many pages (ten million customers) a proxy still
# sending full pages of new ones is refused rather than read for ever or cut short.
MAX_PAGES: Final = 100_000
# LiteLLM documents no rate limit on its management endpoints: unpaced unless configured.
DEFAULT_RATE_LIMIT: Final[tuple[int, float] | None] = None
# 4xx answers this client words itself (LiteLLM's error shape); 429 is left to the transport.
_CLIENT_ERRORS: Final = (400, 401, 403, 404, 409, 422)
_ALREADY_EXISTS: Final = "already exists"


# The one table of LiteLLM URLs.
ENDPOINTS: Final[Mapping[str, Endpoint]] = {
    "list_customers": Endpoint("GET", "/customer/list", True),
    "customer_info": Endpoint("GET", "/customer/info", True),
    "new_customer": Endpoint("POST", "/customer/new", False),
    "update_customer": Endpoint("POST", "/customer/update", True),
    "delete_customers": Endpoint("POST", "/customer/delete", True),
}


class CustomerExistsError(InvalidRequestError):
    """``/customer/new`` found the ``user_id`` taken (LiteLLM answers 400)."""


class LiteLLMClient(ApiClient):
    """Typed calls to a LiteLLM proxy's customer endpoints. Thread-safe; share one per run."""

    documented_rate_limit = DEFAULT_RATE_LIMIT
    id_key = ID_FIELD

    @staticmethod
    def error_detail(body: Any) -> tuple[str | None, dict[str, Any] | None]:
        """LiteLLM's ``{"error": {...}}`` bodies: 5xx and 429 answers keep their text too."""
        return error_message(body), None

    def __repr__(self) -> str:
        return f"LiteLLMClient({self.transport!r})"

    # -- reading -----------------------------------------------------------------------------

    def iter_customer_pages(self, search: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Yield every customer page by page, each once (by ``user_id``).

        Stops at a page shorter than ``PAGE_SIZE``, or at one with no customer not seen before
        when the first page was longer than ``PAGE_SIZE``: a proxy that ignores paging (older
        releases returned everything at once) then costs one extra request, not a loop. Any
        other full page adding nothing new is a ``ServerError``: the proxy may be repeating
        itself with customers still unread, and a list cut short there would plan the rest as
        creates (which update them, unguarded, when they exist).
        """
        seen: set[str] = set()
        ignores_paging = False
        for page in range(1, MAX_PAGES + 1):
            params: dict[str, str | int] = {"page": page, "page_size": PAGE_SIZE}
            if search:
                params["search"] = search
            answer = self._call("list_customers", params=params)
            items = answer.reply.body
            if not isinstance(items, list):
                raise answer.malformed("a JSON array of customers")
            fresh = []
            for item in items:
                if not isinstance(item, dict):
                    raise answer.malformed("a JSON array of customer objects")
                # A row without a text id is refused: it would be planned as a customer.
                user_id = listed_id(item, "user_id", f"GET {answer.path}")
                if user_id not in seen:
                    seen.add(user_id)
                    fresh.append(item)
            if fresh:
                yield fresh
            ignores_paging = ignores_paging or (page == 1 and len(items) > PAGE_SIZE)
            if len(items) < PAGE_SIZE or (not fresh and ignores_paging):
                return
            if not fresh:
                raise answer.endless(f"page {page} repeats only customers already listed")
        raise answer.endless(f"it still sends full pages of new customers after {MAX_PAGES} pages")

    def list_customers(self, search: str | None = None) -> list[dict[str, Any]]:
        """Every customer (all pages); ``search`` matches user_id or alias, any case."""
        return [item for page in self.iter_customer_pages(search) for item in page]

    def customer_info(self, user_id: str) -> dict[str, Any]:
        """One customer; ``NotFoundError`` when it does not exist."""
        return self._call("customer_info", params={"end_user_id": _id(user_id)}).object()

    # -- writing -----------------------------------------------------------------------------

    def new_customer(self, user_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Create a customer with ``fields``; ``CustomerExistsError`` if the id is taken."""
        body = {**fields, "user_id": _id(user_id)}
        try:
            return self._call("new_customer", body=body).object()
        except InvalidRequestError as exc:
            if exc.status == 400 and _ALREADY_EXISTS in (exc.detail or ""):
                raise CustomerExistsError(
                    str(exc), method=exc.method, path=exc.path, status=400, detail=exc.detail
                ) from None
            raise

    def update_customer(self, user_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Send ``fields`` to ``/customer/update``; ``NotFoundError`` if the customer is unknown.

        LiteLLM skips null, 0 and empty values (except ``blocked`` and an empty ``models``) and
        drops keys its update model lacks: callers send only what it applies.
        """
        body = {**fields, "user_id": _id(user_id)}
        return self._call("update_customer", body=body).object()

    def delete_customer(self, user_id: str) -> Reply:
        """Delete one customer (``{"user_ids": [user_id]}``).

        A 404 on the first attempt is ``NotFoundError``; after a retried attempt it means an
        earlier attempt deleted it, and counts as done (the returned ``Reply`` says 404).
        """
        endpoint = ENDPOINTS["delete_customers"]
        reply = self.send(endpoint, body={"user_ids": [_id(user_id)]}, accept=_CLIENT_ERRORS)
        if reply.status == 404 and reply.attempts > 1:
            return reply
        self._raise_for(endpoint, reply)
        return reply

    # -- plumbing ----------------------------------------------------------------------------

    def _call(
        self, name: str, *, params: Mapping[str, str | int] | None = None, body: Any = None
    ) -> Answer:
        endpoint = ENDPOINTS[name]
        reply = self.send(endpoint, params=params, body=body, accept=_CLIENT_ERRORS)
        self._raise_for(endpoint, reply)
        return Answer(endpoint.method, endpoint.path, reply)

    def _raise_for(self, endpoint: Endpoint, reply: Reply) -> None:
        if reply.status < 400:
            return
        detail = error_message(reply.body)
        detail = self.transport.redact(detail)[:300] if detail else None
        message = f"{endpoint.method} {endpoint.path}: the API answered {reply.status}"
        if detail:
            message += f": {detail}"
        error_type: type[APIError] = InvalidRequestError
        if reply.status in (401, 403):
            error_type = AuthenticationError
            message += " (check the proxy's master key in the environment or the key file)"
        elif reply.status == 404:
            error_type = NotFoundError
        raise error_type(
            message,
            method=endpoint.method,
            path=endpoint.path,
            status=reply.status,
            detail=detail,
        )


def error_message(body: Any) -> str | None:
    """The human text of a LiteLLM error body, or ``None``.

    ``{"error": {"message": ..., "type": ...}}`` (LiteLLM's own), ``{"detail": [...]}``
    (FastAPI's request validation: each problem's location and message) or ``{"detail": "..."}``.
    """
    if not isinstance(body, Mapping):
        return body.strip() or None if isinstance(body, str) else None
    error = body.get("error")
    if isinstance(error, Mapping) and error.get("message") is not None:
        kind = error.get("type")
        text = str(error["message"])
        return f"{text} [{kind}]" if isinstance(kind, str) and kind and kind not in text else text
    detail = body.get("detail")
    if isinstance(detail, Sequence) and not isinstance(detail, str):
        return "; ".join(_validation_problem(item) for item in detail) or None
    return str(detail) if detail is not None else None


def _validation_problem(item: Any) -> str:
    if not isinstance(item, Mapping):
        return str(item)
    location = item.get("loc")
    where = ".".join(str(part) for part in location) if isinstance(location, list) else ""
    return f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", ""))


def _id(user_id: str) -> str:
    return sent_id(user_id, "POST /customer")
