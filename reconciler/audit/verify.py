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
listed in ``unresolved``: their request may or may not have reached the API. A result that does
not answer its own write-ahead record breaks verification like an edit does, since a write may
then have escaped the log: its ``pending_seq`` names no pending record, one that already has its
result, or one of another change; or, once the log keeps write-ahead records, an ``applied`` or
``failed`` result names none (``stale`` refusals sent nothing and need none; results written
before the first write-ahead record, by versions that wrote none, need none either).
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
    write_ahead = _WriteAhead()
    missing_newline = False
    expected_at = 0 if expect_head == GENESIS_HASH else None
    for line_number, raw in enumerate(lines, start=1):
        checked = check_line(raw, line_number, previous_hash)
        if not isinstance(checked, ChainBreak):
            problem = write_ahead.track(checked[0], line_number)
            if problem is not None:
                checked = ChainBreak(line_number, line_number, line_number, problem)
        if isinstance(checked, ChainBreak):
            return Verification(records, previous_hash, checked, write_ahead.unresolved())
        _, previous_hash = checked
        records += 1
        missing_newline = not raw.endswith(b"\n")
        if previous_hash == expect_head:
            expected_at = records
    return Verification(
        records,
        previous_hash,
        unresolved=write_ahead.unresolved(),
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


_SENT_OUTCOMES = frozenset({"applied", "failed"})
# What a pending record and its result share: both are written from the same change.
_CHANGE_KEYS = ("provider", "environment", "customer_id", "action", "fields", "body")


class _WriteAhead:
    """Pending records and the results answering them, followed through the log."""

    def __init__(self) -> None:
        self.open: dict[int, tuple[PendingChange, tuple[Any, ...]]] = {}
        self.answered: set[int] = set()

    def unresolved(self) -> tuple[PendingChange, ...]:
        return tuple(pending for pending, _ in self.open.values())

    def track(self, record: dict[str, Any], line_number: int) -> str | None:
        """Follow ``record``; the reason it breaks the write-ahead rule, if it does."""
        change = tuple(record.get(key) for key in _CHANGE_KEYS)
        outcome = record.get("outcome")
        if outcome == "pending":
            seq: int = record["seq"]  # read_record checked it is an int
            customer = "/".join(str(part) for part in change[:3])
            self.open[seq] = (PendingChange(line_number, seq, str(change[3]), customer), change)
            return None
        names = record.get("pending_seq")
        if names is not None and (not isinstance(names, int) or isinstance(names, bool)):
            return f"pending_seq {names!r} is not a record number"
        if names is None:
            # ``outcome`` is whatever the line holds: a forged log may put a list there.
            sent = isinstance(outcome, str) and outcome in _SENT_OUTCOMES
            if sent and (self.open or self.answered):
                return (
                    f"this {outcome} result names no write-ahead record (pending_seq), though "
                    "the log keeps them: the request may have been sent unrecorded"
                )
            return None
        if names in self.answered:
            return f"pending_seq {names} already has its result: a second result for one request"
        if names not in self.open:
            return f"pending_seq {names} names no pending record before this one"
        if self.open[names][1] != change:
            return (
                f"pending_seq {names} is the write-ahead record of another change: what was "
                "sent is not what this result records"
            )
        del self.open[names]
        self.answered.add(names)
        return None


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
