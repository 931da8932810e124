"""Reading the audit log as an auditor: one pass that verifies the chain and filters records."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from audit_samples import write_quarter

from reconciler.audit import AuditContext, AuditLog
from reconciler.audit.chain import GENESIS_HASH, next_link
from reconciler.audit.history import Query, read_history, time_bound
from reconciler.domain import FieldKind
from reconciler.errors import AuditError
from reconciler.plan.model import Change, FieldChange


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_quarter(tmp_path / "audit.jsonl")


def selected(log: Path, **criteria: Any) -> list[tuple[int, str, str]]:
    history = read_history(log, Query(**criteria))
    return [(event.seq, event.customer_id, event.path) for event in history.events]


def test_results_stand_for_their_pending_records_and_unanswered_ones_show(log: Path) -> None:
    """Each result is one event per field, in log order; a pending record shows only while
    no result answers it; the chain is intact."""
    history = read_history(log, Query())
    assert history.chain_break is None
    assert history.verification.records == 14
    assert [event.seq for event in history.events] == [2, 4, 6, 8, 9, 11, 13, 14]
    assert [event.outcome for event in history.events][-1] == "pending"
    first = history.events[0]
    assert (first.before, first.after, first.money) == ("200.00", "250.00", True)
    assert (first.actor, first.git_commit, first.pull_request) == ("github:alice", "a" * 40, 41)
    assert history.events[1].money is False  # metadata.tier


def test_customer_filter_is_exact_and_repeatable(log: Path) -> None:
    """--customer matches whole ids only; several select their union."""
    assert [seq for seq, _, _ in selected(log, customers=frozenset({"acme-corp"}))] == [
        2,
        4,
        8,
        11,
        13,
    ]
    assert selected(log, customers=frozenset({"acme"})) == []
    both = selected(log, customers=frozenset({"globex", "initech"}))
    assert [customer for _, customer, _ in both] == ["globex", "initech", "globex"]


def test_actor_pull_request_and_outcome_filters(log: Path) -> None:
    """Each criterion narrows on its own record field; criteria combine with AND."""
    assert [seq for seq, _, _ in selected(log, actor="github:bob")] == [8, 9]
    assert [seq for seq, _, _ in selected(log, pull_request=43)] == [11, 13, 14]
    assert [seq for seq, _, _ in selected(log, outcomes=frozenset({"failed", "stale"}))] == [8, 9]
    assert [seq for seq, _, _ in selected(log, outcomes=frozenset({"pending"}))] == [14]
    assert selected(log, actor="github:alice", outcomes=frozenset({"failed"})) == []


def test_a_date_until_includes_its_whole_day(log: Path) -> None:
    """--until 2026-12-31 takes in that day's last minute; --until 2026-12-30 stops before it."""
    since = time_bound("2026-10-01", end_of_day=False)
    quarter = Query(since=since, until=time_bound("2026-12-31", end_of_day=True))
    assert [event.seq for event in read_history(log, quarter).events] == [
        2,
        4,
        6,
        8,
        9,
        11,
        13,
        14,
    ]
    early = Query(since=since, until=time_bound("2026-12-30", end_of_day=True))
    assert [event.seq for event in read_history(log, early).events] == [2, 4, 6, 8, 9]


def test_time_bounds_read_offsets_and_refuse_other_text() -> None:
    """Timestamps with an offset are converted to UTC; no offset means UTC; junk is refused."""
    assert time_bound("2026-10-01T12:00:00+02:00", end_of_day=False) == "2026-10-01T10:00:00.000Z"
    assert time_bound("2026-10-01T12:00:00", end_of_day=True) == "2026-10-01T12:00:00.000Z"
    assert time_bound("2026-10-01", end_of_day=True) == "2026-10-02T00:00:00.000Z"
    with pytest.raises(ValueError, match="Invalid isoformat"):
        time_bound("last tuesday", end_of_day=False)
    # Instants the UTC calendar has no room for are refused alike, not an OverflowError.
    for beyond, end_of_day in (("9999-12-31T23:59:59-23:59", False), ("9999-12-31", True)):
        with pytest.raises(ValueError, match="years 1 to 9999"):
            time_bound(beyond, end_of_day=end_of_day)


def test_summary_counts_the_selected_changes(log: Path) -> None:
    """Changes are results plus unanswered pending records, not records or field events."""
    summary = read_history(log, Query(customers=frozenset({"acme-corp"}))).summary
    assert (summary.changes, summary.applied, summary.failed, summary.stale) == (5, 4, 1, 0)
    assert summary.pending_without_result == 0
    everything = read_history(log, Query()).summary
    assert (everything.changes, everything.stale, everything.pending_without_result) == (8, 1, 1)


