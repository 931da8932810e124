"""The audit log writer: records, chain continuity, locking, torn-tail repair, thread safety."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cli_helpers import load_schema
from cli_helpers import records as read_records

import reconciler.audit.adopt
import reconciler.audit.chain
from reconciler.audit import GENESIS_HASH, AuditContext, AuditLog, Drift, record_hash, verify_log
from reconciler.domain import UNKNOWN, FieldKind
from reconciler.errors import AuditError
from reconciler.plan.model import Change, FieldChange

SCHEMA = load_schema("audit.schema.json")
CONTEXT = AuditContext(
    actor="octocat", git_commit="a" * 40, pull_request=7, plan_checksum="sha256:" + "b" * 64
)


def fixed_clock() -> datetime:
    return datetime(2026, 11, 1, 12, 30, 0, 123456, tzinfo=UTC)


def update(customer_id: str = "acme", before: Any = Decimal("250.00")) -> Change:
    return Change(
        action="update",
        provider="respan",
        environment="prod",
        id=customer_id,
        fields=(
            FieldChange("period_budget", before, Decimal("300.50"), FieldKind.MONEY),
            FieldChange("metadata.tier", UNKNOWN, "gold", FieldKind.METADATA),
        ),
        before={"period_budget": before, "metadata": {"keep": "k"}},
    )


def metadata_update(customer_id: str, path: str, before: Any, after: Any) -> Change:
    return Change(
        action="update",
        provider="respan",
        environment="prod",
        id=customer_id,
        fields=(FieldChange(path, before, after, FieldKind.METADATA),),
        before={"metadata": {}},
    )


def test_records_carry_the_body_sent_and_stale_records_none(tmp_path: Path) -> None:
    """The pending and result records hold the body derived from fields and before; a stale
    (unsent) change has none."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT, clock=fixed_clock) as log:
        seq = log.record_pending(update())
        log.record(update(), "applied", http_status=200, pending_seq=seq)
        log.record(update("beta"), "stale", reason="moved")
    pending, sent, refused = read_records(path)
    body = {"period_budget": "300.50", "metadata": {"keep": "k", "tier": "gold"}}
    assert pending["body"] == sent["body"] == body
    assert "body" not in refused
    for record in (pending, sent, refused):
        jsonschema.validate(record, SCHEMA)


def test_record_has_every_field_and_matches_schema(tmp_path: Path) -> None:
    """A record carries provenance, change, outcome and chain fields, valid against the schema."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT, clock=fixed_clock) as log:
        log.record(update(), "applied", http_status=200)
    (record,) = read_records(path)
    jsonschema.validate(record, SCHEMA)
    assert record["time"] == "2026-11-01T12:30:00.123Z"
    assert record["actor"] == "octocat"
    assert record["git_commit"] == "a" * 40
    assert record["pull_request"] == 7
    assert record["plan_checksum"] == "sha256:" + "b" * 64
    assert (record["provider"], record["environment"], record["customer_id"]) == (
        "respan",
        "prod",
        "acme",
    )
    assert record["action"] == "update"
    assert record["outcome"] == "applied"
    assert record["reason"] is None
    assert record["http_status"] == 200
    assert record["seq"] == 1
    assert record["prev_hash"] == GENESIS_HASH
    assert record["hash"] == record_hash(record)


def test_money_is_a_lossless_string_and_unknown_is_marked(tmp_path: Path) -> None:
    """Decimals keep their cents as strings; a value the API did not return is not null."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update(before=Decimal("250.10")), "applied", http_status=200)
    (record,) = read_records(path)
    assert record["fields"] == [
        {"path": "period_budget", "before": "250.10", "after": "300.50"},
        {"path": "metadata.tier", "before": {"unknown": True}, "after": "gold"},
    ]


def test_stale_record_names_the_drifted_field(tmp_path: Path) -> None:
    """A stale record carries a reason and the field that moved with both values."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(
            update(),
            "stale",
            reason="period_budget moved",
            drift=[Drift("period_budget", Decimal("250.00"), Decimal("999.00"))],
        )
    (record,) = read_records(path)
    jsonschema.validate(record, SCHEMA)
    assert record["outcome"] == "stale"
    assert record["reason"] == "period_budget moved"
    assert record["drift"] == [{"path": "period_budget", "planned": "250.00", "live": "999.00"}]


def test_each_record_is_one_complete_line_chained_to_the_previous(tmp_path: Path) -> None:
    """Records follow each other by seq and prev_hash, each line ending in a newline."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        for index in range(3):
            log.record(update(f"c{index}"), "applied", http_status=200)
    assert path.read_bytes().endswith(b"\n")
    records = read_records(path)
    assert [record["seq"] for record in records] == [1, 2, 3]
    assert records[1]["prev_hash"] == records[0]["hash"]
    assert records[2]["prev_hash"] == records[1]["hash"]


