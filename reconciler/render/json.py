"""The JSON plan (``format_version`` 1, schema ``schemas/plan.schema.json``) and its value codec.

For scripts and CI. Encoding decisions, all lossless:

- Numbers (money, percentages, metadata numbers) are JSON numbers written with their exact
  decimal digits: money always with two decimals (``250.00``). Parse them as decimals to keep
  them exact (Python: ``json.loads(text, parse_float=decimal.Decimal)``).
- A live value the API did not return is the object ``{"unknown": true}``. A real mapping of
  that exact shape (or one whose only key is ``"$literal"``) is wrapped as
  ``{"$literal": {...}}`` so the two never mix.
- ``checksum`` is ``"sha256:"`` + the hex SHA-256 of the canonical JSON of the document
  without its ``checksum`` key: keys sorted, no whitespace, ASCII only. Reformatting the file
  does not change it; changing any value does.
- Output key order is fixed and lists are in plan order, so the same plan gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from reconciler.domain import UNKNOWN, FieldKind, Source
from reconciler.plan.model import (
    ACTIONS,
    CAUSES,
    BaseRevision,
    Cause,
    Change,
    FieldChange,
    Plan,
    PolicyViolation,
)
from reconciler.planner.impact import budget_impact

FORMAT_VERSION: Final = 1
UNKNOWN_MARKER: Final = "unknown"
LITERAL_MARKER: Final = "$literal"


def render_json(plan: Plan) -> str:
    """The JSON plan as indented text ending in a newline."""
    return dumps(plan_document(plan), indent=2) + "\n"


def plan_document(plan: Plan, *, saved: bool = False) -> dict[str, Any]:
    """The JSON plan as a JSON-ready dict with its checksum.

    ``saved`` adds what apply needs per change (``before``: the live values the stale check
    compares and whole-object fields are built on); the saved plan adds its own top-level keys
    and checksums the whole (see ``reconciler.plan.saved``). There is no request body in it:
    apply derives each body from ``fields`` (``reconciler.planner.body``).
    """
    impact = budget_impact(plan)
    document: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "summary": plan.summary(),
        "budget_impact": {
            "deltas": dict(impact.deltas),
            "unknown": impact.unknown,
        },
        "policy_violations": [_violation(v) for v in plan.policy_violations],
        "changes": [_change(change, saved=saved) for change in plan.changes],
    }
    if plan.base is not None:
        # Optional and additive (format_version stays 1): only plans made with --base have it.
        document["base"] = {"ref": plan.base.ref, "commit": plan.base.commit}
    return with_checksum(document)


def plan_from_document(document: Mapping[str, Any]) -> Plan:
    """The ``Plan`` a (saved) plan document holds; raises ``KeyError``/``TypeError``/
    ``ValueError`` when the document is not one."""
    changes = tuple(_change_from(item) for item in document["changes"])
    violations = tuple(
        PolicyViolation(
            rule=str(item["rule"]),
            message=str(item["message"]),
            provider=item.get("provider") or "",
            environment=item.get("environment") or "",
            id=item.get("id") or "",
        )
        for item in document["policy_violations"]
    )
    unchanged = document["summary"]["unchanged"]
    if not isinstance(unchanged, int) or isinstance(unchanged, bool):
        raise TypeError("summary.unchanged is not an integer")
    base_item = document.get("base")
    base = (
        BaseRevision(str(base_item["ref"]), str(base_item["commit"]))
        if base_item is not None
        else None
    )
    return Plan(changes=changes, unchanged=unchanged, policy_violations=violations, base=base)


def with_checksum(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with ``checksum`` second (after the version key), computed over the rest."""
    content = {key: value for key, value in document.items() if key != "checksum"}
    first, *rest = content.items()
    return {first[0]: first[1], "checksum": checksum(content), **dict(rest)}


