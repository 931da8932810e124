"""LiteLLM proxy customers ("end users") as pure data: the fields a manifest can declare.

No I/O and no import of the client or emulator, so the loader and planner can read it cheaply.

Where each field lives in LiteLLM's answers: ``alias``, ``blocked``, ``allowed_model_region``,
``default_model`` and ``models`` are top-level keys of the customer object
(``LiteLLM_EndUserTable``); the budget fields are keys of its nested ``litellm_budget_table``
(``null`` when the customer has no budget). ``GET /customer/list`` returns whole objects,
budget table included, so no field needs a per-customer read.

Which fields ``POST /customer/update`` can change: its body model (``UpdateCustomerRequest``)
has only ``alias``, ``blocked``, ``max_budget``, ``allowed_model_region``, ``default_model`` and
``models`` (plus ``budget_id`` and ``object_permission``, not managed here); pydantic drops any
other key without an error. The other budget fields can be set by ``POST /customer/new`` only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from reconciler.providers.model import FieldKind, FieldSpec, ProviderModel, field_specs

NAME: Final = "litellm"
ID_FIELD: Final = "user_id"
# LiteLLM has no environments: a proxy (its base URL and master key) is one world. The current
# ProviderModel needs a name for it; manifests may omit ``environment:`` or write this one.
ENVIRONMENT: Final = "default"
ALLOWED_MODEL_REGIONS: Final = ("eu", "us")
# What LiteLLM's duration parser accepts (``litellm_core_utils/duration_parser.py``): a positive
# count and a unit (s, m, h, d, w, mo), or one of its word aliases.
BUDGET_DURATION_PATTERN: Final = r"^([1-9][0-9]*(s|m|h|d|w|mo)|hourly|daily|weekly|monthly)$"


class Kind(enum.Enum):
    """How a LiteLLM field's values are compared.

    Each maps onto the core ``FieldKind`` that compares it (``LiteLLMField.core_kind``):
    durations are text compared as written, model lists are ``list`` (a set), per-model
    budgets are ``mapping``.
    """

    TEXT = "text"
    BOOL = "bool"
    MONEY = "money"
    ENUM = "enum"
    INTEGER = "integer"  # a whole number >= 0 (tpm/rpm limits); compared exactly
    DURATION = "duration"  # "30d", "1mo", "monthly"...; compared as written
    MODEL_LIST = "model_list"  # model names; compared as a set (order is not meaningful)
    MODEL_BUDGETS = "model_budgets"  # {model: {max_budget, budget_duration, tpm, rpm}}


class Location(enum.Enum):
    """Where a field sits in LiteLLM's customer object."""

    CUSTOMER = "customer"  # a top-level key
    BUDGET = "budget"  # a key of ``litellm_budget_table``


@dataclass(frozen=True, slots=True)
class LiteLLMField:
    """One manageable field: its kind, where it lives, and whether an update can change it.

    ``core_kind`` is the core ``FieldKind`` that compares it. ``clearable`` is False for
    every field: the update
    endpoint ignores ``null`` (see docs/providers/litellm.md).
    """

    name: str
    kind: Kind
    location: Location
    updatable: bool
    core_kind: FieldKind
    choices: tuple[str, ...] = ()
    clearable: bool = False
    # The update endpoint skips a value equal to 0 (``_should_update_field``): it cannot set it.
    zero_ignored_by_update: bool = False


# The core kind that compares each LiteLLM kind.
CORE_KINDS: Final[Mapping[Kind, FieldKind]] = {
    Kind.TEXT: FieldKind.TEXT,
    Kind.BOOL: FieldKind.BOOL,
    Kind.MONEY: FieldKind.MONEY,
    Kind.ENUM: FieldKind.ENUM,
    Kind.INTEGER: FieldKind.INTEGER,
    # Compared as written: "30d" and "monthly" differ to LiteLLM too (it stores the text).
    Kind.DURATION: FieldKind.TEXT,
    Kind.MODEL_LIST: FieldKind.LIST,
    Kind.MODEL_BUDGETS: FieldKind.MAPPING,
}


def _field(
    name: str,
    kind: Kind,
    location: Location,
    *,
    updatable: bool,
    choices: tuple[str, ...] = (),
    numeric: bool = False,
) -> LiteLLMField:
    return LiteLLMField(
        name, kind, location, updatable, CORE_KINDS[kind], choices, zero_ignored_by_update=numeric
    )


_C, _B = Location.CUSTOMER, Location.BUDGET

FIELDS: Final[Mapping[str, LiteLLMField]] = MappingProxyType(
    {
        field.name: field
        for field in (
            _field("alias", Kind.TEXT, _C, updatable=True),
            _field("blocked", Kind.BOOL, _C, updatable=True),
            _field("max_budget", Kind.MONEY, _B, updatable=True, numeric=True),
            _field("soft_budget", Kind.MONEY, _B, updatable=False),
            _field("budget_duration", Kind.DURATION, _B, updatable=False),
            _field("tpm_limit", Kind.INTEGER, _B, updatable=False),
            _field("rpm_limit", Kind.INTEGER, _B, updatable=False),
            _field("max_parallel_requests", Kind.INTEGER, _B, updatable=False),
            _field(
                "allowed_model_region", Kind.ENUM, _C, updatable=True, choices=ALLOWED_MODEL_REGIONS
            ),
            _field("default_model", Kind.TEXT, _C, updatable=True),
            _field("models", Kind.MODEL_LIST, _C, updatable=True),
            _field("model_max_budget", Kind.MODEL_BUDGETS, _B, updatable=False),
        )
    }
)

CUSTOMER_FIELDS: Final = tuple(n for n, f in FIELDS.items() if f.location is Location.CUSTOMER)
BUDGET_FIELDS: Final = tuple(n for n, f in FIELDS.items() if f.location is Location.BUDGET)
UPDATABLE_FIELDS: Final = tuple(n for n, f in FIELDS.items() if f.updatable)
CREATE_ONLY_FIELDS: Final = tuple(n for n, f in FIELDS.items() if not f.updatable)
# Money fields whose decrease below the customer's spend cuts it off (LiteLLM rejects requests
# once spend reaches max_budget); soft_budget only alerts.
USAGE_GUARDED_FIELDS: Final = ("max_budget",)

MODEL: Final = ProviderModel(
    name=NAME,
    environments=(ENVIRONMENT,),
    default_environment=ENVIRONMENT,
    id_field=ID_FIELD,
    fields=field_specs(
        *(
            FieldSpec(
                name,
                field.core_kind,
                nullable=field.clearable,
                choices=field.choices,
                updatable=field.updatable,
            )
            for name, field in FIELDS.items()
        )
    ),
    creates_missing=True,
    # LiteLLM customers carry no metadata this provider manages.
    metadata_authoritative=False,
    usage_guarded_fields=USAGE_GUARDED_FIELDS,
    # /customer/new is sent only the fields with a value: a new customer has none of the others.
    create_sends_nulls=False,
)