def test_a_new_run_continues_the_existing_chain(tmp_path: Path) -> None:
    """Reopening the log continues seq and prev_hash from its last record."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update("a"), "applied", http_status=200)
        first_hash = log.last_hash
    with AuditLog.open(path, CONTEXT) as log:
        assert (log.last_seq, log.last_hash) == (1, first_hash)
        log.record(update("b"), "failed", reason="boom", http_status=500)
    records = read_records(path)
    assert records[1]["seq"] == 2
    assert records[1]["prev_hash"] == first_hash
    assert verify_log(path).intact


def test_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    """Two runs never interleave: opening a log another run holds fails with an AuditError."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT), pytest.raises(AuditError, match="in use by another apply"):
        AuditLog.open(path, CONTEXT)
    with AuditLog.open(path, CONTEXT) as log:  # released on close
        assert log.last_seq == 0


def test_torn_tail_is_moved_aside_and_the_chain_continues(tmp_path: Path) -> None:
    """An incomplete last line is saved to .torn, cut off, and the next record chains on."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update("a"), "applied", http_status=200)
        good_hash = log.last_hash
    with path.open("ab") as handle:
        handle.write(b'{"action":"update","customer_id":"b","fie')
    assert not verify_log(path).intact
    with AuditLog.open(path, CONTEXT) as log:
        assert log.recovered_tail == tmp_path / "audit.jsonl.torn"
        assert (log.last_seq, log.last_hash) == (1, good_hash)
        log.record(update("c"), "applied", http_status=200)
    assert (tmp_path / "audit.jsonl.torn").read_bytes() == (
        b'{"action":"update","customer_id":"b","fie\n'
    )
    result = verify_log(path)
    assert (result.intact, result.records) == (True, 2)


def test_a_torn_first_line_leaves_an_empty_chain(tmp_path: Path) -> None:
    """A log whose only line is torn restarts the chain from the genesis hash."""
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"action":"update","actor":"octocat","cust')
    with AuditLog.open(path, CONTEXT) as log:
        assert (log.last_seq, log.last_hash, log.recovered_tail is not None) == (
            0,
            GENESIS_HASH,
            True,
        )
        log.record(update(), "applied", http_status=200)
    assert verify_log(path).records == 1


def test_an_intact_log_reports_no_recovery(tmp_path: Path) -> None:
    """Opening a clean log moves nothing aside."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update(), "applied", http_status=200)
    with AuditLog.open(path, CONTEXT) as log:
        assert log.recovered_tail is None
    assert not (tmp_path / "audit.jsonl.torn").exists()


def test_a_damaged_last_record_is_not_built_upon(tmp_path: Path) -> None:
    """A last record that does not hash to itself stops the writer with a pointer to verify."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update(), "applied", http_status=200)
    path.write_text(path.read_text(encoding="utf-8").replace("300.50", "900.50"), encoding="utf-8")
    with pytest.raises(AuditError, match="reconciler audit verify"):
        AuditLog.open(path, CONTEXT)


def test_a_last_line_that_is_not_json_is_not_built_upon(tmp_path: Path) -> None:
    """A complete but unparsable last line after records stops the writer."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update(), "applied", http_status=200)
    path.write_bytes(path.read_bytes() + b"not json\n")
    with pytest.raises(AuditError, match="last record is damaged"):
        AuditLog.open(path, CONTEXT)


def test_long_records_chain_across_read_chunks(tmp_path: Path) -> None:
    """A last record longer than the tail-read chunk is still found whole."""
    path = tmp_path / "audit.jsonl"
    big = metadata_update("big", "metadata.note", None, "x" * 200_000)
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update(), "applied", http_status=200)
        log.record(big, "applied", http_status=200)
        last = log.last_hash
    with AuditLog.open(path, CONTEXT) as log:
        assert (log.last_seq, log.last_hash) == (2, last)


