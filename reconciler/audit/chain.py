"""The hash chain both the writer and the verifier compute, defined once so they cannot drift.

Each record's ``hash`` is the SHA-256 of its canonical JSON without ``hash``; its ``prev_hash``
is the previous record's ``hash`` (64 zeros for the first). A line on disk is the canonical JSON
of the whole record, so any byte changed in it changes either the hash input or the canonical
form, and the verifier catches both.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reconciler.render.json import encode_value as encode_plan_value

GENESIS_HASH = "0" * 64
HASH_FIELD = "hash"


def canonical_json(record: Mapping[str, Any]) -> str:
    """The one serialization hashed and written: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 hex of ``record`` without its ``hash`` field."""
    body = {key: value for key, value in record.items() if key != HASH_FIELD}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def line_is_authentic(text: str, stored_hash: str) -> bool:
    """True when ``text`` (one log line, no newline) is exactly what the writer wrote for a
    record whose ``hash`` is ``stored_hash``.

    The writer hashes the canonical JSON of the record without ``hash`` and writes the
    canonical JSON with it; in canonical JSON the ``hash`` member is a plain substring (a quote
    inside a string value is always escaped), so removing it gives the hashed text back. One
    SHA-256 and no re-serialization, which is what lets a million-record log be read in
    seconds; any change to the line changes the hashed text or the stored hash.
    """
    member = f'"{HASH_FIELD}":"{stored_hash}"'
    body = text.replace("," + member, "", 1)
    if body == text:
        body = text.replace(member + ",", "", 1)
    if body == text:
        return False
    return hashlib.sha256(body.encode("utf-8")).hexdigest() == stored_hash


def encode_value(value: Any) -> Any:
    """A plan value as lossless JSON: UNKNOWN and marker-shaped mappings exactly as in the JSON
    plan, but decimals (money, percentages) as strings.

    Strings because the verifier re-reads records with ``json.loads``: a JSON number would come
    back as a float, lose its trailing zeros (``250.10``) and no longer hash the same.
    """
    return _decimals_as_strings(encode_plan_value(value))


def _decimals_as_strings(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _decimals_as_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decimals_as_strings(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        # Floats should not reach a plan; if one does, keep its shortest exact text.
        return repr(value)
    return value


MAX_RECORD_BYTES = 64 * 1024 * 1024
"""The longest line read as a record: far above any real one (manifests are at most 10 MiB),
and low enough that a huge line in a file that is not a log is refused, not loaded."""

RECORD_PREFIX = b'{"action":"'
"""How every record's line begins: ``action`` sorts first among a record's keys."""


@dataclass(frozen=True, slots=True)
class RecordLine:
    """One line of a log (without its newline) read as a record.

    ``record`` is set when the line is a sound record (it hashes to itself, in canonical form);
    otherwise ``problem`` says why not. ``shaped`` tells a record that was edited (it has
    ``seq``, ``prev_hash`` and ``hash``) from a line that was never a record at all.
    """

    record: dict[str, Any] | None
    seq: int | None
    problem: str
    shaped: bool


_DIGITS = re.compile(rb"[0-9]{1,19}")
_HASH_MARK = b'"hash":"'
_PREV_MARK = b'"prev_hash":"'
_SEQ_MARK = b'"seq":'


def next_link(line: bytes, seq: int, previous: bytes) -> bytes | None:
    """The hash of ``line`` (one log line with its newline, UTF-8) when, read without parsing
    it, it is record ``seq`` continuing a chain that ends at ``previous`` (a hash as ASCII
    bytes); ``None`` when that cannot be shown this way, and the caller reads it in full.

    For readers that skip most records (``audit show`` with filters): parsing JSON is most of
    the cost of a line, and the chain needs only three values. In the writer's canonical JSON
    the top-level keys are sorted and every structured value (``body``, ``drift``,
    ``fields``) sorts before ``git_commit``, so the *last* ``"hash":"``, ``"prev_hash":"`` and
    ``"seq":`` of a line are the record's own (a quote inside a string is always escaped, so
    these never occur inside one). They are trusted only once the line without its hash
    member hashes to that hash, which is ``line_is_authentic``'s check on the same bytes.
    """
    at = line.rfind(_HASH_MARK)
    stored = line[at + 8 : at + 72]
    if at < 1 or line[at - 1 : at] != b"," or line[at + 72 : at + 73] != b'"':
        return None
    before = line.rfind(_PREV_MARK)
    if before < 0 or line[before + 13 : before + 77] != previous:
        return None
    number = _DIGITS.match(line, line.rfind(_SEQ_MARK) + 6)
    if number is None or int(number.group()) != seq or not line.endswith(b"\n"):
        return None
    if hashlib.sha256(line[: at - 1] + line[at + 73 : -1]).hexdigest().encode() != stored:
        return None
    return stored


def read_record(line: bytes) -> RecordLine:
    """Read one line (without its newline) as a hash-chained record, never raising."""
    if len(line) > MAX_RECORD_BYTES:
        return _not_a_record(f"longer than {MAX_RECORD_BYTES} bytes: not an audit record")
    try:
        text = line.decode("utf-8")
        parsed: Any = json.loads(text)
    except UnicodeDecodeError:
        return _not_a_record("not valid UTF-8: the record was edited or corrupted")
    except (ValueError, RecursionError):
        # RecursionError: JSON nested deeper than the parser's stack, which no record is.
        return _not_a_record("not valid JSON: the record was edited or corrupted")
    if not isinstance(parsed, dict):
        return _not_a_record("not a JSON object: the record was edited or corrupted")
    seq = parsed.get("seq")
    found_seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    stored_hash = parsed.get(HASH_FIELD)
    if found_seq is None or not isinstance(stored_hash, str) or "prev_hash" not in parsed:
        return RecordLine(
            None, found_seq, "not an audit record (seq, prev_hash or hash missing): edited", False
        )
    if not line_is_authentic(text, stored_hash):
        return RecordLine(None, found_seq, "hash mismatch: the record was edited", True)
    return RecordLine(parsed, found_seq, "", True)


def _not_a_record(problem: str) -> RecordLine:
    return RecordLine(None, None, problem, False)
