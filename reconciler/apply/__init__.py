"""The applier: sends a plan's changes through providers, refuses stale ones, audits each."""

from reconciler.apply.report import STATUSES, ApplyReport, ChangeOutcome, ReportRow, Status
from reconciler.apply.runner import FreshState, ProgressCallback, apply_plan
from reconciler.apply.stale import Staleness, check_staleness

__all__ = [
    "STATUSES",
    "ApplyReport",
    "ChangeOutcome",
    "FreshState",
    "ProgressCallback",
    "ReportRow",
    "Staleness",
    "Status",
    "apply_plan",
    "check_staleness",
]