def test_a_result_outside_the_selection_still_answers_its_pending_record(log: Path) -> None:
    """--outcome pending lists only pending records that no result answers, selected or not."""
    summary = read_history(log, Query(outcomes=frozenset({"pending"}))).summary
    assert (summary.changes, summary.pending_without_result) == (1, 1)


def test_fields_are_grouped_per_customer_money_first(log: Path) -> None:
    """A customer's history lists money fields before the others, each in log order."""
    history = read_history(log, Query())
    grouped = history.fields_of(("respan", "prod", "acme-corp"))
    assert list(grouped) == ["period_budget", "metadata.tier"]
    assert [event.after for event in grouped["period_budget"]] == ["250.00", "900.00", "300.00"]
    assert ("respan", "test", "acme-corp") in history.customers()


def test_a_broken_chain_keeps_only_what_precedes_the_break(log: Path) -> None:
    """An edited record ends the report there: earlier records only, and where it broke."""
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[4])
    record["fields"][0]["after"] = "90000.00"
    lines[4] = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    log.write_text("".join(lines), encoding="utf-8")
    history = read_history(log, Query())
    assert history.chain_break is not None
    assert (history.chain_break.line, history.chain_break.found_seq) == (5, 5)
    assert "edited" in history.chain_break.reason
    assert [event.seq for event in history.events] == [2, 4]


def test_removed_middle_record_is_a_break(log: Path) -> None:
    """Deleting a record in the middle breaks the chain at the record after it."""
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    log.write_text("".join(lines[:2] + lines[3:]), encoding="utf-8")
    history = read_history(log, Query())
    assert history.chain_break is not None
    assert history.chain_break.line == 3
    assert "removed" in history.chain_break.reason
    assert [event.seq for event in history.events] == [2]


def test_a_missing_log_is_an_audit_error(tmp_path: Path) -> None:
    """A log that does not exist is a clean AuditError naming it."""
    with pytest.raises(AuditError, match="does not exist"):
        read_history(tmp_path / "nope.jsonl", Query())


def test_lines_a_filter_skips_are_still_checked(log: Path) -> None:
    """A record the filters do not select, read without parsing, still breaks the chain when
    edited: the fast path trusts nothing the hash has not vouched for."""
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    assert '"customer_id":"globex"' in lines[5]
    lines[5] = lines[5].replace('"400.00"', '"4000.00"')
    log.write_text("".join(lines), encoding="utf-8")
    history = read_history(log, Query(customers=frozenset({"initech"})))
    assert history.chain_break is not None
    assert (history.chain_break.line, history.events) == (6, ())


def test_unparsed_chain_links_agree_with_the_parsed_record(tmp_path: Path) -> None:
    """The unparsed read of a line finds the record's own seq, prev_hash and hash, even when
    its metadata holds keys named like them (the writer sorts structured values first)."""
    change = Change(
        action="update",
        provider="respan",
        environment="prod",
        id="acme",
        fields=(
            FieldChange(
                "metadata.seq",
                None,
                {"seq": 999, "hash": "f" * 64, "prev_hash": "e" * 64},
                FieldKind.METADATA,
            ),
        ),
    )
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, AuditContext("octocat")) as audit:
        pending = audit.record_pending(change)
        audit.record(change, "stale", reason='"seq":5 "hash":"x"', pending_seq=pending)
    previous = GENESIS_HASH
    for line in path.read_bytes().splitlines(keepends=True):
        record = json.loads(line)
        assert record["prev_hash"] == previous
        assert next_link(line, record["seq"], previous.encode()) == record["hash"].encode()
        assert next_link(line, record["seq"] + 1, previous.encode()) is None
        edited = line.replace(b"octocat", b"octodog")
        assert next_link(edited, record["seq"], previous.encode()) is None
        previous = record["hash"]


def test_an_amount_inside_keyed_items_counts_as_money(tmp_path: Path) -> None:
    """A spend limit's overage_limit is money in the history, as it is in plans."""
    change = Change(
        action="update",
        provider="autumn",
        environment="sandbox",
        id="acme",
        fields=(
            FieldChange(
                "billing_controls.spend_limits[messages].overage_limit",
                Decimal("50.00"),
                Decimal("60.00"),
                FieldKind.MONEY,
            ),
            FieldChange("name", "A", "B", FieldKind.TEXT),
        ),
    )
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, AuditContext("octocat")) as audit:
        audit.record(change, "applied", pending_seq=audit.record_pending(change))
    events = read_history(path, Query()).events
    assert [(event.path, event.money) for event in events] == [
        ("billing_controls.spend_limits[messages].overage_limit", True),
        ("name", False),
    ]
