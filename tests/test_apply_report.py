"""The apply report: counts by status and a table that puts problems first."""

from __future__ import annotations

from reconciler.apply.report import ApplyReport, ChangeOutcome, Status
from reconciler.plan.model import Change


def outcome(customer_id: str, status: Status, reason: str = "") -> ChangeOutcome:
    change = Change(action="update", provider="respan", environment="prod", id=customer_id)
    return ChangeOutcome(change, status, reason)


def test_counts_cover_every_status() -> None:
    """counts() names every status, zero included."""
    report = ApplyReport((outcome("a", "applied"), outcome("b", "failed", "boom")), missing=2)
    assert report.counts() == {"applied": 1, "failed": 1, "stale": 0, "not attempted": 0}
    assert report.missing == 2


def test_ok_only_when_everything_applied() -> None:
    """A report is ok when all changes applied, including a run with nothing to do."""
    assert ApplyReport(()).ok
    assert ApplyReport((outcome("a", "applied"),)).ok
    assert not ApplyReport((outcome("a", "applied"), outcome("b", "stale"))).ok


def test_rows_put_problems_first_in_plan_order() -> None:
    """Rows list failed, stale, not attempted, then applied, each group in plan order."""
    report = ApplyReport(
        (
            outcome("a", "applied"),
            outcome("b", "not attempted"),
            outcome("c", "failed", "HTTP 500"),
            outcome("d", "stale"),
            outcome("e", "failed", "HTTP 422"),
        )
    )
    rows = report.rows()
    assert [(row.id, row.status) for row in rows] == [
        ("c", "failed"),
        ("e", "failed"),
        ("d", "stale"),
        ("b", "not attempted"),
        ("a", "applied"),
    ]
    assert rows[0].reason == "HTTP 500"
