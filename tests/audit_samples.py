"""A small audit log written by the real writer: three runs by different actors and pull
requests over a quarter, for the tests of ``audit show`` and its renderers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from reconciler.audit import AuditContext, AuditLog, Outcome
from reconciler.domain import FieldKind
from reconciler.plan.model import Change, FieldChange


def cents(amount: str) -> Decimal:
    """Money as the planner normalizes it: to the cent."""
    return Decimal(amount).quantize(Decimal("0.01"))


def budget(customer: str, before: str, after: str, environment: str = "prod") -> Change:
    return Change(
        action="update",
        provider="respan",
        environment=environment,
        id=customer,
        fields=(FieldChange("period_budget", cents(before), cents(after), FieldKind.MONEY),),
    )


def tier(customer: str, before: str, after: str) -> Change:
    return Change(
        action="update",
        provider="respan",
        environment="prod",
        id=customer,
        fields=(FieldChange("metadata.tier", before, after, FieldKind.METADATA),),
    )


def clock(*moments: str) -> Callable[[], datetime]:
    times: Iterator[str] = iter(moments)
    return lambda: datetime.fromisoformat(next(times)).replace(tzinfo=UTC)


def write_quarter(path: Path) -> Path:
    """Fourteen records as apply writes them, a pending record before each request:

    acme's budget 200 → 250 → 300 (and a failed try at 900), its tier, globex 500 → 400, a
    stale initech (refused, never sent: no pending record), and a last globex change whose
    process died after sending (a pending record with no result).
    """
    # Each run: who ran it, the minute its records were written in, and each change with its
    # outcome (None: the process died after sending, leaving only the pending record).
    runs: list[tuple[AuditContext, str, list[tuple[Change, Outcome | None]]]] = [
        (
            AuditContext("github:alice", "a" * 40, 41, "sha256:" + "1" * 64),
            "2026-10-01T09:00:0",
            [
                (budget("acme-corp", "200", "250"), "applied"),
                (tier("acme-corp", "free", "gold"), "applied"),
                (budget("globex", "500", "400"), "applied"),
            ],
        ),
        (
            AuditContext("github:bob", "b" * 40, 42, "sha256:" + "2" * 64),
            "2026-11-15T10:00:0",
            [
                (budget("acme-corp", "250", "900"), "failed"),
                (budget("initech", "100", "150"), "stale"),
            ],
        ),
        (
            AuditContext("github:alice", "c" * 40, 43, "sha256:" + "3" * 64),
            "2026-12-31T23:59:5",
            [
                (budget("acme-corp", "250", "300"), "applied"),
                (budget("acme-corp", "300", "300.50", environment="test"), "applied"),
                (budget("globex", "400", "450"), None),
            ],
        ),
    ]
    for context, minute, changes in runs:
        moments = [f"{minute}{second}" for second in range(10)]
        with AuditLog.open(path, context, clock=clock(*moments)) as log:
            for change, outcome in changes:
                if outcome == "stale":
                    log.record(change, "stale", reason="live moved since the plan")
                    continue
                pending = log.record_pending(change)
                if outcome is not None:
                    status = 200 if outcome == "applied" else 422
                    log.record(change, outcome, http_status=status, pending_seq=pending)
    return path
