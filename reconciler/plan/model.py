"""The plan: what the planner decided, in a shape every renderer and the applier read.

Values inside a plan are normalized and JSON-like (``str``, ``bool``, ``None``, ``Decimal``,
``dict``, ``list``) or ``UNKNOWN`` for a live value the API did not return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.domain import CustomerKey, FieldKind, Source

Action = Literal["create", "update", "delete", "missing"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete", "missing")
# Actions that make a request when applied; ``missing`` is reported, never sent.
MUTATING_ACTIONS: frozenset[str] = frozenset({"create", "update", "delete"})
Cause = Literal["manifest", "drift"]
"""Why a change is planned (``plan --base``): the manifests changed it since the base
(``manifest``), or live state moved away from manifests that did not change (``drift``)."""
CAUSES: tuple[Cause, ...] = ("manifest", "drift")


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One changed value: ``path`` is a field or a path inside one (``metadata.tier``)."""

    path: str
    before: Any
    after: Any
    kind: FieldKind
    cause: Cause | None = None  # set only for a plan made against a base


@dataclass(frozen=True, slots=True)
class Change:
    """What happens to one customer.

    ``fields`` is the whole of what a create or update sends: the request body is derived
    from it (``reconciler.planner.body``), never stored beside it. ``before`` maps every
    managed top-level field to its live value at plan time: apply compares it with the live
    state again to refuse stale plans, and a field sent whole (non-authoritative metadata) is
    built on it.
    """

    action: Action
    provider: str
    environment: str
    id: str
    fields: tuple[FieldChange, ...] = ()
    before: Mapping[str, Any] = field(default_factory=dict)
    source: Source | None = None
    note: str = ""
    # ``plan --base``: the customer's own cause (a new or removed declaration is ``manifest``);
    # each field carries its own too.
    cause: Cause | None = None

    @property
    def key(self) -> CustomerKey:
        return (self.provider, self.environment, self.id)


@dataclass(frozen=True, slots=True)
class PolicyViolation:
    """A guardrail the plan breaks; ``id`` is empty for plan-wide rules."""

    rule: str
    message: str
    provider: str = ""
    environment: str = ""
    id: str = ""


@dataclass(frozen=True, slots=True)
class BaseRevision:
    """The git revision a plan was compared against (``plan --base REF``)."""

    ref: str
    commit: str


@dataclass(frozen=True, slots=True)
class Plan:
    """Changes in deterministic order, the count of unchanged customers, and policy findings.

    ``base`` is set when the plan was made against a git base: every change and field then
    carries its ``cause``.
    """

    changes: tuple[Change, ...]
    unchanged: int
    policy_violations: tuple[PolicyViolation, ...] = ()
    base: BaseRevision | None = None

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def summary(self) -> dict[str, int]:
        """Counts by action plus ``unchanged``, as the JSON plan's ``summary`` holds them."""
        counts: dict[str, int] = {action: self.count(action) for action in ACTIONS}
        counts["unchanged"] = self.unchanged
        return counts

    @property
    def has_changes(self) -> bool:
        """True when applying would send a request (``missing`` customers send none)."""
        return any(change.action in MUTATING_ACTIONS for change in self.changes)
