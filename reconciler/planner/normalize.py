"""Canonical forms of field values, by ``FieldKind``, so that no plan shows a change that is not.

Desired values (from YAML) and live values (from an API's JSON) reach the planner in different
spellings of the same thing: ``250`` vs ``250.0`` vs a float's ``250.00000001``, ``...Z`` vs
``...+00:00``, metadata keys in another order, billing-control arrays in another order.
``normalize`` maps each to one canonical, JSON-like value; ``same`` compares canonical values
without Python's ``True == 1`` coincidence.

A value that does not parse as its kind (a live API returning text for a money field) is kept
as it is, so it compares unequal to any proper value and the plan corrects it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Final

from reconciler.domain import UNKNOWN, FieldKind, FieldSpec
from reconciler.money import to_decimal, to_money

# DECIMAL fields (markup_percentage) compare to a millionth: float noise stays below it.
DECIMAL_PLACES: Final = Decimal("0.000001")
_ONE: Final = Decimal(1)
_SCALARS: Final = frozenset({str, Decimal, bool, type(None), int, float})


def normalize(spec: FieldSpec, value: Any) -> Any:
    """The canonical form of ``value`` for a field of ``spec.kind`` (``None``/UNKNOWN kept)."""
    if value is None or value is UNKNOWN:
        return value
    if spec.kind is FieldKind.KEYED_LISTS:
        return canonical_keyed_lists(spec, value) if isinstance(value, Mapping) else value
    convert = _CONVERTERS.get(spec.kind)
    return value if convert is None else convert(value)


def canonical_decimal(value: Any, places: Decimal = DECIMAL_PLACES) -> Decimal:
    """``value`` as a Decimal rounded to ``places``, spelled without trailing zeros (``20``)."""
    number = to_decimal(value).quantize(places, rounding=ROUND_HALF_EVEN)
    return _plain(number)


def canonical_timestamp(value: Any) -> str:
    """An ISO 8601 instant as UTC ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``.

    ``Z`` and ``+00:00`` are the same instant, as are ``.000`` and no fraction. A timestamp
    without an offset is taken as UTC (the APIs speak UTC). Raises ``ValueError`` when
    ``value`` is not an ISO 8601 timestamp, or names no instant of years 1 to 9999 in UTC
    (``0001-01-01T00:00:00+01:00``).
    """
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 timestamp, got {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:
        # A live value at the edge of the calendar: kept raw (a change), never a traceback.
        raise ValueError(f"{value!r} is outside the years a UTC timestamp can hold") from None
    spec = "seconds" if instant.microsecond == 0 else "microseconds"
    return instant.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def canonical_keyed_lists(spec: FieldSpec, value: Mapping[str, Any]) -> dict[str, Any]:
    """Arrays of keyed items: each array sorted by ``spec.item_key``, the amounts of
    ``spec.money_keys`` as money, every other number as a plain decimal."""
    controls: dict[str, Any] = {}
    for name in sorted(value):
        items = value[name]
        if isinstance(items, list):
            normalized = [_billing_item(spec, item) for item in items]
            controls[name] = sorted(normalized, key=lambda item: _item_sort_key(spec, item))
        else:
            controls[name] = _structure(items)
    return controls


def same(left: Any, right: Any) -> bool:
    """Deep equality of canonical values where ``True`` is not ``1`` and ``"1"`` is not ``1``."""
    if type(left) is type(right) and type(left) in _SCALARS:  # the common case, kept cheap
        return bool(left == right)
    if isinstance(left, Mapping):
        return (
            isinstance(right, Mapping)
            and left.keys() == right.keys()
            and all(same(left[key], right[key]) for key in left)
        )
    if isinstance(left, list):
        return (
            isinstance(right, list)
            and len(left) == len(right)
            and all(same(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(right, Mapping | list):
        return False
    return type(left) is type(right) and bool(left == right)


def _or_raw(value: Any, convert: Callable[[Any], Any]) -> Any:
    try:
        return convert(value)
    except (ValueError, TypeError, InvalidOperation):
        return value


def _plain(number: Decimal) -> Decimal:
    """``Decimal("20.000000")`` -> ``20``; ``Decimal("0.500")`` -> ``0.5`` (same value)."""
    if number == number.to_integral_value():
        return number.quantize(_ONE)
    return number.normalize()


def _structure(value: Any) -> Any:
    """Metadata and other nested JSON: numbers as plain decimals, keys sorted, order kept."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {str(key): _structure(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_structure(item) for item in value]
    try:
        return _plain(to_decimal(value))
    except (ValueError, InvalidOperation):
        return value


def _billing_item(spec: FieldSpec, item: Any) -> Any:
    if not isinstance(item, Mapping):
        return _structure(item)
    normalized: dict[str, Any] = {}
    for key in sorted(item, key=str):
        raw = item[key]
        if key in spec.money_keys:
            normalized[key] = _or_raw(raw, to_money)
        else:
            normalized[key] = _structure(raw)
    return normalized


def _item_sort_key(spec: FieldSpec, item: Any) -> tuple[str, str]:
    if isinstance(item, Mapping):
        return (str(item.get(spec.item_key, "")), repr(item))
    return ("", repr(item))


def _money(value: Any) -> Any:
    return _or_raw(value, to_money)


def _decimal(value: Any) -> Any:
    return _or_raw(value, canonical_decimal)


def _timestamp(value: Any) -> Any:
    return _or_raw(value, canonical_timestamp)


def _metadata(value: Any) -> Any:
    return _structure(value) if isinstance(value, Mapping) else value


def _text_set(value: Any) -> Any:
    """A list of text as a set: sorted, each item once (anything else compared as is)."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return sorted(set(value))
    return _structure(value)


# TEXT, ENUM and BOOL compare exactly as given: no converter.
_CONVERTERS: Final[Mapping[FieldKind, Callable[[Any], Any]]] = {
    FieldKind.MONEY: _money,
    FieldKind.DECIMAL: _decimal,
    FieldKind.TIMESTAMP: _timestamp,
    FieldKind.METADATA: _metadata,
    FieldKind.INTEGER: _decimal,
    FieldKind.LIST: _text_set,
    FieldKind.MAPPING: _structure,
}
