"""Respan's checks of a customer's values together: the budget period and the budgets."""

from __future__ import annotations

from decimal import Decimal

from reconciler.providers.parts import FieldProblem
from reconciler.providers.respan.checks import field_problems
from reconciler.providers.respan.plugin import PLUGIN


def test_a_period_must_be_real_and_end_after_it_starts() -> None:
    """A bound that is no real date is an error at it; an end not after the start is an
    error at period_end; both real and in order is fine."""
    assert list(field_problems({"period_start": "2026-02-30T00:00:00Z"})) == [
        FieldProblem(
            "period_start",
            "'period_start' is not a real date and time: '2026-02-30T00:00:00Z'",
            'check the day and month, e.g. "2026-11-01T00:00:00Z"',
        )
    ]
    same = {"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-11-01T00:00:00+00:00"}
    assert [p.field for p in field_problems(same)] == ["period_end"]
    ordered = {"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z"}
    assert list(field_problems(ordered)) == []


def test_a_period_budget_above_the_total_warns() -> None:
    """The total budget would stop the customer first: a warning at period_budget."""
    (problem,) = field_problems({"period_budget": Decimal(500), "total_budget": Decimal(100)})
    assert (problem.field, problem.severity) == ("period_budget", "warning")
    assert list(field_problems({"period_budget": Decimal(5), "total_budget": None})) == []


def test_the_plugin_names_the_checks() -> None:
    """Manifest validation reaches them through the plug-in, not by provider name."""
    assert PLUGIN.field_checker() is field_problems
