"""The shared export loop (``reconciler.providers.export.ExportReader``), over listed rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from reconciler.domain import FieldKind, FieldSpec, LiveCustomer, ProviderModel
from reconciler.export.filters import FilterTerm
from reconciler.providers.export import ExportReader, Progress

MODEL = ProviderModel(
    name="acme",
    environments=("default",),
    default_environment="default",
    id_field="ref",
    fields=MappingProxyType(
        {
            "name": FieldSpec("name", FieldKind.TEXT),
            "limit": FieldSpec("limit", FieldKind.MONEY),
            "notes": FieldSpec("notes", FieldKind.TEXT, listed=False),
        }
    ),
    creates_missing=True,
    metadata_authoritative=True,
)


class RowsReader(ExportReader):
    """Rows as an API would list them (``budget`` nested, ids under ``ref``)."""

    model = MODEL

    def __init__(
        self,
        rows: list[dict[str, Any]],
        details: Mapping[str, dict[str, Any] | None] | None = None,
    ) -> None:
        self.rows = rows
        self.details = details or {}
        self.detail_reads: list[list[str]] = []

    def list_rows(self, environment: str, filters: Sequence[FilterTerm]) -> list[dict[str, Any]]:
        return self.rows

    def row_id(self, row: Mapping[str, Any]) -> str | None:
        identifier = row.get("ref")
        return identifier if isinstance(identifier, str) else None

    def lift(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        return {**row, **row.get("budget", {})}

    def addressable(self, identifier: str) -> bool:
        return identifier != "list"

    def read_details(
        self, environment: str, ids: Sequence[str], progress: Progress | None
    ) -> Mapping[str, dict[str, Any] | None]:
        self.detail_reads.append(list(ids))
        return {identifier: self.details.get(identifier, {}) for identifier in ids}


def test_rows_become_live_customers_in_id_order_with_the_wanted_fields_only() -> None:
    """Rows without a text id and excluded ids are skipped; fields are lifted, then only the
    wanted ones the row carries are kept (an absent field stays unknown)."""
    reader = RowsReader(
        [
            {"ref": "zeta", "name": "Zeta", "budget": {"limit": 5}},
            {"ref": 7, "name": "not an id"},
            {"name": "no id at all"},
            {"ref": "alpha", "budget": {"limit": 10}},
            {"ref": "declared", "name": "Declared"},
        ]
    )

    read = reader.read("default", (), ("name", "limit"), exclude={"declared"})

    assert read.customers == (
        LiveCustomer("acme", "default", "alpha", {"limit": 10}),
        LiveCustomer("acme", "default", "zeta", {"name": "Zeta", "limit": 5}),
    )
    assert (read.gone, read.unaddressable) == ((), ())
    assert reader.detail_reads == []


def test_details_are_read_only_for_unlisted_fields_and_gone_customers_are_reported() -> None:
    """A wanted unlisted field costs one detail read of the addressable ids; a customer gone
    before its read is left out and named, an unaddressable one keeps its listed fields."""
    reader = RowsReader(
        [{"ref": "a", "name": "A"}, {"ref": "b", "name": "B"}, {"ref": "list", "name": "L"}],
        details={"a": {"notes": "vip"}, "b": None},
    )

    read = reader.read("default", (), ("name", "notes"))

    assert reader.detail_reads == [["a", "b"]]
    assert read.customers == (
        LiveCustomer("acme", "default", "a", {"name": "A", "notes": "vip"}),
        LiveCustomer("acme", "default", "list", {"name": "L"}),
    )
    assert read.gone == ("b",)
    assert read.unaddressable == ("list",)
