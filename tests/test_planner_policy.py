"""Policy guardrails, usage candidates and budget impact over plans."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypedDict

import pytest

from reconciler.domain import UNKNOWN, DesiredCustomer, FieldKind, LiveCustomer, Policy, Source
from reconciler.plan.model import Change, FieldChange, Plan
from reconciler.planner import budget_impact, build_plan, evaluate_policy, usage_candidates
from reconciler.providers.registry import MODELS

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


class UsageGuard(TypedDict):
    """Policy's usage guard as keyword arguments, so rules can be tested without usage."""

    forbid_budget_below_usage: bool


NO_USAGE_GUARD: UsageGuard = {"forbid_budget_below_usage": False}


def rules(plan: Plan, policy: Policy, usage: Any = None) -> list[tuple[str, str]]:
    return [(v.rule, v.id) for v in evaluate_policy(plan, policy, usage)]


def test_default_policy_allows_budget_changes_but_no_delete() -> None:
    """With defaults, updates pass and a single prune delete is a violation with advice."""
    plan = Plan((change("a", budget(D(1), D(1000))), change("x", action="delete")), 0)
    (violation,) = evaluate_policy(plan, Policy())
    assert violation.rule == "max_deletes"
    assert violation.id == ""
    assert "raise policy.max_deletes in reconciler.yaml to allow it" in violation.message


def test_protect_globs_refuse_deleting_matching_customers() -> None:
    """A planned delete of a customer matching policy.protect is a violation naming it."""
    plan = Plan((change("acme-eu", action="delete"), change("beta", action="delete")), 0)
    policy = Policy(max_deletes=5, protect=("acme-*", "[x]"))
    (violation,) = evaluate_policy(plan, policy)
    assert (violation.rule, violation.id) == ("protect", "acme-eu")
    assert "matches policy.protect (acme-*)" in violation.message
    updated = Plan((change("acme-eu", budget(D(1), D(2))),), 0)
    assert rules(updated, policy) == []


def test_prevent_destroy_declarations_refuse_deletes() -> None:
    """A delete of a customer a manifest declares with prevent_destroy is a violation."""
    plan = Plan((change("keep", action="delete"), change("drop", action="delete")), 0)
    violations = evaluate_policy(
        plan, Policy(max_deletes=5), protected={("respan", "prod", "keep")}
    )
    assert [(v.rule, v.id) for v in violations] == [("prevent_destroy", "keep")]


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
    policy = Policy(max_decrease_pct=D(40), **NO_USAGE_GUARD)
    assert rules(plan, policy) == [("max_decrease_pct", "a")]


def test_percent_rules_skip_from_none_zero_and_creates() -> None:
    """No percentage exists from null or zero, nor on a create."""
    plan = Plan(
        (
            change("a", budget(None, D(100))),
            change("b", budget(D(0), D(100))),
            change("d", budget(None, D(100)), action="create"),
        ),
        0,
    )
    policy = Policy(max_increase_pct=D(1), max_decrease_pct=D(1), **NO_USAGE_GUARD)
    assert rules(plan, policy) == []


@pytest.mark.parametrize(
    "live",
    [UNKNOWN, "abc", True, D("NaN"), D("Infinity"), D("1E+30"), float("nan"), [1], D("-0.01")],
)
def test_percent_rules_fail_closed_on_an_unknown_or_unreadable_live_amount(live: Any) -> None:
    """A live amount that is unknown or not an amount is a violation of each percent rule on."""
    plan = Plan((change("a", budget(live, D(100))),), 0)
    policy = Policy(max_increase_pct=D(50), max_decrease_pct=D(50), **NO_USAGE_GUARD)
    assert rules(plan, policy) == [("max_increase_pct", "a"), ("max_decrease_pct", "a")]
    message = evaluate_policy(plan, policy)[0].message
    assert message.startswith("period_budget → $100.00 cannot be checked against policy.")
    assert rules(plan, Policy(max_increase_pct=D(50), **NO_USAGE_GUARD)) == [
        ("max_increase_pct", "a")
    ]
    assert rules(plan, Policy(**NO_USAGE_GUARD)) == []


