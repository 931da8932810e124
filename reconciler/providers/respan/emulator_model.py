"""The Respan emulator's objects: how a customer and a credit transaction are stored, checked
(seed files and PATCH bodies) and shown (list items, retrieve/update responses).

The emulator's assumptions where the docs are silent or disagree (see docs/emulator.md):
``budget_duration`` accepts ``yearly`` besides daily|weekly|monthly; PATCH ``metadata``
replaces the whole object; a PATCH field outside the documented nine is a 422; amounts must be
JSON numbers (not numeric strings).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

ORGANIZATION_ID = "5e1f0c2a-7d3b-4c8e-9a61-3c0ffee0e1a5"
ORGANIZATION_NAME = "Emulator Organization"
ENVIRONMENTS = ("prod", "test")
DEFAULT_ENVIRONMENT = "prod"
BUDGET_DURATIONS = ("daily", "weekly", "monthly", "yearly")
TRANSACTION_TYPES = ("purchase", "grant", "adjustment", "refund", "bonus")
# Seeded objects that leave timestamps out get this one, so runs stay reproducible.
DEFAULT_TIMESTAMP = "2025-01-01T00:00:00Z"

LIST_FIELDS = (
    "id",
    "customer_identifier",
    "unique_organization_id",
    "environment",
    "name",
    "email",
    "first_seen",
    "last_active_timeframe",
    "active_days",
    "number_of_requests",
    "total_requests",
    "total_tokens",
    "tokens",
    "total_cost",
    "cost",
    "average_latency",
    "average_ttft",
    "average_monthly_cost",
    "period_budget",
    "budget_duration",
    "total_budget",
)
DETAIL_FIELDS = (
    "id",
    "name",
    "email",
    "customer_identifier",
    "environment",
    "total_budget",
    "period_budget",
    "organization_name",
    "total_period_usage",
    "period_start",
    "period_end",
    "budget_duration",
    "updated_at",
    # Shown by the docs' richer example, not by the SDK's model: omit_fields can hide them.
    "metadata",
    "markup_percentage",
)
# Alias -> stored field: the list endpoint repeats some analytics under two names.
_ALIASES = {"total_requests": "number_of_requests", "tokens": "total_tokens", "cost": "total_cost"}
_DERIVED = frozenset({"id", "unique_organization_id", "organization_name"})


class InvalidValue(ValueError):
    """One field's value is unacceptable; the message is what the API would say."""


