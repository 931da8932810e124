"""What a provider's customers look like, as pure data: the kinds of fields, each field a
manifest can declare, and the provider's model of its customer resource.

Each provider's ``fields.py`` builds its ``ProviderModel`` from these; the planner, loader and
policy read them (through ``reconciler.domain``, which names them too). Kept apart from the
rest of the domain model so that a provider's field table loads without it; listing the
installed providers (``reconciler --help``) loads neither, since plug-ins name their model
as a ``"module:attribute"`` target.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class FieldKind(enum.Enum):
    """How a managed field's values are normalized and compared."""

    TEXT = "text"  # str or null, compared exactly
    ENUM = "enum"  # one of a fixed set of strings
    MONEY = "money"  # USD amount, compared as a decimal to the cent
    DECIMAL = "decimal"  # a plain number (e.g. a percentage), compared as a decimal
    BOOL = "bool"
    TIMESTAMP = "timestamp"  # ISO 8601, compared as an instant
    METADATA = "metadata"  # flat mapping of scalars, compared key by key, order irrelevant
    KEYED_LISTS = "keyed_lists"  # arrays of items matched by ``FieldSpec.item_key``
    INTEGER = "integer"  # a whole number (a count or a limit), compared exactly
    LIST = "list"  # a list of text items compared as a set: order and repeats irrelevant
    MAPPING = (
        "mapping"  # nested JSON compared as a whole: key order irrelevant, numbers as decimals
    )


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field a manifest can declare for a provider."""

    name: str
    kind: FieldKind
    nullable: bool = True
    choices: tuple[str, ...] = ()
    # True when the provider's cheap bulk read (list) returns the field; a field that is
    # declared but not listed costs a per-customer read (retrieve).
    listed: bool = True
    # False when only a create can set the field: a planned update of it is refused at plan
    # time (the API's update would ignore it).
    updatable: bool = True
    # The ``policy:`` setting capping this money field's new amounts ("max_period_budget"...).
    cap: str | None = None
    # ``billing_controls`` kind: the key naming each item of its arrays (items are matched by
    # it, not by position), and the item keys holding USD amounts (compared as money).
    item_key: str = ""
    money_keys: frozenset[str] = frozenset()
    # ``billing_controls`` kind: the manifest schema's ``$defs`` name of the field's object
    # (its arrays and, through them, their items' keys), so that export writes live values
    # with exactly the arrays and keys a manifest can declare, in the schema's order.
    definition: str = ""


def field_specs(*specs: FieldSpec) -> Mapping[str, FieldSpec]:
    """A ``ProviderModel``'s ``fields``: ``specs`` by name, in the order given, read-only."""
    return MappingProxyType({spec.name: spec for spec in specs})


@dataclass(frozen=True, slots=True)
class ProviderModel:
    """Pure description of a provider's customer resource: what the planner and loader need."""

    name: str
    environments: tuple[str, ...]
    default_environment: str
    id_field: str  # the manifest key naming a customer: "customer_identifier" or "id"
    fields: Mapping[str, FieldSpec]
    # A declared customer that does not exist live: created (True) or reported missing (False).
    creates_missing: bool
    # True when the declared metadata is the whole truth: live keys not declared are removed.
    metadata_authoritative: bool
    # Money fields whose decrease below current usage cuts a customer off (policy check).
    usage_guarded_fields: tuple[str, ...] = ()
    # Plan note for a declared customer that is missing live and not created ({environment}).
    missing_note: str = "not found in {environment}"
    # False when a create leaves out the fields declared null (a new customer has none of
    # them anyway): the body is derived without them, so the audit log records what is sent.
    create_sends_nulls: bool = True

    def field_names(self) -> tuple[str, ...]:
        return tuple(self.fields)