def test_an_unreadable_live_amount_names_its_value() -> None:
    """The violation shows the value the API sent, briefly."""
    plan = Plan((change("a", budget("abc", D(100))),), 0)
    (violation,) = evaluate_policy(plan, Policy(max_increase_pct=D(5), **NO_USAGE_GUARD))
    assert 'the live value "abc" is not an amount' in violation.message


def test_a_negative_live_amount_is_not_judged_as_a_base_for_percentages() -> None:
    """-1 → 100000 is no -10,000,100% fall: max_increase_pct refuses it, naming the value,
    and the run's total change counts it as unknown."""
    plan = Plan((change("a", budget(D("-1.00"), D(100000))),), 0)
    (violation,) = evaluate_policy(plan, Policy(max_increase_pct=D(50), **NO_USAGE_GUARD))
    assert violation.rule == "max_increase_pct"
    assert "the live value -1.00 is negative" in violation.message
    policy = Policy(max_total_budget_change=D(10**6), **NO_USAGE_GUARD)
    assert rules(plan, policy) == [("max_total_budget_change", "a")]
    assert budget_impact(plan).unknown == 1


def test_caps_judge_the_new_amount_whatever_the_live_one_is() -> None:
    """max_total_budget sees the new amount even when the live one is unreadable."""
    plan = Plan((change("a", budget("abc", D(900000), "total_budget")),), 0)
    assert rules(plan, Policy(max_total_budget=D(20000))) == [("max_total_budget", "a")]


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
    """Increases and decreases add up in absolute value; null counts as zero."""
    plan = Plan(
        (
            change("a", budget(D(100), D(150))),
            change("b", budget(D(100), D(50))),
            change("c", budget(None, D(10), "total_budget")),
            change("d", budget(D(5), None)),
        ),
        0,
    )
    assert rules(plan, Policy(max_total_budget_change=D(115), **NO_USAGE_GUARD)) == []
    policy = Policy(max_total_budget_change=D("114.99"), **NO_USAGE_GUARD)
    (violation,) = evaluate_policy(plan, policy)
    assert violation.rule == "max_total_budget_change"
    assert "$115.00 in total" in violation.message


def test_max_total_budget_change_fails_closed_on_an_unreadable_live_amount() -> None:
    """An amount whose live side is unknown or unreadable cannot be summed: a violation."""
    plan = Plan(
        (change("a", budget(UNKNOWN, D(10))), change("b", budget("abc", D(10), "total_budget"))),
        0,
    )
    policy = Policy(max_total_budget_change=D(1000), **NO_USAGE_GUARD)
    assert rules(plan, policy) == [
        ("max_total_budget_change", "a"),
        ("max_total_budget_change", "b"),
    ]


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


def test_a_lowered_budget_with_unreturned_usage_is_a_violation() -> None:
    """forbid_budget_below_usage refuses a guarded decrease whose usage the API did not give
    as an amount (none, NaN, or below zero)."""
    plan = Plan(
        (
            change("down", budget(D(500), D(100))),
            change("unreadable", budget("abc", D(100))),
            change("up", budget(D(100), D(500))),
        ),
        0,
    )
    assert rules(plan, Policy(), {}) == [
        ("forbid_budget_below_usage", "down"),
        ("forbid_budget_below_usage", "unreadable"),
    ]
    assert rules(plan, Policy(), {("respan", "prod", "down"): D("NaN")})[0] == (
        "forbid_budget_below_usage",
        "down",
    )
    assert rules(plan, Policy(), {("respan", "prod", "down"): D("-5")})[0] == (
        "forbid_budget_below_usage",
        "down",
    )
    (violation, _) = evaluate_policy(plan, Policy(), None)
    assert "did not return the customer's usage" in violation.message
    assert rules(plan, Policy(forbid_budget_below_usage=False), {}) == []


