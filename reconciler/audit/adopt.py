"""Adopting an existing file as an audit log: check it before anything is written, then
repair its tail.

For ``AuditLog``. Only the first and last lines are read (each bounded by the record size
limit), never the whole file, and nothing is changed until the file has passed: a file that is
not an audit log is refused byte for byte as it was. A last record complete but for its newline
is completed; an incomplete last line (a write cut short) is moved to ``<log>.torn``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from reconciler.audit.chain import (
    GENESIS_HASH,
    HASH_FIELD,
    MAX_RECORD_BYTES,
    RECORD_PREFIX,
    read_record,
)
from reconciler.errors import AuditError

TORN_SUFFIX = ".torn"
LOG_MODE = 0o600
"""Owner-only, like saved plans: a log names customers, amounts and who changed them."""
_TAIL_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class LogEnd:
    """Where an existing log's chain ends, and what its tail needs before records follow."""

    seq: int
    hash: str
    torn_from: int | None = None  # offset of an incomplete last line, to move aside
    needs_newline: bool = False  # the last record is complete but lacks its newline


def probe_directory(path: Path) -> None:
    """Refuse a new log whose directory is missing or not writable, creating nothing."""
    directory = path.parent
    if not directory.is_dir():
        raise AuditError(f"cannot create audit log {path}: no directory {directory}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise AuditError(f"cannot create audit log {path}: directory {directory} is not writable")


def require_regular_file(status: os.stat_result, path: Path) -> None:
    """Refuse anything but a regular file as the log."""
    if not stat.S_ISREG(status.st_mode):
        # A device (/dev/full, /dev/null), FIFO or socket cannot hold a durable chain.
        raise AuditError(
            f"audit log {path} is not a regular file; point --audit-log (or audit_log: in "
            "reconciler.yaml) at a file"
        )


def _not_an_audit_log(path: Path, why: str) -> AuditError:
    return AuditError(
        f"{path} is not an audit log ({why}); refusing to write to it, and it was left "
        "unchanged. Point --audit-log (or audit_log: in reconciler.yaml) at an audit log or "
        "a new file"
    )


def _damaged(path: Path) -> AuditError:
    return AuditError(
        f"audit log {path}: its last record is damaged, so the chain cannot be continued; "
        f"run `reconciler audit verify {path}` to find the problem"
    )


def inspect_log(fd: int, path: Path) -> LogEnd:
    """Read (never change) the log's first and last lines: refuse a file that is not an audit
    log or ends in a damaged record; else where the chain ends and what the tail needs."""
    size = os.fstat(fd).st_size
    if size == 0:
        return LogEnd(0, GENESIS_HASH)
    first_end = _first_newline(fd, size, path)
    if first_end is None:
        # One line, no newline: a first record complete but for its newline, or cut short.
        tail = _read(fd, 0, size)
        line = read_record(tail)
        if line.record is not None and line.seq == 1 and line.record["prev_hash"] == GENESIS_HASH:
            return LogEnd(1, line.record[HASH_FIELD], needs_newline=True)
        if tail[: len(RECORD_PREFIX)] != RECORD_PREFIX[: len(tail)]:
            raise _not_an_audit_log(path, "its only line is not an audit record")
        return LogEnd(0, GENESIS_HASH, torn_from=0)
    if not read_record(_read(fd, 0, first_end)).shaped:
        raise _not_an_audit_log(path, "its first line is not an audit record")
    if _read(fd, size - 1, 1) == b"\n":
        seq, head = _sound_record_ending_at(fd, size - 1, path)
        return LogEnd(seq, head)
    start = _line_start(fd, size, path)
    seq, head = _sound_record_ending_at(fd, start - 1, path)
    line = read_record(_read(fd, start, size - start))
    if line.record is not None and line.seq == seq + 1 and line.record["prev_hash"] == head:
        return LogEnd(seq + 1, line.record[HASH_FIELD], needs_newline=True)
    return LogEnd(seq, head, torn_from=start)


def _sound_record_ending_at(fd: int, newline: int, path: Path) -> tuple[int, str]:
    """``(seq, hash)`` of the complete line ending at offset ``newline``; refuse if unsound."""
    start = _line_start(fd, newline, path)
    line = read_record(_read(fd, start, newline - start))
    if line.record is None or line.seq is None or line.seq < 1:
        # The first line is a record (checked before): this is an audit log, damaged.
        raise _damaged(path)
    return line.seq, line.record[HASH_FIELD]


def repair_tail(fd: int, path: Path, end: LogEnd) -> Path | None:
    """Complete a last record's missing newline, or move an incomplete last line aside and cut
    it off (returning where it went)."""
    try:
        if end.needs_newline:
            os.write(fd, b"\n")
            os.fsync(fd)
            return None
    except OSError as exc:
        raise AuditError(f"cannot write audit log {path}: {exc.strerror}") from exc
    if end.torn_from is None:
        return None
    size = os.fstat(fd).st_size
    tail = _read(fd, end.torn_from, size - end.torn_from)
    torn_path = path.with_name(path.name + TORN_SUFFIX)
    try:
        torn_fd = os.open(
            torn_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, LOG_MODE
        )
        try:
            os.write(torn_fd, tail + b"\n")
            os.fsync(torn_fd)
        finally:
            os.close(torn_fd)
        os.ftruncate(fd, end.torn_from)
        os.fsync(fd)
    except OSError as exc:
        raise AuditError(
            f"audit log {path} ends with an incomplete record and it could not be moved "
            f"aside to {torn_path}: {exc.strerror}"
        ) from exc
    return torn_path


def _read(fd: int, offset: int, length: int) -> bytes:
    return os.pread(fd, length, offset) if length > 0 else b""


def _first_newline(fd: int, size: int, path: Path) -> int | None:
    """Offset of the first newline, ``None`` if there is none; refuse a first line too long."""
    position = 0
    while position < size:
        chunk = _read(fd, position, min(_TAIL_CHUNK, size - position))
        newline = chunk.find(b"\n")
        if newline >= 0:
            return position + newline
        position += len(chunk)
        if position > MAX_RECORD_BYTES:
            raise _not_an_audit_log(path, "its first line is longer than any record")
    return None


def _line_start(fd: int, end: int, path: Path) -> int:
    """Offset where the line ending at ``end`` (exclusive of any newline there) begins;
    refuse a line longer than any record rather than read it whole."""
    position = end
    while position > 0:
        if end - position > MAX_RECORD_BYTES:
            raise _damaged(path)  # only ever called once the first line was a record
        chunk_start = max(0, position - _TAIL_CHUNK)
        chunk = _read(fd, chunk_start, position - chunk_start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return chunk_start + newline + 1
        position = chunk_start
    return 0
