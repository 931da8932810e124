"""Stale saved plans: a customer that moved since the plan is named with the field that moved."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from reconciler.apply import check_staleness
from reconciler.domain import UNKNOWN, LiveCustomer
from reconciler.plan.model import Action, Change
from reconciler.providers.respan.fields import RESPAN


def update(**before: Any) -> Change:
    return Change(action="update", provider="respan", environment="prod", id="acme", before=before)


def live(**fields: Any) -> LiveCustomer:
    return LiveCustomer(provider="respan", environment="prod", id="acme", fields=fields)


def test_same_amount_in_another_spelling_is_not_stale() -> None:
    """Money compares to the cent: a float 250.0 live equals a planned 250.00."""
    assert (
        check_staleness(update(period_budget=Decimal("250.00")), live(period_budget=250.0), RESPAN)
        is None
    )


def test_same_instant_in_another_spelling_is_not_stale() -> None:
    """Timestamps compare as instants: +00:00 equals Z."""
    change = update(period_start="2026-11-01T00:00:00Z")
    assert check_staleness(change, live(period_start="2026-11-01T00:00:00+00:00"), RESPAN) is None


def test_a_moved_amount_names_the_field_and_both_values() -> None:
    """A budget changed by someone else is stale, with the field and both values in the reason."""
    staleness = check_staleness(
        update(period_budget=Decimal("250.00")), live(period_budget=300), RESPAN
    )
    assert staleness is not None
    assert staleness.reason == (
        "changed since the plan was made: period_budget was 250.00 in the plan, now 300.00"
    )
    assert [(d.path, d.planned, d.live) for d in staleness.drift] == [
        ("period_budget", Decimal("250.00"), Decimal("300.00"))
    ]


def test_a_moved_metadata_key_is_named_inside_the_field() -> None:
    """Metadata drift names the key that moved (metadata.tier), not just 'metadata'."""
    staleness = check_staleness(
        update(metadata={"tier": "gold", "owner": "x"}),
        live(metadata={"tier": "silver", "owner": "x", "new": 1}),
        RESPAN,
    )
    assert staleness is not None
    assert [(d.path, d.planned, d.live) for d in staleness.drift] == [
        ("metadata.new", None, Decimal(1)),
        ("metadata.tier", "gold", "silver"),
    ]


def test_drift_inside_nested_live_values_names_each_leaf() -> None:
    """Deep live structures name the exact leaf that moved: keyed items by key, other list
    items by position, odd keys quoted."""
    staleness = check_staleness(
        update(
            metadata={"owner": {"team": "a", "on call": ["x", "y"]}},
            extra=[1, 2],
            limits=[{"feature_id": "messages", "cap": 1}, {"feature_id": "a b", "cap": 1}],
        ),
        live(
            metadata={"owner": {"team": "b", "on call": ["x", "z"]}},
            extra=[1, 2, 3],
            limits=[{"feature_id": "messages", "cap": 2}, {"feature_id": "a b", "cap": 3}],
        ),
        RESPAN,
    )
    assert staleness is not None
    assert [(d.path, d.planned, d.live) for d in staleness.drift] == [
        ("metadata.owner.team", "a", "b"),
        ('metadata.owner["on call"][1]', "y", "z"),
        ("extra[2]", None, 3),
        ("limits[1].cap", 1, 3),  # an item key that is no plain word: its position
        ("limits[messages].cap", 1, 2),
    ]


def test_a_value_unknown_at_plan_time_is_not_compared() -> None:
    """A field the API did not return at plan time cannot have moved as far as the plan knows."""
    assert (
        check_staleness(update(markup_percentage=UNKNOWN), live(markup_percentage=5), RESPAN)
        is None
    )


def test_a_value_no_longer_readable_counts_as_moved() -> None:
    """A field known at plan time but not readable now is refused: nothing is overwritten blind."""
    staleness = check_staleness(update(email="a@example.com"), live(), RESPAN)
    assert staleness is not None
    assert 'email was "a@example.com" in the plan, now unknown' in staleness.reason


@pytest.mark.parametrize("action", ["update", "delete"])
def test_a_vanished_customer_is_stale(action: Action) -> None:
    """An update or delete whose customer no longer exists is stale."""
    change = Change(action=action, provider="respan", environment="prod", id="acme")
    staleness = check_staleness(change, None, RESPAN)
    assert staleness is not None
    assert staleness.reason == "customer no longer exists"


def test_a_create_whose_customer_now_exists_is_stale() -> None:
    """A planned create is refused when the customer appeared since the plan was made."""
    change = Change(action="create", provider="autumn", environment="sandbox", id="acme")
    assert check_staleness(change, None, RESPAN) is None
    staleness = check_staleness(change, live(), RESPAN)
    assert staleness is not None
    assert "created" in staleness.reason


def test_a_field_outside_the_model_is_compared_as_is() -> None:
    """A before value for a field the model does not know is still compared, not skipped."""
    assert check_staleness(update(extra="x"), live(extra="y"), RESPAN) is not None
    assert check_staleness(update(extra="x"), live(extra="x"), RESPAN) is None
