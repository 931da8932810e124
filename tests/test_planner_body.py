"""request_body: the body apply sends, derived from a change's fields (and before) alone."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.domain import UNKNOWN, DesiredCustomer, FieldKind, LiveCustomer, Source
from reconciler.plan.model import Change, FieldChange
from reconciler.planner import PlanOptions, build_plan
from reconciler.planner.body import BodyError, kind_at, parse_path, request_body, value_at
from reconciler.providers.autumn.fields import AUTUMN
from reconciler.providers.registry import MODELS
from reconciler.providers.respan.fields import RESPAN

D = Decimal
keys = st.sampled_from(["tier", "owner", "a.b c", "x", "0", 'q"uote'])
scalars = st.one_of(st.text(max_size=4), st.booleans(), st.none(), st.decimals(0, 99, places=2))
metadata = st.dictionaries(keys, scalars, max_size=4)
features = st.sampled_from(["messages", "tokens", "odd id", "x]y"])
items = st.lists(
    st.fixed_dictionaries(
        {"feature_id": features},
        optional={"enabled": st.booleans(), "overage_limit": st.decimals(0, 999, places=2)},
    ),
    max_size=3,
    unique_by=lambda item: item["feature_id"],
)


def _applied(provider: str, live: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Live fields after the API took ``body``: Respan stores metadata whole, Autumn merges it;
    a billing list sent replaces the stored one."""
    after = dict(live)
    for name, value in body.items():
        if name == "metadata" and provider == "autumn":
            merged = {**(live.get("metadata") or {}), **value}
            after[name] = {k: v for k, v in merged.items() if v is not None}
        elif name == "billing_controls":
            after[name] = {**(live.get("billing_controls") or {}), **value}
        else:
            after[name] = value
    return after


@settings(max_examples=200, deadline=None)
@given(
    provider=st.sampled_from(["respan", "autumn"]),
    wanted_meta=metadata,
    live_meta=metadata,
    wanted_items=items,
    live_items=items,
    budget=st.decimals(0, 999, places=2),
)
def test_sending_the_body_makes_live_match_the_plan(
    provider: str,
    wanted_meta: dict[str, Any],
    live_meta: dict[str, Any],
    wanted_items: list[Any],
    live_items: list[Any],
    budget: Decimal,
) -> None:
    """After the API takes the derived body, planning again finds nothing to change."""
    environment = MODELS[provider].default_environment
    wanted: dict[str, Any] = {"metadata": wanted_meta, "name": "N"}
    found: dict[str, Any] = {"metadata": live_meta, "name": "old"}
    if provider == "autumn":
        wanted["billing_controls"] = {"spend_limits": wanted_items}
        found["billing_controls"] = {"spend_limits": live_items, "usage_alerts": []}
        wanted["metadata"] = {k: v for k, v in wanted_meta.items() if v is not None}
    else:
        wanted["period_budget"] = budget
    desired = DesiredCustomer(provider, environment, "c", wanted, Source("c.yaml", 1))
    live = LiveCustomer(provider, environment, "c", found)
    (change,) = build_plan([desired], {live.key: live}, MODELS, PlanOptions()).changes
    body = request_body(change, MODELS[provider])
    moved = LiveCustomer(provider, environment, "c", _applied(provider, found, body))
    again = build_plan([desired], {moved.key: moved}, MODELS, PlanOptions())
    assert again.changes == ()


def test_respan_metadata_is_the_recorded_live_object_with_the_changes() -> None:
    """Keys the change does not name come from before; a key going to null is left out."""
    change = Change(
        "update",
        "respan",
        "prod",
        "a",
        fields=(
            FieldChange("metadata.tier", "s", "gold", FieldKind.METADATA),
            FieldChange("metadata.old", "x", None, FieldKind.METADATA),
        ),
        before={"metadata": {"tier": "s", "old": "x", "keep": D(1)}},
    )
    assert request_body(change, RESPAN) == {"metadata": {"tier": "gold", "keep": D(1)}}


