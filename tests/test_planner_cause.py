"""planner.cause: base / head / live -> manifest or drift, per value, field and customer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.domain import (
    CustomerKey,
    DesiredCustomer,
    FieldKind,
    Lifecycle,
    LiveCustomer,
    Source,
)
from reconciler.plan.model import BaseRevision, Change, FieldChange, Plan
from reconciler.planner import PlanOptions, build_plan
from reconciler.planner.cause import ABSENT, by_cause, classify, removal_violations, with_causes
from reconciler.planner.normalize import same
from reconciler.providers.registry import MODELS

D = Decimal
BASE = BaseRevision("origin/main", "a" * 40)

# Few distinct values, several spellings of some: equal pairs are frequent, as in real edits.
values = st.sampled_from([ABSENT, None, D("250"), D("250.00"), D("400"), "gold", "silver", True])


@settings(max_examples=500, deadline=None)
@given(values, values, values)
def test_a_value_head_holds_live_is_no_change(base: Any, head: Any, live: Any) -> None:
    """Whatever the base, a head value equal to live plans nothing; otherwise a cause."""
    cause = classify(base, head, live)
    assert (cause is None) == same(head, live)


@settings(max_examples=500, deadline=None)
@given(values, values)
def test_untouched_by_the_manifests_is_drift(value: Any, live: Any) -> None:
    """A value the manifests did not change (base == head) that live moved from is drift."""
    if not same(value, live):
        assert classify(value, value, live) == "drift"


@settings(max_examples=500, deadline=None)
@given(values, values)
def test_a_change_made_only_in_the_manifests_is_manifest(base: Any, head: Any) -> None:
    """Live still at the base value, head elsewhere: the pull request's change."""
    if not same(base, head):
        assert classify(base, head, base) == "manifest"


@settings(max_examples=500, deadline=None)
@given(values, values, values, values)
def test_the_cause_depends_on_live_only_through_whether_it_is_head(
    base: Any, head: Any, live: Any, other_live: Any
) -> None:
    """Both changed (manifests and live) is manifest: how far live drifted does not matter."""
    if not same(head, live) and not same(head, other_live):
        assert classify(base, head, live) == classify(base, head, other_live)
        if not same(base, head):
            assert classify(base, head, live) == "manifest"


# -- whole plans: the cause agrees with what the base's own plan would do -------------------------

IDS = ("a", "b")
amounts = st.sampled_from([None, D("100"), D("250"), D("250.00"), D("400")])
texts = st.sampled_from(["A", "B"])
metadata_values = st.sampled_from([None, "x", "y"])
respan_metadata = st.dictionaries(st.sampled_from(["tier", "owner"]), metadata_values, max_size=2)
lifecycles = st.sampled_from([Lifecycle(), Lifecycle(ignore_changes=frozenset({"total_budget"}))])


@st.composite
def respan_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Some managed Respan fields, each declared or not."""
    candidates = {
        "name": texts,
        "period_budget": amounts,
        "total_budget": amounts,
        "metadata": respan_metadata,
    }
    chosen = draw(st.lists(st.sampled_from(sorted(candidates)), unique=True))
    return {name: draw(candidates[name]) for name in chosen}


@st.composite
def autumn_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Some managed Autumn fields: authoritative metadata, billing items keyed by feature."""
    fields: dict[str, Any] = {}
    if draw(st.booleans()):
        fields["name"] = draw(texts)
    if draw(st.booleans()):
        fields["metadata"] = draw(respan_metadata)
    if draw(st.booleans()):
        features = draw(st.lists(st.sampled_from(["messages", "seats"]), unique=True))
        items = []
        for feature in features:
            item: dict[str, Any] = {"feature_id": feature}
            if draw(st.booleans()):
                item["overage_limit"] = draw(st.sampled_from([D("5"), D("10")]))
            if draw(st.booleans()):
                item["enabled"] = draw(st.booleans())
            items.append(item)
        fields["billing_controls"] = {"spend_limits": items}
    return fields


def customers(provider: str, fields: st.SearchStrategy[dict[str, Any]]) -> Any:
    """Per id: not there, or some fields (and a lifecycle for declared ones)."""
    return st.lists(st.none() | st.tuples(fields, lifecycles), min_size=2, max_size=2)


def declared(provider: str, drawn: list[Any]) -> list[DesiredCustomer]:
    environment = MODELS[provider].default_environment
    return [
        DesiredCustomer(provider, environment, customer_id, fields, Source("c.yaml", 1), lifecycle)
        for customer_id, entry in zip(IDS, drawn, strict=True)
        if entry is not None
        for fields, lifecycle in [entry]
    ]


