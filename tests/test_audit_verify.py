"""``reconciler audit verify``: an intact chain passes; any edit, removal or reorder is named."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.audit import AuditContext, AuditLog, verify_lines, verify_log
from reconciler.cli import main
from reconciler.domain import FieldKind
from reconciler.errors import AuditError
from reconciler.plan import Change, FieldChange

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
    assert out == f"OK: 3 records, chain intact (last hash {result.last_hash})\n"


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
