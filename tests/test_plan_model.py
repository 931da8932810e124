"""The plan model."""

from reconciler.plan.model import Change, Plan


def test_summary_counts_actions_and_unchanged() -> None:
    """The summary counts every action and the unchanged customers."""
    plan = Plan(
        changes=(
            Change("update", "respan", "prod", "a"),
            Change("update", "respan", "prod", "b"),
            Change("missing", "respan", "prod", "c"),
        ),
        unchanged=7,
    )
    assert plan.summary() == {
        "create": 0,
        "update": 2,
        "delete": 0,
        "missing": 1,
        "unchanged": 7,
    }


def test_missing_customers_alone_are_not_changes() -> None:
    """A plan with only ``missing`` customers sends no request, so it has no changes."""
    assert not Plan(changes=(Change("missing", "respan", "prod", "c"),), unchanged=0).has_changes
    assert Plan(changes=(Change("delete", "respan", "prod", "c"),), unchanged=0).has_changes