def test_concurrent_records_form_one_chain(tmp_path: Path) -> None:
    """Records written from many threads at once form one unbroken chain with no lost lines."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:

        def write(worker: int) -> None:
            for index in range(25):
                log.record(update(f"w{worker}-{index}"), "applied", http_status=200)

        threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    result = verify_log(path)
    assert (result.intact, result.records) == (True, 200)
    ids = {record["customer_id"] for record in read_records(path)}
    assert len(ids) == 200


def test_writes_after_close_are_refused(tmp_path: Path) -> None:
    """A closed log refuses records instead of writing to a reused descriptor."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, CONTEXT)
    log.close()
    log.close()
    with pytest.raises(AuditError, match="closed"):
        log.record(update(), "applied")


def test_unopenable_path_is_a_clear_audit_error(tmp_path: Path) -> None:
    """A log in a directory that does not exist fails with an AuditError naming it."""
    path = tmp_path / "missing" / "audit.jsonl"
    with pytest.raises(AuditError, match="cannot open audit log"):
        AuditLog.open(path, CONTEXT)


def test_values_are_encoded_like_the_json_plan_but_decimals_as_text(tmp_path: Path) -> None:
    """A real mapping shaped like the unknown marker is escaped as in the JSON plan."""
    path = tmp_path / "audit.jsonl"
    marker_like = metadata_update("acme", "metadata", {"unknown": True}, {"n": Decimal("1.50")})
    with AuditLog.open(path, CONTEXT) as log:
        log.record(marker_like, "applied", http_status=200)
    (record,) = read_records(path)
    assert record["fields"] == [
        {"path": "metadata", "before": {"$literal": {"unknown": True}}, "after": {"n": "1.50"}}
    ]


# -- write-ahead records ---------------------------------------------------------------------------


def test_a_pending_record_precedes_the_result_that_names_it(tmp_path: Path) -> None:
    """record_pending writes an outcome "pending" record; the result links to it by seq."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT, clock=fixed_clock) as log:
        pending_seq = log.record_pending(update())
        log.record(update(), "applied", http_status=200, pending_seq=pending_seq)
    pending, result = read_records(path)
    for record in (pending, result):
        jsonschema.validate(record, SCHEMA)
    assert (pending["seq"], pending["outcome"], pending["http_status"]) == (1, "pending", None)
    assert pending["fields"] == result["fields"]
    assert (result["seq"], result["outcome"], result["pending_seq"]) == (2, "applied", 1)
    assert "pending_seq" not in pending
    assert verify_log(path).unresolved == ()


def test_a_record_that_cannot_be_written_refuses_every_later_one(tmp_path: Path) -> None:
    """After a failed write (file size limit, as on a full disk) every later record is refused."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update(), "applied", http_status=200)
    limit = path.stat().st_size + 100  # room for part of one more line, not all of it
    script = f"""
import resource, sys
sys.path[:0] = {sys.path!r}
from reconciler.audit import AuditContext, AuditLog
from reconciler.errors import AuditError
from reconciler.plan.model import Change
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
change = Change(action="delete", provider="respan", environment="prod", id="gone")
with AuditLog.open({str(path)!r}, AuditContext(actor="ci")) as log:
    for attempt in range(2):
        try:
            log.record_pending(change)
        except AuditError as exc:
            print(exc)
    print(log.records_written)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    first, second, written = result.stdout.splitlines()
    assert first.startswith(f"cannot write audit log {path}: short write")
    assert second == first  # refused at once: nothing is appended after a torn line
    assert written == "0"
    assert not verify_log(path).intact  # the torn part is on disk, and the next run repairs it
    with AuditLog.open(path, CONTEXT) as log:
        assert (log.recovered_tail, log.last_seq) == (tmp_path / "audit.jsonl.torn", 1)


# -- what is adopted, and how ----------------------------------------------------------------------


def test_a_complete_last_record_without_its_newline_is_kept(tmp_path: Path) -> None:
    """A last record that only lacks its newline is completed, not moved aside or renumbered."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update("a"), "applied", http_status=200)
        log.record(update("b"), "applied", http_status=200)
        head = log.last_hash
    original = path.read_bytes()
    path.write_bytes(original[:-1])
    with AuditLog.open(path, CONTEXT) as log:
        assert (log.recovered_tail, log.last_seq, log.last_hash) == (None, 2, head)
        assert path.read_bytes() == original
        log.record(update("c"), "applied", http_status=200)
    assert not (tmp_path / "audit.jsonl.torn").exists()
    assert [record["customer_id"] for record in read_records(path)] == ["a", "b", "c"]
    assert verify_log(path).records == 3