def live_state(provider: str, drawn: list[Any]) -> dict[CustomerKey, LiveCustomer]:
    environment = MODELS[provider].default_environment
    found = [
        LiveCustomer(provider, environment, customer_id, entry[0])
        for customer_id, entry in zip(IDS, drawn, strict=True)
        if entry is not None
    ]
    return {customer.key: customer for customer in found}


def plan_of(wanted: list[DesiredCustomer], live: dict[CustomerKey, LiveCustomer]) -> Plan:
    keys = [customer.key for customer in wanted]
    return build_plan(wanted, live, MODELS, PlanOptions(prune=True), keys)


def check_against_base_plan(
    base: list[DesiredCustomer], head: list[DesiredCustomer], live: Any
) -> None:
    """Drift is exactly what the base's own plan would also correct, to the same value."""
    plain = plan_of(head, live)
    caused = with_causes(plain, base, MODELS, BASE)
    assert caused.base == BASE
    # The causes add information and change nothing else.
    assert [
        (c.action, c.key, [(f.path, f.before, f.after) for f in c.fields]) for c in caused.changes
    ] == [(c.action, c.key, [(f.path, f.before, f.after) for f in c.fields]) for c in plain.changes]
    at_base = {change.key: change for change in plan_of(base, live).changes}
    for change in caused.changes:
        same_at_base = at_base.get(change.key)
        for field in change.fields:
            corrected = same_at_base is not None and any(
                other.path == field.path and same(other.after, field.after)
                for other in same_at_base.fields
            )
            assert field.cause == ("drift" if corrected else "manifest"), (change, field)
        if change.action == "update":
            wanted = "manifest" if any(f.cause == "manifest" for f in change.fields) else "drift"
        else:
            # A create, delete or missing the base would plan too is drift.
            repeated = same_at_base is not None and same_at_base.action == change.action
            if change.action == "create" and repeated:
                repeated = all(f.cause == "drift" for f in change.fields)
            wanted = "drift" if repeated else "manifest"
        assert change.cause == wanted, change


@settings(max_examples=300, deadline=None)
@given(
    customers("respan", respan_fields()),
    customers("respan", respan_fields()),
    customers("respan", respan_fields()),
)
def test_respan_causes_match_the_plan_the_base_would_make(
    base: list[Any], head: list[Any], live: list[Any]
) -> None:
    """Respan: a field or customer is drift exactly when the base's own plan makes that change."""
    check_against_base_plan(
        declared("respan", base), declared("respan", head), live_state("respan", live)
    )


@settings(max_examples=300, deadline=None)
@given(
    customers("autumn", autumn_fields()),
    customers("autumn", autumn_fields()),
    customers("autumn", autumn_fields()),
)
def test_autumn_causes_match_the_plan_the_base_would_make(
    base: list[Any], head: list[Any], live: list[Any]
) -> None:
    """The same with creates, authoritative metadata and billing items matched by feature."""
    check_against_base_plan(
        declared("autumn", base), declared("autumn", head), live_state("autumn", live)
    )


# -- examples -------------------------------------------------------------------------------------


def respan(customer_id: str, lifecycle: Lifecycle = Lifecycle(), **fields: Any) -> DesiredCustomer:  # noqa: B008
    return DesiredCustomer("respan", "prod", customer_id, fields, Source("c.yaml", 1), lifecycle)


def live_respan(customer_id: str, **fields: Any) -> LiveCustomer:
    return LiveCustomer("respan", "prod", customer_id, fields)


def test_the_issue_example_tells_the_raise_from_the_revert() -> None:
    """Raising acme is this pull request's; setting globex back from $900 is drift."""
    base = [respan("acme", period_budget=D(200)), respan("globex", period_budget=D(400))]
    head = [respan("acme", period_budget=D(250)), respan("globex", period_budget=D(400))]
    live = {
        c.key: c
        for c in [live_respan("acme", period_budget=200), live_respan("globex", period_budget=900)]
    }
    result = with_causes(build_plan(head, live, MODELS), base, MODELS, BASE)
    groups = by_cause(result)
    assert [c.id for c in groups["manifest"]] == ["acme"]
    assert [c.id for c in groups["drift"]] == ["globex"]


def test_a_field_the_base_ignored_is_managed_by_this_change() -> None:
    """Dropping a field from ignore_changes starts managing it: a manifest change."""
    ignoring = Lifecycle(ignore_changes=frozenset({"total_budget"}))
    base = [respan("acme", ignoring, total_budget=D(5000))]
    head = [respan("acme", total_budget=D(5000))]
    live = {("respan", "prod", "acme"): live_respan("acme", total_budget=7000)}
    (change,) = with_causes(build_plan(head, live, MODELS), base, MODELS, BASE).changes
    assert [f.cause for f in change.fields] == ["manifest"]


