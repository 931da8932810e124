"""Values the whole pipeline shares: what a provider's customers look like, what the manifests
desire, and what the API reports as live.

manifests -> ``DesiredCustomer`` ; provider -> ``LiveCustomer`` ; planner compares them using the
provider's ``ProviderModel`` (pure data, so the planner never imports a provider).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

# What a provider's customers look like lives with the providers (pure data, loaded by
# ``reconciler --help`` without the rest of this module); named here too for the pipeline.
from reconciler.providers.model import FieldKind as FieldKind
from reconciler.providers.model import FieldSpec as FieldSpec
from reconciler.providers.model import ProviderModel as ProviderModel
from reconciler.providers.model import field_specs as field_specs

if TYPE_CHECKING:
    from decimal import Decimal


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


# Unicode's default-ignorable code points: characters that render as nothing (zero-width space
# and joiners, soft hyphen, byte order mark, variation selectors, tags, Hangul fillers...).
# A pattern text, not compiled here: ``re`` compiles and caches it on the first non-ASCII id,
# so a run of ASCII ids (and start-up) never pays for it.
_INVISIBLE: Final = (
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def folded_id(identifier: str) -> str:
    """``identifier`` as a reviewer reads it: in Unicode NFC form and without invisible
    characters, to find ids that differ only in how the same visible text is written (ASCII,
    the usual case, is its own form)."""
    if identifier.isascii():
        return identifier
    return unicodedata.normalize("NFC", re.sub(_INVISIBLE, "", identifier))


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
