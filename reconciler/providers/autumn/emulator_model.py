"""The Autumn emulator's customer object: how it is stored, checked and listed.

Wire format: snake_case (``created_at``, ``billing_controls``), which is what the autumn-sdk
1.2.0 models parse and what the API reference's schema section documents; the docs' JSON
example shows camelCase, so seed files may use either (keys are converted on load).

Assumptions where the docs are silent (see docs/emulator.md): request bodies with unknown keys
are refused with ``invalid_inputs``; ``customer_id`` must be a non-empty string.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

ENVIRONMENTS = ("sandbox", "live")
KEY_PREFIXES = {"am_sk_test_": "sandbox", "am_sk_live_": "live"}
# Seeded customers without created_at get this instant (2025-01-01T00:00:00Z, epoch ms).
DEFAULT_CREATED_AT = 1735689600000
BILLING_CONTROL_ARRAYS = (
    "spend_limits",
    "usage_alerts",
    "auto_topups",
    "overage_allowed",
    "usage_limits",
    "balance_allocations",
)
THRESHOLD_TYPES = ("usage", "usage_percentage", "remaining", "remaining_percentage")
PURCHASE_LIMIT_INTERVALS = ("hour", "day", "week", "month")
SUBSCRIPTION_STATUSES = ("active", "scheduled")
PROCESSORS = ("stripe", "revenuecat", "vercel")


class InvalidInputs(ValueError):
    """A request or seed value the API refuses with 400 ``invalid_inputs``."""


# --- small checks ----------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def text_or_null(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidInputs(f"{where}: expected a string or null")


def required_id(value: Any, where: str) -> str:
    if isinstance(value, str) and value:
        return value
    raise InvalidInputs(f"{where}: expected a non-empty string")


def boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidInputs(f"{where}: expected a boolean")


def mapping(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    raise InvalidInputs(f"{where}: expected an object")


def no_unknown_keys(body: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidInputs(f"{where}: unrecognized key {unknown[0]!r}")


# --- billing controls --------------------------------------------------------------------------

_ENTRY_FIELDS: Mapping[str, Mapping[str, str]] = {
    # field -> kind; "!" marks a required field.
    "spend_limits": {"feature_id": "str", "enabled": "bool", "overage_limit": "amount"},
    "usage_alerts": {
        "feature_id": "str",
        "enabled": "bool",
        "threshold": "!amount",
        "threshold_type": "!threshold_type",
        "name": "str",
    },
    "auto_topups": {
        "feature_id": "!str",
        "enabled": "bool",
        "threshold": "!amount",
        "quantity": "!amount",
        "purchase_limit": "purchase_limit",
    },
    "overage_allowed": {"feature_id": "!str", "enabled": "bool"},
}


def _check_kind(kind: str, value: Any, where: str) -> None:
    if kind == "str" and not isinstance(value, str):
        raise InvalidInputs(f"{where}: expected a string")
    if kind == "bool":
        boolean(value, where)
    if kind == "amount" and not (_is_number(value) and value >= 0):
        raise InvalidInputs(f"{where}: expected a non-negative number")
    if kind == "threshold_type" and value not in THRESHOLD_TYPES:
        raise InvalidInputs(f"{where}: expected one of {', '.join(THRESHOLD_TYPES)}")
    if kind == "purchase_limit":
        limit = mapping(value, where)
        if limit.get("interval") not in PURCHASE_LIMIT_INTERVALS:
            choices = ", ".join(PURCHASE_LIMIT_INTERVALS)
            raise InvalidInputs(f"{where}.interval: expected one of {choices}")
        # The API's own model of a purchase limit requires ``limit`` (autumn-sdk 1.2.0's
        # request and response models both do); ``interval_count`` defaults to 1.
        if "limit" not in limit:
            raise InvalidInputs(f"{where}.limit: required")
        for name in ("interval_count", "limit"):
            if name in limit and not (_is_number(limit[name]) and limit[name] >= 0):
                raise InvalidInputs(f"{where}.{name}: expected a non-negative number")


def billing_controls(value: Any, where: str = "billing_controls") -> dict[str, list[Any]]:
    """Checked ``billing_controls``: known arrays of objects, known fields with their types.

    Fields the docs do not list inside an entry are kept as sent (the API has more of them).
    """
    controls = mapping(value, where)
    no_unknown_keys(controls, BILLING_CONTROL_ARRAYS, where)
    checked: dict[str, list[Any]] = {}
    for array_name, entries in controls.items():
        if not isinstance(entries, list):
            raise InvalidInputs(f"{where}.{array_name}: expected an array")
        fields = _ENTRY_FIELDS.get(array_name, {})
        for index, entry in enumerate(entries):
            at = f"{where}.{array_name}[{index}]"
            item = mapping(entry, at)
            for field, kind in fields.items():
                required = kind.startswith("!")
                if field not in item:
                    if required:
                        raise InvalidInputs(f"{at}.{field}: required")
                    continue
                _check_kind(kind.lstrip("!"), item[field], f"{at}.{field}")
        checked[array_name] = [dict(entry) for entry in entries]
    return checked


# --- customers -----------------------------------------------------------------------------------

CUSTOMER_FIELDS = (
    "id",
    "name",
    "email",
    "created_at",
    "fingerprint",
    "stripe_id",
    "env",
    "metadata",
    "send_email_receipts",
    "billing_controls",
    "subscriptions",
    "purchases",
    "licenses",
    "balances",
    "flags",
)
_OPTIONAL_FIELDS = ("config",)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def snake_keys(value: Any, *, keep_keys: bool = False) -> Any:
    """camelCase keys to snake_case, leaving metadata alone and feature-id map keys as they are."""
    if isinstance(value, list):
        return [snake_keys(item) for item in value]
    if not isinstance(value, dict):
        return value
    converted: dict[str, Any] = {}
    for raw_key, item in value.items():
        key = raw_key if keep_keys else _snake(str(raw_key))
        if key == "metadata" and not keep_keys:
            converted[key] = item
        elif key in {"balances", "flags"} and not keep_keys:
            converted[key] = snake_keys(item, keep_keys=True)
        else:
            converted[key] = snake_keys(item)
    return converted


def customer_from_seed(item: Any) -> dict[str, Any]:
    """A stored customer from a seed object in Autumn's shape (snake_case or camelCase)."""
    return customer_record(snake_keys(mapping(item, "customer")))


