"""Filtering and sorting of the Respan users list, as the Filters API reference describes.

A filter body is ``{"<field>": {"operator": "<op>", "value": [...]}}``, or a list of such
conditions for one field (a range); every condition must hold. ``""``/``in`` match any listed
value, ``not``/``not_in`` none of them; other operators take one value. Fields: the documented
customer fields (plus ``environment``, ``average_latency``, ``average_ttft``, which the newest
SDK also lists) and ``metadata__<key>``. A bad field, operator or value raises ``QueryError``,
which the app answers with 400.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.providers.respan import operators
from reconciler.providers.respan.emulator_model import parse_timestamp

TEXT_FIELDS = frozenset({"customer_identifier", "name", "email", "environment"})
NUMBER_FIELDS = frozenset(
    {
        "number_of_requests",
        "total_tokens",
        "total_cost",
        "active_days",
        "average_latency",
        "average_ttft",
    }
)
METADATA_PREFIX = "metadata__"
SORT_FIELDS = frozenset(
    {
        "customer_identifier",
        "email",
        "name",
        "first_seen",
        "last_active_timeframe",
        "number_of_requests",
        "total_cost",
        "total_tokens",
        "active_days",
        "average_latency",
        "average_ttft",
    }
)
_TIMESTAMP_FIELDS = frozenset({"first_seen", "last_active_timeframe"})
DEFAULT_SORT = "-first_seen"

OPERATORS = frozenset(operators.OPERATORS)


class QueryError(ValueError):
    """A list request the API refuses with 400; the message is the ``detail``."""


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _equal(actual: Any, wanted: Any) -> bool:
    if actual is None or wanted is None:
        return actual is None and wanted is None
    left, right = _as_number(actual), _as_number(wanted)
    if left is not None and right is not None and not isinstance(actual, str | bool):
        return left == right
    return _text(actual) == _text(wanted)


def _compare(actual: Any, wanted: Any, test: Callable[[Any, Any], bool]) -> bool:
    if actual is None:
        return False
    left, right = _as_number(actual), _as_number(wanted)
    if left is not None and right is not None:
        return test(left, right)
    return test(_text(actual), _text(wanted))


def _present(actual: Any) -> bool:
    return actual is not None and _text(actual) != ""


_ONE_VALUE_TESTS: Mapping[str, Callable[[Any, Any], bool]] = {
    "lt": lambda a, w: _compare(a, w, lambda x, y: x < y),
    "lte": lambda a, w: _compare(a, w, lambda x, y: x <= y),
    "gt": lambda a, w: _compare(a, w, lambda x, y: x > y),
    "gte": lambda a, w: _compare(a, w, lambda x, y: x >= y),
    "contains": lambda a, w: a is not None and _text(w) in _text(a),
    "not_contains": lambda a, w: a is None or _text(w) not in _text(a),
    "icontains": lambda a, w: a is not None and _text(w).casefold() in _text(a).casefold(),
    "startswith": lambda a, w: a is not None and _text(a).startswith(_text(w)),
    "not_startswith": lambda a, w: a is None or not _text(a).startswith(_text(w)),
    "endswith": lambda a, w: a is not None and _text(a).endswith(_text(w)),
    "not_endswith": lambda a, w: a is None or not _text(a).endswith(_text(w)),
    "iexact": lambda a, w: a is not None and _text(a).casefold() == _text(w).casefold(),
    "isnull": lambda a, w: (a is None) == w,
}


@dataclass(frozen=True, slots=True)
class Condition:
    """One parsed filter condition on one field."""

    field: str
    operator: str
    values: tuple[Any, ...]

    def matches(self, record: Mapping[str, Any]) -> bool:
        actual = field_value(record, self.field)
        op = self.operator
        if op in ("", "in"):
            return any(_equal(actual, wanted) for wanted in self.values)
        if op in ("not", "not_in"):
            return not any(_equal(actual, wanted) for wanted in self.values)
        if op == "empty":
            return not _present(actual)
        if op == "not_empty":
            return _present(actual)
        return _ONE_VALUE_TESTS[op](actual, self.values[0])


def field_value(record: Mapping[str, Any], field: str) -> Any:
    if field.startswith(METADATA_PREFIX):
        metadata = record.get("metadata") or {}
        return metadata.get(field[len(METADATA_PREFIX) :])
    return record.get(field)


def parse_filters(filters: Any) -> tuple[Condition, ...]:
    """Conditions from a request body's ``filters`` (``None`` means no filter)."""
    if filters is None:
        return ()
    if not isinstance(filters, dict):
        raise QueryError("filters must be an object mapping field names to conditions.")
    conditions: list[Condition] = []
    for field, spec in filters.items():
        _check_field(field)
        specs = spec if isinstance(spec, list) else [spec]
        if not specs:
            raise QueryError(f"Filter on {field!r} has an empty list of conditions.")
        conditions.extend(_condition(field, one) for one in specs)
    return tuple(conditions)


