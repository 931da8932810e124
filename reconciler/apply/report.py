"""What an apply did, change by change: the values the CLI turns into its closing table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconciler.plan.model import Change

Status = Literal["applied", "failed", "stale", "not attempted"]
STATUSES: tuple[Status, ...] = ("applied", "failed", "stale", "not attempted")


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    """One planned change after the run: its status, why (unless applied), the HTTP status."""

    change: Change
    status: Status
    reason: str = ""
    http_status: int | None = None


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One line of the closing table."""

    status: Status
    action: str
    provider: str
    environment: str
    id: str
    http_status: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class ApplyReport:
    """Every mutating change of the plan with its outcome, in plan order.

    ``missing`` counts the declared customers that do not exist and cannot be created: they
    were reported by the plan, never sent, and have no outcome here.
    """

    outcomes: tuple[ChangeOutcome, ...]
    missing: int = 0

    def count(self, status: Status) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    def counts(self) -> dict[str, int]:
        """Outcomes by status, every status present (zero included)."""
        return {status: self.count(status) for status in STATUSES}

    @property
    def ok(self) -> bool:
        """True when every change was applied (a run with nothing to do is ok)."""
        return all(outcome.status == "applied" for outcome in self.outcomes)

    def rows(self) -> list[ReportRow]:
        """Table rows: problems first (failed, stale, not attempted), then applied; stable."""
        order = {"failed": 0, "stale": 1, "not attempted": 2, "applied": 3}
        ranked = sorted(enumerate(self.outcomes), key=lambda pair: (order[pair[1].status], pair[0]))
        return [
            ReportRow(
                status=outcome.status,
                action=outcome.change.action,
                provider=outcome.change.provider,
                environment=outcome.change.environment,
                id=outcome.change.id,
                http_status=outcome.http_status,
                reason=outcome.reason,
            )
            for _, outcome in ranked
        ]
