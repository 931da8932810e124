"""Reading live customers for export: the API's own filters first, detail reads only if needed.

Autumn: ``customers.list`` items are whole customer objects (metadata and billing controls
included), so an export costs list requests only.

Request economy (Respan): one list request per 1000 customers matching the filters (filtering
happens on the server, so a narrow export costs one or two lists), plus one retrieve per
exported customer only when a wanted field is missing from list items (``metadata``,
``markup_percentage``, ``period_start``, ``period_end``). Retrieves run concurrently under the
client's pacer; ``progress(done, total)`` is called after each.

A wanted field that the retrieve answer does not carry either (the live API may omit
``metadata`` and ``markup_percentage``) stays unknown and is not exported: nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.clients.autumn import AutumnClient
from reconciler.clients.respan import RESERVED_SEGMENTS, RespanClient
from reconciler.domain import LiveCustomer, ProviderModel
from reconciler.errors import ConfigError
from reconciler.export.filters import FilterTerm, autumn_filter_body, respan_filter_body
from reconciler.providers.base import Provider
from reconciler.providers.catalog import AUTUMN, RESPAN
from reconciler.providers.respan import retrieve_each

Progress = Callable[[int, int], None]
"""``progress(done, total)``: detail reads finished so far, out of how many."""


@dataclass(frozen=True, slots=True)
class ExportRead:
    """Live customers read for export, and what could not be read completely."""

    customers: tuple[LiveCustomer, ...]
    # Listed, then gone before their detail read: not exported.
    gone: tuple[str, ...] = ()
    # Ids no URL can address (e.g. "list"): exported with their listed fields only.
    unaddressable: tuple[str, ...] = ()


class ExportReader(Protocol):
    """Reads one provider's live customers for export."""

    model: ProviderModel

    def check_filters(self, filters: Sequence[FilterTerm]) -> None:
        """Raise ``ConfigError`` for filters this provider cannot apply (before any request)."""
        ...

    def read(
        self,
        environment: str,
        filters: Sequence[FilterTerm],
        fields: Sequence[str],
        *,
        exclude: Collection[str] = (),
        progress: Progress | None = None,
    ) -> ExportRead:
        """Customers of ``environment`` matching ``filters`` (ids in ``exclude`` skipped, at
        no cost), with the wanted ``fields`` the API returns."""
        ...


class RespanExportReader:
    """``ExportReader`` over Respan's users API."""

    model = RESPAN

    def __init__(self, client: RespanClient, *, max_concurrency: int = 8) -> None:
        self.client = client
        self.max_concurrency = max(1, max_concurrency)

    def check_filters(self, filters: Sequence[FilterTerm]) -> None:
        respan_filter_body(filters)

    def read(
        self,
        environment: str,
        filters: Sequence[FilterTerm],
        fields: Sequence[str],
        *,
        exclude: Collection[str] = (),
        progress: Progress | None = None,
    ) -> ExportRead:
        body = respan_filter_body(filters)
        listed = {
            str(item["customer_identifier"]): item
            for item in self.client.list_customers(environment, body, "customer_identifier")
            if item.get("customer_identifier") is not None
            and str(item["customer_identifier"]) not in exclude
        }
        wanted = [name for name in fields if name in self.model.fields]
        needs_detail = any(not self.model.fields[name].listed for name in wanted)
        unaddressable = sorted(i for i in listed if not i or i in RESERVED_SEGMENTS)
        details: dict[str, dict[str, Any] | None] = {}
        if needs_detail:
            addressable = sorted(i for i in listed if i not in unaddressable)
            details = retrieve_each(
                self.client,
                environment,
                addressable,
                max_concurrency=self.max_concurrency,
                progress=progress,
            )
        customers = []
        for identifier in sorted(listed):
            answer: dict[str, Any] = dict(listed[identifier])
            if identifier in details:
                detail = details[identifier]
                if detail is None:
                    continue
                answer.update(detail)
            values = {name: answer[name] for name in wanted if name in answer}
            customers.append(LiveCustomer(self.model.name, environment, identifier, values))
        gone = tuple(sorted(i for i, detail in details.items() if detail is None))
        return ExportRead(tuple(customers), gone, tuple(unaddressable))


class AutumnExportReader:
    """``ExportReader`` over Autumn's ``customers.list``: items are whole customers, so an
    export costs list requests only (one per 1000 customers, plus a final short page)."""

    model = AUTUMN

    def __init__(self, clients: Mapping[str, AutumnClient]) -> None:
        self.clients = clients

    def check_filters(self, filters: Sequence[FilterTerm]) -> None:
        autumn_filter_body(filters)

    def read(
        self,
        environment: str,
        filters: Sequence[FilterTerm],
        fields: Sequence[str],
        *,
        exclude: Collection[str] = (),
        progress: Progress | None = None,
    ) -> ExportRead:
        client = self.clients.get(environment)
        if client is None:
            held = " and ".join(sorted(self.clients))
            raise ConfigError(
                f"the Autumn key reaches {held}, not {environment}: Autumn picks the "
                "environment from the key (am_sk_test_: sandbox, am_sk_live_: live)"
            )
        wanted = [name for name in fields if name in self.model.fields]
        customers = []
        for item in client.list_customers(autumn_filter_body(filters)):
            identifier = item.get("id")
            if not isinstance(identifier, str) or identifier in exclude:
                continue
            if item.get("env", environment) != environment:
                continue  # the key decides the environment; never export another one's
            values = {name: item[name] for name in wanted if name in item}
            customers.append(LiveCustomer(self.model.name, environment, identifier, values))
        return ExportRead(tuple(sorted(customers, key=lambda customer: customer.id)))


def export_reader(provider: Provider) -> ExportReader:
    """The export reader for an open provider; ``ConfigError`` when export cannot read it."""
    from reconciler.providers.autumn import AutumnProvider
    from reconciler.providers.respan import RespanProvider

    if isinstance(provider, RespanProvider):
        return RespanExportReader(provider.client, max_concurrency=provider.max_concurrency)
    if isinstance(provider, AutumnProvider):
        return AutumnExportReader(provider.clients)
    raise ConfigError(f"export does not support the {provider.model.name} provider")


def field_selection(model: ProviderModel, names: Sequence[str] | None) -> tuple[str, ...]:
    """``--fields`` checked against the model (``None``: every declarable field)."""
    if not names:
        return model.field_names()
    unknown = [name for name in names if name not in model.fields]
    if unknown:
        raise ConfigError(
            f"--fields names {unknown[0]!r}, which a {model.name} customer cannot declare; "
            f"use some of: {', '.join(model.field_names())}"
        )
    return tuple(name for name in model.field_names() if name in names)