def test_autumn_billing_item_dropped_when_all_its_keys_go() -> None:
    """Item key changes apply to the live list; an item whose keys all go to null is dropped."""
    change = Change(
        "update",
        "autumn",
        "sandbox",
        "a",
        fields=(
            FieldChange(
                "billing_controls.spend_limits[gone].overage_limit", D(7), None, FieldKind.MONEY
            ),
            FieldChange(
                "billing_controls.spend_limits[messages].overage_limit",
                D(1),
                D(2),
                FieldKind.MONEY,
            ),
        ),
        before={
            "billing_controls": {
                "spend_limits": [
                    {"feature_id": "gone", "overage_limit": D(7)},
                    {"feature_id": "messages", "overage_limit": D(1), "enabled": True},
                ]
            }
        },
    )
    assert request_body(change, AUTUMN) == {
        "billing_controls": {
            "spend_limits": [{"enabled": True, "feature_id": "messages", "overage_limit": D(2)}]
        }
    }


@pytest.mark.parametrize(
    ("path", "parsed"),
    [
        ("period_budget", ("period_budget", ())),
        ("metadata.tier", ("metadata", ("tier",))),
        ('metadata["a.b c"]', ("metadata", ("a.b c",))),
        (
            "billing_controls.spend_limits[messages].enabled",
            ("billing_controls", ("spend_limits", "messages", "enabled")),
        ),
        ('billing_controls.spend_limits["x]y"]', ("billing_controls", ("spend_limits", "x]y"))),
    ],
)
def test_paths_parse_back_to_their_parts(path: str, parsed: tuple[str, tuple[str, ...]]) -> None:
    """Every path a plan writes reads back to the keys it names."""
    assert parse_path(path) == parsed


@pytest.mark.parametrize(
    "path",
    [
        'metadata["tier"]',
        'metadata["\\u0074ier"]',
        "metadata..tier",
        "metadata.",
        "",
        "metadata[tier]",
    ],
)
def test_paths_spelled_otherwise_are_refused(path: str) -> None:
    """A path not spelled the one way plans spell it is refused, not read generously."""
    with pytest.raises(BodyError):
        parse_path(path)


@pytest.mark.parametrize(
    ("fields", "before"),
    [
        ((FieldChange("period_budget.x", D(1), D(2), FieldKind.MONEY),), {}),
        ((FieldChange("metadata.tier", "a", "b", FieldKind.METADATA),), {"metadata": UNKNOWN}),
        ((FieldChange("nope", "a", "b", FieldKind.TEXT),), {}),
        (
            (
                FieldChange("metadata.tier", "a", "b", FieldKind.METADATA),
                FieldChange("metadata.tier", "a", "c", FieldKind.METADATA),
            ),
            {"metadata": {"tier": "a"}},
        ),
        (
            (
                FieldChange("metadata", None, {}, FieldKind.METADATA),
                FieldChange("metadata.tier", "a", "c", FieldKind.METADATA),
            ),
            {"metadata": {"tier": "a"}},
        ),
    ],
)
def test_fields_that_describe_no_body_are_refused(
    fields: tuple[FieldChange, ...], before: dict[str, Any]
) -> None:
    """Parts of a scalar, key changes without the live object, unknown fields, a path twice."""
    with pytest.raises(BodyError):
        request_body(Change("update", "respan", "prod", "a", fields, before=before), RESPAN)


def test_deletes_and_missing_send_no_body() -> None:
    """Only creates and updates carry a body."""
    assert request_body(Change("delete", "respan", "prod", "a"), RESPAN) == {}
    assert request_body(Change("missing", "respan", "prod", "a"), RESPAN) == {}


def test_kind_and_value_at_a_path() -> None:
    """Amounts inside billing items are money; values are read by item key."""
    path = "billing_controls.spend_limits[m].overage_limit"
    assert kind_at(AUTUMN, path) is FieldKind.MONEY
    assert kind_at(AUTUMN, "billing_controls.spend_limits[m].enabled") is FieldKind.KEYED_LISTS
    before = {"billing_controls": {"spend_limits": [{"feature_id": "m", "overage_limit": D(3)}]}}
    assert value_at(AUTUMN, before, path) == D(3)
    assert value_at(AUTUMN, before, "billing_controls.spend_limits[n].enabled") is None
    assert value_at(AUTUMN, {}, path) is UNKNOWN
