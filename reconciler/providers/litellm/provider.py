"""The LiteLLM provider: live customers from ``/customer/list``; create, update and delete.

Request economy: ``read_live`` costs one ``GET /customer/list`` per 100 customers (the page
maximum) plus a final short page; list items are whole customer objects, budget table included,
so no per-customer read is needed. ``apply`` sends one request per change (a create that finds
the customer already there reads it and updates it: three).

What an update can do is narrower than what a create can (see ``fields``). An update that
would need LiteLLM to do what its update endpoint silently skips is refused before anything is
sent, with the reason, instead of answering 200 and changing nothing:

- a create-only field (``soft_budget``, ``budget_duration``, ``tpm_limit``, ``rpm_limit``,
  ``max_parallel_requests``, ``model_max_budget``);
- ``null`` for any field, or ``0`` for ``max_budget`` (LiteLLM skips both);
- ``max_budget`` of a customer whose budget row other customers share: LiteLLM would change
  theirs too.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from reconciler.clients.secret import Secret
from reconciler.domain import LiveCustomer
from reconciler.errors import ConfigError, NotFoundError, ReconcilerError
from reconciler.money import to_decimal
from reconciler.plan.model import Change
from reconciler.planner.body import BodyError
from reconciler.planner.body import request_body as shared_request_body
from reconciler.providers.base import ApplyResult, Declared
from reconciler.providers.litellm.client import CustomerExistsError, LiteLLMClient
from reconciler.providers.litellm.fields import FIELDS, MODEL, Location
from reconciler.providers.litellm.values import same
from reconciler.providers.parts import OpenRequest

GONE_REASON = "customer no longer exists"
_NOT_RETURNED: Final = object()


def live_fields(customer: Mapping[str, Any]) -> dict[str, Any]:
    """The managed fields of a LiteLLM customer object, budget fields lifted to the top.

    A customer whose ``litellm_budget_table`` is ``null`` has every budget field ``None``
    (known: no budget). One whose answer lacks the table, or holds something else there, has
    them unknown (left out): what the API did not say must never pass for "no budget", which
    guardrails would judge as no limit at all.
    """
    table = customer.get("litellm_budget_table", _NOT_RETURNED)
    budget = table if isinstance(table, Mapping) else {}
    budget_known = table is None or isinstance(table, Mapping)
    fields: dict[str, Any] = {}
    for name, field in FIELDS.items():
        if field.location is Location.BUDGET:
            if budget_known:
                fields[name] = budget.get(name)
        elif name in customer:
            fields[name] = customer[name]
    return fields


def request_body(change: Change) -> dict[str, Any]:
    """The body of a create or update, from its field changes (``planner.body``): every
    LiteLLM field is sent whole. A path that is not a LiteLLM field, or names a part of one,
    is refused rather than sent."""
    try:
        return shared_request_body(change, MODEL)
    except BodyError as exc:
        raise ReconcilerError(f"{change.id}: {exc}, which is not a LiteLLM field to send") from None


def update_refusal(payload: Mapping[str, Any]) -> str | None:
    """Why LiteLLM's update cannot apply ``payload`` as asked, or ``None`` when it can."""
    create_only = sorted(name for name in payload if name in FIELDS and not FIELDS[name].updatable)
    if create_only:
        return (
            f"{', '.join(create_only)} cannot be changed on an existing LiteLLM customer "
            "(/customer/update ignores it; it is set when the customer is created)"
        )
    nulls = sorted(name for name, value in payload.items() if value is None)
    if nulls:
        return f"{', '.join(nulls)}: LiteLLM's update ignores null, so it cannot be cleared"
    zeros = sorted(
        name
        for name, value in payload.items()
        if name in FIELDS and FIELDS[name].zero_ignored_by_update and _is_zero(value)
    )
    if zeros:
        return (
            f"{', '.join(zeros)}: LiteLLM's update ignores 0; set blocked: true to stop "
            "the customer instead"
        )
    return None


