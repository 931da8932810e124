"""How an apply report reads: headline, aligned table, and Markdown for the step summary."""

from __future__ import annotations

from reconciler.apply.report import ApplyReport, ChangeOutcome, Status
from reconciler.apply.summary import headline, report_markdown, report_table
from reconciler.plan.model import Change


def outcome(
    customer_id: str, status: Status, reason: str = "", http: int | None = 200
) -> ChangeOutcome:
    change = Change(action="update", provider="respan", environment="prod", id=customer_id)
    return ChangeOutcome(change, status, reason, http)


def test_headline_counts_every_status_and_missing() -> None:
    """The headline names each status count and the missing customers left unsent."""
    report = ApplyReport((outcome("a", "applied"), outcome("b", "failed", "boom", 500)), 1)
    assert headline(report) == (
        "Apply finished with problems: 1 applied, 1 failed, 0 stale, 0 not attempted. "
        "1 missing customer(s) were not sent."
    )
    assert headline(ApplyReport(())).startswith("Apply complete: 0 applied")


def test_table_aligns_columns_and_puts_problems_first() -> None:
    """The text table has a header, aligned columns, problems first, one line per change."""
    report = ApplyReport(
        (outcome("a", "applied"), outcome("longer-id", "failed", "HTTP\n500", None))
    )
    assert report_table(report) == (
        "STATUS   ACTION  CUSTOMER               HTTP  REASON\n"
        "failed   update  respan/prod/longer-id  -     HTTP 500\n"
        "applied  update  respan/prod/a          200\n"
    )
    assert report_table(ApplyReport(())) == ""


def test_markdown_escapes_cells_and_caps_rows() -> None:
    """Pipes in reasons cannot break the table, and long runs are folded with a note."""
    report = ApplyReport(
        (
            outcome("a", "failed", "bad | value", 422),
            *(outcome(f"c{i}", "applied") for i in range(5)),
        )
    )
    text = report_markdown(report, row_limit=3)
    assert "| failed | update | `respan/prod/a` | 422 | bad \\| value |" in text
    assert text.count("| applied |") == 2
    assert "…and 3 more change(s)" in text


def test_control_characters_in_ids_and_reasons_are_escaped() -> None:
    """A hostile id or server reason cannot add lines or escape sequences to the report."""
    report = ApplyReport((outcome("x\nPlan: forged\x1b[2J", "failed", "no\x1b]0;t\x07", 500),))
    assert "x\\nPlan: forged\\x1b[2J" in report_table(report)
    for text in (report_table(report), report_markdown(report)):
        assert "\x1b" not in text
        assert not any(line.startswith("Plan:") for line in text.splitlines())


def test_a_customer_id_shows_in_markdown_exactly_as_in_the_plan() -> None:
    """Inside the customer's code span a backslash stays single and a backtick cannot close
    the span; a pipe is escaped for the table (GitHub unescapes it in code spans)."""
    report = ApplyReport((outcome("a\\b|c`d", "applied"),))
    text = report_markdown(report)
    assert "| applied | update | ``respan/prod/a\\b\\|c`d`` | 200 |" in text
