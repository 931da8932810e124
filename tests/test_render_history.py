"""The audit history renderers: table, CSV, JSON and Markdown with Mermaid charts."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from audit_samples import write_quarter

from reconciler.audit import AuditContext, AuditLog
from reconciler.audit.history import History, Query, read_history
from reconciler.domain import FieldKind
from reconciler.plan.model import Change, FieldChange
from reconciler.render.history import (
    CSV_COLUMNS,
    escape,
    render_csv,
    render_json,
    render_markdown,
    render_table,
)


@pytest.fixture
def history(tmp_path: Path) -> History:
    return read_history(write_quarter(tmp_path / "audit.jsonl"), Query())


def test_table_leads_with_the_chain_then_history_per_customer_and_field(history: History) -> None:
    """Chain state and summary first; per customer and field, before → after and provenance."""
    lines = render_table(history).splitlines()
    assert lines[1].startswith("Chain intact: 14 records, head ")
    assert lines[1].endswith(history.verification.last_hash)
    assert lines[2] == (
        "Selected 8 changes: 5 applied, 1 failed, 1 stale, 1 pending without result"
    )
    at = lines.index("acme-corp (respan/prod)")
    assert lines[at + 1] == "  period_budget"
    assert lines[at + 2].split() == [
        "2026-10-01T09:00:01.000Z",
        "$200.00",
        "→",
        "$250.00",
        "applied",
        "github:alice",
        "aaaaaaaaaaaa",
        "PR",
        "#41",
    ]
    assert "$250.00 → $900.00  failed" in lines[at + 3]
    assert lines[at + 5] == "  metadata.tier"
    assert '"free" → "gold"' in lines[at + 6]


def test_csv_has_one_row_per_field_change_with_raw_values(history: History) -> None:
    """CSV parses back: the header, then each field change with its values as logged."""
    rows = list(csv.DictReader(io.StringIO(render_csv(history))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert len(rows) == 8
    assert rows[3]["customer_id"] == "acme-corp"
    assert (rows[3]["before"], rows[3]["after"], rows[3]["outcome"]) == (
        "250.00",
        "900.00",
        "failed",
    )
    assert rows[3]["pull_request"] == "42"


def test_json_carries_chain_summary_and_changes(history: History) -> None:
    """The JSON report states the chain (intact, records, head) and lists every change."""
    document = json.loads(render_json(history))
    assert document["chain"] == {
        "intact": True,
        "records": 14,
        "head": history.verification.last_hash,
        "break": None,
    }
    assert document["summary"]["stale"] == 1
    assert document["changes"][0]["after"] == "250.00"
    assert document["changes"][0]["money"] is True


def test_markdown_draws_each_money_field_of_each_customer(history: History) -> None:
    """A Mermaid xychart-beta per money field: the start value, then each applied amount."""
    markdown = render_markdown(history)
    assert "```mermaid\nxychart-beta\n" in markdown
    chart = markdown.split('title "acme-corp: period_budget (USD)"', 1)[1].split("```", 1)[0]
    assert 'x-axis ["before", "2026-10-01 09:00", "2026-12-31 23:59"]' in chart
    assert "line [200.00, 250.00, 300.00]" in chart  # the failed 900 never took effect
    assert 'y-axis "USD" 0 --> 330' in chart
    assert "metadata.tier (USD)" not in markdown  # not money: a table, no chart
    assert "| 2026-10-01T09:00:01.000Z | \\$200.00 → \\$250.00 | applied |" in markdown


def test_a_broken_chain_is_marked_in_every_format(tmp_path: Path) -> None:
    """A report from a broken log says so first, in text, Markdown (a caution) and JSON."""
    log = write_quarter(tmp_path / "audit.jsonl")
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    log.write_text("".join(lines[:2] + lines[3:]), encoding="utf-8")
    history = read_history(log, Query())
    assert render_table(history).splitlines()[1].startswith("CHAIN BROKEN at line 3 (seq 4)")
    assert "Only the 2 records before it are shown" in render_table(history)
    assert render_markdown(history).split("\n\n")[1].startswith("> [!CAUTION]\n> CHAIN BROKEN")
    assert json.loads(render_json(history))["chain"]["intact"] is False


def test_control_characters_from_the_log_are_escaped() -> None:
    """A newline or ESC in a logged id cannot start a line of its own in the report."""
    assert escape("acme\nPlan: 0 to delete\x1b[2J") == "acme\\nPlan: 0 to delete\\x1b[2J"


def test_a_logged_live_amount_that_is_not_one_is_shown_as_it_is(tmp_path: Path) -> None:
    """A live budget of 1e30 or "abc" that apply replaced (no guardrail on) is shown as the
    value it was in every format, not a traceback; the chart starts at the first amount."""
    log = tmp_path / "audit.jsonl"
    with AuditLog.open(log, AuditContext("octocat")) as audit:
        for before in (Decimal("1E+30"), "abc"):
            change = Change(
                action="update",
                provider="respan",
                environment="prod",
                id="acme",
                fields=(FieldChange("period_budget", before, Decimal("300.00"), FieldKind.MONEY),),
            )
            audit.record(change, "applied", pending_seq=audit.record_pending(change))
    history = read_history(log, Query())
    table = render_table(history)
    assert '"1E+30" → $300.00  applied' in table
    assert '"abc" → $300.00    applied' in table
    assert "line [300.00, 300.00]" in render_markdown(history)
    assert json.loads(render_json(history))["changes"][0]["before"] == "1E+30"
    assert "1E+30" in render_csv(history)


def test_csv_defuses_text_a_spreadsheet_would_run_as_a_formula(tmp_path: Path) -> None:
    """An id, value or reason starting like a formula (=, +, -, @) gets a leading quote in
    CSV, so a spreadsheet shows it instead of running it; negative amounts stay numbers."""
    log = tmp_path / "audit.jsonl"
    with AuditLog.open(log, AuditContext("octocat")) as audit:
        change = Change(
            action="update",
            provider="respan",
            environment="prod",
            id='=HYPERLINK("http://evil.example","acme")',
            fields=(
                FieldChange("name", "@SUM(A1)", "+cmd|' /C calc'!A0", FieldKind.TEXT),
                FieldChange("period_budget", Decimal("-5.00"), Decimal("300.00"), FieldKind.MONEY),
            ),
        )
        audit.record(change, "failed", reason="-1 is not allowed")
    (name, budget) = list(csv.DictReader(io.StringIO(render_csv(read_history(log, Query())))))
    assert name["customer_id"] == '\'=HYPERLINK("http://evil.example","acme")'
    assert (name["before"], name["after"]) == ("'@SUM(A1)", "'+cmd|' /C calc'!A0")
    assert name["reason"] == "'-1 is not allowed"
    assert (budget["before"], budget["after"]) == ("-5.00", "300.00")