def test_an_update_with_both_causes_appears_in_both_groups() -> None:
    """One customer's edited field and drifted field are shown apart, each in its group."""
    base = [respan("acme", name="Acme", period_budget=D(200))]
    head = [respan("acme", name="Acme", period_budget=D(250))]
    live = {("respan", "prod", "acme"): live_respan("acme", name="ACME", period_budget=200)}
    result = with_causes(build_plan(head, live, MODELS), base, MODELS, BASE)
    groups = by_cause(result)
    assert [f.path for c in groups["manifest"] for f in c.fields] == ["period_budget"]
    assert [f.path for c in groups["drift"] for f in c.fields] == ["name"]
    assert result.changes[0].cause == "manifest"


def test_respan_metadata_the_base_did_not_name_is_not_cleared_by_it() -> None:
    """Respan: clearing a metadata key the base did not name is this change's, else drift."""
    live = {("respan", "prod", "acme"): live_respan("acme", metadata={"tier": "x"})}
    head = [respan("acme", metadata={"tier": None})]
    for base_metadata, cause in (({"owner": "y"}, "manifest"), ({"tier": None}, "drift")):
        base = [respan("acme", metadata=base_metadata)]
        (change,) = with_causes(build_plan(head, live, MODELS), base, MODELS, BASE).changes
        assert [(f.path, f.cause) for f in change.fields] == [("metadata.tier", cause)]


def autumn(customer_id: str, **fields: Any) -> DesiredCustomer:
    return DesiredCustomer("autumn", "sandbox", customer_id, fields, Source("c.yaml", 1))


def test_autumn_billing_arrays_the_base_did_not_declare_were_unmanaged() -> None:
    """Dropping a live billing item is this change's unless the base declared its array too."""
    found = LiveCustomer(
        "autumn",
        "sandbox",
        "acme",
        {"billing_controls": {"spend_limits": [{"feature_id": "seats", "overage_limit": 5}]}},
    )
    live = {found.key: found}
    head = [autumn("acme", billing_controls={"spend_limits": []})]
    # The base's billing_controls, and the cause that dropping the live item has under it.
    cases: list[tuple[dict[str, Any], str]] = [({}, "manifest"), ({"spend_limits": []}, "drift")]
    for base_controls, cause in cases:
        base = [autumn("acme", billing_controls=base_controls)]
        (change,) = with_causes(build_plan(head, live, MODELS), base, MODELS, BASE).changes
        assert {f.cause for f in change.fields} == {cause}


def test_autumn_metadata_keys_the_base_left_out_were_removed_there_too() -> None:
    """Autumn metadata is authoritative: a live key neither base nor head declares is drift."""
    found = LiveCustomer("autumn", "sandbox", "acme", {"metadata": {"tier": "x", "extra": "y"}})
    head = [autumn("acme", metadata={"tier": "x"})]
    base = [autumn("acme", metadata={})]
    (change,) = with_causes(
        build_plan(head, {found.key: found}, MODELS), base, MODELS, BASE
    ).changes
    assert [(f.path, f.cause) for f in change.fields] == [("metadata.extra", "drift")]


def test_a_plan_without_a_base_is_all_in_the_first_group() -> None:
    """Changes without a cause (an old saved plan) count as this change's, never as drift."""
    change = Change(
        "update", "respan", "prod", "acme", (FieldChange("name", "A", "B", FieldKind.TEXT),)
    )
    groups = by_cause(Plan((change,), 0))
    assert [c.fields for c in groups["manifest"]] == [change.fields]
    assert groups["drift"] == ()


def test_removing_a_protected_declaration_is_a_violation() -> None:
    """prevent_destroy at the base and gone now: named, with the way to proceed."""
    guarded = Lifecycle(prevent_destroy=True)
    base = [respan("acme", guarded), respan("globex"), respan("initech", guarded)]
    (violation,) = removal_violations(base, [("respan", "prod", "initech")], BASE)
    assert (violation.rule, violation.id) == ("prevent_destroy", "acme")
    assert "origin/main" in violation.message
    assert "prevent_destroy: false" in violation.message


def test_a_declaration_unprotected_at_the_base_may_go() -> None:
    """Once a change set prevent_destroy: false (the base), removing the customer passes."""
    base = [respan("acme", Lifecycle(prevent_destroy=False))]
    assert removal_violations(base, [], BASE) == ()
