"""Saved plans against live state: has a customer moved since the plan recorded its ``before``
(refused as stale), or does it already hold the plan's ``after`` (already applied)?

For the applier, before anything is sent for a change. Fresh live values are normalized with
the planner's own functions, so "moved" means exactly what "changed" means in a plan: to the
cent for money, as an instant for timestamps, key by key for metadata.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reconciler.audit import Drift, encode_value
from reconciler.domain import UNKNOWN, FieldSpec, LiveCustomer, ProviderModel
from reconciler.plan.model import Change
from reconciler.planner.body import value_at
from reconciler.planner.normalize import normalize, same
from reconciler.providers.registry import MODELS

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Staleness:
    """Why a change is refused: a sentence for people and the drifted fields for the record."""

    reason: str
    drift: tuple[Drift, ...] = ()


def check_staleness(
    change: Change, live: LiveCustomer | None, model: ProviderModel
) -> Staleness | None:
    """``None`` when ``live`` still matches every value ``change.before`` recorded.

    ``live`` is the customer as read just now (``None``: it does not exist). A plan value that
    was unknown at plan time cannot have been relied on and is skipped; a value known then but
    not readable now is treated as moved, because nothing may be overwritten unverified.
    """
    if change.action == "create":
        if live is not None:
            return Staleness("customer was created by someone else since the plan was made")
        return None
    if live is None:
        return Staleness("customer no longer exists")
    drift: list[Drift] = []
    for name, planned in change.before.items():
        if planned is UNKNOWN:
            continue
        fresh = live.get(name)
        spec = model.fields.get(name)
        current = normalize(spec, fresh) if spec is not None else fresh
        if current is UNKNOWN:
            drift.append(Drift(name, planned, UNKNOWN))
        elif not same(planned, current):
            drift.extend(_drift_of(name, planned, current, _item_keys(spec)))
    if not drift:
        return None
    moved = "; ".join(
        f"{item.path} was {_show(item.planned)} in the plan, now {_show(item.live)}"
        for item in drift
    )
    return Staleness(f"changed since the plan was made: {moved}", tuple(drift))


def already_applied(change: Change, live: LiveCustomer | None, model: ProviderModel) -> bool:
    """True when ``live`` (read just now; ``None``: absent) already holds what ``change`` would
    make it: a deleted customer is gone, a created or updated one has every ``after`` value."""
    if change.action == "delete":
        return live is None
    if live is None:
        return False
    current = {name: normalize(spec, live.get(name)) for name, spec in model.fields.items()}
    return all(same(value_at(model, current, field.path), field.after) for field in change.fields)


def _item_keys(spec: FieldSpec | None) -> frozenset[str]:
    """The keys that name list items inside a field: its own, else (a structure the field
    spec does not describe) any item key a provider declares."""
    if spec is not None and spec.item_key:
        return frozenset({spec.item_key})
    return frozenset(
        other.item_key
        for model in MODELS.values()
        for other in model.fields.values()
        if other.item_key
    )


def _drift_of(
    path: str, planned: Any, current: Any, item_keys: frozenset[str] = frozenset()
) -> list[Drift]:
    """Name each leaf that moved inside a structure (``metadata.tier``,
    ``metadata.owner.team``, ``billing_controls.spend_limits[0].overage_limit``), else the
    field itself.

    Live values are whatever the API holds, nested however deep, so the walk is deepdiff's:
    imported here, the one place it is needed (a structured field of a stale customer), so no
    other run pays for loading it. Both sides are already normalized, so what deepdiff sees
    moving is what a plan would call a change. A key present on one side only shows as null
    on the other, as metadata treats them alike.
    """
    if not (isinstance(planned, Mapping | list) and isinstance(current, Mapping | list)):
        return [Drift(path, planned, current)]
    from deepdiff import DeepDiff
    from deepdiff.helper import notpresent

    drift = [
        Drift(
            _leaf_path(path, level.path(output_format="list"), planned, current, item_keys),
            None if level.t1 is notpresent else level.t1,
            None if level.t2 is notpresent else level.t2,
        )
        for report in DeepDiff(planned, current, view="tree").values()
        for level in report
    ]
    return sorted(drift, key=lambda item: item.path) or [Drift(path, planned, current)]


def _leaf_path(
    field: str, parts: list[Any], planned: Any, current: Any, item_keys: frozenset[str]
) -> str:
    """``metadata`` + ``["owner", "team"]`` -> ``metadata.owner.team``, as plans write paths:
    an item of a keyed list by its key (``spend_limits[messages]``), else by its position;
    keys that are not plain words quoted (``metadata["a b"]``)."""
    text = field
    for part in parts:
        if isinstance(part, int):
            item = _child(planned, part)
            named = (
                [item[k] for k in sorted(item_keys) if k in item]
                if isinstance(item, Mapping)
                else []
            )
            key = named[0] if named else None
            plain = isinstance(key, str) and _PLAIN_KEY.fullmatch(key) is not None
            text += f"[{key}]" if plain else f"[{part}]"
        elif _PLAIN_KEY.fullmatch(str(part)):
            text += f".{part}"
        else:
            text += f"[{json.dumps(str(part), ensure_ascii=False)}]"
        planned, current = _child(planned, part), _child(current, part)
        if planned is None:
            planned = current
    return text


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, Mapping):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _show(value: Any) -> str:
    if value is UNKNOWN:
        return "unknown"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(encode_value(value), ensure_ascii=False, sort_keys=True)
