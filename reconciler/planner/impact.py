"""Money moved by a plan: the amount changes the policy checks and renderers sum up.

A money change is a ``FieldChange`` of kind MONEY in a create or update: a top-level money
field (``period_budget``) or an amount inside a structured field (a spend limit's
``overage_limit``). A create shows a structured field whole; the amounts inside it count as
the same structure added to an existing customer would (``diff.diff_field`` against nothing).
A null amount (no budget, no limit) counts as zero in sums; a live amount the API did not
return, or returned as something that is not an amount (``"abc"``, ``true``,
NaN, 1e30, a negative amount), cannot be compared and is counted apart as unknown: the policy
treats it as a value it cannot judge (and refuses), never as a number.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from reconciler.domain import FieldKind, ProviderModel
from reconciler.money import is_amount, is_budget_amount
from reconciler.plan.model import Change, FieldChange, Plan
from reconciler.planner.diff import diff_field
from reconciler.providers.registry import MODELS

_AMOUNT_ACTIONS = frozenset({"create", "update"})


@dataclass(frozen=True, slots=True)
class MoneyChange:
    """One amount a plan changes; ``before`` is ``None`` for no amount, UNKNOWN if unread,
    or whatever unreadable value the API sent."""

    change: Change
    field: FieldChange
    before: object  # Decimal, None (no amount), UNKNOWN, or an unreadable live value
    after: Decimal | None

    @property
    def before_known(self) -> bool:
        """True when the live side is a readable amount or no amount (null)."""
        return _is_amount(self.before)

    @property
    def group(self) -> str:
        """What the amount is part of: ``period_budget``, ``billing_controls.spend_limits``."""
        return self.field.path.split("[", 1)[0]


@dataclass(frozen=True, slots=True)
class BudgetImpact:
    """Sum of amount deltas by group (sorted), and how many amounts had an unknown before."""

    deltas: Mapping[str, Decimal]
    unknown: int = 0

    @property
    def is_empty(self) -> bool:
        return not self.deltas and not self.unknown


def money_changes(
    plan: Plan, models: Mapping[str, ProviderModel] = MODELS
) -> Iterator[MoneyChange]:
    """Every amount a create or update sets, in plan order, whatever the live side holds.

    A desired side that is not an amount cannot come from a valid manifest; it is skipped.
    """
    for change in plan.changes:
        if change.action not in _AMOUNT_ACTIONS:
            continue
        for field in change.fields:
            for leaf in _amount_fields(change, field, models):
                after = leaf.after if isinstance(leaf.after, Decimal) else None
                yield MoneyChange(change, leaf, leaf.before, after)


def _amount_fields(
    change: Change, field: FieldChange, models: Mapping[str, ProviderModel]
) -> Iterator[FieldChange]:
    """``field`` if it is an amount; for a structure a create sets whole, the amounts in it."""
    if field.kind is FieldKind.MONEY:
        if _is_amount(field.after):
            yield field
        return
    model = models.get(change.provider)
    if change.action != "create" or model is None:
        return
    spec = model.fields.get(field.path)
    if spec is None or not spec.money_keys:
        return
    found = diff_field(model, spec, field.after, {})
    for leaf in found.changes if found is not None else ():
        if leaf.kind is FieldKind.MONEY and _is_amount(leaf.after):
            yield leaf


def budget_impact(plan: Plan) -> BudgetImpact:
    """The plan's budget impact: per group, the sum of (after - before), null as zero."""
    deltas: dict[str, Decimal] = {}
    unknown = 0
    for money in money_changes(plan):
        if not money.before_known:
            unknown += 1
            continue
        delta = amount(money.after) - amount(money.before)
        deltas[money.group] = deltas.get(money.group, Decimal(0)) + delta
    return BudgetImpact(MappingProxyType(dict(sorted(deltas.items()))), unknown)


def amount(value: object) -> Decimal:
    """An amount for arithmetic: a readable amount as is, anything else (``None``: no amount)
    as zero. Callers that must not guess check ``MoneyChange.before_known`` first."""
    return value if is_amount(value) else Decimal(0)


def _is_amount(value: object) -> bool:
    """``None`` (no amount) or a readable amount of 0 or more (``is_budget_amount``)."""
    return value is None or is_budget_amount(value)
