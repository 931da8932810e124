"""Saved plans against live state: has a customer moved since the plan recorded its ``before``
(refused as stale), or does it already hold the plan's ``after`` (already applied)?

For the applier, before anything is sent for a change. Fresh live values are normalized with
the planner's own functions, so "moved" means exactly what "changed" means in a plan: to the
cent for money, as an instant for timestamps, key by key for metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reconciler.audit import Drift, encode_value
from reconciler.domain import UNKNOWN, LiveCustomer, ProviderModel
from reconciler.plan import Change
from reconciler.planner.body import value_at
from reconciler.planner.normalize import normalize, same


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
            drift.extend(_drift_of(name, planned, current))
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


def _drift_of(path: str, planned: Any, current: Any) -> list[Drift]:
    """Name the keys that moved inside a mapping (``metadata.tier``), else the field itself.

    A key present on one side only shows as null on the other, as metadata treats them alike.
    """
    if not (isinstance(planned, Mapping) and isinstance(current, Mapping)):
        return [Drift(path, planned, current)]
    return [
        Drift(f"{path}.{key}", planned.get(key), current.get(key))
        for key in sorted(set(planned) | set(current), key=str)
        if key not in planned or key not in current or not same(planned[key], current[key])
    ]


def _show(value: Any) -> str:
    if value is UNKNOWN:
        return "unknown"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(encode_value(value), ensure_ascii=False, sort_keys=True)
