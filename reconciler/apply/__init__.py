"""The applier: sends a plan's changes through providers, refuses stale ones, audits each."""

from reconciler.apply.report import STATUSES, ApplyReport, ChangeOutcome, ReportRow, Status
from reconciler.apply.runner import FreshState, ProgressCallback, apply_plan
from reconciler.apply.stale import Staleness, already_applied, check_staleness

__all__ = [
    "STATUSES",
    "ApplyReport",
    "ChangeOutcome",
    "FreshState",
    "ProgressCallback",
    "ReportRow",
    "Staleness",
    "Status",
    "already_applied",
    "apply_plan",
    "check_staleness",
]
