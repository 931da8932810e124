"""The customer resource of each provider, as pure data (no I/O, cheap to import).

The loader uses it to know which fields can be declared; the planner to compare them. Adding a
provider means adding its model here and its ``Provider`` implementation beside this module.
"""

from __future__ import annotations

from types import MappingProxyType

from reconciler.domain import FieldKind, FieldSpec, ProviderModel


def _fields(*specs: FieldSpec) -> MappingProxyType[str, FieldSpec]:
    return MappingProxyType({spec.name: spec for spec in specs})


# budget_duration: the current reference says daily|weekly|monthly; older docs also list
# yearly (unconfirmed for PATCH). Manifests may declare all four; see docs/providers/respan.md.
RESPAN_BUDGET_DURATIONS = ("daily", "weekly", "monthly", "yearly")

RESPAN = ProviderModel(
    name="respan",
    environments=("prod", "test"),
    default_environment="prod",
    id_field="customer_identifier",
    fields=_fields(
        FieldSpec("name", FieldKind.TEXT),
        FieldSpec("email", FieldKind.TEXT),
        FieldSpec("period_budget", FieldKind.MONEY),
        FieldSpec("total_budget", FieldKind.MONEY),
        FieldSpec(
            "budget_duration", FieldKind.ENUM, nullable=False, choices=RESPAN_BUDGET_DURATIONS
        ),
        # Not returned by the list endpoint: declaring them costs one retrieve per customer.
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

AUTUMN = ProviderModel(
    name="autumn",
    environments=("sandbox", "live"),
    default_environment="sandbox",
    id_field="id",
    fields=_fields(
        FieldSpec("name", FieldKind.TEXT),
        FieldSpec("email", FieldKind.TEXT),
        FieldSpec("fingerprint", FieldKind.TEXT),
        FieldSpec("metadata", FieldKind.METADATA, nullable=False),
        FieldSpec("send_email_receipts", FieldKind.BOOL, nullable=False),
        FieldSpec("billing_controls", FieldKind.BILLING_CONTROLS, nullable=False),
    ),
    creates_missing=True,
    metadata_authoritative=True,
)

MODELS: MappingProxyType[str, ProviderModel] = MappingProxyType(
    {RESPAN.name: RESPAN, AUTUMN.name: AUTUMN}
)
DEFAULT_PROVIDER = RESPAN.name
