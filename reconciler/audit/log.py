"""The audit log writer: hash-chained JSON lines, written ahead of every request and durable.

For the applier. Guarantees, and how:

* **Write-ahead.** ``record_pending`` appends and fsyncs a ``pending`` record for a change
  before its request is sent; ``record`` then appends the result, naming the pending record by
  its ``seq`` (``pending_seq``). A process killed in between leaves a pending record without a
  result, never a write without a record. A record that cannot be written raises
  ``AuditError`` and the caller sends nothing for that change.
* **No interleaving.** The file is held with an exclusive ``flock`` for the whole run; a second
  run on the same file is refused at once with an ``AuditError`` (like Terraform's state lock)
  rather than left waiting behind an apply that may take minutes. The lock dies with its
  process, so a killed run never leaves the file locked.
* **No torn lines.** Each record is one ``os.write`` of the full line on an ``O_APPEND`` fd,
  followed by ``fsync``. If a crash still cut a line short (power loss mid-write, or a SIGKILL
  that Linux delivers between two pages of a write spanning a page boundary), the next run
  moves the incomplete tail aside to ``<log>.torn`` and continues the chain from the last
  complete record; ``recovered_tail`` tells the caller so it can warn. A last record that is
  complete and only lacks its newline is kept: the newline is added.
* **Only audit logs are adopted.** Before anything is written, the file must be empty or look
  like an audit log (its first line a record, its last a sound record): any other file is
  refused untouched. Only regular files are accepted (not ``/dev/full``, a FIFO, a directory).
  A new log is created owner-only (0600).
* **Thread safety.** The applier records from worker threads; one lock orders seq and hash.
* **A continuing chain.** A new run reads the last record's ``seq`` and ``hash`` and refuses to
  build on a last record that does not hash to itself.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from reconciler.audit.adopt import (
    LOG_MODE,
    inspect_log,
    probe_directory,
    repair_tail,
    require_regular_file,
)
from reconciler.audit.chain import (
    HASH_FIELD,
    MAX_RECORD_BYTES,
    canonical_json,
    encode_value,
    record_hash,
)
from reconciler.audit.context import AuditContext
from reconciler.errors import AuditError
from reconciler.plan.model import Change
from reconciler.planner.body import BodyError, request_body
from reconciler.providers.registry import MODELS
from reconciler.timestamps import utc_text

Outcome = Literal["applied", "failed", "stale"]
OUTCOMES: tuple[Outcome, ...] = ("applied", "failed", "stale")
PENDING = "pending"
"""The outcome of a write-ahead record: the request is about to be sent, its result unknown."""


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
    return utc_text(moment, "milliseconds")


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

    @staticmethod
    def probe(path: Path | str) -> None:
        """Raise ``AuditError`` unless ``open(path)`` could write there; create and change
        nothing. For callers that want a bad log refused before any request is made."""
        path = Path(path)
        try:
            status = os.stat(path)
        except FileNotFoundError:
            probe_directory(path)
            return
        except OSError as exc:
            raise AuditError(f"cannot open audit log {path}: {exc.strerror}") from exc
        require_regular_file(status, path)
        if not os.access(path, os.R_OK | os.W_OK):
            raise AuditError(f"cannot write audit log {path}: permission denied")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise AuditError(f"cannot open audit log {path}: {exc.strerror}") from exc
        try:
            inspect_log(fd, path)
        finally:
            os.close(fd)

    @classmethod
    def open(
        cls,
        path: Path | str,
        context: AuditContext,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> Self:
        """Open (creating if needed, 0600) and lock ``path``; refuse a file that is not an audit
        log before changing anything; repair its tail; find the chain end."""
        path = Path(path)
        fd, created = _open_for_append(path)
        try:
            require_regular_file(os.fstat(fd), path)
            _lock(fd, path)
            if created:
                _fsync_directory(path.parent)
            end = inspect_log(fd, path)
            recovered = repair_tail(fd, path, end)
        except BaseException:
            os.close(fd)
            raise
        return cls(
            path,
            fd,
            context,
            last_seq=end.seq,
            last_hash=end.hash,
            recovered_tail=recovered,
            clock=clock,
        )

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def last_hash(self) -> str:
        """The head: the last record's ``hash`` (64 zeros while the log is empty)."""
        return self._hash

    def record_pending(self, change: Change) -> int:
        """Append and fsync the write-ahead record of ``change``; return its ``seq``.

        Call it before the change's request is sent, and send nothing if it raises.
        """
        written = self._append(change, PENDING, {"reason": None, "http_status": None})
        seq: int = written["seq"]
        return seq

    def record(
        self,
        change: Change,
        outcome: Outcome,
        *,
        reason: str = "",
        http_status: int | None = None,
        drift: Iterable[Drift] = (),
        pending_seq: int | None = None,
    ) -> dict[str, Any]:
        """Append and fsync one result record for ``change``; return it as written.

        ``pending_seq`` names the write-ahead record this result completes.
        """
        extra: dict[str, Any] = {"reason": reason or None, "http_status": http_status}
        drift_items = [
            {"path": d.path, "planned": encode_value(d.planned), "live": encode_value(d.live)}
            for d in drift
        ]
        if drift_items:
            extra["drift"] = drift_items
        if pending_seq is not None:
            extra["pending_seq"] = pending_seq
        return self._append(change, outcome, extra)

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

    def _append(self, change: Change, outcome: str, extra: dict[str, Any]) -> dict[str, Any]:
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
                **extra,
                "seq": self._seq + 1,
                "prev_hash": self._hash,
            }
            # What is (pending) or was sent, by the function the provider sends it with.
            body = _sent_body(change) if outcome != "stale" else None
            if body is not None:
                record["body"] = encode_value(body)
            record[HASH_FIELD] = record_hash(record)
            self._write_line(fd, canonical_json(record))
            self._seq = record["seq"]
            self._hash = record[HASH_FIELD]
            self.records_written += 1
            return record

    def _usable_fd(self) -> int:
        if self._broken is not None:
            raise AuditError(self._broken)
        if self._fd is None:
            raise AuditError(f"audit log {self.path} is closed")
        return self._fd

    def _write_line(self, fd: int, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        if len(data) > MAX_RECORD_BYTES:
            # The next run would refuse a log ending in a line this long; write nothing.
            raise AuditError(
                f"cannot write audit log {self.path}: a record of {len(data)} bytes is longer "
                f"than the {MAX_RECORD_BYTES} a log may hold"
            )
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


def _open_for_append(path: Path) -> tuple[int, bool]:
    """An fd for appending to ``path`` and whether this call created the file (owner-only)."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
    try:
        try:
            return os.open(path, flags | os.O_CREAT | os.O_EXCL, LOG_MODE), True
        except FileExistsError:
            return os.open(path, flags), False
    except OSError as exc:
        raise AuditError(f"cannot open audit log {path}: {exc.strerror}") from exc


def _sent_body(change: Change) -> dict[str, Any] | None:
    """The body a create or update sends, derived by the function the provider sends it with;
    ``None`` when there is none (a body that cannot be derived was never sent either)."""
    model = MODELS.get(change.provider)
    if model is None or change.action not in ("create", "update"):
        return None
    try:
        return request_body(change, model)
    except BodyError:
        return None


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
