"""Reading live customers for export: the one "list rows -> ``LiveCustomer``" loop.

Every provider's export reads the same way: list the customers (narrowed by the API's own
filters), skip rows without a text id and ids already declared, read details only when a wanted
field is not in list rows, and keep the wanted fields the API returned (nothing guessed). A
provider subclasses ``ExportReader`` and says only what differs: how to list, which key holds
the id, how a row's fields are lifted to the model's, and how to read details.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.domain import LiveCustomer, ProviderModel

if TYPE_CHECKING:
    from reconciler.export.filters import FilterTerm

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


class ExportReader:
    """Reads one provider's live customers for export, with the API's own filters (checked
    before any request through ``ProviderPlugin.filter_body``).

    Subclasses set ``model`` and implement ``list_rows`` and ``row_id``; ``lift`` (when rows
    are not in the model's shape), ``addressable`` and ``read_details`` (when some field is
    not ``listed``) as their API needs.
    """

    model: ProviderModel

    def list_rows(
        self, environment: str, filters: Sequence[FilterTerm]
    ) -> Iterable[Mapping[str, Any]]:
        """The list endpoint's rows of ``environment`` matching ``filters`` (all pages)."""
        raise NotImplementedError

    def row_id(self, row: Mapping[str, Any]) -> str | None:
        """The customer id a row carries; ``None`` skips the row (it names no customer)."""
        raise NotImplementedError

    def lift(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        """The model's fields in a row (a detail answer merged over it): as they are."""
        return row

    def addressable(self, identifier: str) -> bool:
        """Whether a detail read can address ``identifier`` (every id, unless the API's URLs
        reserve some)."""
        return True

    def read_details(
        self, environment: str, ids: Sequence[str], progress: Progress | None
    ) -> Mapping[str, Mapping[str, Any] | None]:
        """Each customer's detail answer (``None``: gone since it was listed); called only
        when a wanted field is not ``listed``."""
        raise NotImplementedError(f"{self.model.name} lists every field")

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
        no cost), in id order, with the wanted ``fields`` the API returns."""
        listed: dict[str, Mapping[str, Any]] = {}
        for row in self.list_rows(environment, filters):
            identifier = self.row_id(row)
            if identifier is not None and identifier not in exclude:
                listed[identifier] = row
        wanted = [name for name in fields if name in self.model.fields]
        unaddressable = sorted(i for i in listed if not self.addressable(i))
        details: Mapping[str, Mapping[str, Any] | None] = {}
        if any(not self.model.fields[name].listed for name in wanted):
            addressable = sorted(i for i in listed if i not in unaddressable)
            details = self.read_details(environment, addressable, progress)
        customers = []
        for identifier in sorted(listed):
            row = listed[identifier]
            if identifier in details:
                detail = details[identifier]
                if detail is None:
                    continue
                row = {**row, **detail}
            values = self.lift(row)
            kept = {name: values[name] for name in wanted if name in values}
            customers.append(LiveCustomer(self.model.name, environment, identifier, kept))
        gone = tuple(sorted(i for i, detail in details.items() if detail is None))
        return ExportRead(tuple(customers), gone, tuple(unaddressable))
