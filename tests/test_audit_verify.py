"""``reconciler audit verify``: an intact chain passes; any edit, removal or reorder is named."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest

import reconciler.audit.chain
import reconciler.audit.verify
from reconciler.audit import AuditContext, AuditLog, Outcome, verify_lines, verify_log
from reconciler.cli import main
from reconciler.domain import FieldKind
from reconciler.errors import AuditError
from reconciler.plan.model import Action, Change, FieldChange

CONTEXT = AuditContext(actor="octocat", git_commit=None, pull_request=None, plan_checksum="c1")


def write_log(path: Path, count: int) -> None:
    with AuditLog.open(path, CONTEXT) as log:
        for index in range(count):
            change = Change(
                action="update",
                provider="respan",
                environment="prod",
                id=f"customer-{index}",
                fields=(
                    FieldChange("period_budget", Decimal("1.50"), Decimal(index), FieldKind.MONEY),
                ),
            )
            log.record(change, "applied", http_status=200)


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_intact_chain_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An untouched log exits 0 and reports its record count and last hash."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    result = verify_log(path)
    assert main(["audit", "verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert out == f"OK: 3 records, chain intact\nhead: {result.last_hash}\n"


def test_every_flipped_byte_is_detected(tmp_path: Path) -> None:
    """Changing any single byte anywhere in a log breaks the chain."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    original = path.read_bytes()
    assert verify_lines(io.BytesIO(original)).intact
    for position in range(len(original)):
        for mask in (0x01, 0x20, 0x80):
            edited = bytearray(original)
            edited[position] ^= mask
            assert not verify_lines(io.BytesIO(bytes(edited))).intact, (position, mask)


def test_edited_record_is_named_by_line_and_seq(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edited value fails with exit 1 naming the record's line and seq."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    lines = lines_of(path)
    lines[1] = lines[1].replace(b'"after":"1"', b'"after":"9"')
    path.write_bytes(b"".join(lines))
    assert main(["audit", "verify", str(path)]) == 1
    err = capsys.readouterr().err
    assert "line 2 (seq 2): hash mismatch: the record was edited" in err


def test_deleted_record_is_detected(tmp_path: Path) -> None:
    """Removing a record from the middle names the line where the gap shows."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 4)
    lines = lines_of(path)
    del lines[1]
    path.write_bytes(b"".join(lines))
    chain_break = verify_log(path).chain_break
    assert chain_break is not None
    assert (chain_break.line, chain_break.found_seq) == (2, 3)
    assert "removed, inserted or reordered" in chain_break.reason


def test_deleted_first_record_is_detected(tmp_path: Path) -> None:
    """Removing the first record breaks the chain at line 1."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    path.write_bytes(b"".join(lines_of(path)[1:]))
    chain_break = verify_log(path).chain_break
    assert chain_break is not None
    assert chain_break.line == 1


def test_swapped_records_are_detected(tmp_path: Path) -> None:
    """Swapping two records names the first one out of place."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 4)
    lines = lines_of(path)
    lines[1], lines[2] = lines[2], lines[1]
    path.write_bytes(b"".join(lines))
    chain_break = verify_log(path).chain_break
    assert chain_break is not None
    assert (chain_break.line, chain_break.found_seq) == (2, 3)


def test_renumbered_records_are_caught_by_prev_hash(tmp_path: Path) -> None:
    """A record moved from another log, with a matching seq, is caught by its prev_hash."""
    path = tmp_path / "audit.jsonl"
    other = tmp_path / "other.jsonl"
    write_log(path, 2)
    with AuditLog.open(other, AuditContext(actor="mallory")) as log:
        log.record(
            Change(action="delete", provider="respan", environment="prod", id="x"), "applied"
        )
        log.record(
            Change(action="delete", provider="respan", environment="prod", id="y"), "applied"
        )
    path.write_bytes(lines_of(path)[0] + lines_of(other)[1])
    chain_break = verify_log(path).chain_break
    assert chain_break is not None
    assert (chain_break.line, chain_break.found_seq) == (2, 2)
    assert "prev_hash" in chain_break.reason


def test_truncation_mid_line_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A log cut in the middle of its last line fails, naming that line as incomplete."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    assert main(["audit", "verify", str(path)]) == 1
    err = capsys.readouterr().err
    assert "line 3 (where seq 3 was expected): incomplete last line" in err
    assert "2 record(s) before it are intact" in err


def test_a_line_that_is_not_json_is_reported(tmp_path: Path) -> None:
    """A line of garbage is named as not valid JSON."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 1)
    path.write_bytes(path.read_bytes() + b"garbage\n")
    chain_break = verify_log(path).chain_break
    assert chain_break is not None
    assert (chain_break.line, chain_break.expected_seq) == (2, 2)
    assert "not valid JSON" in chain_break.reason


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"\xff\xfe\n", "not valid UTF-8"),
        (b"[1, 2]\n", "not a JSON object"),
        (b'{"seq": 1}\n', "not an audit record"),
    ],
)
def test_lines_that_are_not_records_are_reported(tmp_path: Path, line: bytes, reason: str) -> None:
    """Bytes that are not a UTF-8 JSON record object fail with a reason saying so."""
    path = tmp_path / "audit.jsonl"
    path.write_bytes(line)
    chain_break = verify_log(path).chain_break
    assert chain_break is not None
    assert reason in chain_break.reason


