"""``--filter FIELD:OPERATOR:VALUE`` terms and the server-side filter bodies they become.

Export narrows what it reads with the API's own filters, so a filtered export costs a few list
requests instead of reading every customer. The syntax is the same for every provider; which
fields and operators are accepted depends on the provider's list endpoint:

- Respan: the Filters API (``POST /api/users/list/`` body ``{"filters": {...}}``), fields
  ``customer_identifier, name, email, number_of_requests, total_tokens, total_cost,
  active_days`` and ``metadata__<key>``; operators ``""`` (equal, the default), ``not``,
  ``in``, ``not_in``, ``lt``, ``lte``, ``gt``, ``gte``, ``contains``, ``not_contains``,
  ``icontains``, ``startswith``, ``not_startswith``, ``endswith``, ``not_endswith``, ``empty``,
  ``not_empty``, ``iexact``, ``isnull``. Several terms on one field form a list of conditions
  (a range), and every condition must hold.

``in`` and ``not_in`` take comma-separated values; ``empty``/``not_empty`` take none; ``isnull``
takes ``true`` or ``false``; every other operator takes one value (which may contain ``:``).

- Autumn: ``customers.list``'s filters ``search`` (id, name and email, case-insensitive),
  ``plans``, ``subscription_status`` and ``processors``, all matched by equality
  (``search::acme``, ``plans:in:pro,team``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from reconciler.errors import ConfigError
from reconciler.money import to_decimal

SYNTAX: Final = "FIELD:OPERATOR:VALUE (e.g. email:endswith:@acme.example, total_cost:gte:10)"

RESPAN_TEXT_FIELDS: Final = ("customer_identifier", "name", "email")
RESPAN_NUMBER_FIELDS: Final = ("number_of_requests", "total_tokens", "total_cost", "active_days")
METADATA_PREFIX: Final = "metadata__"
RESPAN_OPERATORS: Final = (
    "",
    "not",
    "in",
    "not_in",
    "lt",
    "lte",
    "gt",
    "gte",
    "contains",
    "not_contains",
    "icontains",
    "startswith",
    "not_startswith",
    "endswith",
    "not_endswith",
    "empty",
    "not_empty",
    "iexact",
    "isnull",
)
_LIST_OPERATORS: Final = frozenset({"in", "not_in"})
_NO_VALUE_OPERATORS: Final = frozenset({"empty", "not_empty"})
_ORDERING_OPERATORS: Final = frozenset({"lt", "lte", "gt", "gte"})


@dataclass(frozen=True, slots=True)
class FilterTerm:
    """One ``--filter``: ``field``, ``operator`` (``""`` is equality) and the raw ``value``."""

    field: str
    operator: str
    value: str
    text: str  # as the user wrote it, for messages

    def __str__(self) -> str:
        return self.text


def parse_filter(text: str) -> FilterTerm:
    """Split ``FIELD:OPERATOR:VALUE`` (the value may hold more ``:``); ``ConfigError`` if not."""
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[0].strip():
        raise ConfigError(f"invalid --filter {text!r}: write {SYNTAX}")
    field, operator, value = parts
    return FilterTerm(field.strip(), operator.strip(), value, text)


def parse_filters(texts: Sequence[str]) -> tuple[FilterTerm, ...]:
    """Every ``--filter`` in order; the first malformed one raises ``ConfigError``."""
    return tuple(parse_filter(text) for text in texts)


def check_filters(provider: str, terms: Sequence[FilterTerm]) -> None:
    """Raise ``ConfigError`` for terms ``provider``'s list endpoint cannot apply."""
    translate = FILTER_BODIES.get(provider)
    if translate is None:
        raise ConfigError(f"the {provider} provider cannot filter an export")
    translate(terms)


def respan_filter_body(terms: Sequence[FilterTerm]) -> dict[str, Any]:
    """The ``filters`` object of Respan's list request for ``terms``.

    Raises ``ConfigError`` naming the term, the accepted fields or operators, and the syntax.
    """
    conditions: dict[str, list[dict[str, Any]]] = {}
    for term in terms:
        conditions.setdefault(term.field, []).append(_respan_condition(term))
    return {field: found[0] if len(found) == 1 else found for field, found in conditions.items()}