def customer_record(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A stored customer from a snake_case customer object, checked; defaults filled in."""
    no_unknown_keys(raw, (*CUSTOMER_FIELDS, *_OPTIONAL_FIELDS), "customer")
    env = raw.get("env", "sandbox")
    if env not in ENVIRONMENTS:
        raise InvalidInputs("env: expected sandbox or live")
    created_at = raw.get("created_at", DEFAULT_CREATED_AT)
    if not _is_number(created_at):
        raise InvalidInputs("created_at: expected epoch milliseconds")
    record: dict[str, Any] = {
        "id": required_id(raw.get("id"), "id"),
        "name": text_or_null(raw.get("name"), "name"),
        "email": text_or_null(raw.get("email"), "email"),
        "created_at": created_at,
        "fingerprint": text_or_null(raw.get("fingerprint"), "fingerprint"),
        "stripe_id": text_or_null(raw.get("stripe_id"), "stripe_id"),
        "env": env,
        "metadata": mapping(raw.get("metadata", {}), "metadata"),
        "send_email_receipts": boolean(
            raw.get("send_email_receipts", False), "send_email_receipts"
        ),
        "billing_controls": billing_controls(raw.get("billing_controls", {})),
    }
    for name in ("subscriptions", "purchases", "licenses"):
        entries = raw.get(name, [])
        if not isinstance(entries, list):
            raise InvalidInputs(f"{name}: expected an array")
        record[name] = entries
    for name in ("balances", "flags"):
        record[name] = mapping(raw.get(name, {}), name)
    if "config" in raw:
        record["config"] = mapping(raw["config"], "config")
    return record


def view(record: Mapping[str, Any]) -> dict[str, Any]:
    """The customer object the API returns (a deep enough copy to hand out)."""
    shown = {name: record[name] for name in CUSTOMER_FIELDS}
    if "config" in record:
        shown["config"] = record["config"]
    return json.loads(json.dumps(shown))  # type: ignore[no-any-return]


# --- listing -------------------------------------------------------------------------------------


def list_filter(body: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate for the list filters ``search``, ``plans``, ``subscription_status``,
    ``processors`` and ``created_at_range``."""
    search = body.get("search")
    if search is not None and not isinstance(search, str):
        raise InvalidInputs("search: expected a string")
    status = body.get("subscription_status")
    if status is not None and status not in SUBSCRIPTION_STATUSES:
        raise InvalidInputs("subscription_status: expected active or scheduled")
    plans = body.get("plans") or []
    if not isinstance(plans, list) or not all(
        isinstance(p, dict) and isinstance(p.get("id"), str) for p in plans
    ):
        raise InvalidInputs("plans: expected an array of {id, versions}")
    plan_ids = {p["id"] for p in plans}
    processors = body.get("processors") or []
    if not isinstance(processors, list) or any(p not in PROCESSORS for p in processors):
        raise InvalidInputs(f"processors: expected an array of {', '.join(PROCESSORS)}")
    window = mapping(body.get("created_at_range") or {}, "created_at_range")
    start, end = window.get("start"), window.get("end")
    for name, bound in (("start", start), ("end", end)):
        if bound is not None and not _is_number(bound):
            raise InvalidInputs(f"created_at_range.{name}: expected epoch milliseconds")
    statuses = {status} if status else set(SUBSCRIPTION_STATUSES)
    needle = (search or "").strip().casefold()

    def matches(record: Mapping[str, Any]) -> bool:
        if needle and not any(
            needle in str(record.get(field) or "").casefold() for field in ("id", "name", "email")
        ):
            return False
        subscriptions = [s for s in record["subscriptions"] if isinstance(s, dict)]
        if status and not any(s.get("status") == status for s in subscriptions):
            return False
        if plan_ids:
            held = {s.get("plan_id") for s in subscriptions if s.get("status") in statuses}
            held |= {p.get("plan_id") for p in record["purchases"] if isinstance(p, dict)}
            if not plan_ids & held:
                return False
        if processors and not ("stripe" in processors and record.get("stripe_id")):
            return False
        if start is not None and record["created_at"] < start:
            return False
        return end is None or record["created_at"] <= end

    return matches


def sort_key(record: Mapping[str, Any]) -> tuple[float, str]:
    return (float(record["created_at"]), str(record["id"]))


def encode_cursor(record: Mapping[str, Any]) -> str:
    """An opaque cursor naming the last customer of a page."""
    created_at, identifier = sort_key(record)
    raw = json.dumps([created_at, identifier]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, identifier = json.loads(base64.urlsafe_b64decode(padded))
        if _is_number(created_at) and isinstance(identifier, str):
            return float(created_at), identifier
    except (ValueError, TypeError, binascii.Error):
        pass
    raise InvalidInputs("start_cursor: not a cursor this API returned")
