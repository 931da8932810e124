"""LiteLLM export: ``GET /customer/list`` items are whole customers (budget table included), so
an export costs list requests only (one per 100 customers, plus a final short page).

Filters: the list endpoint's ``search`` (a part of the id or alias, any case), written
``search::TEXT``; nothing else can be filtered on the server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from reconciler.export.filters import FilterTerm, invalid_filter
from reconciler.providers.base import Provider
from reconciler.providers.export import ExportReader
from reconciler.providers.litellm.client import LiteLLMClient
from reconciler.providers.litellm.fields import MODEL
from reconciler.providers.litellm.provider import LiteLLMProvider, live_fields

FILTER_FIELDS: Final = ("search",)


def filter_body(terms: Sequence[FilterTerm]) -> dict[str, Any]:
    """``{"search": TEXT}`` for ``search::TEXT``; ``ConfigError`` for anything else."""
    body: dict[str, Any] = {}
    for term in terms:
        if term.field not in FILTER_FIELDS:
            raise invalid_filter(
                term, f"LiteLLM cannot filter customers by {term.field!r}; use search"
            )
        if term.operator not in ("", "contains", "icontains"):
            raise invalid_filter(term, "LiteLLM's search only matches: write search::TEXT")
        if "search" in body or not term.value.strip():
            raise invalid_filter(term, "LiteLLM takes one non-empty search value")
        body["search"] = term.value.strip()
    return body


class LiteLLMExportReader(ExportReader):
    """``ExportReader`` over one proxy's ``/customer/list``."""

    model = MODEL

    def __init__(self, client: LiteLLMClient) -> None:
        self.client = client

    def list_rows(self, environment: str, filters: Sequence[FilterTerm]) -> list[dict[str, Any]]:
        return self.client.list_customers(filter_body(filters).get("search"))

    def row_id(self, row: Mapping[str, Any]) -> str | None:
        identifier = row.get("user_id")
        return identifier if isinstance(identifier, str) else None

    def lift(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        return live_fields(row)


def reader(provider: Provider) -> LiteLLMExportReader:
    """The ``ProviderPlugin.export`` target: a reader over the open provider's client."""
    if not isinstance(provider, LiteLLMProvider):
        raise TypeError(f"not a LiteLLM provider: {provider!r}")
    return LiteLLMExportReader(provider.client)
