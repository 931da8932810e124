"""Policy guardrails, usage candidates and budget impact over plans."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reconciler.domain import UNKNOWN, FieldKind, Policy
from reconciler.plan import Change, FieldChange, Plan
from reconciler.planner import budget_impact, evaluate_policy, usage_candidates
from reconciler.providers.catalog import MODELS

D = Decimal
MONEY = FieldKind.MONEY


def change(
    customer_id: str,
    *fields: FieldChange,
    action: Any = "update",
    provider: str = "respan",
    environment: str = "prod",
) -> Change:
    return Change(action, provider, environment, customer_id, fields=fields)


def budget(before: Any, after: Any, path: str = "period_budget") -> FieldChange:
    return FieldChange(path, before, after, MONEY)


def rules(plan: Plan, policy: Policy, usage: Any = None) -> list[tuple[str, str]]:
    return [(v.rule, v.id) for v in evaluate_policy(plan, policy, usage)]


def test_default_policy_allows_budget_changes_but_no_delete() -> None:
    """With defaults, updates pass and a single prune delete is a violation with advice."""
    plan = Plan((change("a", budget(D(1), D(1000))), change("x", action="delete")), 0)
    (violation,) = evaluate_policy(plan, Policy())
    assert violation.rule == "max_deletes"
    assert violation.id == ""
    assert "raise policy.max_deletes in reconciler.yaml to allow it" in violation.message


def test_max_deletes_allows_up_to_the_limit() -> None:
    """Deletes up to max_deletes pass; one more is a violation."""
    plan = Plan(tuple(change(f"x{i}", action="delete") for i in range(3)), 0)
    assert rules(plan, Policy(max_deletes=3)) == []
    assert rules(plan, Policy(max_deletes=2)) == [("max_deletes", "")]


def test_max_period_and_total_budget_cap_new_values() -> None:
    """A new period_budget/total_budget above its cap is flagged; at the cap it is fine."""
    plan = Plan(
        (
            change("a", budget(D(1), D("500.01"))),
            change("b", budget(D(1), D(500))),
            change("c", budget(None, D(9000), "total_budget"), action="create"),
        ),
        0,
    )
    policy = Policy(max_period_budget=D(500), max_total_budget=D(5000))
    assert rules(plan, policy) == [("max_period_budget", "a"), ("max_total_budget", "c")]
    assert "period_budget $500.01 is above policy.max_period_budget ($500.00)" in (
        evaluate_policy(plan, policy)[0].message
    )


def test_max_increase_pct() -> None:
    """A relative increase beyond the limit is flagged, with before, after and percent."""
    plan = Plan((change("a", budget(D(100), D(151))), change("b", budget(D(100), D(150)))), 0)
    (violation,) = evaluate_policy(plan, Policy(max_increase_pct=D(50)))
    assert (violation.rule, violation.id) == ("max_increase_pct", "a")
    assert violation.message == (
        "period_budget $100.00 → $151.00 is +51.0%, above policy.max_increase_pct (50%)"
    )


def test_max_decrease_pct() -> None:
    """A relative decrease beyond the limit is flagged; to zero is -100%."""
    plan = Plan((change("a", budget(D(100), D(0))), change("b", budget(D(100), D(60)))), 0)
    assert rules(plan, Policy(max_decrease_pct=D(40))) == [("max_decrease_pct", "a")]


def test_percent_rules_skip_from_none_zero_unknown_and_creates() -> None:
    """No percentage exists from null, zero or unknown, nor on a create."""
    plan = Plan(
        (
            change("a", budget(None, D(100))),
            change("b", budget(D(0), D(100))),
            change("c", budget(UNKNOWN, D(100))),
            change("d", budget(None, D(100)), action="create"),
        ),
        0,
    )
    assert rules(plan, Policy(max_increase_pct=D(1), max_decrease_pct=D(1))) == []


def test_clearing_a_budget_is_an_unbounded_increase() -> None:
    """Setting a budget to null lifts the limit, which max_increase_pct flags."""
    plan = Plan((change("a", budget(D(100), None)),), 0)
    assert rules(plan, Policy(max_increase_pct=D(1000))) == [("max_increase_pct", "a")]
    assert rules(plan, Policy()) == []


def test_percent_rules_cover_autumn_spend_limits() -> None:
    """Amounts inside billing controls count as money for the percent rules."""
    path = "billing_controls.spend_limits[messages].overage_limit"
    plan = Plan((change("c", budget(D(10), D(100), path), provider="autumn"),), 0)
    assert rules(plan, Policy(max_increase_pct=D(50))) == [("max_increase_pct", "c")]


def test_max_total_budget_change_sums_absolute_changes() -> None:
    """Increases and decreases add up in absolute value; unknown and null count as zero."""
    plan = Plan(
        (
            change("a", budget(D(100), D(150))),
            change("b", budget(D(100), D(50))),
            change("c", budget(UNKNOWN, D(10), "total_budget")),
            change("d", budget(D(5), None)),
        ),
        0,
    )
    assert rules(plan, Policy(max_total_budget_change=D(115))) == []
    (violation,) = evaluate_policy(plan, Policy(max_total_budget_change=D("114.99")))
    assert violation.rule == "max_total_budget_change"
    assert "$115.00 in total" in violation.message


def test_budget_below_usage_is_flagged() -> None:
    """A period budget set below current usage cuts the customer off and is flagged."""
    plan = Plan((change("a", budget(D(500), D(100))), change("b", budget(D(500), D(100)))), 0)
    usage = {("respan", "prod", "a"): D("100.01"), ("respan", "prod", "b"): D(100)}
    (violation,) = evaluate_policy(plan, Policy(), usage)
    assert (violation.rule, violation.id) == ("forbid_budget_below_usage", "a")
    assert violation.message == (
        "period_budget $100.00 is below current-period usage $100.01: "
        "the customer would be cut off at once"
    )
    assert rules(plan, Policy(forbid_budget_below_usage=False), usage) == []


def test_usage_guard_applies_only_to_guarded_fields() -> None:
    """total_budget is not usage-guarded for Respan, so usage does not judge it."""
    plan = Plan((change("a", budget(D(500), D(1), "total_budget")),), 0)
    assert rules(plan, Policy(), {("respan", "prod", "a"): D(100)}) == []


def test_usage_candidates_are_guarded_decreases_only() -> None:
    """Only updates lowering (or newly setting) a guarded amount need a usage read."""
    plan = Plan(
        (
            change("down", budget(D(500), D(100))),
            change("up", budget(D(100), D(500))),
            change("new", budget(None, D(100))),
            change("unknown", budget(UNKNOWN, D(100))),
            change("cleared", budget(D(100), None)),
            change("total", budget(D(500), D(1), "total_budget")),
            change("created", budget(None, D(1)), action="create", provider="autumn"),
        ),
        0,
    )
    assert usage_candidates(plan, MODELS) == {
        ("respan", "prod", "down"),
        ("respan", "prod", "new"),
        ("respan", "prod", "unknown"),
    }


def test_violations_come_in_plan_order_then_plan_wide() -> None:
    """Per-customer violations follow plan order; run-wide rules come last."""
    plan = Plan(
        (
            change("a", budget(D(1), D(1000))),
            change("b", budget(D(1), D(1000))),
            change("x", action="delete"),
        ),
        0,
    )
    assert rules(plan, Policy(max_period_budget=D(10), max_total_budget_change=D(1))) == [
        ("max_period_budget", "a"),
        ("max_period_budget", "b"),
        ("max_deletes", ""),
        ("max_total_budget_change", ""),
    ]


def test_budget_impact_sums_deltas_by_group() -> None:
    """Deltas add up per money field (spend limits grouped); unknown befores are counted apart."""
    plan = Plan(
        (
            change("a", budget(D(250), D(400)), budget(D(1000), D(500), "total_budget")),
            change("b", budget(None, D(10))),
            change("c", budget(UNKNOWN, D(10))),
            change(
                "d",
                budget(D(5), D(7), "billing_controls.spend_limits[m].overage_limit"),
                budget(None, D(1), "billing_controls.spend_limits[n].overage_limit"),
                provider="autumn",
            ),
            change("e", FieldChange("name", "a", "b", FieldKind.TEXT)),
            change("x", action="delete"),
        ),
        0,
    )
    impact = budget_impact(plan)
    assert dict(impact.deltas) == {
        "billing_controls.spend_limits": D(3),
        "period_budget": D(160),
        "total_budget": D(-500),
    }
    assert impact.unknown == 1
    assert not impact.is_empty
    assert budget_impact(Plan((), 3)).is_empty