def test_an_only_record_without_its_newline_is_kept(tmp_path: Path) -> None:
    """The same holds for a log of one record: seq 1 is kept and the next record is seq 2."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update("a"), "applied", http_status=200)
    path.write_bytes(path.read_bytes()[:-1])
    with AuditLog.open(path, CONTEXT) as log:
        assert (log.recovered_tail, log.last_seq) == (None, 1)
        log.record(update("b"), "applied", http_status=200)
    assert verify_log(path).records == 2


NOT_AUDIT_LOGS = {
    "text without a final newline": b"first line\nlast line, no newline",
    "yaml": b"audit_log: x.jsonl\npolicy:\n  max_deletes: 0\n",
    "other json lines": b'{"a": 1}\n{"b": 2}\n',
    "json object without newline": b'{"seq": 1, "note": "x"}',
    "binary": bytes(range(256)),
    "deeply nested json": b"[" * 100_000 + b"]" * 100_000 + b"\n",
}


@pytest.mark.parametrize("content", NOT_AUDIT_LOGS.values(), ids=NOT_AUDIT_LOGS.keys())
def test_a_file_that_is_not_an_audit_log_is_refused_untouched(
    tmp_path: Path, content: bytes
) -> None:
    """Any other file is refused before anything is written, cut or moved aside."""
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    for attempt in (AuditLog.probe, lambda p: AuditLog.open(p, CONTEXT)):
        with pytest.raises(AuditError, match=r"is not an audit log .* left unchanged"):
            attempt(path)
    assert path.read_bytes() == content
    assert sorted(tmp_path.iterdir()) == [path]


def test_a_deeply_nested_last_record_is_a_clean_refusal(tmp_path: Path) -> None:
    """A last line nested past the JSON parser's depth is "damaged", not a RecursionError."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update(), "applied", http_status=200)
    path.write_bytes(path.read_bytes() + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"\n")
    with pytest.raises(AuditError, match="last record is damaged"):
        AuditLog.open(path, CONTEXT)


def test_a_last_line_longer_than_any_record_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A last line over the record size limit is refused without being read whole."""
    for module in (reconciler.audit.chain, reconciler.audit.adopt):
        monkeypatch.setattr(module, "MAX_RECORD_BYTES", 4096)
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update(), "applied", http_status=200)
    path.write_bytes(path.read_bytes() + b"x" * 10_000 + b"\n")
    with pytest.raises(AuditError, match="last record is damaged"):
        AuditLog.open(path, CONTEXT)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_device_is_refused_before_any_record() -> None:
    """/dev/full (or any non-regular file) is refused when probed and when opened."""
    with pytest.raises(AuditError, match="not a regular file"):
        AuditLog.probe("/dev/full")
    with pytest.raises(AuditError, match="not a regular file"):
        AuditLog.open("/dev/full", CONTEXT)


def test_a_new_log_and_its_torn_file_are_owner_only(tmp_path: Path) -> None:
    """The log is created 0600, like saved plans; so is the file a torn tail is moved to."""
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, CONTEXT) as log:
        log.record(update(), "applied", http_status=200)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with path.open("ab") as handle:
        handle.write(b'{"action":"upd')
    with AuditLog.open(path, CONTEXT) as log:
        assert log.recovered_tail is not None
        assert stat.S_IMODE(log.recovered_tail.stat().st_mode) == 0o600


def test_probe_creates_nothing_and_names_a_missing_directory(tmp_path: Path) -> None:
    """probe accepts a new file in a writable directory without creating it."""
    AuditLog.probe(tmp_path / "new.jsonl")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(AuditError, match="no directory"):
        AuditLog.probe(tmp_path / "missing" / "audit.jsonl")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_a_read_only_directory_is_refused_before_any_record(tmp_path: Path) -> None:
    """A log that cannot be created (read-only directory) is refused by probe and by open."""
    directory = tmp_path / "locked"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        with pytest.raises(AuditError, match="is not writable"):
            AuditLog.probe(directory / "audit.jsonl")
        with pytest.raises(AuditError, match="cannot open audit log"):
            AuditLog.open(directory / "audit.jsonl", CONTEXT)
    finally:
        directory.chmod(0o755)
