"""Values the whole pipeline shares: what a provider's customers look like, what the manifests
desire, and what the API reports as live.

manifests -> ``DesiredCustomer`` ; provider -> ``LiveCustomer`` ; planner compares them using the
provider's ``ProviderModel`` (pure data, so the planner never imports a provider).
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from decimal import Decimal


class FieldKind(enum.Enum):
    """How a managed field's values are normalized and compared."""

    TEXT = "text"  # str or null, compared exactly
    ENUM = "enum"  # one of a fixed set of strings
    MONEY = "money"  # USD amount, compared as a decimal to the cent
    DECIMAL = "decimal"  # a plain number (e.g. a percentage), compared as a decimal
    BOOL = "bool"
    TIMESTAMP = "timestamp"  # ISO 8601, compared as an instant
    METADATA = "metadata"  # flat mapping of scalars, compared key by key, order irrelevant
    BILLING_CONTROLS = "billing_controls"  # arrays of items matched by ``FieldSpec.item_key``
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

    def field_names(self) -> tuple[str, ...]:
        return tuple(self.fields)


@dataclass(frozen=True, slots=True, order=True)
class Source:
    """Where something was declared: a file and a 1-based line and column."""

    file: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Per-customer lifecycle rules from the manifest."""

    prevent_destroy: bool = False
    ignore_changes: frozenset[str] = frozenset()


CustomerKey = tuple[str, str, str]
"""``(provider, environment, id)``: the identity of a customer across the pipeline."""


def folded_id(identifier: str) -> str:
    """``identifier`` in Unicode NFC form, to find ids that differ only in their encoding of
    the same text (ASCII, the usual case, is its own form)."""
    return identifier if identifier.isascii() else unicodedata.normalize("NFC", identifier)


@dataclass(frozen=True, slots=True)
class DesiredCustomer:
    """A customer as the manifests declare it, after ``defaults`` were merged in.

    ``fields`` holds only declared fields (absent means unmanaged; ``None`` means clear it).
    Values are JSON-like: ``str``, ``bool``, ``None``, ``Decimal`` for numbers, ``dict``/``list``.
    """

    provider: str
    environment: str
    id: str
    fields: Mapping[str, Any]
    source: Source
    lifecycle: Lifecycle = Lifecycle()

    @property
    def key(self) -> CustomerKey:
        return (self.provider, self.environment, self.id)


class _Unknown:
    """The value of a field the API did not return: never assumed equal to anything."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


@dataclass(frozen=True, slots=True)
class LiveCustomer:
    """A customer as the provider's API reports it.

    ``fields`` holds the managed fields the API returned, in the API's own representation;
    a managed field missing from it is unknown. ``usage`` is the current-period usage in USD
    when it was read (e.g. a budget period's usage), else ``None``.
    """

    provider: str
    environment: str
    id: str
    fields: Mapping[str, Any]
    usage: Any = None

    @property
    def key(self) -> CustomerKey:
        return (self.provider, self.environment, self.id)

    def get(self, name: str) -> Any:
        """The live value of ``name``, or ``UNKNOWN`` when the API did not return it."""
        return self.fields.get(name, UNKNOWN)


@dataclass(frozen=True, slots=True)
class Policy:
    """Money-aware guardrails from ``reconciler.yaml`` (``None`` means the rule is off).

    Percentages are plain numbers (``50`` means 50 %); amounts are USD.
    """

    max_deletes: int = 0
    max_period_budget: Decimal | None = None
    max_total_budget: Decimal | None = None
    max_increase_pct: Decimal | None = None
    max_decrease_pct: Decimal | None = None
    max_total_budget_change: Decimal | None = None
    # Flag a budget set below the customer's current-period usage (it cuts them off at once).
    forbid_budget_below_usage: bool = True
    # Globs on customer ids (fnmatch, case-sensitive): a planned delete of a match is refused.
    protect: tuple[str, ...] = ()
