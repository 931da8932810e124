"""Respan's customer resource as pure data (no I/O, cheap to import): what can be declared."""

from __future__ import annotations

from reconciler.providers.model import FieldKind, FieldSpec, ProviderModel, field_specs

# budget_duration: the current reference says daily|weekly|monthly; older docs also list
# yearly (unconfirmed for PATCH). Manifests may declare all four; see docs/providers/respan.md.
RESPAN_BUDGET_DURATIONS = ("daily", "weekly", "monthly", "yearly")

RESPAN = ProviderModel(
    name="respan",
    environments=("prod", "test"),
    default_environment="prod",
    id_field="customer_identifier",
    fields=field_specs(
        FieldSpec("name", FieldKind.TEXT),
        FieldSpec("email", FieldKind.TEXT),
        FieldSpec("period_budget", FieldKind.MONEY, cap="max_period_budget"),
        FieldSpec("total_budget", FieldKind.MONEY, cap="max_total_budget"),
        FieldSpec(
            "budget_duration",
            FieldKind.ENUM,
            nullable=False,
            choices=RESPAN_BUDGET_DURATIONS,
        ),
        # Not returned by the list endpoint: declaring them costs one retrieve each.
        FieldSpec("period_start", FieldKind.TIMESTAMP, nullable=False, listed=False),
        FieldSpec("period_end", FieldKind.TIMESTAMP, listed=False),
        FieldSpec("markup_percentage", FieldKind.DECIMAL, nullable=False, listed=False),
        FieldSpec("metadata", FieldKind.METADATA, nullable=False, listed=False),
    ),
    creates_missing=False,
    metadata_authoritative=False,
    usage_guarded_fields=("period_budget",),
    missing_note=(
        "not found in {environment}: Respan creates customers from their first request; "
        "the budget will be applied on the next run after it appears"
    ),
)
