"""Respan export: the Filters API narrows the list on the server; detail reads only if needed.

Filters: ``POST /api/users/list/`` body ``{"filters": {...}}``, fields ``customer_identifier,
name, email, number_of_requests, total_tokens, total_cost, active_days`` and
``metadata__<key>``; operators ``""`` (equal, the default), ``not``, ``in``, ``not_in``,
``lt``, ``lte``, ``gt``, ``gte``, ``contains``, ``not_contains``, ``icontains``,
``startswith``, ``not_startswith``, ``endswith``, ``not_endswith``, ``empty``, ``not_empty``,
``iexact``, ``isnull``. Several terms on one field form a list of conditions (a range), and
every condition must hold. ``in`` and ``not_in`` take comma-separated values;
``empty``/``not_empty`` take none; ``isnull`` takes ``true`` or ``false``; every other operator
takes one value (which may contain ``:``).

Request economy: one list request per 1000 customers matching the filters, plus one retrieve
per exported customer only when a wanted field is missing from list items (``metadata``,
``markup_percentage``, ``period_start``, ``period_end``). Retrieves run concurrently under the
client's pacer; ``progress(done, total)`` is called after each. A wanted field that the
retrieve answer does not carry either stays unknown and is not exported: nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from reconciler.export.filters import FilterTerm, invalid_filter
from reconciler.money import to_decimal
from reconciler.providers.base import Provider
from reconciler.providers.export import ExportReader, Progress
from reconciler.providers.respan import operators
from reconciler.providers.respan.client import RESERVED_SEGMENTS, RespanClient
from reconciler.providers.respan.fields import RESPAN
from reconciler.providers.respan.provider import RespanProvider, retrieve_each

RESPAN_TEXT_FIELDS: Final = ("customer_identifier", "name", "email")
RESPAN_NUMBER_FIELDS: Final = ("number_of_requests", "total_tokens", "total_cost", "active_days")
METADATA_PREFIX: Final = "metadata__"


def filter_body(terms: Sequence[FilterTerm]) -> dict[str, Any]:
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
        raise invalid_filter(
            term, f"Respan cannot filter customers by {field!r}; use one of {fields}"
        )
    if operator not in operators.OPERATORS:
        names = ", ".join(repr(op) for op in operators.OPERATORS)
        raise invalid_filter(term, f"unknown operator {operator!r}; use one of {names}")
    if operator in operators.NO_VALUE:
        if term.value:
            raise invalid_filter(term, f"{operator} takes no value: write {field}:{operator}:")
        return {"operator": operator, "value": [""]}
    if operator == "isnull":
        flag = term.value.strip().lower()
        if flag not in ("true", "false"):
            raise invalid_filter(term, "isnull takes true or false")
        return {"operator": operator, "value": [flag == "true"]}
    if operator in operators.LIST:
        values = [item.strip() for item in term.value.split(",")]
    else:
        values = [term.value]
    if any(not item for item in values) and (numeric or operator in operators.ORDERING):
        raise invalid_filter(term, f"{operator or 'equality'} needs a value")
    if numeric:
        return {"operator": operator, "value": [_number(term, item) for item in values]}
    return {"operator": operator, "value": values}


def _number(term: FilterTerm, text: str) -> Any:
    try:
        return to_decimal(text)
    except ValueError:
        raise invalid_filter(term, f"{term.field} is a number; {text!r} is not") from None


class RespanExportReader(ExportReader):
    """``ExportReader`` over Respan's users API."""

    model = RESPAN

    def __init__(self, client: RespanClient, *, max_concurrency: int = 8) -> None:
        self.client = client
        self.max_concurrency = max(1, max_concurrency)

    def list_rows(self, environment: str, filters: Sequence[FilterTerm]) -> list[dict[str, Any]]:
        body = filter_body(filters)
        return self.client.list_customers(environment, body, "customer_identifier")

    def row_id(self, row: Mapping[str, Any]) -> str | None:
        identifier = row.get("customer_identifier")
        return None if identifier is None else str(identifier)

    def addressable(self, identifier: str) -> bool:
        return bool(identifier) and identifier not in RESERVED_SEGMENTS

    def read_details(
        self, environment: str, ids: Sequence[str], progress: Progress | None
    ) -> dict[str, dict[str, Any] | None]:
        return retrieve_each(
            self.client,
            environment,
            ids,
            max_concurrency=self.max_concurrency,
            progress=progress,
        )


def reader(provider: Provider) -> RespanExportReader:
    """The ``ProviderPlugin.export`` target: a reader over the open provider's client."""
    if not isinstance(provider, RespanProvider):
        raise TypeError(f"not a Respan provider: {provider!r}")
    return RespanExportReader(provider.client, max_concurrency=provider.max_concurrency)