def test_empty_log_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty file is a valid log of zero records."""
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    assert main(["audit", "verify", str(path)]) == 0
    assert capsys.readouterr().out.startswith("OK: 0 records")


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist exits 1 with a message and no traceback."""
    path = tmp_path / "nope.jsonl"
    assert main(["audit", "verify", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"Error: audit log {path} does not exist\n"


def test_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    """A directory given as the log is an AuditError, not a crash."""
    with pytest.raises(AuditError, match="cannot read audit log"):
        verify_log(tmp_path)


# -- pending records, heads and what verify reads --------------------------------------------------


def test_a_pending_record_without_result_is_reported_and_still_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pending record no result names is listed as "result unknown: check live"; exit 0."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 1)
    change = Change(action="delete", provider="respan", environment="prod", id="old")
    with AuditLog.open(path, CONTEXT) as log:
        done = log.record_pending(change)
        log.record(change, "applied", http_status=204, pending_seq=done)
        log.record_pending(change)
    assert main(["audit", "verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == [
        "OK: 4 records, chain intact",
        "Pending: line 4 (seq 4): delete respan/prod/old was about to be sent and has no "
        "result record: result unknown: check live",
    ]


def test_a_pending_customer_id_cannot_print_a_line_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A live id with a newline or ESC in a pending record is shown escaped, so it cannot
    add a fake ``head:`` line (what scripts read the head from) or drive the terminal."""
    path = tmp_path / "audit.jsonl"
    forged = "x\nhead: " + "f" * 64 + "\x1b[2J"
    change = Change(action="delete", provider="respan", environment="prod", id=forged)
    with AuditLog.open(path, CONTEXT) as log:
        log.record_pending(change)
    assert main(["audit", "verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("head: ")] == [
        f"head: {verify_log(path).head}"
    ]
    assert "\x1b" not in out
    assert "delete respan/prod/x\\nhead: " in out


def test_a_rehashed_record_of_odd_shape_is_verified_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record rewritten with its hashes recomputed and a list as its outcome is judged
    like any other record: the chain is sound, exit 0, no traceback."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    first, second = (json.loads(line) for line in lines_of(path))
    second["outcome"] = []
    second["prev_hash"] = first["hash"]
    del second["hash"]
    second["hash"] = reconciler.audit.chain.record_hash(second)
    path.write_text(
        "".join(reconciler.audit.chain.canonical_json(r) + "\n" for r in (first, second)),
        encoding="utf-8",
    )
    assert main(["audit", "verify", str(path)]) == 0
    assert capsys.readouterr().out.startswith("OK: 2 records, chain intact\n")


def test_expect_head_passes_only_where_the_chain_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--expect-head exits 0 at the head, 1 when records were cut off or added after it."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    head = verify_log(path).head
    assert main(["audit", "verify", str(path), "--expect-head", head.upper()]) == 0
    assert capsys.readouterr().out.endswith(f"head: {head}\n")

    lines = lines_of(path)
    path.write_bytes(b"".join(lines[:2]))  # the last record cut off at a line boundary
    assert verify_log(path).intact
    assert main(["audit", "verify", str(path), "--expect-head", head]) == 1
    err = capsys.readouterr().err
    assert f"not at the expected head {head}, which is nowhere in it" in err
    assert "records were cut off its end" in err

    path.write_bytes(b"".join(lines))
    older = verify_lines(lines[:1]).head
    assert main(["audit", "verify", str(path), "--expect-head", older]) == 1
    assert "found at seq 1: 2 record(s) were added after it" in capsys.readouterr().err


def test_expect_head_on_an_emptied_log_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Emptying a log is caught too; an empty log matches only the genesis hash."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 1)
    head = verify_log(path).head
    path.write_bytes(b"")
    assert main(["audit", "verify", str(path), "--expect-head", head]) == 1
    assert main(["audit", "verify", str(path), "--expect-head", "0" * 64]) == 0


def test_a_malformed_expected_head_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--expect-head takes 64 hex digits; anything else exits 1 before reading the log."""
    assert main(["audit", "verify", str(tmp_path / "x"), "--expect-head", "abc"]) == 1
    assert "64 hex digits" in capsys.readouterr().err


def test_without_file_the_log_of_reconciler_yaml_is_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no FILE, verify reads audit_log: of reconciler.yaml in the working directory."""
    (tmp_path / "logs").mkdir()
    write_log(tmp_path / "logs" / "budgets.jsonl", 2)
    (tmp_path / "reconciler.yaml").write_text("audit_log: logs/budgets.jsonl\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("OK: 2 records")
    (tmp_path / "reconciler.yaml").write_text("audit_log: null\n", encoding="utf-8")
    assert main(["audit", "verify"]) == 1
    assert "the audit log is off" in capsys.readouterr().err


def test_a_last_record_without_its_newline_is_intact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A complete last record that only lacks its newline verifies, with a note."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    path.write_bytes(path.read_bytes()[:-1])
    assert main(["audit", "verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert "OK: 2 records, chain intact" in out
    assert "no trailing newline; the next apply adds it" in out


def test_a_deeply_nested_line_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A line nested past the parser's depth is "not valid JSON", exit 1, no traceback."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 1)
    path.write_bytes(path.read_bytes() + b"[" * 100_000 + b"]" * 100_000 + b"\n")
    assert main(["audit", "verify", str(path)]) == 1
    err = capsys.readouterr().err
    assert "line 2 (where seq 2 was expected): not valid JSON" in err
    assert "Traceback" not in err


def test_a_line_longer_than_any_record_is_not_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A huge line is refused after reading at most the record size limit of it."""
    for module in (reconciler.audit.chain, reconciler.audit.verify):
        monkeypatch.setattr(module, "MAX_RECORD_BYTES", 4096)
    path = tmp_path / "audit.jsonl"
    write_log(path, 1)
    path.write_bytes(path.read_bytes() + b"x" * 100_000)
    chain_break = verify_log(path).chain_break
    assert chain_break is not None
    assert (chain_break.line, chain_break.reason) == (
        2,
        "longer than 4096 bytes: not an audit record",
    )


def _other(customer: str = "old", action: Action = "delete") -> Change:
    return Change(action=action, provider="respan", environment="prod", id=customer)


# A record to write: its outcome ("pending" for a write-ahead record), the change, and for a
# result the seq of the pending record it answers.
Step = tuple[Outcome | Literal["pending"], Change, int | None]


def _write_ahead(path: Path, *steps: Step) -> None:
    """Append ``("pending", change, None)`` or ``(outcome, change, pending_seq)`` records."""
    with AuditLog.open(path, CONTEXT) as log:
        for outcome, change, pending_seq in steps:
            if outcome == "pending":
                log.record_pending(change)
            else:
                log.record(change, outcome, http_status=204, pending_seq=pending_seq)


@pytest.mark.parametrize(
    ("steps", "line", "reason"),
    [
        ([("pending", _other(), None), ("applied", _other(), 9)], 2, "names no pending record"),
        ([("applied", _other(), None), ("applied", _other(), 1)], 2, "names no pending record"),
        (
            [("pending", _other("a"), None), ("applied", _other("b"), 1)],
            2,
            "is the write-ahead record of another change",
        ),
        (
            [("pending", _other(), None), ("applied", _other(), 1), ("failed", _other(), 1)],
            3,
            "already has its result",
        ),
        (
            [("pending", _other(), None), ("applied", _other(), 1), ("applied", _other(), None)],
            3,
            "names no write-ahead record",
        ),
    ],
)
def test_a_result_that_does_not_answer_its_own_pending_record_fails(
    tmp_path: Path, steps: list[Step], line: int, reason: str
) -> None:
    """A result whose pending_seq is unknown, taken, another change's, or missing once the log
    keeps write-ahead records breaks verification: a write may have escaped the log."""
    path = tmp_path / "audit.jsonl"
    _write_ahead(path, *steps)
    result = verify_log(path)
    assert result.chain_break is not None
    assert result.chain_break.line == line
    assert reason in result.chain_break.reason


def test_results_before_the_first_write_ahead_record_and_stale_ones_need_none(
    tmp_path: Path,
) -> None:
    """Logs written before write-ahead records, and stale refusals (nothing sent), verify."""
    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    _write_ahead(
        path,
        ("pending", _other(), None),
        ("applied", _other(), 3),
        ("stale", _other("late"), None),
    )
    result = verify_log(path)
    assert result.intact, result.chain_break
    assert result.unresolved == ()