def _respan_condition(term: FilterTerm) -> dict[str, Any]:
    field, operator = term.field, term.operator
    numeric = field in RESPAN_NUMBER_FIELDS
    is_metadata = field.startswith(METADATA_PREFIX) and len(field) > len(METADATA_PREFIX)
    if not (numeric or is_metadata or field in RESPAN_TEXT_FIELDS):
        fields = ", ".join((*RESPAN_TEXT_FIELDS, *RESPAN_NUMBER_FIELDS, METADATA_PREFIX + "<key>"))
        raise _invalid(term, f"Respan cannot filter customers by {field!r}; use one of {fields}")
    if operator not in RESPAN_OPERATORS:
        names = ", ".join(repr(op) for op in RESPAN_OPERATORS)
        raise _invalid(term, f"unknown operator {operator!r}; use one of {names}")
    if operator in _NO_VALUE_OPERATORS:
        if term.value:
            raise _invalid(term, f"{operator} takes no value: write {field}:{operator}:")
        return {"operator": operator, "value": [""]}
    if operator == "isnull":
        flag = term.value.strip().lower()
        if flag not in ("true", "false"):
            raise _invalid(term, "isnull takes true or false")
        return {"operator": operator, "value": [flag == "true"]}
    if operator in _LIST_OPERATORS:
        values = [item.strip() for item in term.value.split(",")]
    else:
        values = [term.value]
    if any(not item for item in values) and (numeric or operator in _ORDERING_OPERATORS):
        raise _invalid(term, f"{operator or 'equality'} needs a value")
    if numeric:
        return {"operator": operator, "value": [_number(term, item) for item in values]}
    return {"operator": operator, "value": values}


def _number(term: FilterTerm, text: str) -> Any:
    try:
        return to_decimal(text)
    except ValueError:
        raise _invalid(term, f"{term.field} is a number; {text!r} is not") from None


def _invalid(term: FilterTerm, reason: str) -> ConfigError:
    return ConfigError(f"invalid --filter {term.text!r}: {reason} (syntax: {SYNTAX})")


AUTUMN_FIELDS: Final = ("search", "plans", "subscription_status", "processors")
_AUTUMN_EQUALITY: Final = frozenset({"", "in", "contains", "icontains"})


def autumn_filter_body(terms: Sequence[FilterTerm]) -> dict[str, Any]:
    """The filters of Autumn's ``customers.list`` body for ``terms``.

    ``search::TEXT`` (also ``search:contains:TEXT``) searches id, name and email, case-
    insensitively; ``plans:in:pro,team`` and ``processors:in:stripe`` take comma-separated
    values (several terms add up); ``subscription_status::active`` takes one. Raises
    ``ConfigError`` for any other field or operator.
    """
    body: dict[str, Any] = {}
    for term in terms:
        if term.field not in AUTUMN_FIELDS:
            fields = ", ".join(AUTUMN_FIELDS)
            raise _invalid(
                term, f"Autumn cannot filter customers by {term.field!r}; use one of {fields}"
            )
        if term.operator not in _AUTUMN_EQUALITY:
            reason = f"Autumn's {term.field} filter only matches: write {term.field}::VALUE"
            raise _invalid(term, reason)
        values = [item.strip() for item in term.value.split(",") if item.strip()]
        if not values:
            raise _invalid(term, f"{term.field} needs a value")
        if term.field in ("search", "subscription_status"):
            if term.field in body or (len(values) > 1 and term.field == "subscription_status"):
                raise _invalid(term, f"Autumn takes one {term.field} value")
            body[term.field] = term.value.strip()
        elif term.field == "plans":
            body.setdefault("plans", []).extend({"id": value} for value in values)
        else:
            body.setdefault("processors", []).extend(values)
    return body


# Provider name -> the server-side filter body of its list request.
FILTER_BODIES: Final[Mapping[str, Callable[[Sequence[FilterTerm]], dict[str, Any]]]] = {
    "respan": respan_filter_body,
    "autumn": autumn_filter_body,
}
