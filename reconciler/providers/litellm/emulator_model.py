"""The LiteLLM emulator's customers and budgets: how they are stored, checked and changed.

Mirrors LiteLLM's tables: an end-user row (``LiteLLM_EndUserTable``) points at a budget row
(``LiteLLM_BudgetTable``) by ``budget_id``, and several customers may share one budget row
(created with ``budget_id`` naming an existing budget). An update's budget fields change the
row itself, so every customer sharing it sees the change, as in LiteLLM.

Request checks follow the pydantic models (``NewCustomerRequest``, ``UpdateCustomerRequest``,
``DeleteCustomerRequest``): unknown keys are ignored, wrong types are refused with FastAPI's
422 ``{"detail": [...]}``. Update semantics follow ``_should_update_field``: null, 0 and empty
values are skipped, ``blocked`` is applied when sent, an empty ``models`` list clears it.
"""

from __future__ import annotations

import math
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

BUDGET_KEYS: Final = (
    "budget_id",
    "soft_budget",
    "max_budget",
    "max_parallel_requests",
    "tpm_limit",
    "rpm_limit",
    "tpd_limit",
    "model_max_budget",
    "budget_duration",
    "allowed_models",
    "temp_budget_increase",
    "temp_budget_expiry",
    "budget_reset_at",
    "created_at",
)
# BudgetNewRequest's settable fields: /customer/new builds a budget row when any is given.
NEW_BUDGET_KEYS: Final = (
    "max_budget",
    "soft_budget",
    "max_parallel_requests",
    "tpm_limit",
    "rpm_limit",
    "tpd_limit",
    "budget_duration",
    "model_max_budget",
    "budget_reset_at",
)
CUSTOMER_KEYS: Final = ("alias", "blocked", "allowed_model_region", "default_model", "models")
# UpdateCustomerRequest's fields; anything else in an update body is dropped by pydantic.
UPDATE_KEYS: Final = (
    "alias",
    "blocked",
    "max_budget",
    "budget_id",
    "allowed_model_region",
    "default_model",
    "models",
)
REGIONS: Final = ("eu", "us")
_DURATION = re.compile(r"(\d+)(mo|[smhdw]?)")
_DURATION_WORDS: Final = {"hourly": "1h", "daily": "24h", "weekly": "7d", "monthly": "30d"}
_UNIT_SECONDS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mo": 2592000}


