"""build_plan: actions, managed fields, lifecycle, prune, selection, provider semantics, order."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from reconciler.domain import UNKNOWN, DesiredCustomer, FieldKind, Lifecycle, LiveCustomer, Source
from reconciler.errors import ConfigError
from reconciler.plan.model import Change, FieldChange, Plan
from reconciler.planner import PlanOptions, build_plan
from reconciler.planner.body import request_body
from reconciler.providers.registry import MODELS

D = Decimal


def desired(
    customer_id: str,
    provider: str = "respan",
    environment: str = "prod",
    lifecycle: Lifecycle = Lifecycle(),  # noqa: B008
    **fields: Any,
) -> DesiredCustomer:
    return DesiredCustomer(
        provider, environment, customer_id, fields, Source("customers.yaml", 3), lifecycle
    )


def live(
    customer_id: str, provider: str = "respan", environment: str = "prod", **fields: Any
) -> LiveCustomer:
    return LiveCustomer(provider, environment, customer_id, fields)


def plan(wanted: list[DesiredCustomer], found: list[LiveCustomer], **options: Any) -> Plan:
    return build_plan(wanted, {c.key: c for c in found}, MODELS, PlanOptions(**options))


def body(change: Change) -> dict[str, Any]:
    return request_body(change, MODELS[change.provider])


def only(result: Plan) -> Change:
    (change,) = result.changes
    return change


def test_matching_state_is_unchanged() -> None:
    """Equal values in different spellings give no change, only an unchanged count."""
    result = plan(
        [desired("a", period_budget=D(250), name="A", period_start="2026-11-01T00:00:00Z")],
        [live("a", period_budget=250.0, name="A", period_start="2026-11-01T00:00:00.000+00:00")],
    )
    assert result.changes == ()
    assert result.unchanged == 1


def test_update_shows_before_after_and_sends_only_changed_fields() -> None:
    """A changed budget is an update with its path, values, payload and all managed befores."""
    change = only(
        plan(
            [desired("a", period_budget=D(400), name="A")],
            [live("a", period_budget=250.0, name="A", email="x@y.example")],
        )
    )
    assert change.action == "update"
    assert change.fields == (
        FieldChange("period_budget", D("250.00"), D("400.00"), FieldKind.MONEY),
    )
    assert body(change) == {"period_budget": D("400.00")}
    assert change.before == {"name": "A", "period_budget": D("250.00")}
    assert change.source == Source("customers.yaml", 3)


def test_undeclared_fields_are_not_managed() -> None:
    """A live field the manifest does not declare never appears in the plan."""
    result = plan([desired("a", name="A")], [live("a", name="A", period_budget=999)])
    assert result.changes == ()


def test_explicit_null_clears() -> None:
    """Declaring null for a set budget clears it."""
    change = only(plan([desired("a", period_budget=None)], [live("a", period_budget=100)]))
    assert change.fields == (FieldChange("period_budget", D("100.00"), None, FieldKind.MONEY),)
    assert body(change) == {"period_budget": None}


def test_unknown_live_field_is_shown_unknown_and_sent() -> None:
    """A declared field the API did not return is never assumed equal: unknown -> value."""
    change = only(plan([desired("a", markup_percentage=D(20))], [live("a")]))
    assert change.fields == (FieldChange("markup_percentage", UNKNOWN, D(20), FieldKind.DECIMAL),)
    assert body(change) == {"markup_percentage": D(20)}
    assert change.before == {"markup_percentage": UNKNOWN}


def test_missing_respan_customer_is_reported_not_created() -> None:
    """Respan does not create customers: a declared one not found live is 'missing'."""
    change = only(plan([desired("ghost", period_budget=D(5))], []))
    assert change.action == "missing"
    assert body(change) == {}
    assert change.note == (
        "not found in prod: Respan creates customers from their first request; "
        "the budget will be applied on the next run after it appears"
    )


def test_missing_autumn_customer_is_created_with_every_declared_field() -> None:
    """Autumn creates: the payload holds all declared fields, fields show None -> value."""
    change = only(
        plan(
            [
                desired(
                    "c1",
                    "autumn",
                    "sandbox",
                    name="C1",
                    metadata={"tier": "gold", "gone": None},
                    send_email_receipts=True,
                )
            ],
            [],
        )
    )
    assert change.action == "create"
    assert body(change) == {
        "name": "C1",
        "metadata": {"tier": "gold"},
        "send_email_receipts": True,
    }
    assert [(f.path, f.before) for f in change.fields] == [
        ("name", None),
        ("metadata", None),
        ("send_email_receipts", None),
    ]


def test_ignore_changes_suppresses_drift_correction() -> None:
    """Fields in ignore_changes are left out of fields, payload and before."""
    rules = Lifecycle(ignore_changes=frozenset({"metadata"}))
    change = only(
        plan(
            [desired("a", lifecycle=rules, metadata={"t": "x"}, period_budget=D(2))],
            [live("a", metadata={"t": "y"}, period_budget=1)],
        )
    )
    assert [f.path for f in change.fields] == ["period_budget"]
    assert set(body(change)) == {"period_budget"}
    assert set(change.before) == {"period_budget"}


def test_ignore_changes_alone_gives_no_change() -> None:
    """Drift only in ignored fields leaves the customer unchanged."""
    rules = Lifecycle(ignore_changes=frozenset({"period_budget"}))
    result = plan([desired("a", lifecycle=rules, period_budget=D(2))], [live("a", period_budget=1)])
    assert (result.changes, result.unchanged) == ((), 1)


def test_undeclared_live_customers_are_left_alone_without_prune() -> None:
    """Without prune a live customer no manifest declares is not touched."""
    assert plan([], [live("stray", period_budget=1)]).changes == ()


def test_prune_deletes_undeclared_customers_with_their_before() -> None:
    """With prune an undeclared live customer is deleted; before keeps its managed fields."""
    change = only(plan([], [live("stray", period_budget=1.5, first_seen="x")], prune=True))
    assert change.action == "delete"
    assert change.before == {"period_budget": D("1.50")}
    assert body(change) == {}
    assert change.source is None


def test_prune_never_deletes_a_declared_customer_even_when_excluded() -> None:
    """A prevent_destroy customer declared but excluded from the plan is still not deleted."""
    keep = desired("keep", lifecycle=Lifecycle(prevent_destroy=True), name="K")
    result = plan([keep], [live("keep", name="other"), live("x")], prune=True, excludes=("keep",))
    assert [(c.action, c.id) for c in result.changes] == [("delete", "x")]


def test_prune_is_per_environment_key() -> None:
    """The same id declared in prod does not protect the live one in test."""
    result = plan(
        [desired("a", name="A")], [live("a", name="A"), live("a", environment="test")], prune=True
    )
    assert [(c.action, c.environment) for c in result.changes] == [("delete", "test")]


def test_glob_targets_and_excludes_are_case_sensitive_on_the_id() -> None:
    """With glob:, only ids matching a target and no exclude are planned or counted."""
    wanted = [desired(i, name="new") for i in ("acme-1", "acme-2", "ACME-3", "beta")]
    found = [live(i, name="old") for i in ("acme-1", "acme-2", "ACME-3", "beta")]
    result = plan(wanted, found, targets=("glob:acme-*",), excludes=("glob:*-2",))
    assert [c.id for c in result.changes] == ["acme-1"]
    assert result.unchanged == 0


def test_targets_and_excludes_are_exact_ids_unless_glob() -> None:
    """A target without glob: is one id: 'team[a]' is not 'teama', 'acme-*' not 'acme-1'."""
    found = [live(i) for i in ("teama", "team[a]", "acme-1", "acme-*", "glob:x")]
    pruned = plan([], found, prune=True, targets=("team[a]", "acme-*"))
    assert sorted(c.id for c in pruned.changes) == ["acme-*", "team[a]"]
    assert [c.id for c in plan([], found, prune=True, targets=("glob:glob:x",)).changes] == [
        "glob:x"
    ]
    kept = plan([], found, prune=True, excludes=("team[a]", "glob:acme-*", "glob:x"))
    assert sorted(c.id for c in kept.changes) == ["glob:x", "teama"]


def test_targets_also_narrow_prune() -> None:
    """Prune deletes only undeclared customers the selection covers."""
    result = plan([], [live("old-1"), live("keep-1")], prune=True, targets=("glob:old-*",))
    assert [c.id for c in result.changes] == ["old-1"]


def test_prune_never_deletes_a_key_declared_elsewhere_in_the_project() -> None:
    """Keys other manifests of the project declare are never pruned."""
    found = [live("a"), live("b"), live("c")]
    result = build_plan(
        [desired("a")],
        {c.key: c for c in found},
        MODELS,
        PlanOptions(prune=True),
        {("respan", "prod", "b")},
    )
    assert [c.id for c in result.changes] == ["c"]


def test_respan_metadata_sends_whole_resulting_object_keeping_extra_live_keys() -> None:
    """Non-authoritative metadata: per-key paths; the whole object sent keeps undeclared keys."""
    change = only(
        plan(
            [desired("a", metadata={"tier": "gold", "owner": "x"})],
            [live("a", metadata={"tier": "silver", "owner": "x", "extra": 1})],
        )
    )
    assert change.fields == (FieldChange("metadata.tier", "silver", "gold", FieldKind.METADATA),)
    assert body(change) == {"metadata": {"extra": 1, "owner": "x", "tier": "gold"}}


def test_respan_metadata_key_declared_null_is_absent() -> None:
    """A key declared null is removed when live has it and is no change when live lacks it."""
    change = only(
        plan([desired("a", metadata={"t": None})], [live("a", metadata={"t": "x", "e": 1})])
    )
    assert change.fields == (FieldChange("metadata.t", "x", None, FieldKind.METADATA),)
    assert body(change) == {"metadata": {"e": 1}}
    assert plan([desired("a", metadata={"t": None})], [live("a", metadata={"e": 1})]).unchanged == 1


def test_respan_metadata_extra_live_keys_alone_are_no_change() -> None:
    """Live metadata keys the manifest does not declare do not make a Respan change."""
    result = plan([desired("a", metadata={"t": "x"})], [live("a", metadata={"t": "x", "e": 1})])
    assert result.unchanged == 1


def test_autumn_metadata_is_authoritative_and_sends_only_changes_and_removals() -> None:
    """Authoritative merge metadata: undeclared live keys are removed via null; same keys unsent."""
    change = only(
        plan(
            [desired("c", "autumn", "sandbox", metadata={"keep": "k", "tier": "gold"})],
            [live("c", "autumn", "sandbox", metadata={"keep": "k", "tier": "s", "old": 1})],
        )
    )
    assert [(f.path, f.before, f.after) for f in change.fields] == [
        ("metadata.old", D(1), None),
        ("metadata.tier", "s", "gold"),
    ]
    assert body(change) == {"metadata": {"old": None, "tier": "gold"}}


def test_metadata_type_difference_is_a_change() -> None:
    """ "1" and 1 are different metadata values."""
    change = only(plan([desired("a", metadata={"n": "1"})], [live("a", metadata={"n": 1})]))
    assert change.fields == (FieldChange("metadata.n", D(1), "1", FieldKind.METADATA),)


def test_metadata_odd_keys_are_quoted_in_paths() -> None:
    """A key with dots or spaces is bracket-quoted so the path stays unambiguous."""
    change = only(plan([desired("a", metadata={"a.b c": "x"})], [live("a", metadata={})]))
    assert change.fields[0].path == 'metadata["a.b c"]'


def test_billing_controls_keyed_by_feature_id_order_insensitive() -> None:
    """Reordered spend limits with extra live keys are no change."""
    declared = {
        "spend_limits": [
            {"feature_id": "a", "overage_limit": D(10)},
            {"feature_id": "b", "overage_limit": D(20)},
        ]
    }
    stored = {
        "spend_limits": [
            {"feature_id": "b", "overage_limit": 20.0, "enabled": True},
            {"feature_id": "a", "overage_limit": 10, "enabled": True},
        ],
        "usage_alerts": [{"feature_id": "z", "threshold": 1}],
    }
    result = plan(
        [desired("c", "autumn", "sandbox", billing_controls=declared)],
        [live("c", "autumn", "sandbox", billing_controls=stored)],
    )
    assert result.unchanged == 1


def test_billing_controls_change_names_item_and_sends_the_array() -> None:
    """A spend limit change has a feature-keyed money path; the whole declared array is sent."""
    declared = {
        "spend_limits": [
            {"feature_id": "messages", "overage_limit": D(150)},
            {"feature_id": "new", "overage_limit": D(5), "enabled": True},
        ]
    }
    stored = {
        "spend_limits": [
            {"feature_id": "messages", "overage_limit": 100.0},
            {"feature_id": "gone", "overage_limit": 7},
        ]
    }
    change = only(
        plan(
            [desired("c", "autumn", "sandbox", billing_controls=declared)],
            [live("c", "autumn", "sandbox", billing_controls=stored)],
        )
    )
    assert [(f.path, f.before, f.after, f.kind) for f in change.fields] == [
        ("billing_controls.spend_limits[gone].overage_limit", D("7.00"), None, FieldKind.MONEY),
        (
            "billing_controls.spend_limits[messages].overage_limit",
            D("100.00"),
            D("150.00"),
            FieldKind.MONEY,
        ),
        ("billing_controls.spend_limits[new].enabled", None, True, FieldKind.KEYED_LISTS),
        ("billing_controls.spend_limits[new].overage_limit", None, D("5.00"), FieldKind.MONEY),
    ]
    assert body(change) == {
        "billing_controls": {
            "spend_limits": [
                {"feature_id": "messages", "overage_limit": D("150.00")},
                {"enabled": True, "feature_id": "new", "overage_limit": D("5.00")},
            ]
        }
    }


def test_unknown_provider_is_a_config_error() -> None:
    """A customer of a provider without a model is refused with a clear error."""
    with pytest.raises(ConfigError, match="unknown provider 'nope'"):
        plan([desired("a", "nope", "x")], [])


def test_order_is_provider_environment_action_id_whatever_the_input_order() -> None:
    """The same input in any order gives the same plan, sorted deterministically."""
    wanted = [
        desired("z-update", name="new"),
        desired("a-missing"),
        desired("m-update", name="new"),
        desired("c-create", "autumn", "sandbox", name="x"),
        desired("t-update", environment="test", name="new"),
    ]
    found = [
        live("z-update", name="old"),
        live("m-update", name="old"),
        live("b-delete"),
        live("t-update", environment="test", name="old"),
    ]
    first = plan(wanted, found, prune=True)
    shuffled = random.Random(7)
    for _ in range(5):
        shuffled.shuffle(wanted)
        shuffled.shuffle(found)
        assert plan(wanted, found, prune=True) == first
    assert [(c.provider, c.environment, c.action, c.id) for c in first.changes] == [
        ("autumn", "sandbox", "create", "c-create"),
        ("respan", "prod", "update", "m-update"),
        ("respan", "prod", "update", "z-update"),
        ("respan", "prod", "delete", "b-delete"),
        ("respan", "prod", "missing", "a-missing"),
        ("respan", "test", "update", "t-update"),
    ]