def _check_field(field: Any) -> None:
    if not isinstance(field, str):
        raise QueryError("Filter field names must be strings.")
    if field in TEXT_FIELDS or field in NUMBER_FIELDS:
        return
    if field.startswith(METADATA_PREFIX) and len(field) > len(METADATA_PREFIX):
        return
    known = ", ".join(sorted(TEXT_FIELDS | NUMBER_FIELDS))
    raise QueryError(f"Unsupported filter field {field!r}. Use one of {known} or metadata__<key>.")


def _condition(field: str, spec: Any) -> Condition:
    if not isinstance(spec, dict):
        raise QueryError(f"Filter on {field!r} must be an object with operator and value.")
    operator = spec.get("operator", "")
    if operator is None:
        operator = ""
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise QueryError(f"Unsupported filter operator {operator!r} on {field!r}.")
    raw = spec.get("value", [])
    values = tuple(raw) if isinstance(raw, list) else (raw,)
    if operator in operators.ONE_VALUE and len(values) != 1:
        raise QueryError(f"Operator {operator!r} on {field!r} takes exactly one value.")
    if operator in operators.NO_VALUE and len(values) > 1:
        raise QueryError(f'Operator {operator!r} on {field!r} takes no value (send [""]).')
    if operator == "isnull":
        values = (_boolean(values[0], field),)
    elif field in NUMBER_FIELDS and operator in operators.ANY_OF | operators.ORDERING:
        for value in values:
            if _as_number(value) is None:
                raise QueryError(f"Filter value {value!r} on {field!r} is not a number.")
    for value in values:
        if isinstance(value, dict | list):
            raise QueryError(f"Filter values on {field!r} must be scalars.")
    return Condition(field, operator, values)


def _boolean(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise QueryError(f"Operator 'isnull' on {field!r} takes [true] or [false].")


def parse_sort(sort_by: str | None) -> tuple[str, bool]:
    """``(field, descending)`` from ``sort_by`` (``-`` prefix is descending)."""
    spec = sort_by or DEFAULT_SORT
    descending = spec.startswith("-")
    field = spec[1:] if descending else spec
    if field not in SORT_FIELDS:
        known = ", ".join(sorted(SORT_FIELDS))
        raise QueryError(f"Invalid sort_by {spec!r}. Sort by one of {known}, with - to descend.")
    return field, descending


def _sort_key(field: str) -> Callable[[Mapping[str, Any]], tuple[bool, Any]]:
    def key(record: Mapping[str, Any]) -> tuple[bool, Any]:
        value = record.get(field)
        if value is None:
            return (True, None)
        if field in _TIMESTAMP_FIELDS:
            moment: datetime = parse_timestamp(value)
            return (False, moment)
        return (False, value)

    return key


def sort_customers(
    records: Iterable[Mapping[str, Any]], field: str, descending: bool
) -> list[Mapping[str, Any]]:
    """Sorted by ``field`` with nulls last ascending (first descending), ties broken by
    ``customer_identifier`` ascending so that pages never repeat or skip a customer."""
    ordered = sorted(records, key=lambda r: str(r["customer_identifier"]))
    # Python's sort is stable even with reverse=True, so the tie-break order survives.
    return sorted(ordered, key=_sort_key(field), reverse=descending)
