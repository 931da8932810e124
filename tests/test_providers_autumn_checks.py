"""Autumn's checks of a declared customer beyond its schema: one entry per feature."""

from __future__ import annotations

from reconciler.providers.autumn.checks import customer_problems
from reconciler.providers.autumn.plugin import PLUGIN
from reconciler.providers.parts import CustomerProblem


def test_a_feature_listed_twice_is_named_at_its_second_entry() -> None:
    """spend_limits, auto_topups and overage_allowed keep one entry per feature; usage
    alerts may repeat one (several thresholds), and a customer without controls is fine."""
    twice = [{"feature_id": "messages"}, {"feature_id": "tokens"}, {"feature_id": "messages"}]
    customer = {
        "id": "acme",
        "billing_controls": {"spend_limits": twice, "usage_alerts": twice},
    }

    assert list(customer_problems(customer)) == [
        CustomerProblem(
            ("billing_controls", "spend_limits", 2, "feature_id"),
            "'spend_limits' lists feature 'messages' twice",
            "keep one entry per feature",
        )
    ]
    assert list(customer_problems({"id": "plain"})) == []


def test_the_plugin_names_the_checks() -> None:
    """Manifest validation reaches the checks through the plug-in, not by provider name."""
    assert PLUGIN.customer_checker() is customer_problems
