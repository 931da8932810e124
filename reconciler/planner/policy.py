"""Money-aware guardrails from ``reconciler.yaml``, checked against a plan. Pure.

Each rule is named after its setting, and a violation says what to change:

- ``max_deletes`` (default 0): any prune delete beyond it is a violation, so deleting needs
  an explicit raise of the limit.
- ``max_period_budget`` / ``max_total_budget``: a new ``period_budget`` / ``total_budget``
  above the cap (the fields of that name, in any provider's model).
- ``max_increase_pct`` / ``max_decrease_pct``: relative change of any amount an update makes
  (top-level money fields and amounts inside structured fields, e.g. Autumn spend limits).
  An amount set where there was none (null) or zero has no percentage; the caps above and
  ``max_total_budget_change`` bound it. Clearing an amount (null: no budget, no limit) lifts
  the limit entirely and counts as an unbounded increase. An unknown live amount is skipped.
- ``max_total_budget_change``: the sum of absolute amount changes of the run in USD (null and
  an unknown live amount count as zero, so an unread amount counts in full).
- ``forbid_budget_below_usage``: a usage-guarded field (``ProviderModel.usage_guarded_fields``,
  Respan ``period_budget``) set below the customer's current-period usage cuts them off at
  once. Usage is read only for ``usage_candidates``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal

from reconciler.domain import UNKNOWN, CustomerKey, Policy, ProviderModel
from reconciler.money import format_money
from reconciler.plan import Change, Plan, PolicyViolation
from reconciler.planner.impact import MoneyChange, amount, money_changes
from reconciler.providers.catalog import MODELS

_HUNDRED = Decimal(100)
_TENTH = Decimal("0.1")
_CAPPED_FIELDS = (("period_budget", "max_period_budget"), ("total_budget", "max_total_budget"))


def evaluate_policy(
    plan: Plan,
    policy: Policy,
    usage: Mapping[CustomerKey, Decimal] | None = None,
    models: Mapping[str, ProviderModel] = MODELS,
) -> tuple[PolicyViolation, ...]:
    """Every guardrail ``plan`` breaks: per customer in plan order, then plan-wide rules.

    ``usage`` maps customers (from ``usage_candidates``) to current-period usage in USD.
    """
    violations: list[PolicyViolation] = []
    usage = usage or {}
    for money in money_changes(plan):
        violations.extend(_amount_violations(money, policy))
        violations.extend(_usage_violations(money, policy, usage, models))
    violations.extend(_run_violations(plan, policy))
    return tuple(violations)


def usage_candidates(plan: Plan, models: Mapping[str, ProviderModel]) -> set[CustomerKey]:
    """Customers whose usage-guarded amount goes down (or from none/unknown to an amount).

    Only these need a usage read: raising a budget can never cut a customer off.
    """
    candidates: set[CustomerKey] = set()
    for money in money_changes(plan):
        if money.change.action != "update" or money.after is None:
            continue
        model = models.get(money.change.provider)
        if model is None or money.field.path not in model.usage_guarded_fields:
            continue
        before = money.before
        if before is UNKNOWN or before is None or money.after < amount(before):
            candidates.add(money.change.key)
    return candidates


def _amount_violations(money: MoneyChange, policy: Policy) -> list[PolicyViolation]:
    found: list[PolicyViolation] = []
    change, path, after = money.change, money.field.path, money.after
    for field, rule in _CAPPED_FIELDS:
        cap: Decimal | None = getattr(policy, rule)
        if path == field and cap is not None and after is not None and after > cap:
            message = (
                f"{path} {format_money(after)} is above policy.{rule} ({format_money(cap)}); "
                f"lower it, or raise policy.{rule} in reconciler.yaml"
            )
            found.append(_violation(rule, message, change))
    before = money.before
    if change.action != "update" or not isinstance(before, Decimal) or before == 0:
        return found
    if after is None:
        if policy.max_increase_pct is not None:
            message = (
                f"{path} {format_money(before)} would be cleared, lifting the limit entirely "
                "(an unbounded increase, above policy.max_increase_pct)"
            )
            found.append(_violation("max_increase_pct", message, change))
        return found
    percent = ((after - before) * _HUNDRED / before).quantize(_TENTH, rounding=ROUND_HALF_EVEN)
    movement = f"{path} {format_money(before)} → {format_money(after)}"
    if policy.max_increase_pct is not None and percent > policy.max_increase_pct:
        message = (
            f"{movement} is +{percent}%, above policy.max_increase_pct ({policy.max_increase_pct}%)"
        )
        found.append(_violation("max_increase_pct", message, change))
    if policy.max_decrease_pct is not None and -percent > policy.max_decrease_pct:
        message = (
            f"{movement} is {percent}%, beyond policy.max_decrease_pct ({policy.max_decrease_pct}%)"
        )
        found.append(_violation("max_decrease_pct", message, change))
    return found


def _usage_violations(
    money: MoneyChange,
    policy: Policy,
    usage: Mapping[CustomerKey, Decimal],
    models: Mapping[str, ProviderModel],
) -> list[PolicyViolation]:
    change = money.change
    model = models.get(change.provider)
    used = usage.get(change.key)
    if (
        not policy.forbid_budget_below_usage
        or model is None
        or used is None
        or money.after is None
        or money.field.path not in model.usage_guarded_fields
        or money.after >= used
    ):
        return []
    message = (
        f"{money.field.path} {format_money(money.after)} is below current-period usage "
        f"{format_money(used)}: the customer would be cut off at once"
    )
    return [_violation("forbid_budget_below_usage", message, change)]


def _run_violations(plan: Plan, policy: Policy) -> list[PolicyViolation]:
    found: list[PolicyViolation] = []
    deletes = plan.count("delete")
    if deletes > policy.max_deletes:
        message = (
            f"plan deletes {deletes} customer(s), more than policy.max_deletes allows "
            f"({policy.max_deletes}); review the deletes and raise policy.max_deletes in "
            "reconciler.yaml to allow it"
        )
        found.append(PolicyViolation("max_deletes", message))
    cap = policy.max_total_budget_change
    if cap is not None:
        total = sum(
            (abs(amount(m.after) - amount(m.before)) for m in money_changes(plan)),
            start=Decimal(0),
        )
        if total > cap:
            message = (
                f"plan changes amounts by {format_money(total)} in total, above "
                f"policy.max_total_budget_change ({format_money(cap)})"
            )
            found.append(PolicyViolation("max_total_budget_change", message))
    return found


def _violation(rule: str, message: str, change: Change) -> PolicyViolation:
    return PolicyViolation(rule, message, change.provider, change.environment, change.id)
