"""One managed field, desired vs live: the field changes to show and the value to send.

Scalars compare directly. Structured kinds (metadata, billing controls) first compare as whole
canonical values with ``same``; only when they differ does ``deepdiff`` (about 200 times
slower per record) name the paths inside them, such as ``metadata.tier`` or
``billing_controls.spend_limits[messages].overage_limit``.

What is sent follows the provider's model, never its name:

- metadata, ``metadata_authoritative=False`` (Respan): live keys the manifest does not declare
  are not managed and not compared. What is sent is the whole resulting object (the live keys
  the manifest does not mention, kept as they are, plus the declared ones), so an update means
  the same whether the API replaces the stored object or merges into it. A declared key set to
  ``null`` means "absent": it is left out of what is sent.
- metadata, ``metadata_authoritative=True`` (Autumn, a merge API): the declared object is the
  whole truth; only changed keys are sent, and a live key the manifest does not declare is sent
  as ``null``, which removes it. A declared key set to ``null`` means "absent".
- billing controls: only declared arrays are managed (an array sent replaces the stored one,
  arrays not sent are untouched); items match by ``feature_id``, whatever their order, and only
  the keys an item declares are compared. A changed array is sent whole, as declared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from deepdiff import DeepDiff
from deepdiff.helper import notpresent

from reconciler.domain import UNKNOWN, FieldKind, FieldSpec, ProviderModel
from reconciler.plan import FieldChange
from reconciler.planner.normalize import BILLING_ITEM_KEY, BILLING_MONEY_KEYS, same

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+\Z")


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """How one top-level field differs: the changes to show and the value to send for it."""

    changes: tuple[FieldChange, ...]
    payload: Any


def diff_field(model: ProviderModel, spec: FieldSpec, desired: Any, live: Any) -> FieldDiff | None:
    """The difference between canonical ``desired`` and ``live`` values, or ``None`` if equal.

    A live value of UNKNOWN (the API did not return the field) always differs: the change
    shows it as unknown and the whole declared value is sent.
    """
    if live is UNKNOWN:
        change = FieldChange(spec.name, UNKNOWN, desired, spec.kind)
        return FieldDiff((change,), create_value(model, spec, desired))
    if isinstance(desired, dict) and isinstance(live, dict):
        if spec.kind is FieldKind.METADATA:
            return _diff_metadata(model, spec, desired, live)
        if spec.kind is FieldKind.BILLING_CONTROLS:
            return _diff_billing_controls(spec, desired, live)
    if same(live, desired):
        return None
    return FieldDiff((FieldChange(spec.name, live, desired, spec.kind),), desired)


def create_value(model: ProviderModel, spec: FieldSpec, desired: Any) -> Any:
    """What to send for a field when nothing live can be compared (create, unknown live)."""
    if spec.kind is FieldKind.METADATA:
        return _without_nulls(desired)
    return desired


def _diff_metadata(
    model: ProviderModel, spec: FieldSpec, desired: dict[str, Any], live: dict[str, Any]
) -> FieldDiff | None:
    # A key whose value is null is the same as no key, on either side.
    target = _without_nulls(desired)
    if model.metadata_authoritative:
        view = _without_nulls(live)
    else:
        view = _without_nulls({key: live[key] for key in desired if key in live})
    if same(view, target):
        return None
    changes = _path_changes(spec, view, target, keyed_depth=None)
    if not model.metadata_authoritative:
        kept = {key: value for key, value in live.items() if key not in desired}
        return FieldDiff(changes, {**kept, **target})
    payload: dict[str, Any] = {}
    for key in sorted(target.keys() | view.keys()):
        if key not in target:
            payload[key] = None
        elif key not in view or not same(view[key], target[key]):
            payload[key] = target[key]
    return FieldDiff(changes, payload)


def _diff_billing_controls(
    spec: FieldSpec, desired: dict[str, Any], live: dict[str, Any]
) -> FieldDiff | None:
    changes: list[FieldChange] = []
    payload: dict[str, Any] = {}
    for name, declared in desired.items():
        stored = live.get(name)
        if isinstance(declared, list) and isinstance(stored, list | None):
            target = _keyed(declared)
            view = _keyed(stored or [])
            view = {
                key: _project(item, target[key]) if key in target else item
                for key, item in view.items()
            }
            if same(view, target):
                continue
            changes.extend(_path_changes(spec, {name: view}, {name: target}, keyed_depth=1))
        elif same(stored, declared):
            continue
        else:
            changes.append(FieldChange(f"{spec.name}.{name}", stored, declared, spec.kind))
        payload[name] = declared
    if not payload:
        return None
    return FieldDiff(tuple(changes), payload)


def _path_changes(
    spec: FieldSpec, before: Any, after: Any, *, keyed_depth: int | None
) -> tuple[FieldChange, ...]:
    """Leaf-level changes between two differing structures, via deepdiff, sorted by path.

    ``keyed_depth`` is the position in the path of a ``feature_id`` item key, shown in
    brackets (``spend_limits[messages]``).
    """
    found: list[FieldChange] = []
    tree = DeepDiff(before, after, view="tree")
    for report in tree.values():
        for level in report:
            parts = tuple(level.path(output_format="list"))
            old = None if level.t1 is notpresent else level.t1
            new = None if level.t2 is notpresent else level.t2
            for leaf, leaf_old, leaf_new in _leaves(parts, old, new):
                if keyed_depth is not None and leaf[keyed_depth + 1 :] == (BILLING_ITEM_KEY,):
                    continue  # the item key is already in the path
                path = _format_path(spec.name, leaf, keyed_depth)
                found.append(FieldChange(path, leaf_old, leaf_new, _leaf_kind(spec, leaf)))
    if not found:  # deepdiff saw no difference that ``same`` did (bool vs number): show whole
        found.append(FieldChange(spec.name, before, after, spec.kind))
    return tuple(sorted(found, key=lambda change: change.path))


def _leaves(parts: tuple[Any, ...], old: Any, new: Any) -> list[tuple[tuple[Any, ...], Any, Any]]:
    """An added or removed mapping as one change per key, so amounts inside stay visible."""
    if isinstance(new, Mapping) and new and old is None:
        return [leaf for key in new for leaf in _leaves((*parts, key), None, new[key])]
    if isinstance(old, Mapping) and old and new is None:
        return [leaf for key in old for leaf in _leaves((*parts, key), old[key], None)]
    return [(parts, old, new)]


def _leaf_kind(spec: FieldSpec, parts: Sequence[Any]) -> FieldKind:
    if spec.kind is FieldKind.BILLING_CONTROLS and parts and parts[-1] in BILLING_MONEY_KEYS:
        return FieldKind.MONEY
    return spec.kind


def _format_path(field: str, parts: Sequence[Any], keyed_depth: int | None) -> str:
    text = field
    for depth, part in enumerate(parts):
        if isinstance(part, int) or depth == keyed_depth:
            text += f"[{part}]"
        elif _BARE_KEY.match(str(part)):
            text += f".{part}"
        else:
            text += f"[{json.dumps(str(part), ensure_ascii=False)}]"
    return text


def _keyed(items: list[Any]) -> dict[str, Any]:
    """Array items by ``feature_id``; a repeated or missing id gets a ``#n`` suffix."""
    keyed: dict[str, Any] = {}
    for item in items:
        base = str(item.get(BILLING_ITEM_KEY, "")) if isinstance(item, Mapping) else ""
        key, count = base, 1
        while key in keyed:
            count += 1
            key = f"{base}#{count}"
        keyed[key] = item
    return keyed


def _project(live: Any, declared: Any) -> Any:
    """The part of ``live`` the declaration speaks about (keys it does not declare dropped)."""
    if isinstance(live, Mapping) and isinstance(declared, Mapping):
        return {key: _project(live[key], declared[key]) for key in declared if key in live}
    return live


def _without_nulls(metadata: Any) -> Any:
    if not isinstance(metadata, Mapping):
        return metadata
    return {key: value for key, value in metadata.items() if value is not None}
