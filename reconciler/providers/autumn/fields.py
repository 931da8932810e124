"""Autumn's customer resource as pure data (no I/O, cheap to import): what can be declared."""

from __future__ import annotations

from reconciler.providers.model import FieldKind, FieldSpec, ProviderModel, field_specs

AUTUMN = ProviderModel(
    name="autumn",
    environments=("sandbox", "live"),
    default_environment="sandbox",
    id_field="id",
    fields=field_specs(
        FieldSpec("name", FieldKind.TEXT),
        FieldSpec("email", FieldKind.TEXT),
        FieldSpec("fingerprint", FieldKind.TEXT),
        FieldSpec("metadata", FieldKind.METADATA, nullable=False),
        FieldSpec("send_email_receipts", FieldKind.BOOL, nullable=False),
        FieldSpec(
            "billing_controls",
            FieldKind.KEYED_LISTS,
            nullable=False,
            # Items are one per feature; spend limits' overage_limit is in USD.
            item_key="feature_id",
            money_keys=frozenset({"overage_limit"}),
            definition="billingControls",
        ),
    ),
    creates_missing=True,
    metadata_authoritative=True,
)
