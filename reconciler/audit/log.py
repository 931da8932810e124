"""The audit log writer: one hash-chained JSON line per attempted change, durable as it happens.

For the applier. Guarantees, and how:

* **No interleaving.** The file is held with an exclusive ``flock`` for the whole run; a second
  run on the same file is refused at once with an ``AuditError`` (like Terraform's state lock)
  rather than left waiting behind an apply that may take minutes. The lock dies with its
  process, so a killed run never leaves the file locked.
* **No torn lines.** Each record is one ``os.write`` of the full line on an ``O_APPEND`` fd,
  followed by ``fsync``. If a crash still cut a line short (power loss mid-write), the next run
  moves the incomplete tail aside to ``<log>.torn`` and continues the chain from the last
  complete record; ``recovered_tail`` tells the caller so it can warn.
* **Thread safety.** The applier records from worker threads; one lock orders seq and hash.
* **A continuing chain.** A new run reads the last record's ``seq`` and ``hash`` and refuses to
  build on a last record that does not hash to itself.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from reconciler.audit.chain import (
    GENESIS_HASH,
    HASH_FIELD,
    canonical_json,
    encode_value,
    record_hash,
)
from reconciler.audit.context import AuditContext
from reconciler.errors import AuditError
from reconciler.plan import Change

Outcome = Literal["applied", "failed", "stale"]
OUTCOMES: tuple[Outcome, ...] = ("applied", "failed", "stale")
TORN_SUFFIX = ".torn"
_TAIL_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Drift:
    """A field that moved since a saved plan was made: what the plan saw and what is live now."""

    path: str
    planned: Any
    live: Any


def utc_now() -> datetime:
    """The default clock: aware UTC now."""
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z``, to the millisecond."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    """An open, exclusively locked audit log; use ``AuditLog.open(...)`` as a context manager."""

    def __init__(
        self,
        path: Path,
        fd: int,
        context: AuditContext,
        *,
        last_seq: int,
        last_hash: str,
        recovered_tail: Path | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.path = path
        self.context = context
        self.recovered_tail = recovered_tail
        self.records_written = 0
        self._fd: int | None = fd
        self._seq = last_seq
        self._hash = last_hash
        self._clock = clock
        self._lock = threading.Lock()
        self._broken: str | None = None

    @classmethod
    def open(
        cls,
        path: Path | str,
        context: AuditContext,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> Self:
        """Open (creating if needed) and lock ``path``, repair a torn tail, find the chain end."""
        path = Path(path)
        created = not path.exists()
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise AuditError(f"cannot open audit log {path}: {exc.strerror}") from exc
        try:
            _lock(fd, path)
            if created:
                _fsync_directory(path.parent)
            recovered = _recover_torn_tail(fd, path)
            last_seq, last_hash = _chain_end(fd, path)
        except BaseException:
            os.close(fd)
            raise
        return cls(
            path,
            fd,
            context,
            last_seq=last_seq,
            last_hash=last_hash,
            recovered_tail=recovered,
            clock=clock,
        )

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def last_hash(self) -> str:
        return self._hash

    def record(
        self,
        change: Change,
        outcome: Outcome,
        *,
        reason: str = "",
        http_status: int | None = None,
        drift: Iterable[Drift] = (),
    ) -> dict[str, Any]:
        """Append and fsync one record for ``change``; return it as written."""
        drift_items = [
            {"path": d.path, "planned": encode_value(d.planned), "live": encode_value(d.live)}
            for d in drift
        ]
        with self._lock:
            fd = self._usable_fd()
            record: dict[str, Any] = {
                "time": format_time(self._clock()),
                "actor": self.context.actor,
                "git_commit": self.context.git_commit,
                "pull_request": self.context.pull_request,
                "plan_checksum": self.context.plan_checksum,
                "provider": change.provider,
                "environment": change.environment,
                "customer_id": change.id,
                "action": change.action,
                "fields": [
                    {
                        "path": field.path,
                        "before": encode_value(field.before),
                        "after": encode_value(field.after),
                    }
                    for field in change.fields
                ],
                "outcome": outcome,
                "reason": reason or None,
                "http_status": http_status,
                "seq": self._seq + 1,
                "prev_hash": self._hash,
            }
            if drift_items:
                record["drift"] = drift_items
            record[HASH_FIELD] = record_hash(record)
            self._write_line(fd, canonical_json(record))
            self._seq = record["seq"]
            self._hash = record[HASH_FIELD]
            self.records_written += 1
            return record

    def close(self) -> None:
        """Release the lock and the file; idempotent."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)  # closing the fd releases the flock
                self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _usable_fd(self) -> int:
        if self._broken is not None:
            raise AuditError(self._broken)
        if self._fd is None:
            raise AuditError(f"audit log {self.path} is closed")
        return self._fd

    def _write_line(self, fd: int, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(0, f"short write ({written} of {len(data)} bytes)")
            os.fsync(fd)
        except OSError as exc:
            # The line may be partly on disk: appending more would bury a torn line mid-file.
            # Refuse every later record; the next run moves the torn tail aside.
            self._broken = f"cannot write audit log {self.path}: {exc.strerror or exc}"
            raise AuditError(self._broken) from exc


def _lock(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        raise AuditError(
            f"audit log {path} is in use by another apply; wait for it to finish "
            "(the lock is released when that process exits) or use another --audit-log"
        ) from exc
    except OSError as exc:
        raise AuditError(f"cannot lock audit log {path}: {exc.strerror}") from exc


def _fsync_directory(directory: Path) -> None:
    # A new file's directory entry is only durable once the directory itself is synced.
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _recover_torn_tail(fd: int, path: Path) -> Path | None:
    """Move an incomplete last line aside and truncate it off; return where it went."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return None
    start = _last_line_start(fd, size)
    tail = os.pread(fd, size - start, start)
    torn_path = path.with_name(path.name + TORN_SUFFIX)
    try:
        with torn_path.open("ab") as torn:
            torn.write(tail + b"\n")
            torn.flush()
            os.fsync(torn.fileno())
        os.ftruncate(fd, start)
        os.fsync(fd)
    except OSError as exc:
        raise AuditError(
            f"audit log {path} ends with an incomplete record and it could not be moved "
            f"aside to {torn_path}: {exc.strerror}"
        ) from exc
    return torn_path


def _last_line_start(fd: int, end: int) -> int:
    """Offset where the line ending at ``end`` (exclusive of any newline there) begins."""
    position = end
    while position > 0:
        chunk_start = max(0, position - _TAIL_CHUNK)
        chunk = os.pread(fd, position - chunk_start, chunk_start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return chunk_start + newline + 1
        position = chunk_start
    return 0


def _chain_end(fd: int, path: Path) -> tuple[int, str]:
    """``(seq, hash)`` of the last record, or ``(0, GENESIS_HASH)`` for an empty log."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0, GENESIS_HASH
    start = _last_line_start(fd, size - 1)  # the file ends with "\n" once the tail is repaired
    line = os.pread(fd, size - 1 - start, start)
    damaged = AuditError(
        f"audit log {path}: its last record is damaged, so the chain cannot be continued; "
        f"run `reconciler audit verify {path}` to find the problem"
    )
    try:
        record: Any = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise damaged from exc
    if not isinstance(record, dict):
        raise damaged
    seq, stored_hash = record.get("seq"), record.get(HASH_FIELD)
    if not (isinstance(seq, int) and seq >= 1 and isinstance(stored_hash, str)):
        raise damaged
    if record_hash(record) != stored_hash or canonical_json(record) != line.decode("utf-8"):
        raise damaged
    return seq, stored_hash
