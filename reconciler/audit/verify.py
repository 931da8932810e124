"""Check an audit log's hash chain and name the first record that breaks it.

For ``reconciler audit verify`` and for anyone holding a copy of a log. A record fails when it
is not valid JSON, was edited (its hash, or the canonical form the writer produces, no longer
matches), or sits where it does not belong (its ``seq`` or ``prev_hash`` does not follow the
record before it: something was removed, inserted or reordered). An incomplete last line (a
write cut short) is reported too.

What a chain cannot show: records cut off the *end* of the log at a line boundary. Compare the
reported last hash with one kept elsewhere (the CI job log, for instance) to rule that out.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.audit.chain import GENESIS_HASH, HASH_FIELD, line_is_authentic
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
class Verification:
    """The outcome: how many records are intact, the last good hash, and the break if any."""

    records: int
    last_hash: str
    chain_break: ChainBreak | None = None

    @property
    def intact(self) -> bool:
        return self.chain_break is None


def verify_log(path: Path | str) -> Verification:
    """Read ``path`` line by line and verify the chain; raise ``AuditError`` if unreadable."""
    with open_log(path) as lines:
        return verify_lines(lines)


@contextlib.contextmanager
def open_log(path: Path | str) -> Iterator[Iterable[bytes]]:
    """The log's raw lines, read lazily; a missing or unreadable file is an ``AuditError``."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError as exc:
        raise AuditError(f"audit log {path} does not exist") from exc
    except OSError as exc:
        raise AuditError(f"cannot read audit log {path}: {exc.strerror}") from exc
    with handle:
        try:
            yield handle
        except OSError as exc:
            raise AuditError(f"cannot read audit log {path}: {exc.strerror}") from exc


def verify_lines(lines: Iterable[bytes]) -> Verification:
    """Verify a log given as its raw lines, each with its ``\\n`` (an open binary file will do)."""
    previous_hash = GENESIS_HASH
    records = 0
    for line_number, raw in enumerate(lines, start=1):
        checked = check_line(raw, line_number, previous_hash)
        if isinstance(checked, ChainBreak):
            return Verification(records, previous_hash, checked)
        previous_hash = checked[1]
        records += 1
    return Verification(records, previous_hash)


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


def _check_line(
    raw: bytes, expected_seq: int, previous_hash: str
) -> tuple[dict[str, Any], str] | tuple[int | None, str]:
    """``(record, its hash)`` when it is sound, else ``(its seq if readable, reason)``."""
    if not raw.endswith(b"\n"):
        return None, (
            "incomplete last line (no trailing newline): a write was cut short; the next "
            "apply moves it aside and continues from the last complete record"
        )
    try:
        text = raw[:-1].decode("utf-8")
        record: Any = json.loads(text)
    except UnicodeDecodeError:
        return None, "not valid UTF-8: the record was edited or corrupted"
    except ValueError:
        return None, "not valid JSON: the record was edited or corrupted"
    if not isinstance(record, dict):
        return None, "not a JSON object: the record was edited or corrupted"
    seq = record.get("seq")
    found_seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    stored_hash = record.get(HASH_FIELD)
    if found_seq is None or not isinstance(stored_hash, str) or "prev_hash" not in record:
        return found_seq, "not an audit record (seq, prev_hash or hash missing): edited"
    if not line_is_authentic(text, stored_hash):
        return found_seq, "hash mismatch: the record was edited"
    if found_seq != expected_seq:
        return found_seq, (
            f"seq {found_seq} where {expected_seq} was expected: "
            "records were removed, inserted or reordered"
        )
    if record["prev_hash"] != previous_hash:
        return found_seq, (
            "prev_hash does not match the previous record's hash: "
            "records were removed, inserted or reordered"
        )
    return record, stored_hash
