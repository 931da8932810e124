"""The audit history (``reconciler audit show``) for one audience each: a terminal table, CSV
for spreadsheets, JSON for scripts, Markdown for GitHub (with a Mermaid chart of each money
field over time, which GitHub draws in comments and step summaries).

Every format opens with the chain's state, so a report from a damaged log can never pass for a
sound one: text and Markdown lead with it, CSV carries it in a first comment-like row, JSON in
``chain``. Values from the log are shown escaped: a control character in an id or a value
cannot start a line of its own.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from reconciler.audit.history import FieldEvent, History
from reconciler.money import format_money, is_amount
from reconciler.printable import printable

ARROW: Final = "→"
CSV_COLUMNS: Final = (
    "seq",
    "time",
    "provider",
    "environment",
    "customer_id",
    "action",
    "field",
    "before",
    "after",
    "outcome",
    "actor",
    "git_commit",
    "pull_request",
    "reason",
)
_MARKDOWN_SPECIAL: Final = str.maketrans({c: f"\\{c}" for c in "\\`*_[]|<>#~$"})


def chain_line(history: History) -> str:
    """``Chain intact: 1,204 records, head 3f2a…`` or where and how it breaks."""
    verification = history.verification
    broken = verification.chain_break
    if broken is None:
        return f"Chain intact: {verification.records:,} records, head {verification.last_hash}"
    return (
        f"CHAIN BROKEN at {broken}. Only the {_records(verification.records)} before it are "
        "shown; do not rely on this report until the log is explained "
        "(`reconciler audit verify`)."
    )


def summary_line(history: History) -> str:
    summary = history.summary
    return (
        f"Selected {_changes(summary.changes)}: {summary.applied:,} applied, "
        f"{summary.failed:,} failed, {summary.stale:,} stale, "
        f"{summary.pending_without_result:,} pending without result"
    )


def _records(count: int) -> str:
    return f"{count:,} record" if count == 1 else f"{count:,} records"


def _changes(count: int) -> str:
    return f"{count:,} change" if count == 1 else f"{count:,} changes"


def render_table(history: History) -> str:
    """Aligned text: per customer, per field, one line per change."""
    lines = [f"Audit log {escape(str(history.path))}", chain_line(history), summary_line(history)]
    for customer in history.customers():
        provider, environment, identifier = customer
        lines += ["", f"{escape(identifier)} ({escape(provider)}/{escape(environment)})"]
        for path, events in history.fields_of(customer).items():
            lines.append(f"  {escape(path) or '(customer)'}")
            rows = [_row(event) for event in events]
            widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
            for row in rows:
                cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
                lines.append("    " + "  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


# What makes a spreadsheet read a cell as a formula, and the numbers that start so harmlessly.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def render_csv(history: History) -> str:
    """One row per field change, in log order, after a header row (RFC 4180).

    Values are as logged, except that text a spreadsheet would run as a formula (it starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, and is not a plain number) gets a
    leading ``'``, as OWASP advises against CSV injection: ids, names and reasons come from the
    API and from whoever ran apply, and a finance team opens this file in a spreadsheet.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for event in history.events:
        writer.writerow(
            [
                event.seq,
                *map(
                    _csv_text,
                    (
                        event.time,
                        event.provider,
                        event.environment,
                        event.customer_id,
                        event.action,
                        event.path,
                        _csv_value(event.before),
                        _csv_value(event.after),
                        event.outcome,
                        event.actor,
                        event.git_commit or "",
                    ),
                ),
                event.pull_request if event.pull_request is not None else "",
                _csv_text(event.reason or ""),
            ]
        )
    return buffer.getvalue()