class ValidationFailed(ValueError):
    """A request body failed validation: ``errors`` maps each bad field to its messages."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()))


# --- value checks (shared by PATCH and seed files) -------------------------------------------

_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def format_timestamp(moment: datetime) -> str:
    """An aware datetime as the API writes it: UTC, ``Z``, microseconds only when present."""
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def now_timestamp() -> str:
    return format_timestamp(datetime.now(UTC))


def parse_timestamp(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _or_null(check: Callable[[Any], Any], nullable: bool) -> Callable[[Any], Any]:
    """``check`` for a value; a null passes when ``nullable``, else is refused in the API's
    words."""

    def checked(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise InvalidValue("This field may not be null.")
        return check(value)

    return checked


def _timestamp_value(value: Any) -> str:
    if not isinstance(value, str) or not _TIMESTAMP.match(value.strip()):
        raise InvalidValue(
            "Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
        )
    try:
        return format_timestamp(parse_timestamp(value.strip()))
    except (ValueError, OverflowError) as exc:
        # OverflowError: a date whose instant in UTC leaves the years 1 to 9999.
        raise InvalidValue("Datetime is not a valid date and time.") from exc


def _timestamp(nullable: bool) -> Callable[[Any], Any]:
    return _or_null(_timestamp_value, nullable)


def _text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    raise InvalidValue("Not a valid string.")


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue("A valid number is required.")
    if not math.isfinite(value):
        raise InvalidValue("A valid number is required.")
    return value


def _amount_value(value: Any) -> float | int:
    number = _number(value)
    if number < 0:
        raise InvalidValue("Ensure this value is greater than or equal to 0.")
    return number


def _amount(nullable: bool) -> Callable[[Any], Any]:
    return _or_null(_amount_value, nullable)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValue("A valid non-negative integer is required.")
    return value


def _markup(value: Any) -> Any:
    if value is None:
        raise InvalidValue("This field may not be null.")
    return _number(value)


def _budget_duration(value: Any) -> Any:
    if value is None:
        raise InvalidValue("This field may not be null.")
    if value not in BUDGET_DURATIONS:
        raise InvalidValue(f'"{value}" is not a valid choice.')
    return value


def _metadata(value: Any) -> Any:
    if not isinstance(value, dict):
        kind = "null" if value is None else type(value).__name__
        raise InvalidValue(f'Expected a dictionary of items but got type "{kind}".')
    return dict(value)


EDITABLE: Mapping[str, Callable[[Any], Any]] = {
    "email": _text,
    "name": _text,
    "metadata": _metadata,
    "period_budget": _amount(nullable=True),
    "budget_duration": _budget_duration,
    "total_budget": _amount(nullable=True),
    "period_start": _timestamp(nullable=False),
    "period_end": _timestamp(nullable=True),
    "markup_percentage": _markup,
}

_ANALYTICS: Mapping[str, Callable[[Any], Any]] = {
    "first_seen": _timestamp(nullable=False),
    "last_active_timeframe": _timestamp(nullable=True),
    "updated_at": _timestamp(nullable=False),
    "active_days": _count,
    "number_of_requests": _count,
    "total_tokens": _count,
    "total_cost": _amount(nullable=False),
    "average_latency": _amount(nullable=False),
    "average_ttft": _amount(nullable=False),
    "average_monthly_cost": _amount(nullable=False),
    "total_period_usage": _amount(nullable=False),
}


def validate_update(body: Mapping[str, Any]) -> dict[str, Any]:
    """The normalized changes of a PATCH body, or ``ValidationFailed`` naming every bad field."""
    changes: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    fields = ((name, name, value) for name, value in body.items())
    _check_each(fields, EDITABLE.get, "Unknown field: it cannot be updated.", changes, errors)
    if errors:
        raise ValidationFailed(errors)
    return changes


# --- customers ---------------------------------------------------------------------------------


def customer_from_seed(item: Any) -> dict[str, Any]:
    """A stored customer from a seed object in the API's own shape (list item or retrieve
    response, plus ``metadata``/``markup_percentage``); missing analytics get defaults."""
    if not isinstance(item, dict):
        raise ValidationFailed({"(customer)": ["Expected an object."]})
    errors: dict[str, list[str]] = {}
    identifier = item.get("customer_identifier")
    if not isinstance(identifier, str) or not identifier:
        errors["customer_identifier"] = ["A non-empty string is required."]
    environment = item.get("environment", DEFAULT_ENVIRONMENT)
    if environment not in ENVIRONMENTS:
        errors["environment"] = [f'"{environment}" is not a valid choice (prod, test).']
    record: dict[str, Any] = {
        "customer_identifier": identifier,
        "environment": environment,
        "name": None,
        "email": None,
        "first_seen": DEFAULT_TIMESTAMP,
        "last_active_timeframe": None,
        "active_days": 0,
        "number_of_requests": 0,
        "total_tokens": 0,
        "total_cost": 0,
        "average_latency": 0,
        "average_ttft": 0,
        "average_monthly_cost": 0,
        "period_budget": None,
        "budget_duration": "monthly",
        "total_budget": None,
        "total_period_usage": 0,
        "period_start": DEFAULT_TIMESTAMP,
        "period_end": None,
        "updated_at": None,
        "metadata": {},
        "markup_percentage": 0,
    }
    fields = (
        (key, _ALIASES.get(str(key), str(key)), value)
        for key, value in item.items()
        if key not in {"customer_identifier", "environment"} and key not in _DERIVED
    )
    _check_each(fields, _customer_check, "Unknown field.", record, errors)
    if errors:
        raise ValidationFailed(errors)
    record["updated_at"] = record["updated_at"] or record["first_seen"]
    record["last_active_timeframe"] = record["last_active_timeframe"] or record["first_seen"]
    return record


_LIST_SOURCES = tuple(
    (name, _ALIASES.get(name, name)) for name in LIST_FIELDS if name not in _DERIVED
)


def list_item(record: Mapping[str, Any]) -> dict[str, Any]:
    """A customer as ``/api/users/list/`` shows it: exactly the documented list fields.

    Built field by field rather than through a full copy: a list page is a thousand of these,
    and every list field is a scalar.
    """
    item = dict.fromkeys(LIST_FIELDS)
    for name, source in _LIST_SOURCES:
        item[name] = record[source]
    item["id"] = f"{record['customer_identifier']}{record['environment']}{ORGANIZATION_ID}"
    item["unique_organization_id"] = ORGANIZATION_ID
    return item


def detail(record: Mapping[str, Any], omit: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A customer as retrieve and update show it, minus the fields ``omit`` hides."""
    view = _with_derived(record)
    view["id"] = record["customer_identifier"]
    return {name: view[name] for name in DETAIL_FIELDS if name not in omit}


