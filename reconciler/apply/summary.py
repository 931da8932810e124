"""An apply report as people read it: a headline, an aligned table, and Markdown for CI.

For the ``apply`` command (terminal and ``$GITHUB_STEP_SUMMARY``). Pure text: no printing.
"""

from __future__ import annotations

from typing import Final

from reconciler.apply.report import ApplyReport, ReportRow
from reconciler.printable import printable
from reconciler.render.markdown import code_span
from reconciler.render.values import redact_emails

# The step summary is for a person; a 300-change run lists its problems in full but not every
# applied row (the audit log has them all).
MARKDOWN_ROW_LIMIT: Final = 200
_HEADERS: Final = ("STATUS", "ACTION", "CUSTOMER", "HTTP", "REASON")


def headline(report: ApplyReport) -> str:
    """``Apply complete: 3 applied, 1 failed, 0 stale, 2 not attempted.`` (or ``failed``)."""
    counts = report.counts()
    parts = ", ".join(f"{counts[status]:,} {status}" for status in counts)
    missing = f" {report.missing:,} missing customer(s) were not sent." if report.missing else ""
    verdict = "Apply complete" if report.ok else "Apply finished with problems"
    return f"{verdict}: {parts}.{missing}"


def report_table(report: ApplyReport, *, redact: bool = False) -> str:
    """Every change as an aligned text table, problems first; ``""`` when there is none.
    ``redact`` masks e-mail addresses (in ids and reasons)."""
    rows = [_cells(row, redact) for row in report.rows()]
    if not rows:
        return ""
    widths = [max(len(cells[i]) for cells in [_HEADERS, *rows]) for i in range(len(_HEADERS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in [_HEADERS, *rows]
    ]
    return "\n".join(lines) + "\n"


def report_markdown(
    report: ApplyReport, *, row_limit: int = MARKDOWN_ROW_LIMIT, redact: bool = False
) -> str:
    """The step-summary section: headline, then a table (problems first, capped); ``redact``
    masks e-mail addresses."""
    lines = ["### reconciler apply", "", headline(report), ""]
    rows = report.rows()
    if rows:
        lines += ["| status | action | customer | HTTP | reason |", "|---|---|---|---|---|"]
        for row in rows[:row_limit]:
            status, action, customer, http, reason = _cells(row, redact)
            # A code span shows backslashes as they are: only its pipe needs escaping.
            shown = code_span(customer, redact=False)
            cells = (status, action, http, reason)
            status, action, http, reason = (_markdown_cell(cell) for cell in cells)
            lines.append(f"| {status} | {action} | {shown} | {http} | {reason} |")
        hidden = len(rows) - row_limit
        if hidden > 0:
            lines += ["", f"…and {hidden:,} more change(s); the audit log records every one."]
    return "\n".join(lines) + "\n"


def _cells(row: ReportRow, redact: bool) -> tuple[str, str, str, str, str]:
    customer = printable(f"{row.provider}/{row.environment}/{row.id}")
    http = str(row.http_status) if row.http_status is not None else "-"
    reason = printable(" ".join(row.reason.split()))
    if redact:
        customer, reason = redact_emails(customer), redact_emails(reason)
    return (row.status, row.action, customer, http, reason)


def _markdown_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'")