def test_usage_guard_applies_only_to_guarded_fields() -> None:
    """total_budget is not usage-guarded for Respan, so usage does not judge it."""
    plan = Plan((change("a", budget(D(500), D(1), "total_budget")),), 0)
    assert rules(plan, Policy(), {}) == []


def test_usage_candidates_are_guarded_decreases_only() -> None:
    """Only updates lowering (or newly setting) a guarded amount need a usage read."""
    plan = Plan(
        (
            change("down", budget(D(500), D(100))),
            change("up", budget(D(100), D(500))),
            change("new", budget(None, D(100))),
            change("unknown", budget(UNKNOWN, D(100))),
            change("unreadable", budget("abc", D(100))),
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
        ("respan", "prod", "unreadable"),
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


@pytest.mark.parametrize("live", ["abc", True, float("nan"), D("1E+30")])
def test_an_unreadable_autumn_spend_limit_fails_closed(live: Any) -> None:
    """An overage_limit the API sent as something not an amount fails max_increase_pct."""
    wanted = DesiredCustomer(
        "autumn",
        "sandbox",
        "c",
        {"billing_controls": {"spend_limits": [{"feature_id": "m", "overage_limit": D(100)}]}},
        Source("a.yaml", 1),
    )
    found = LiveCustomer(
        "autumn",
        "sandbox",
        "c",
        {"billing_controls": {"spend_limits": [{"feature_id": "m", "overage_limit": live}]}},
    )
    plan = build_plan([wanted], {found.key: found}, MODELS)
    assert rules(plan, Policy(max_increase_pct=D(10))) == [("max_increase_pct", "c")]


def _created_with_spend_limit(amount: Decimal) -> Plan:
    wanted = DesiredCustomer(
        "autumn",
        "sandbox",
        "new-co",
        {
            "name": "New Co",
            "billing_controls": {
                "spend_limits": [{"feature_id": "m", "enabled": True, "overage_limit": amount}]
            },
        },
        Source("a.yaml", 1),
    )
    return build_plan([wanted], {}, MODELS)


def test_amounts_inside_a_created_structure_count_as_money() -> None:
    """A create's spend limit is in the budget impact and judged by max_total_budget_change,
    as the same limit added to an existing customer would be."""
    plan = _created_with_spend_limit(D(1_000_000))
    assert [c.action for c in plan.changes] == ["create"]
    assert budget_impact(plan).deltas == {"billing_controls.spend_limits": D(1_000_000)}
    assert rules(plan, Policy(max_total_budget_change=D(100))) == [("max_total_budget_change", "")]
    assert rules(_created_with_spend_limit(D(50)), Policy(max_total_budget_change=D(100))) == []


def test_an_update_of_a_create_only_field_is_a_provider_violation() -> None:
    """A planned update of a field only a create can set (FieldSpec.updatable False) is a
    violation of the provider rule naming the field; the same field on a create passes."""
    duration = FieldChange("budget_duration", "30d", "7d", FieldKind.TEXT)
    raised = budget(D(10), D(20), "max_budget")
    updated = Plan(
        (change("acme", raised, duration, provider="litellm", environment="default"),), 0
    )
    (violation,) = evaluate_policy(updated, Policy())
    assert (violation.rule, violation.id) == ("provider", "acme")
    assert violation.message.startswith("budget_duration can only be set when the customer is")
    created = Plan(
        (change("acme", duration, action="create", provider="litellm", environment="default"),), 0
    )
    assert evaluate_policy(created, Policy()) == ()


def test_caps_apply_to_the_fields_that_name_them() -> None:
    """policy.max_period_budget caps the money field whose spec names it, and no other."""
    policy = Policy(max_period_budget=D(100))
    plan = Plan((change("a", budget(D(1), D(500))), change("b", budget(D(1), D(500), "x"))), 0)
    assert rules(plan, policy) == [("max_period_budget", "a")]
    assert MODELS["respan"].fields["period_budget"].cap == "max_period_budget"