def _with_derived(record: Mapping[str, Any]) -> dict[str, Any]:
    view = {k: (dict(v) if isinstance(v, dict) else v) for k, v in record.items()}
    for alias, name in _ALIASES.items():
        view[alias] = record[name]
    view["unique_organization_id"] = ORGANIZATION_ID
    view["organization_name"] = ORGANIZATION_NAME
    return view


# --- credit transactions -----------------------------------------------------------------------

_TRANSACTION_FIELDS: Mapping[str, Callable[[Any], Any]] = {
    "id": lambda v: _required_text(v),
    "organization_subscription": lambda v: v if v is None else _count(v),
    "unique_organization_id": lambda v: _required_text(v),
    "amount": _number,
    "transaction_type": lambda v: _choice(v, TRANSACTION_TYPES),
    "billable_type": lambda v: _required_text(v),
    "source_id": lambda v: _required_text(v),
    "credit_amount": _amount(nullable=False),
    "debit_amount": _amount(nullable=False),
    "description": lambda v: _required_text(v, allow_empty=True),
    "created_at": _timestamp(nullable=False),
    "expires_at": _timestamp(nullable=True),
    "stripe_payment_intent_id": _text,
    "metadata": _metadata,
}


def _required_text(value: Any, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or not (value or allow_empty):
        raise InvalidValue("A non-empty string is required.")
    return value


def _choice(value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidValue(f'"{value}" is not a valid choice ({", ".join(choices)}).')
    return str(value)


def credit_transaction_from_seed(item: Any, index: int) -> dict[str, Any]:
    """A credit transaction carrying both documented shapes (the doc page's and the SDK's);
    fields the seed leaves out are derived (credit/debit split from ``amount``) or defaulted."""
    if not isinstance(item, dict):
        raise ValidationFailed({"(transaction)": ["Expected an object."]})
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    fields = ((key, key, value) for key, value in item.items())
    _check_each(fields, _TRANSACTION_FIELDS.get, "Unknown field.", values, errors)
    for required in ("amount", "transaction_type"):
        if required not in item:
            errors.setdefault(required, ["This field is required."])
    if errors:
        raise ValidationFailed(errors)
    amount = values["amount"]
    transaction = {
        "id": f"ct_emulator_{index:06d}",
        "organization_subscription": 1,
        "unique_organization_id": ORGANIZATION_ID,
        "amount": amount,
        "transaction_type": values["transaction_type"],
        "billable_type": "organization",
        "source_id": ORGANIZATION_ID,
        "credit_amount": amount if amount > 0 else 0,
        "debit_amount": -amount if amount < 0 else 0,
        "description": "",
        "created_at": DEFAULT_TIMESTAMP,
        "expires_at": None,
        "stripe_payment_intent_id": None,
        "metadata": {},
    }
    transaction.update(values)
    return transaction


def _customer_check(name: str) -> Callable[[Any], Any] | None:
    return EDITABLE.get(name) or _ANALYTICS.get(name)


def _check_each(
    fields: Iterable[tuple[str, str, Any]],
    find: Callable[[str], Callable[[Any], Any] | None],
    unknown: str,
    values: dict[str, Any],
    errors: dict[str, list[str]],
) -> None:
    """Each ``(key as sent, field name, value)`` through the check ``find(name)`` gives: the
    checked value into ``values[name]``; an unknown field (``unknown``) or a refused value
    into ``errors[key]``, as the API names the key it was sent."""
    for key, name, value in fields:
        check = find(name)
        if check is None:
            errors[key] = [unknown]
            continue
        try:
            values[name] = check(value)
        except InvalidValue as exc:
            errors[key] = [str(exc)]
