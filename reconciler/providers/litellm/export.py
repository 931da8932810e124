"""LiteLLM export: ``GET /customer/list`` items are whole customers (budget table included), so
an export costs list requests only (one per 100 customers, plus a final short page).

Filters: the list endpoint's ``search`` (a part of the id or alias, any case), written
``search::TEXT``; nothing else can be filtered on the server.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Final

from reconciler.domain import LiveCustomer
from reconciler.export.filters import FilterTerm, invalid_filter
from reconciler.providers.base import Provider
from reconciler.providers.litellm.client import LiteLLMClient
from reconciler.providers.litellm.fields import MODEL
from reconciler.providers.litellm.provider import LiteLLMProvider, live_fields
from reconciler.providers.plugin import ExportRead, Progress

FILTER_FIELDS: Final = ("search",)


def litellm_filter_body(terms: Sequence[FilterTerm]) -> dict[str, Any]:
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


class LiteLLMExportReader:
    """``ExportReader`` over one proxy's ``/customer/list``."""

    model = MODEL

    def __init__(self, client: LiteLLMClient) -> None:
        self.client = client

    def read(
        self,
        environment: str,
        filters: Sequence[FilterTerm],
        fields: Sequence[str],
        *,
        exclude: Collection[str] = (),
        progress: Progress | None = None,
    ) -> ExportRead:
        search = litellm_filter_body(filters).get("search")
        wanted = [name for name in fields if name in self.model.fields]
        customers = []
        for item in self.client.list_customers(search):
            identifier = item.get("user_id")
            if not isinstance(identifier, str) or identifier in exclude:
                continue
            live = live_fields(item)
            values = {name: live[name] for name in wanted if name in live}
            customers.append(LiveCustomer(self.model.name, environment, identifier, values))
        return ExportRead(tuple(sorted(customers, key=lambda customer: customer.id)))


def reader(provider: Provider) -> LiteLLMExportReader:
    """The ``ProviderPlugin.export`` target: a reader over the open provider's client."""
    if not isinstance(provider, LiteLLMProvider):
        raise TypeError(f"not a LiteLLM provider: {provider!r}")
    return LiteLLMExportReader(provider.client)
