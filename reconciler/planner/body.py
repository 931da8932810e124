"""The request body of a change, derived from the change's ``fields`` and nothing else.

For providers (what ``apply`` sends), the audit log (what was sent) and saved plans (checked on
load). A change never carries a body of its own: a second copy beside ``fields`` would be a
second truth, one the reviewer does not see and the policy does not check. So the one function
here is used by the planner's path and the saved plan's path alike.

Per field kind (the shapes ``reconciler.planner.diff`` produces):

- a scalar: the change's ``after``;
- metadata changed key by key: with ``metadata_authoritative=False`` the API stores the object it
  is sent, so the body is the whole resulting object: the live object recorded in the change's
  ``before`` with each key set to its ``after`` (``null``: removed). ``before`` is checked
  against live state before a saved plan is applied, so nothing unreviewed rides along.
  With ``metadata_authoritative=True`` the API merges, so only the changed keys are sent,
  ``null`` removing one;
- billing controls: each changed array is sent whole (an array sent replaces the stored one):
  the live items recorded in ``before`` with the item changes applied; an item whose keys all
  go to ``null`` is dropped;
- a whole-field change (create, unknown or unreadable live value): its ``after``.

``value_at`` reads the value at a path the same way, for checks that a change's ``before`` and
``after`` values agree with recorded or live state.

A change whose paths do not fit these shapes raises ``BodyError``: apply refuses it rather
than guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from reconciler.domain import UNKNOWN, FieldKind, FieldSpec, ProviderModel
from reconciler.plan.model import Change, FieldChange
from reconciler.planner.diff import format_path, keyed_items, leaf_kind
from reconciler.planner.normalize import canonical_keyed_lists

_SEGMENT: Final = re.compile(r'\.([A-Za-z0-9_-]+)|\[([A-Za-z0-9_-]+)\]|\[("(?:[^"\\]|\\.)*")\]')
_SENDS: Final = frozenset({"create", "update"})


class BodyError(ValueError):
    """A change's fields do not describe a request body (a hand-edited or foreign plan)."""


def request_body(change: Change, model: ProviderModel) -> dict[str, Any]:
    """What to send for a create or update (``{}`` for other actions), in the model's field
    order; raises ``BodyError`` when the fields do not fit the model."""
    if change.action not in _SENDS:
        return {}
    grouped: dict[str, list[FieldChange]] = {}
    for field in change.fields:
        name, _ = parse_path(field.path)
        if name not in model.fields:
            raise BodyError(f"{field.path}: {model.name} has no field {name!r}")
        grouped.setdefault(name, []).append(field)
    body = {
        name: field_body(model, spec, grouped[name], change.before.get(name, UNKNOWN))
        for name, spec in model.fields.items()
        if name in grouped
    }
    if change.action == "create" and not model.create_sends_nulls:
        return {name: value for name, value in body.items() if value is not None}
    return body


def field_body(
    model: ProviderModel, spec: FieldSpec, fields: Sequence[FieldChange], live: Any
) -> Any:
    """The value to send for field ``spec`` from its changes and its live (normalized) value."""
    changes = []
    for field in fields:
        name, parts = parse_path(field.path)
        if name != spec.name:
            raise BodyError(f"{field.path} is not a path of {spec.name}")
        changes.append((parts, field))
    if not changes:
        raise BodyError(f"{spec.name}: no change to send")
    paths = [parts for parts, _ in changes]
    if len(set(paths)) != len(paths):
        raise BodyError(f"{spec.name}: the same path is changed twice")
    if () in paths:
        if len(changes) > 1:
            raise BodyError(f"{spec.name}: changed whole and in parts at once")
        return changes[0][1].after
    if spec.kind is FieldKind.METADATA:
        return _metadata_body(model, spec, changes, live)
    if spec.kind is FieldKind.KEYED_LISTS:
        return _billing_body(spec, changes, live)
    raise BodyError(f"{changes[0][1].path}: {spec.name} has no parts to change")


def parse_path(path: str) -> tuple[str, tuple[str, ...]]:
    """``"metadata.tier"`` -> ``("metadata", ("tier",))``; raises ``BodyError`` for a path that
    is not written the way plans write paths."""
    name, _, _ = path.partition(".")
    name = name.partition("[")[0]
    parts: list[str] = []
    position = len(name)
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if match is None:
            raise BodyError(f"{path!r} is not a field path")
        bare, bracketed, quoted = match.groups()
        parts.append(bare or bracketed or json.loads(quoted))
        position = match.end()
    spellings = {format_path(name, parts), format_path(name, parts, keyed_depth=1)}
    if not name or path not in spellings:
        raise BodyError(f"{path!r} is not a field path")
    return name, tuple(parts)