def checksum(content: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``content``."""
    digest = hashlib.sha256(dumps(content, canonical=True).encode("ascii")).hexdigest()
    return f"sha256:{digest}"


def encode_value(value: Any) -> Any:
    """A plan value as JSON-ready data: UNKNOWN marked, marker-shaped mappings escaped."""
    if value is UNKNOWN:
        return {UNKNOWN_MARKER: True}
    if isinstance(value, Mapping):
        encoded = {str(key): encode_value(item) for key, item in value.items()}
        if _looks_like_marker(value):
            return {LITERAL_MARKER: encoded}
        return encoded
    if isinstance(value, list | tuple):
        return [encode_value(item) for item in value]
    return value


def decode_value(value: Any) -> Any:
    """The inverse of ``encode_value`` on parsed JSON (numbers become ``Decimal``)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    if isinstance(value, Mapping):
        if list(value) == [UNKNOWN_MARKER] and value[UNKNOWN_MARKER] is True:
            return UNKNOWN
        if list(value) == [LITERAL_MARKER] and isinstance(value[LITERAL_MARKER], Mapping):
            return {key: decode_value(item) for key, item in value[LITERAL_MARKER].items()}
        return {key: decode_value(item) for key, item in value.items()}
    raise TypeError(f"not a plan value: {value!r}")


def dumps_value(value: Any) -> str:
    """One plan value as compact JSON text (for human output of structured values)."""
    return dumps(encode_value(value), compact=True)


def dumps(
    data: Any, *, indent: int | None = None, canonical: bool = False, compact: bool = False
) -> str:
    """JSON text where ``Decimal`` is a number with its exact digits.

    ``canonical``: sorted keys, no whitespace, ASCII only (what checksums cover).
    ``compact``: one line with ``", "`` and ``": "`` separators, for people.
    """
    parts: list[str] = []
    _write(data, parts, indent if not (canonical or compact) else None, 0, canonical, compact)
    return "".join(parts)


def _write(
    data: Any, out: list[str], indent: int | None, depth: int, canonical: bool, compact: bool
) -> None:
    if isinstance(data, Mapping):
        items = sorted(data.items()) if canonical else list(data.items())
        if not items:
            out.append("{}")
            return
        out.append("{")
        for index, (key, item) in enumerate(items):
            if index:
                out.append(", " if compact else ",")
            out.append(_newline(indent, depth + 1))
            out.append(json.dumps(str(key), ensure_ascii=canonical))
            out.append(": " if indent is not None or compact else ":")
            _write(item, out, indent, depth + 1, canonical, compact)
        out.append(_newline(indent, depth) + "}")
    elif isinstance(data, list | tuple):
        if not data:
            out.append("[]")
            return
        out.append("[")
        for index, item in enumerate(data):
            if index:
                out.append(", " if compact else ",")
            out.append(_newline(indent, depth + 1))
            _write(item, out, indent, depth + 1, canonical, compact)
        out.append(_newline(indent, depth) + "]")
    elif isinstance(data, Decimal):
        out.append(_number(data))
    elif isinstance(data, float):
        out.append(
            _number(Decimal(repr(data)))
            if data == data and abs(data) != float("inf")
            else json.dumps(repr(data))
        )
    else:
        out.append(json.dumps(data, ensure_ascii=canonical))


def _number(value: Decimal) -> str:
    if not value.is_finite():
        return json.dumps(str(value))
    if value.is_zero():
        value = value.copy_abs()  # "-0" would read back as the int 0, changing the checksum
    return format(value, "f")


def _newline(indent: int | None, depth: int) -> str:
    return "" if indent is None else "\n" + " " * (indent * depth)


def _looks_like_marker(value: Mapping[Any, Any]) -> bool:
    keys = list(value)
    if keys == [UNKNOWN_MARKER]:
        return value[UNKNOWN_MARKER] is True
    return keys == [LITERAL_MARKER]


def _violation(violation: PolicyViolation) -> dict[str, Any]:
    return {
        "rule": violation.rule,
        "message": violation.message,
        "provider": violation.provider or None,
        "environment": violation.environment or None,
        "id": violation.id or None,
    }


def _change(change: Change, *, saved: bool) -> dict[str, Any]:
    source = change.source
    item: dict[str, Any] = {
        "action": change.action,
        "provider": change.provider,
        "environment": change.environment,
        "id": change.id,
        "source": str(source) if source is not None else None,
        "location": (
            {"file": source.file, "line": source.line, "column": source.column}
            if source is not None
            else None
        ),
        "note": change.note,
        "fields": [_field(field) for field in change.fields],
    }
    if change.cause is not None:
        item["cause"] = change.cause
    if saved:
        item["before"] = encode_value(dict(change.before))
    return item


def _field(field: FieldChange) -> dict[str, Any]:
    item: dict[str, Any] = {
        "path": field.path,
        "kind": field.kind.value,
        "before": encode_value(field.before),
        "after": encode_value(field.after),
    }
    if field.cause is not None:
        item["cause"] = field.cause
    return item


def _cause(item: Mapping[str, Any]) -> Cause | None:
    cause = item.get("cause")
    if cause is None:
        return None
    for known in CAUSES:
        if cause == known:
            return known
    raise ValueError(f"unknown cause {cause!r}")


_CHANGE_KEYS: Final = frozenset(
    {
        "action",
        "provider",
        "environment",
        "id",
        "source",
        "location",
        "note",
        "fields",
        "before",
        "cause",
    }
)
_FIELD_KEYS: Final = frozenset({"path", "kind", "before", "after", "cause"})


def _change_from(item: Mapping[str, Any]) -> Change:
    # A key this layout does not have (an old ``payload``) is refused, never ignored: whatever
    # a file holds must be what the plan shows.
    unknown = sorted(set(item) - _CHANGE_KEYS)
    if unknown:
        raise ValueError(f"unexpected key {unknown[0]!r} in a change")
    location = item.get("location")
    source = (
        Source(str(location["file"]), int(location["line"]), int(location["column"]))
        if location is not None
        else None
    )
    for field in item["fields"]:
        extra = sorted(set(field) - _FIELD_KEYS)
        if extra:
            raise ValueError(f"unexpected key {extra[0]!r} in a field change")
    fields = tuple(
        FieldChange(
            path=str(field["path"]),
            before=decode_value(field["before"]),
            after=decode_value(field["after"]),
            kind=FieldKind(field["kind"]),
            cause=_cause(field),
        )
        for field in item["fields"]
    )
    before = decode_value(item.get("before", {}))
    if not isinstance(before, dict):
        raise TypeError("before must be an object")
    action = item["action"]
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return Change(
        action=action,
        provider=str(item["provider"]),
        environment=str(item["environment"]),
        id=str(item["id"]),
        fields=fields,
        before=before,
        source=source,
        note=str(item.get("note", "")),
        cause=_cause(item),
    )
