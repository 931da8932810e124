"""Live customers -> manifest documents (plain data, in the schema's key order).

One ``ManifestDocument`` per provider and environment (or per customer with ``--split
customer``): customers sorted by id, only declarable fields, nulls left out unless asked for,
and ``defaults`` holding every simple field that all customers of the document share.

Shared values move to ``defaults`` only when the document has at least two customers, and
only for scalar fields: metadata merges key by key and billing controls replace whole, so
factoring those would change what a customer declares. Non-authoritative metadata that is
empty declares nothing (live keys not declared are left alone there), and neither do billing
controls without arrays, so neither is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from reconciler.domain import UNKNOWN, FieldKind, LiveCustomer, ProviderModel
from reconciler.export.declarable import refused_fields
from reconciler.export.values import (
    Unrepresentable,
    manifest_value,
    schema_keys,
    undeclarable_metadata,
)
from reconciler.planner.normalize import normalize, same

# Kinds that may move to ``defaults`` when every customer of a document shares the value.
FACTORABLE: Final = frozenset(
    {
        FieldKind.TEXT,
        FieldKind.ENUM,
        FieldKind.MONEY,
        FieldKind.DECIMAL,
        FieldKind.BOOL,
        FieldKind.TIMESTAMP,
        FieldKind.INTEGER,
    }
)
TOP_LEVEL_KEYS: Final = ("provider", "environment", "defaults", "customers")


@dataclass(frozen=True, slots=True)
class ManifestDocument:
    """One manifest document: a provider, an environment, shared defaults, customers."""

    provider: str
    environment: str
    customers: tuple[Mapping[str, Any], ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The document as YAML writes it, keys in the schema's order."""
        document: dict[str, Any] = {"provider": self.provider, "environment": self.environment}
        if self.defaults:
            document["defaults"] = dict(self.defaults)
        document["customers"] = [dict(customer) for customer in self.customers]
        return {key: document[key] for key in TOP_LEVEL_KEYS if key in document}

    def split(self) -> list[ManifestDocument]:
        """One document per customer, each declaring itself what the defaults gave it."""
        order = {name: index for index, name in enumerate(schema_keys(f"{self.provider}Customer"))}
        documents = []
        for customer in self.customers:
            merged = {**self.defaults, **customer}
            ordered = dict(sorted(merged.items(), key=lambda item: order.get(item[0], len(order))))
            documents.append(ManifestDocument(self.provider, self.environment, (ordered,)))
        return documents


@dataclass(frozen=True, slots=True)
class ExportNote:
    """Something left out of an export and why, for the person running it."""

    customer: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.customer}: {self.field} left out: {self.reason}"


@dataclass
class DocumentBuilder:
    """Builds manifest documents for one provider; collects notes about what it left out."""

    model: ProviderModel
    include_nulls: bool = False
    fields: Sequence[str] | None = None  # ``None``: every declarable field
    notes: list[ExportNote] = field(default_factory=list)

    def customer(self, live: LiveCustomer) -> dict[str, Any]:
        """One customer as a manifest declares it (id first, then fields in schema order)."""
        declared: dict[str, Any] = {self.model.id_field: live.id}
        wanted = self.model.fields if self.fields is None else self.fields
        for name in schema_keys(f"{self.model.name}Customer"):
            spec = self.model.fields.get(name)
            if spec is None or name not in wanted:
                continue
            raw = live.get(name)
            if raw is UNKNOWN:
                continue  # the API did not return it: never guess
            value = self._value(live, name, raw)
            if value is _OMIT:
                continue
            declared[name] = value
        # Values declarable one by one may still fail validation together: left out, noted.
        while refused := refused_fields(self.model, live.environment, declared):
            left_out = [name for name in refused if name in declared and name in self.model.fields]
            for name in left_out:
                del declared[name]
                reason = f"no manifest can declare it ({refused[name]})"
                self.notes.append(ExportNote(live.id, name, reason))
            if not left_out:
                break  # about the id itself, which the customer cannot do without
        return declared

    def document(self, environment: str, customers: Iterable[LiveCustomer]) -> ManifestDocument:
        """The document of ``customers`` (one environment), sorted by id, defaults factored."""
        ordered = sorted(customers, key=lambda customer: customer.id)
        declared = [self.customer(customer) for customer in ordered]
        defaults = self._shared(declared)
        if defaults:
            declared = [
                {key: value for key, value in customer.items() if key not in defaults}
                for customer in declared
            ]
        return ManifestDocument(self.model.name, environment, tuple(declared), defaults)

    def _value(self, live: LiveCustomer, name: str, raw: Any) -> Any:
        spec = self.model.fields[name]
        if raw is None:
            return None if self.include_nulls and spec.nullable else _OMIT
        try:
            value = manifest_value(spec, raw)
        except Unrepresentable as exc:
            self.notes.append(ExportNote(live.id, name, f"no manifest can declare it ({exc})"))
            return _OMIT
        if spec.kind is FieldKind.METADATA:
            left_out = undeclarable_metadata(raw)
            if left_out and self.model.metadata_authoritative:
                # Declared metadata is the whole truth here: a partial copy would plan removals.
                reason = f"the values under {', '.join(left_out)} cannot be declared"
                self.notes.append(ExportNote(live.id, name, reason))
                return _OMIT
            for key, why in left_out.items():
                reason = f"{why} (the provider leaves it alone)"
                self.notes.append(ExportNote(live.id, f"metadata.{key}", reason))
            if not value and not self.model.metadata_authoritative:
                return _OMIT
        if spec.kind is FieldKind.KEYED_LISTS and not value:
            return _OMIT  # no arrays: declares nothing
        return value

    def _shared(self, customers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Fields every customer declares with one same value (documents of 2+ customers)."""
        if len(customers) < 2:
            return {}
        shared: dict[str, Any] = {}
        for name in schema_keys(f"{self.model.name}Defaults"):
            spec = self.model.fields.get(name)
            if spec is None or spec.kind not in FACTORABLE:
                continue
            if not all(customer.get(name) is not None for customer in customers):
                continue  # nulls stay on the customers: defaults carry shared values
            first = normalize(spec, customers[0][name])
            if all(same(normalize(spec, c[name]), first) for c in customers[1:]):
                shared[name] = customers[0][name]
        return shared


class _Omit:
    """Marker: the field is not written."""


_OMIT: Final = _Omit()