def _metadata_body(
    model: ProviderModel,
    spec: FieldSpec,
    changes: Sequence[tuple[tuple[str, ...], FieldChange]],
    live: Any,
) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    for parts, field in changes:
        if len(parts) != 1:
            raise BodyError(f"{field.path}: metadata changes name one key")
        updates[parts[0]] = field.after
    if model.metadata_authoritative:
        return updates  # a merge: null removes a key
    if not isinstance(live, Mapping):
        raise BodyError(f"{spec.name}: key changes without the live object they apply to")
    return {key: value for key, value in {**live, **updates}.items() if value is not None}


def _billing_body(
    spec: FieldSpec,
    changes: Sequence[tuple[tuple[str, ...], FieldChange]],
    live: Any,
) -> dict[str, Any]:
    if not isinstance(live, Mapping):
        raise BodyError(f"{spec.name}: item changes without the live object they apply to")
    arrays: dict[str, list[tuple[tuple[str, ...], FieldChange]]] = {}
    for parts, field in changes:
        arrays.setdefault(parts[0], []).append((parts[1:], field))
    body: dict[str, Any] = {}
    for array, items in arrays.items():
        if () in [parts for parts, _ in items]:
            if len(items) > 1:
                raise BodyError(f"{spec.name}.{array}: changed whole and in parts at once")
            body[array] = items[0][1].after
            continue
        stored = live.get(array)
        if not isinstance(stored, list | None):
            raise BodyError(f"{spec.name}.{array}: item changes without the live list")
        body[array] = _items_after(spec, array, keyed_items(spec, stored or []), items)
    return body


def _items_after(
    spec: FieldSpec,
    array: str,
    stored: dict[str, Any],
    changes: Sequence[tuple[tuple[str, ...], FieldChange]],
) -> list[Any]:
    """The live items with the item changes applied, in canonical order."""
    items: dict[str, Any] = {
        key: dict(item) if isinstance(item, Mapping) else item for key, item in stored.items()
    }
    dropped: set[str] = set()
    for parts, field in changes:
        if len(parts) == 1:
            (key,) = parts
            if field.after is None:
                items.pop(key, None)
            else:
                items[key] = field.after
            continue
        if len(parts) != 2 or parts[1] == spec.item_key:
            raise BodyError(f"{field.path}: not a billing item key")
        key, leaf = parts
        item = items.setdefault(key, {spec.item_key: key})
        if not isinstance(item, dict):
            raise BodyError(f"{field.path}: the live item is not an object")
        if field.after is None:
            item.pop(leaf, None)
            dropped.add(key)
        else:
            item[leaf] = field.after
    for key in dropped:
        item = items.get(key)
        if isinstance(item, dict) and set(item) <= {spec.item_key}:
            del items[key]
    ordered = canonical_keyed_lists(spec, {array: list(items.values())})
    return list(ordered[array])


def value_at(model: ProviderModel, values: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` in normalized top-level ``values`` (a change's ``before``, or live
    fields): ``None`` for an absent key or item, ``UNKNOWN`` for a field not read. Raises
    ``BodyError`` for a path that is not one of ``model``'s."""
    name, parts = parse_path(path)
    spec = model.fields.get(name)
    if spec is None:
        raise BodyError(f"{path}: {model.name} has no field {name!r}")
    value = values.get(name, UNKNOWN)
    for depth, part in enumerate(parts):
        if value is UNKNOWN or value is None:
            return value
        if spec.kind is FieldKind.KEYED_LISTS and depth == 1:
            value = keyed_items(spec, value).get(part) if isinstance(value, list) else UNKNOWN
        else:
            value = value.get(part) if isinstance(value, Mapping) else UNKNOWN
    return value


def kind_at(model: ProviderModel, path: str) -> FieldKind:
    """The kind a change at ``path`` has: its field's, or money for an amount inside billing
    controls (what the policy sums). Raises ``BodyError`` for a path not of ``model``."""
    name, parts = parse_path(path)
    spec = model.fields.get(name)
    if spec is None:
        raise BodyError(f"{path}: {model.name} has no field {name!r}")
    if spec.kind is FieldKind.KEYED_LISTS and len(parts) == 3:
        return leaf_kind(spec, parts[2])
    return spec.kind