class LiteLLMProvider:
    """``Provider`` for one LiteLLM proxy (its base URL and master key) over one client."""

    model = MODEL

    def __init__(self, client: LiteLLMClient) -> None:
        self.client = client
        self.base_url = client.base_url
        self._lock = threading.Lock()
        # From the last list: each customer's budget row and how many customers use each row.
        self._budget_of: dict[str, str] = {}
        self._budget_users: Counter[str] = Counter()
        self._spend: dict[str, Decimal] = {}
        self._listed = False

    @classmethod
    def open(cls, base_url: str, api_key: Secret) -> LiteLLMProvider:
        """A provider for the proxy at ``base_url``, unpaced (LiteLLM documents no limit)."""
        return cls(LiteLLMClient.create(base_url, api_key))

    def __repr__(self) -> str:
        return f"LiteLLMProvider({self.client!r})"

    def request_counts(self) -> dict[str, int]:
        """Request attempts sent so far, by HTTP method."""
        return self.client.request_counts()

    def close(self) -> None:
        self.client.close()

    # -- reading -----------------------------------------------------------------------------

    def read_live(
        self, environment: str, declared: Sequence[Declared]
    ) -> Mapping[str, LiveCustomer]:
        """Every customer of the proxy, from the list alone."""
        self._check_environment(environment)
        return {
            customer["user_id"]: LiveCustomer(
                provider=self.model.name,
                environment=environment,
                id=customer["user_id"],
                fields=live_fields(customer),
                usage=_spend(customer),
            )
            for customer in self._list()
        }

    def read_usage(self, environment: str, ids: Iterable[str]) -> Mapping[str, Decimal]:
        """Each customer's ``spend`` (USD) from the last list, listing if none was made."""
        self._check_environment(environment)
        if not self._listed:
            self._list()
        with self._lock:
            return {i: self._spend[i] for i in ids if i in self._spend}

    def _list(self) -> list[dict[str, Any]]:
        customers = self.client.list_customers()
        with self._lock:
            self._budget_of = {
                c["user_id"]: c["budget_id"]
                for c in customers
                if isinstance(c.get("budget_id"), str)
            }
            self._budget_users = Counter(self._budget_of.values())
            self._spend = {c["user_id"]: s for c in customers if (s := _spend(c)) is not None}
            self._listed = True
        return customers

    def _check_environment(self, environment: str) -> None:
        if environment not in self.model.environments:
            raise ConfigError(
                f"LiteLLM has no environments: leave environment out or write "
                f"{self.model.default_environment!r}, not {environment!r}"
            )

    def _sharers(self, user_id: str) -> int:
        """How many customers share ``user_id``'s budget row (0: it has none)."""
        if not self._listed:
            self._list()
        with self._lock:
            budget_id = self._budget_of.get(user_id)
            return self._budget_users[budget_id] if budget_id is not None else 0

    # -- writing -----------------------------------------------------------------------------

    def apply(self, change: Change) -> ApplyResult:
        """Create (``/customer/new``), update (``/customer/update``) or delete one customer."""
        self._check_environment(change.environment)
        if change.action == "missing":
            return ApplyResult(ok=True, status=None, reason="missing live: nothing to send")
        if change.action == "create":
            return self._create(change)
        if change.action == "update":
            return self._update(change.id, request_body(change))
        try:
            reply = self.client.delete_customer(change.id)
        except NotFoundError as exc:
            return ApplyResult(ok=False, status=exc.status, reason=GONE_REASON)
        if reply.status == 404:
            return ApplyResult(ok=True, status=404, reason="deleted by an earlier, retried attempt")
        return ApplyResult(ok=True, status=reply.status)

    def _create(self, change: Change) -> ApplyResult:
        body = request_body(change)  # without the fields declared null (create_sends_nulls)
        try:
            self.client.new_customer(change.id, body)
        except CustomerExistsError:
            # Created since the plan (or by an attempt whose answer was lost): make it match.
            live = live_fields(self.client.customer_info(change.id))
            differing = {k: v for k, v in body.items() if not same(k, live.get(k), v)}
            return self._update(change.id, differing) if differing else ApplyResult(True, 200)
        return ApplyResult(ok=True, status=200)

    def refusal(self, change: Change) -> str | None:
        """Why LiteLLM cannot make a planned update, judged at plan time on what was read
        (create-only fields are the planner's to flag: ``FieldSpec.updatable``)."""
        if change.action != "update":
            return None
        payload = {
            name: value
            for name, value in request_body(change).items()
            if name not in FIELDS or FIELDS[name].updatable
        }
        return self._refusal(change.id, payload)

    def _refusal(self, user_id: str, payload: Mapping[str, Any]) -> str | None:
        refusal = update_refusal(payload)
        if refusal is None and "max_budget" in payload and self._sharers(user_id) > 1:
            refusal = (
                f"max_budget: the customer's budget row is shared with "
                f"{self._sharers(user_id) - 1} other customer(s), and LiteLLM's update would "
                "change theirs too"
            )
        return refusal

    def _update(self, user_id: str, payload: Mapping[str, Any]) -> ApplyResult:
        refusal = self._refusal(user_id, payload)
        if refusal is not None:
            return ApplyResult(ok=False, status=None, reason=f"{refusal}; nothing was sent")
        try:
            self.client.update_customer(user_id, dict(payload))
        except NotFoundError as exc:
            return ApplyResult(ok=False, status=exc.status, reason=GONE_REASON)
        return ApplyResult(ok=True, status=200)


def _is_zero(value: Any) -> bool:
    try:
        return to_decimal(value) == 0
    except ValueError:
        return False


def _spend(customer: Mapping[str, Any]) -> Decimal | None:
    try:
        return to_decimal(customer.get("spend"))
    except (TypeError, ValueError, ArithmeticError):
        return None


def open_provider(request: OpenRequest) -> LiteLLMProvider:
    """The ``ProviderPlugin.provider`` target: a provider for one proxy and master key."""
    request.refuse_api_version("litellm")
    return LiteLLMProvider(request.single_limit_client(LiteLLMClient))
