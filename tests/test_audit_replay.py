"""What a saved plan already applied, read back from the audit log."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from reconciler.audit import AuditContext, AuditLog, Outcome
from reconciler.audit.replay import applied_by_plan
from reconciler.domain import FieldKind
from reconciler.plan.model import Change, FieldChange


def update(customer: str) -> Change:
    field = FieldChange("period_budget", Decimal("1.00"), Decimal("2.00"), FieldKind.MONEY)
    return Change("update", "respan", "prod", customer, fields=(field,))


def test_only_the_applied_changes_of_that_plan_are_named_with_their_record(
    tmp_path: Path,
) -> None:
    """Applied results of the plan count; its failed or pending changes, and other plans'
    applied ones, do not."""
    log = tmp_path / "audit.jsonl"
    with AuditLog.open(log, AuditContext("ci", plan_checksum="sha256:plan")) as audit:
        outcomes: tuple[tuple[str, Outcome], ...] = (("a", "applied"), ("b", "failed"))
        for customer, outcome in outcomes:
            change = update(customer)
            audit.record(change, outcome, pending_seq=audit.record_pending(change))
        audit.record_pending(update("c"))
    with AuditLog.open(log, AuditContext("ci", plan_checksum="sha256:other")) as audit:
        change = update("d")
        audit.record(change, "applied", pending_seq=audit.record_pending(change))
    assert applied_by_plan(log, "sha256:plan") == {("respan", "prod", "a", "update"): 2}
    assert applied_by_plan(log, "sha256:none") == {}
