"""Check an audit log's hash chain and name the first record that breaks it.

For ``reconciler audit verify``, for readers of the log (``audit show``) and for anyone holding
a copy of a log. A record fails when it is not valid JSON, was edited (its hash, or the
canonical form the writer produces, no longer matches), or sits where it does not belong (its
``seq`` or ``prev_hash`` does not follow the record before it: something was removed, inserted
or reordered). An incomplete last line (a write cut short) is reported too; a last record that
is complete and only lacks its newline is not. No line is read longer than a record can be.

What a chain cannot show by itself: records cut off the *end* of the log at a line boundary.
``expect_head`` closes that gap: give the head (last ``hash``) kept elsewhere after the previous
apply, and a log that does not end exactly there fails.

Write-ahead records (``outcome: "pending"``) that no result record names by ``pending_seq`` are
listed in ``unresolved``: their request may or may not have reached the API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from reconciler.audit.chain import GENESIS_HASH, HASH_FIELD, MAX_RECORD_BYTES, read_record
from reconciler.errors import AuditError


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place the chain breaks: 1-based line, the seq expected there, and why."""

    line: int
    expected_seq: int
    found_seq: int | None
    reason: str

    def __str__(self) -> str:
        if self.found_seq is None:
            where = f"line {self.line} (where seq {self.expected_seq} was expected)"
        else:
            where = f"line {self.line} (seq {self.found_seq})"
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A write-ahead record with no result after it: the change's outcome is unknown."""

    line: int
    seq: int
    action: str
    customer: str  # provider/environment/id

    def __str__(self) -> str:
        return (
            f"line {self.line} (seq {self.seq}): {self.action} {self.customer} was about to be "
            "sent and has no result record: result unknown: check live"
        )


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome: how many records are intact, the head (last good hash), the break if any,
    pending records without a result, and where an expected head was found in the chain."""

    records: int
    last_hash: str
    chain_break: ChainBreak | None = None
    unresolved: tuple[PendingChange, ...] = ()
    missing_newline: bool = False
    expected_head_seq: int | None = None

    @property
    def intact(self) -> bool:
        return self.chain_break is None

    @property
    def head(self) -> str:
        """The last record's hash (64 zeros for an empty log)."""
        return self.last_hash


def verify_log(path: Path | str, *, expect_head: str | None = None) -> Verification:
    """Read ``path`` line by line and verify the chain; raise ``AuditError`` if unreadable.

    With ``expect_head``, ``expected_head_seq`` tells where that hash sits in the chain (0 for
    the genesis hash, ``None`` if nowhere).
    """
    with open_log(path) as lines:
        return verify_lines(lines, expect_head=expect_head)


@contextlib.contextmanager
def open_log(path: Path | str) -> Iterator[Iterable[bytes]]:
    """The log's raw lines, read lazily and none longer than a record may be (a longer one
    comes cut, and fails); a missing or unreadable file is an ``AuditError``."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError as exc:
        raise AuditError(f"audit log {path} does not exist") from exc
    except OSError as exc:
        raise AuditError(f"cannot read audit log {path}: {exc.strerror}") from exc
    with handle:
        try:
            yield _bounded_lines(handle)
        except OSError as exc:
            raise AuditError(f"cannot read audit log {path}: {exc.strerror}") from exc


def verify_lines(lines: Iterable[bytes], *, expect_head: str | None = None) -> Verification:
    """Verify a log given as its raw lines, each with its ``\\n`` (an open binary file will do)."""
    previous_hash = GENESIS_HASH
    records = 0
    pending: dict[int, PendingChange] = {}
    missing_newline = False
    expected_at = 0 if expect_head == GENESIS_HASH else None
    for line_number, raw in enumerate(lines, start=1):
        checked = check_line(raw, line_number, previous_hash)
        if isinstance(checked, ChainBreak):
            return Verification(records, previous_hash, checked, tuple(pending.values()))
        record, previous_hash = checked
        records += 1
        missing_newline = not raw.endswith(b"\n")
        if previous_hash == expect_head:
            expected_at = records
        _track_pending(record, line_number, pending)
    return Verification(
        records,
        previous_hash,
        unresolved=tuple(pending.values()),
        missing_newline=missing_newline,
        expected_head_seq=expected_at,
    )


def check_line(
    raw: bytes, line_number: int, previous_hash: str
) -> ChainBreak | tuple[dict[str, Any], str]:
    """Line ``line_number`` (1-based, seq ``line_number`` expected) as ``(record, its hash)``
    when it continues a chain ending at ``previous_hash``, else where and why it breaks."""
    found = _check_line(raw, line_number, previous_hash)
    if isinstance(found, tuple) and isinstance(found[0], dict):
        return found
    seq, reason = found
    return ChainBreak(line_number, line_number, seq, reason)


def _bounded_lines(handle: IO[bytes]) -> Iterator[bytes]:
    while line := handle.readline(MAX_RECORD_BYTES + 2):
        yield line


def _track_pending(
    record: dict[str, Any], line_number: int, pending: dict[int, PendingChange]
) -> None:
    resolves = record.get("pending_seq")
    if isinstance(resolves, int):
        pending.pop(resolves, None)
    if record.get("outcome") == "pending":
        seq: int = record["seq"]  # read_record checked it is an int
        keys = ("provider", "environment", "customer_id")
        customer = "/".join(str(record.get(key)) for key in keys)
        pending[seq] = PendingChange(line_number, seq, str(record.get("action")), customer)


def _check_line(
    raw: bytes, expected_seq: int, previous_hash: str
) -> tuple[dict[str, Any], str] | tuple[int | None, str]:
    """``(record, its hash)`` when it is sound, else ``(its seq if readable, reason)``."""
    body = raw[:-1] if raw.endswith(b"\n") else raw
    line = read_record(body)
    if line.record is None:
        cut_short = not raw.endswith(b"\n") and len(raw) <= MAX_RECORD_BYTES
        if cut_short and not line.shaped:
            return None, (
                "incomplete last line (no trailing newline): a write was cut short; the next "
                "apply moves it aside and continues from the last complete record"
            )
        return line.seq, line.problem
    if line.seq != expected_seq:
        return line.seq, (
            f"seq {line.seq} where {expected_seq} was expected: "
            "records were removed, inserted or reordered"
        )
    if line.record["prev_hash"] != previous_hash:
        return line.seq, (
            "prev_hash does not match the previous record's hash: "
            "records were removed, inserted or reordered"
        )
    return line.record, line.record[HASH_FIELD]