class ValidationProblems(ValueError):
    """Request fields of the wrong type: FastAPI's 422 ``{"detail": [...]}``."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(problems)
        self.problems = problems


class ProxyError(ValueError):
    """A ``ProxyException``: answered ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(self, status: int, message: str, kind: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param


def _problem(location: str, kind: str, message: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "loc": ["body", location], "msg": message, "input": value}


def _check(body: Mapping[str, Any], name: str, expected: str) -> list[dict[str, Any]]:
    """Problems of ``body[name]`` against pydantic's lax mode for ``expected`` (or null)."""
    if name not in body or body[name] is None:
        return []
    value = body[name]
    if expected == "str" and not isinstance(value, str):
        return [_problem(name, "string_type", "Input should be a valid string", value)]
    if expected == "bool" and not isinstance(value, bool):
        return [_problem(name, "bool_type", "Input should be a valid boolean", value)]
    if expected in ("float", "int") and (
        isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    ):
        return [_problem(name, f"{expected}_type", f"Input should be a valid {expected}", value)]
    if expected == "int" and (value != int(value) or value < 0):
        return [_problem(name, "int_type", "Input should be a whole number >= 0", value)]
    if expected == "region" and value not in REGIONS:
        return [_problem(name, "literal_error", "Input should be 'eu' or 'us'", value)]
    if expected == "str_list" and not (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    ):
        return [_problem(name, "list_type", "Input should be a valid list of strings", value)]
    if expected == "dict" and not isinstance(value, dict):
        return [_problem(name, "dict_type", "Input should be a valid dictionary", value)]
    return []


_TYPES: Final = {
    "alias": "str",
    "blocked": "bool",
    "budget_id": "str",
    "spend": "float",
    "max_budget": "float",
    "soft_budget": "float",
    "max_parallel_requests": "int",
    "tpm_limit": "int",
    "rpm_limit": "int",
    "tpd_limit": "int",
    "budget_duration": "str",
    "model_max_budget": "dict",
    "allowed_model_region": "region",
    "default_model": "str",
    "models": "str_list",
    "object_permission": "dict",
}


def check_body(body: Mapping[str, Any], keys: Iterable[str], *, required: str) -> None:
    """``ValidationProblems`` for a missing ``required`` key or a wrongly typed one of ``keys``."""
    problems: list[dict[str, Any]] = []
    if not isinstance(body.get(required), str):
        kind = "missing" if required not in body else "string_type"
        message = "Field required" if kind == "missing" else "Input should be a valid string"
        problems.append(_problem(required, kind, message, body.get(required)))
    for name in keys:
        problems.extend(_check(body, name, _TYPES.get(name, "any")))
    if problems:
        raise ValidationProblems(problems)


def duration_seconds(duration: str) -> int | None:
    """Seconds in a LiteLLM budget duration, ``None`` when LiteLLM would refuse it."""
    match = _DURATION.match(_DURATION_WORDS.get(duration.strip().lower(), duration))
    if match is None or int(match.group(1)) <= 0:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def new_budget(fields: Mapping[str, Any], *, budget_id: str | None = None) -> dict[str, Any]:
    """A budget row as LiteLLM's ``LiteLLM_BudgetTableFull`` serializes it."""
    now = datetime.now(UTC)
    row: dict[str, Any] = dict.fromkeys(BUDGET_KEYS)
    row.update({k: v for k, v in fields.items() if k in BUDGET_KEYS})
    row["budget_id"] = budget_id or row.get("budget_id") or str(uuid.uuid4())
    row["created_at"] = row.get("created_at") or _timestamp(now)
    duration = row.get("budget_duration")
    if isinstance(duration, str) and row.get("budget_reset_at") is None:
        seconds = duration_seconds(duration)
        if seconds is not None:
            row["budget_reset_at"] = _timestamp(now + timedelta(seconds=seconds))
    return row


def wants_update(name: str, value: Any, sent: Iterable[str]) -> bool:
    """LiteLLM's ``_should_update_field``: which update values it actually applies."""
    if value is None:
        return False
    if name in sent and (isinstance(value, bool) or name == "models"):
        return True
    if isinstance(value, list | dict) and not value:
        return False
    return bool(value != 0)


class LiteLLMState:
    """A proxy's customers and budget rows, behind one lock."""

    def __init__(self, proxy_models: Iterable[str] | None = None) -> None:
        self._lock = threading.RLock()
        self._customers: dict[str, dict[str, Any]] = {}
        self._budgets: dict[str, dict[str, Any]] = {}
        # The model names the proxy's router serves; None: any default_model is accepted.
        self.proxy_models = None if proxy_models is None else frozenset(proxy_models)

    # -- seeding -------------------------------------------------------------------------------

    def add_customer(self, customer: Mapping[str, Any]) -> dict[str, Any]:
        """Store a customer object as ``/customer/list`` returns it; ``ValueError`` if bad.

        Its ``litellm_budget_table`` becomes a budget row; a later customer naming the same
        ``budget_id`` shares that row.
        """
        if not isinstance(customer, Mapping):
            raise ValueError("expected a customer object")
        check = {k: v for k, v in customer.items() if k != "litellm_budget_table"}
        try:
            check_body(check, [*CUSTOMER_KEYS, "spend", "budget_id"], required="user_id")
        except ValidationProblems as exc:
            raise ValueError(
                "; ".join(f"{p['loc'][1]}: {p['msg']}" for p in exc.problems)
            ) from None
        budget = customer.get("litellm_budget_table")
        with self._lock:
            if customer["user_id"] in self._customers:
                raise ValueError(f"customer {customer['user_id']!r} already exists")
            budget_id = customer.get("budget_id")
            if isinstance(budget, Mapping):
                budget_id = budget.get("budget_id") or budget_id
                if budget_id not in self._budgets:
                    row = new_budget(budget, budget_id=budget_id)
                    self._budgets[row["budget_id"]] = row
                    budget_id = row["budget_id"]
            record = _customer_record(customer, budget_id)
            self._customers[record["user_id"]] = record
            return self._view(record)

    # -- reading -------------------------------------------------------------------------------

    def _view(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A customer as LiteLLM's ``CustomerResponse`` serializes it."""
        budget = self._budgets.get(record["budget_id"]) if record["budget_id"] else None
        return {
            **record,
            "models": list(record["models"]),
            "litellm_budget_table": dict(budget) if budget is not None else None,
            "object_permission": None,
        }

    def get(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._customers.get(user_id)
            return None if record is None else self._view(record)

    def list_page(self, page: int, page_size: int, search: str | None) -> list[dict[str, Any]]:
        """One page ordered by ``user_id``; ``search`` matches user_id or alias, any case."""
        with self._lock:
            records = sorted(self._customers.values(), key=lambda r: r["user_id"])
            if search:
                needle = search.lower()
                records = [
                    r
                    for r in records
                    if needle in r["user_id"].lower() or needle in (r["alias"] or "").lower()
                ]
            start = (page - 1) * page_size
            return [self._view(r) for r in records[start : start + page_size]]

    def to_seed(self) -> dict[str, Any]:
        """The state as a seed document ``state_from_seed`` reads back: what a run keeps."""
        with self._lock:
            seed: dict[str, Any] = {
                "customers": [
                    {
                        k: v
                        for k, v in self._view(self._customers[uid]).items()
                        if k != "object_permission"
                    }
                    for uid in sorted(self._customers)
                ]
            }
            if self.proxy_models is not None:
                seed["models"] = sorted(self.proxy_models)
            return seed

    @property
    def customers(self) -> dict[str, dict[str, Any]]:
        """A snapshot of every customer as the API shows it, by ``user_id``."""
        with self._lock:
            return {uid: self._view(r) for uid, r in self._customers.items()}

    # -- writing -------------------------------------------------------------------------------

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``/customer/new``: a customer, and a budget row when budget fields are given."""
        keys = [*CUSTOMER_KEYS, *NEW_BUDGET_KEYS, "budget_id", "spend", "object_permission"]
        check_body(body, keys, required="user_id")
        if body.get("max_budget") is not None and body.get("budget_id") is not None:
            raise ValidationProblems(
                [
                    {
                        "type": "value_error",
                        "loc": ["body"],
                        "msg": "Value error, Set either 'max_budget' or 'budget_id', not both.",
                        "input": dict(body),
                    }
                ]
            )
        default_model = body.get("default_model")
        served = self.proxy_models
        if served is not None and default_model is not None and default_model not in served:
            message = (
                "Default Model not on proxy. Configure via `/model/new` or config.yaml. "
                f"Default_model={default_model}, proxy_model_names={set(served)}"
            )
            raise ProxyError(422, str({"error": message}), "invalid_request_error")
        budget_fields = {k: body[k] for k in NEW_BUDGET_KEYS if k in body and body[k] is not None}
        duration = budget_fields.get("budget_duration")
        if duration is not None and duration_seconds(duration) is None:
            message = (
                f"Invalid budget_duration '{duration}'. Use a format like '1h', '24h', '7d', "
                "or '30d'."
            )
            raise ProxyError(400, str({"error": message}), "invalid_request_error")
        with self._lock:
            user_id = body["user_id"]
            if user_id in self._customers:
                raise ProxyError(
                    400,
                    f"Customer already exists, passed user_id={user_id}. "
                    "Please pass a new user_id.",
                    "bad_request",
                    "user_id",
                )
            budget_id = body.get("budget_id")
            if budget_fields:
                row = new_budget(budget_fields)
                self._budgets[row["budget_id"]] = row
                budget_id = row["budget_id"]
            record = _customer_record(body, budget_id)
            self._customers[user_id] = record
            return self._view(record)

    def update(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``/customer/update``: the applied fields only; budget fields change the budget row."""
        check_body(body, [*UPDATE_KEYS, "object_permission"], required="user_id")
        sent = {k for k in body if k in UPDATE_KEYS}
        changes = {k: body[k] for k in UPDATE_KEYS if k in body and wants_update(k, body[k], sent)}
        with self._lock:
            record = self._customers.get(body["user_id"])
            if record is None:
                raise ProxyError(
                    404,
                    f"End User Id={body['user_id']} does not exist in db",
                    "not_found",
                    "user_id",
                )
            budget_changes = {k: v for k, v in changes.items() if k == "max_budget"}
            for name, value in changes.items():
                if name in CUSTOMER_KEYS or name == "budget_id":
                    record[name] = list(value) if name == "models" else value
            if budget_changes:
                row = self._budgets.get(record["budget_id"]) if record["budget_id"] else None
                if row is None:
                    row = new_budget(budget_changes)
                    self._budgets[row["budget_id"]] = row
                    record["budget_id"] = row["budget_id"]
                else:
                    row.update(budget_changes)
            return self._view(record)

    def delete(self, user_ids: list[str]) -> int:
        """``/customer/delete``: all or nothing; ``ProxyError`` 404 naming the missing ids."""
        with self._lock:
            missing = [uid for uid in user_ids if uid not in self._customers]
            if missing:
                raise ProxyError(
                    404,
                    "End User Id(s)={} do not exist in db".format(", ".join(missing)),
                    "not_found",
                    "user_ids",
                )
            for uid in set(user_ids):
                del self._customers[uid]
            return len(set(user_ids))


def _customer_record(source: Mapping[str, Any], budget_id: str | None) -> dict[str, Any]:
    """A stored customer row (``LiteLLM_EndUserTable``'s own columns) from a seed object or a
    ``/customer/new`` body; ``budget_id`` links its budget row."""
    return {
        "user_id": source["user_id"],
        "alias": source.get("alias"),
        "spend": source.get("spend") or 0.0,
        "allowed_model_region": source.get("allowed_model_region"),
        "default_model": source.get("default_model"),
        "models": list(source.get("models") or []),
        "budget_id": budget_id,
        "blocked": bool(source.get("blocked") or False),
        "object_permission_id": None,
    }
