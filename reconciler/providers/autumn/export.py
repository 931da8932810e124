"""Autumn export: ``customers.list`` items are whole customers (metadata and billing controls
included), so an export costs list requests only (one per 1000 customers, plus a final short
page).

Filters: ``customers.list``'s ``search`` (id, name and email, case-insensitive), ``plans``,
``subscription_status`` and ``processors``, all matched by equality (``search::acme``,
``plans:in:pro,team``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from reconciler.errors import ConfigError
from reconciler.export.filters import FilterTerm, invalid_filter
from reconciler.providers.autumn.client import AutumnClient
from reconciler.providers.autumn.fields import AUTUMN
from reconciler.providers.autumn.provider import AutumnProvider
from reconciler.providers.base import Provider
from reconciler.providers.export import ExportReader

AUTUMN_FIELDS: Final = ("search", "plans", "subscription_status", "processors")
_AUTUMN_EQUALITY: Final = frozenset({"", "in", "contains", "icontains"})


def filter_body(terms: Sequence[FilterTerm]) -> dict[str, Any]:
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
            raise invalid_filter(
                term, f"Autumn cannot filter customers by {term.field!r}; use one of {fields}"
            )
        if term.operator not in _AUTUMN_EQUALITY:
            reason = f"Autumn's {term.field} filter only matches: write {term.field}::VALUE"
            raise invalid_filter(term, reason)
        values = [item.strip() for item in term.value.split(",") if item.strip()]
        if not values:
            raise invalid_filter(term, f"{term.field} needs a value")
        if term.field in ("search", "subscription_status"):
            if term.field in body or (len(values) > 1 and term.field == "subscription_status"):
                raise invalid_filter(term, f"Autumn takes one {term.field} value")
            body[term.field] = term.value.strip()
        elif term.field == "plans":
            body.setdefault("plans", []).extend({"id": value} for value in values)
        else:
            body.setdefault("processors", []).extend(values)
    return body


class AutumnExportReader(ExportReader):
    """``ExportReader`` over Autumn's ``customers.list``: items are whole customers, so an
    export costs list requests only (one per 1000 customers, plus a final short page)."""

    model = AUTUMN

    def __init__(self, clients: Mapping[str, AutumnClient]) -> None:
        self.clients = clients

    def list_rows(
        self, environment: str, filters: Sequence[FilterTerm]
    ) -> Iterator[Mapping[str, Any]]:
        client = self.clients.get(environment)
        if client is None:
            held = " and ".join(sorted(self.clients))
            raise ConfigError(
                f"the Autumn key reaches {held}, not {environment}: Autumn picks the "
                "environment from the key (am_sk_test_: sandbox, am_sk_live_: live)"
            )
        for item in client.list_customers(filter_body(filters)):
            # The key decides the environment; never export another one's.
            if item.get("env", environment) == environment:
                yield item

    def row_id(self, row: Mapping[str, Any]) -> str | None:
        identifier = row.get("id")
        return identifier if isinstance(identifier, str) else None


def reader(provider: Provider) -> AutumnExportReader:
    """The ``ProviderPlugin.export`` target: a reader over the open provider's clients."""
    if not isinstance(provider, AutumnProvider):
        raise TypeError(f"not an Autumn provider: {provider!r}")
    return AutumnExportReader(provider.clients)
