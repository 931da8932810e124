"""One managed field, desired vs live: the field changes a plan shows for it.

What is sent is not decided here: ``reconciler.planner.body`` derives each request body from
these changes (and the live value for fields sent whole), so the plan a reviewer reads and the
body apply sends can never disagree. The changes are therefore complete and exact:

- scalars: one change, path = the field name;
- metadata: one change per top-level key that differs (``metadata.tier``), or one change for
  the whole field when the live value is unknown or not an object. Declared metadata is flat
  (the manifest schema allows no nested values), so a key is the finest path there is. A key
  whose value is ``null`` is the same as no key, on either side.

  ``metadata_authoritative=False``: live keys the manifest does not declare are not
  managed and not compared. ``metadata_authoritative=True``: the declared object is
  the whole truth; a live key the manifest does not declare is a change to ``null``.
- billing controls: only declared arrays are managed; items match by ``feature_id``, whatever
  their order, and only the keys an item declares are compared. One change per differing
  item key (``billing_controls.spend_limits[messages].overage_limit``), a live item the
  manifest drops shows each of its keys going to ``null``, and an item with no key besides
  ``feature_id`` shows whole (``billing_controls.spend_limits[messages]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from reconciler.domain import UNKNOWN, FieldKind, FieldSpec, ProviderModel
from reconciler.plan.model import FieldChange
from reconciler.planner.normalize import same

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+\Z")
_ABSENT: Final = object()


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """How one top-level field differs: the changes to show (and to send, via ``body``)."""

    changes: tuple[FieldChange, ...]


def diff_field(model: ProviderModel, spec: FieldSpec, desired: Any, live: Any) -> FieldDiff | None:
    """The difference between canonical ``desired`` and ``live`` values, or ``None`` if equal.

    A live value of UNKNOWN (the API did not return the field) always differs: the change
    shows it as unknown and the whole declared value is sent.
    """
    if live is UNKNOWN:
        return FieldDiff((FieldChange(spec.name, UNKNOWN, create_value(spec, desired), spec.kind),))
    if isinstance(desired, dict) and isinstance(live, dict):
        if spec.kind is FieldKind.METADATA:
            return _diff_metadata(model, spec, desired, live)
        if spec.kind is FieldKind.KEYED_LISTS:
            return _diff_keyed_lists(spec, desired, live)
    if same(live, desired):
        return None
    return FieldDiff((FieldChange(spec.name, live, create_value(spec, desired), spec.kind),))


def create_value(spec: FieldSpec, desired: Any) -> Any:
    """The value a whole-field change shows (and sends): metadata without its null keys."""
    if spec.kind is FieldKind.METADATA:
        return without_nulls(desired)
    return desired


def format_path(field: str, parts: Sequence[str], *, keyed_depth: int | None = None) -> str:
    """``field`` and the keys inside it as a path: ``.key`` for plain keys, ``["k e y"]`` for
    others, and the ``feature_id`` of a billing item (at ``keyed_depth``) in brackets."""
    text = field
    for depth, part in enumerate(parts):
        bare = _BARE_KEY.match(part) is not None
        quoted = json.dumps(part, ensure_ascii=False)
        if depth == keyed_depth:
            text += f"[{part if bare else quoted}]"
        else:
            text += f".{part}" if bare else f"[{quoted}]"
    return text


def without_nulls(metadata: Any) -> Any:
    """Metadata with its null-valued keys left out (null means "absent")."""
    if not isinstance(metadata, Mapping):
        return metadata
    return {key: value for key, value in metadata.items() if value is not None}


def keyed_items(spec: FieldSpec, items: Sequence[Any]) -> dict[str, Any]:
    """Array items by ``spec.item_key``; a repeated or missing key gets a ``#n`` suffix."""
    keyed: dict[str, Any] = {}
    for item in items:
        base = str(item.get(spec.item_key, "")) if isinstance(item, Mapping) else ""
        key, count = base, 1
        while key in keyed:
            count += 1
            key = f"{base}#{count}"
        keyed[key] = item
    return keyed


def _diff_metadata(
    model: ProviderModel, spec: FieldSpec, desired: dict[str, Any], live: dict[str, Any]
) -> FieldDiff | None:
    target = without_nulls(desired)
    if model.metadata_authoritative:
        view = without_nulls(live)
    else:
        view = without_nulls({key: live[key] for key in desired if key in live})
    changes = [
        FieldChange(format_path(spec.name, (key,)), view.get(key), target.get(key), spec.kind)
        for key in sorted(view.keys() | target.keys())
        if not same(view.get(key, _ABSENT), target.get(key, _ABSENT))
    ]
    return _sorted(changes)


def _diff_keyed_lists(
    spec: FieldSpec, desired: dict[str, Any], live: dict[str, Any]
) -> FieldDiff | None:
    changes: list[FieldChange] = []
    for name, declared in desired.items():
        stored = live.get(name)
        if isinstance(declared, list) and isinstance(stored, list | None):
            changes.extend(
                _diff_items(
                    spec, name, keyed_items(spec, stored or []), keyed_items(spec, declared)
                )
            )
        elif not same(stored, declared):
            changes.append(
                FieldChange(format_path(spec.name, (name,)), stored, declared, spec.kind)
            )
    return _sorted(changes)


def _diff_items(
    spec: FieldSpec, array: str, live: dict[str, Any], declared: dict[str, Any]
) -> list[FieldChange]:
    """Changes between billing items matched by key; only declared item keys are compared."""
    changes: list[FieldChange] = []
    for key in sorted(live.keys() | declared.keys()):
        stored, wanted = live.get(key), declared.get(key)
        if not isinstance(stored, Mapping) or not isinstance(wanted, Mapping):
            if not same(stored, wanted):  # an added or dropped item (or one that is no object)
                changes.extend(_item_changes(spec, array, key, stored, wanted))
            continue
        for leaf in sorted(wanted):
            if leaf != spec.item_key and not same(stored.get(leaf, _ABSENT), wanted[leaf]):
                path = format_path(spec.name, (array, key, leaf), keyed_depth=1)
                kind = leaf_kind(spec, leaf)
                changes.append(FieldChange(path, stored.get(leaf), wanted[leaf], kind))
    return changes


def _item_changes(
    spec: FieldSpec, array: str, key: str, stored: Any, wanted: Any
) -> list[FieldChange]:
    """An added or dropped item, one change per key so that amounts inside stay visible."""
    whole = stored if stored is not None else wanted
    leaves = sorted(k for k in whole if k != spec.item_key) if isinstance(whole, Mapping) else []
    if (stored is not None and wanted is not None) or not leaves:
        path = format_path(spec.name, (array, key), keyed_depth=1)
        return [FieldChange(path, stored, wanted, spec.kind)]
    return [
        FieldChange(
            format_path(spec.name, (array, key, leaf), keyed_depth=1),
            None if stored is None else stored[leaf],
            None if wanted is None else wanted[leaf],
            leaf_kind(spec, leaf),
        )
        for leaf in leaves
    ]


def leaf_kind(spec: FieldSpec, leaf: str) -> FieldKind:
    """The kind of a key inside an item: money for ``spec.money_keys``, else the field's own."""
    return FieldKind.MONEY if leaf in spec.money_keys else spec.kind


def _sorted(changes: list[FieldChange]) -> FieldDiff | None:
    if not changes:
        return None
    return FieldDiff(tuple(sorted(changes, key=lambda change: change.path)))
