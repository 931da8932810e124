"""Money-aware guardrails from ``reconciler.yaml``, checked against a plan. Pure.

Each rule is named after its setting, and a violation says what to change:

- ``max_deletes`` (default 0): any prune delete beyond it is a violation, so deleting needs
  an explicit raise of the limit.
- ``max_period_budget`` / ``max_total_budget``: a new amount above the cap, for the money
  fields whose ``FieldSpec.cap`` names that setting.
- ``max_increase_pct`` / ``max_decrease_pct``: relative change of any amount an update makes
  (top-level money fields and amounts inside structured fields, e.g. spend limits).
  An amount set where there was none (null) or zero has no percentage; the caps above and
  ``max_total_budget_change`` bound it. Clearing an amount (null: no budget, no limit) lifts
  the limit entirely and counts as an unbounded increase.
- ``max_total_budget_change``: the sum of absolute amount changes of the run in USD (null
  counts as zero).
- ``forbid_budget_below_usage``: a usage-guarded field (``ProviderModel.usage_guarded_fields``)
  set below the customer's current-period usage cuts them off at
  once. Usage is read only for ``usage_candidates``.
- ``protect``: globs on customer ids; a planned delete of a matching customer is a violation.
- ``prevent_destroy``: a planned delete of a customer some manifest of the project declares
  with ``lifecycle.prevent_destroy: true`` is a violation (``protected`` keys; a saved plan
  made before the declaration appeared is caught this way).
- ``provider`` (not a setting; it cannot be turned off): an update of a field only a create can
  set (``FieldSpec.updatable``), which the API's update would ignore.

Guardrails fail closed. A live amount the API did not return (unknown) or returned as
something that is not an amount (``"abc"``, ``true``, NaN, 1e30, -1) cannot be judged: with a
percent rule or ``max_total_budget_change`` on, the change is a violation naming the customer
and the value, never a pass. The caps judge only the new amount, so they always decide. With
``forbid_budget_below_usage`` on, a guarded amount going down whose usage the API did not
return (or not as an amount) is a violation too.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from fnmatch import fnmatchcase

from reconciler.domain import UNKNOWN, CustomerKey, Policy, ProviderModel
from reconciler.money import format_money, is_amount, is_budget_amount
from reconciler.plan.model import Change, Plan, PolicyViolation
from reconciler.planner.body import parse_path
from reconciler.planner.impact import MoneyChange, amount, money_changes
from reconciler.providers.registry import MODELS

_HUNDRED = Decimal(100)
_TENTH = Decimal("0.1")
PROVIDER_RULE = "provider"


def evaluate_policy(
    plan: Plan,
    policy: Policy,
    usage: Mapping[CustomerKey, Decimal] | None = None,
    models: Mapping[str, ProviderModel] = MODELS,
    *,
    protected: Collection[CustomerKey] = frozenset(),
) -> tuple[PolicyViolation, ...]:
    """Every guardrail ``plan`` breaks: per customer in plan order, then plan-wide rules.

    ``usage`` maps customers (from ``usage_candidates``) to current-period usage in USD; a
    candidate missing from it (or ``usage`` ``None``: not read) has unknown usage.
    ``protected``: customers declared with ``lifecycle.prevent_destroy: true``.
    """
    violations: list[PolicyViolation] = []
    usage = usage or {}
    candidates = usage_candidates(plan, models) if policy.forbid_budget_below_usage else set()
    for change in plan.changes:
        if change.action == "delete":
            violations.extend(_delete_violations(change, policy, protected))
        if change.action == "update" and change.provider in models:
            violations.extend(_create_only_violations(change, models[change.provider]))
    for money in money_changes(plan):
        violations.extend(_amount_violations(money, policy, models))
        violations.extend(_usage_violations(money, policy, usage, candidates, models))
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
        if not money.before_known or money.before is None or money.after < amount(money.before):
            candidates.add(money.change.key)
    return candidates


def _delete_violations(
    change: Change, policy: Policy, protected: Collection[CustomerKey]
) -> list[PolicyViolation]:
    found: list[PolicyViolation] = []
    if change.key in protected:
        message = (
            "a manifest of this project declares this customer with "
            "lifecycle.prevent_destroy: true; it is never deleted"
        )
        found.append(_violation("prevent_destroy", message, change))
    matching = [glob for glob in policy.protect if fnmatchcase(change.id, glob)]
    if matching:
        message = (
            f"the customer matches policy.protect ({', '.join(matching)}); remove the "
            "pattern from reconciler.yaml in a reviewed change to allow deleting it"
        )
        found.append(_violation("protect", message, change))
    return found


def _create_only_violations(change: Change, model: ProviderModel) -> list[PolicyViolation]:
    names = sorted(
        {
            name
            for field in change.fields
            if (name := parse_path(field.path)[0]) in model.fields
            and not model.fields[name].updatable
        }
    )
    if not names:
        return []
    message = (
        f"{', '.join(names)} can only be set when the customer is created: {model.name}'s "
        "update would ignore the change; declare the live value, or delete and recreate "
        "the customer"
    )
    return [provider_violation(message, change)]


def provider_violation(message: str, change: Change) -> PolicyViolation:
    """A change the provider cannot make as planned (rule ``provider``)."""
    return _violation(PROVIDER_RULE, message, change)


def _amount_violations(
    money: MoneyChange, policy: Policy, models: Mapping[str, ProviderModel]
) -> list[PolicyViolation]:
    found: list[PolicyViolation] = []
    change, path, after = money.change, money.field.path, money.after
    model = models.get(change.provider)
    spec = model.fields.get(path) if model is not None else None
    rule = spec.cap if spec is not None else None
    cap: Decimal | None = getattr(policy, rule) if rule is not None else None
    if rule is not None and cap is not None and after is not None and after > cap:
        message = (
            f"{path} {format_money(after)} is above policy.{rule} ({format_money(cap)}); "
            f"lower it, or raise policy.{rule} in reconciler.yaml"
        )
        found.append(_violation(rule, message, change))
    before = money.before
    if change.action != "update":
        return found
    if not money.before_known:
        for rule in ("max_increase_pct", "max_decrease_pct"):
            if getattr(policy, rule) is not None:
                found.append(_violation(rule, _cannot_judge(money, f"policy.{rule}"), change))
        return found
    if not isinstance(before, Decimal) or before == 0:
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
    candidates: Collection[CustomerKey],
    models: Mapping[str, ProviderModel],
) -> list[PolicyViolation]:
    change = money.change
    model = models.get(change.provider)
    if (
        not policy.forbid_budget_below_usage
        or model is None
        or money.after is None
        or money.field.path not in model.usage_guarded_fields
    ):
        return []
    used = usage.get(change.key)
    # Usage below zero is no usage the API can have: as unreadable as text (fail closed).
    if not is_budget_amount(used):
        if change.key not in candidates:
            return []  # going up: usage cannot make it cut anyone off
        message = (
            f"{money.field.path} {format_money(money.after)} cannot be checked against "
            "current-period usage: the API did not return the customer's usage as an amount; "
            "check their usage, then turn policy.forbid_budget_below_usage off for this run "
            "if the new budget is safe"
        )
        return [_violation("forbid_budget_below_usage", message, change)]
    if money.after >= used:
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
        total = Decimal(0)
        for money in money_changes(plan):
            if money.before_known:
                total += abs(amount(money.after) - amount(money.before))
            elif money.change.action == "update":
                message = _cannot_judge(money, "policy.max_total_budget_change")
                found.append(_violation("max_total_budget_change", message, money.change))
        if total > cap:
            message = (
                f"plan changes amounts by {format_money(total)} in total, above "
                f"policy.max_total_budget_change ({format_money(cap)})"
            )
            found.append(PolicyViolation("max_total_budget_change", message))
    return found


def _cannot_judge(money: MoneyChange, rule: str) -> str:
    """Why a change whose live amount is unknown or unreadable fails ``rule`` (fail closed)."""
    if money.before is UNKNOWN:
        live = "the API did not return the live amount"
    elif is_amount(money.before) and not is_budget_amount(money.before):
        live = f"the live value {_shown(money.before)} is negative, which no budget or limit is"
    else:
        live = f"the live value {_shown(money.before)} is not an amount"
    after = "null" if money.after is None else format_money(money.after)
    return (
        f"{money.field.path} → {after} cannot be checked against {rule}: {live}; "
        "check the customer in the provider's console before changing it"
    )


def _shown(value: object) -> str:
    """A live value that is not an amount, briefly: ``"abc"``, ``true``, ``NaN``, ``1E+30``."""
    if isinstance(value, Decimal):
        text = str(value)
    else:
        try:
            text = json.dumps(value, allow_nan=True, default=str)
        except (TypeError, ValueError):  # a value json cannot show: its type says enough
            text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _violation(rule: str, message: str, change: Change) -> PolicyViolation:
    return PolicyViolation(rule, message, change.provider, change.environment, change.id)