def render_json(history: History) -> str:
    """``{"log", "chain", "summary", "changes"}``; values exactly as the log holds them."""
    verification = history.verification
    broken = verification.chain_break
    document = {
        "log": str(history.path),
        "chain": {
            "intact": broken is None,
            "records": verification.records,
            "head": verification.last_hash,
            "break": None
            if broken is None
            else {"line": broken.line, "seq": broken.found_seq, "reason": broken.reason},
        },
        "summary": {
            "changes": history.summary.changes,
            "applied": history.summary.applied,
            "failed": history.summary.failed,
            "stale": history.summary.stale,
            "pending_without_result": history.summary.pending_without_result,
        },
        "changes": [
            {
                "seq": event.seq,
                "time": event.time,
                "provider": event.provider,
                "environment": event.environment,
                "customer_id": event.customer_id,
                "action": event.action,
                "path": event.path,
                "before": event.before,
                "after": event.after,
                "money": event.money,
                "outcome": event.outcome,
                "actor": event.actor,
                "git_commit": event.git_commit,
                "pull_request": event.pull_request,
                "reason": event.reason,
            }
            for event in history.events
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_markdown(history: History) -> str:
    """GitHub Markdown: chain state, summary, per customer a chart and a table per field."""
    broken = history.verification.chain_break is not None
    head = f"> [!CAUTION]\n> {_md(chain_line(history))}" if broken else _md(chain_line(history))
    parts = [f"### Audit history of `{_code(str(history.path))}`", head, _md(summary_line(history))]
    for customer in history.customers():
        provider, environment, identifier = customer
        parts.append(f"#### {_md(identifier)} ({_md(provider)}/{_md(environment)})")
        for path, events in history.fields_of(customer).items():
            chart = _chart(identifier, path, events)
            if chart:
                parts.append(chart)
            parts.append(_table(path, events))
    return "\n\n".join(parts) + "\n"


def escape(text: str) -> str:
    """``text`` with control characters shown as escapes (see ``reconciler.printable``)."""
    return printable(text)


def _row(event: FieldEvent) -> list[str]:
    return [
        event.time,
        f"{_value(event.before, event.money)} {ARROW} {_value(event.after, event.money)}",
        event.outcome,
        escape(event.actor),
        (event.git_commit or "-")[:12],
        f"PR #{event.pull_request}" if event.pull_request is not None else "-",
        escape(event.reason or ""),
    ]


def _table(path: str, events: Iterable[FieldEvent]) -> str:
    rows = [
        f"**{_md(path) or '(customer)'}**",
        "",
        "| Time | Change | Outcome | Actor | Commit | PR |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for event in events:
        cells = _row(event)[:6]
        rows.append("| " + " | ".join(_md(cell) for cell in cells) + " |")
    return "\n".join(rows)


def _chart(identifier: str, path: str, events: list[FieldEvent]) -> str:
    """A Mermaid ``xychart-beta`` of the field's applied amounts, or "" when there is none."""
    points = [
        (event.time, amount)
        for event in events
        if event.money and event.outcome == "applied"
        for amount in [_amount(event.after)]
        if amount is not None
    ]
    if not points:
        return ""
    first = next((_amount(e.before) for e in events if e.money and e.outcome == "applied"), None)
    if first is not None:
        points.insert(0, ("before", first))
    labels = ", ".join(f'"{label[:16].replace("T", " ")}"' for label, _ in points)
    values = ", ".join(f"{amount:.2f}" for _, amount in points)
    top = max(amount for _, amount in points)
    # Mermaid has no escapes inside a quoted title: quotes and backticks become apostrophes.
    title = escape(f"{identifier}: {path} (USD)").replace('"', "'").replace("`", "'")
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f'    title "{title}"',
            f"    x-axis [{labels}]",
            f'    y-axis "USD" 0 --> {_axis_top(top)}',
            f"    line [{values}]",
            "```",
        ]
    )


def _axis_top(top: Decimal) -> str:
    return f"{max(top * Decimal('1.1'), Decimal(1)):.0f}"


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    # What plans call an amount: a logged live value that is none (1e30) is shown as it was.
    return amount if is_amount(amount) else None


def _value(value: Any, money: bool) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, dict) and list(value) == ["unknown"] and value["unknown"] is True:
        return "(unknown)"
    if money:
        amount = _amount(value)
        if amount is not None:
            return format_money(amount)
    if isinstance(value, str):
        return escape(json.dumps(value, ensure_ascii=False))
    return escape(json.dumps(value, ensure_ascii=False, sort_keys=True))


def _csv_text(text: str) -> str:
    """``text``, defused if a spreadsheet would read it as a formula (see ``render_csv``)."""
    if text.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _md(text: str) -> str:
    return escape(text).translate(_MARKDOWN_SPECIAL)


def _code(text: str) -> str:
    return escape(text).replace("`", "'")
