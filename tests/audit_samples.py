"""A small audit log written by the real writer: three runs by different actors and pull
requests over a quarter, for the tests of ``audit show`` and its renderers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from reconciler.audit import AuditContext, AuditLog
from reconciler.domain import FieldKind
from reconciler.plan import Change, FieldChange


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


def clock(*moments: str) -> Any:
    times: Iterator[str] = iter(moments)
    return lambda: datetime.fromisoformat(next(times)).replace(tzinfo=UTC)


def write_quarter(path: Path) -> Path:
    """Seven records: acme's budget 200 → 250 → 300 (and a failed try), globex, a stale one."""
    runs = [
        (
            AuditContext("github:alice", "a" * 40, 41, "sha256:" + "1" * 64),
            ["2026-10-01T09:00:00", "2026-10-01T09:00:01", "2026-10-01T09:00:02"],
            [
                (budget("acme-corp", "200", "250"), "applied"),
                (tier("acme-corp", "free", "gold"), "applied"),
                (budget("globex", "500", "400"), "applied"),
            ],
        ),
        (
            AuditContext("github:bob", "b" * 40, 42, "sha256:" + "2" * 64),
            ["2026-11-15T10:00:00", "2026-11-15T10:00:01"],
            [
                (budget("acme-corp", "250", "900"), "failed"),
                (budget("initech", "100", "150"), "stale"),
            ],
        ),
        (
            AuditContext("github:alice", "c" * 40, 43, "sha256:" + "3" * 64),
            ["2026-12-31T23:59:59", "2027-01-01T00:00:00"],
            [
                (budget("acme-corp", "250", "300"), "applied"),
                (budget("acme-corp", "300", "300.50", environment="test"), "applied"),
            ],
        ),
    ]
    for context, moments, changes in runs:
        with AuditLog.open(path, context, clock=clock(*moments)) as log:
            for change, outcome in changes:
                log.record(change, outcome, http_status=200 if outcome == "applied" else None)
    return path
