"""Why each change is planned, against a git base (``plan --base REF``). Pure: no I/O.

Three values meet for every field a plan changes: what the manifests declared at the base
(``base``), what they declare now (``head``) and what is live. The plan changes the field
because ``head`` differs from live; the reviewer of a pull request wants to know whether
that is the pull request's doing:

- ``manifest``: the manifests changed the value between the base and now. A field that
  both changed in the manifests and drifted live is ``manifest`` too: the pull request
  decides its value, whatever live holds.
- ``drift``: the manifests did not change it; live moved away, and apply moves it back.

Customers follow the same rule: a create, or a ``missing`` customer, is ``manifest`` when the
base did not declare it (and a create also when any of its fields changed); a delete is
``manifest`` when the base declared the customer (the pull request removed it) and ``drift``
when no manifest declared it at the base either. A field the base leaves unmanaged (not
declared, or in ``lifecycle.ignore_changes``) counts as absent there, so starting to manage
a field is a manifest change.

With a base, removing the declaration of a customer that had ``lifecycle.prevent_destroy:
true`` there is a policy violation (``removal_violations``), until a change sets it to
``false`` first: that removal is how a protected customer would stop being protected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Final

from reconciler.domain import CustomerKey, DesiredCustomer, FieldKind, FieldSpec, ProviderModel
from reconciler.plan.model import (
    CAUSES,
    BaseRevision,
    Cause,
    Change,
    FieldChange,
    Plan,
    PolicyViolation,
)
from reconciler.planner.body import parse_path
from reconciler.planner.diff import create_value, keyed_items
from reconciler.planner.normalize import normalize, same


class _Absent:
    """Not declared on that side (a field the manifests did not manage, or no customer)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()


def classify(base: Any, head: Any, live: Any) -> Cause | None:
    """The cause of a change to one value: ``None`` when ``head`` equals ``live`` (nothing to
    change), ``manifest`` when ``base`` and ``head`` differ, else ``drift``.

    Values are canonical (normalized) values at one path; ``ABSENT`` means not declared.
    """
    if same(head, live):
        return None
    return "drift" if same(base, head) else "manifest"


def with_causes(
    plan: Plan,
    base_customers: Iterable[DesiredCustomer],
    models: Mapping[str, ProviderModel],
    base: BaseRevision,
) -> Plan:
    """``plan`` with the cause of every change and field, against the customers the manifests
    declared at ``base``."""
    at_base = {customer.key: customer for customer in base_customers}
    changes = tuple(_with_cause(change, at_base.get(change.key), models) for change in plan.changes)
    return dataclasses.replace(plan, changes=changes, base=base)


def removal_violations(
    base_customers: Iterable[DesiredCustomer],
    head_keys: Iterable[CustomerKey],
    base: BaseRevision,
) -> tuple[PolicyViolation, ...]:
    """A violation for each customer declared with ``prevent_destroy: true`` at ``base`` whose
    declaration is gone now."""
    declared = set(head_keys)
    found: list[PolicyViolation] = []
    for customer in sorted(base_customers, key=lambda c: c.key):
        if customer.lifecycle.prevent_destroy and customer.key not in declared:
            found.append(
                PolicyViolation(
                    rule="prevent_destroy",
                    message=(
                        f"declared with lifecycle.prevent_destroy: true at {base.ref}, and this "
                        "change removes its declaration; first merge a change that sets "
                        "prevent_destroy: false, then remove the declaration in a later one"
                    ),
                    provider=customer.provider,
                    environment=customer.environment,
                    id=customer.id,
                )
            )
    return tuple(found)


def by_cause(plan: Plan) -> dict[Cause, tuple[Change, ...]]:
    """The plan's changes in two groups, in plan order: an update appears in each group it has
    fields of (with only those fields); any other change in the group of its own cause. A
    change without a cause (no base) counts as ``manifest``."""
    groups: dict[Cause, list[Change]] = {cause: [] for cause in CAUSES}
    for change in plan.changes:
        if change.action != "update" or not change.fields:
            groups[change.cause or "manifest"].append(change)
            continue
        for cause in CAUSES:
            fields = tuple(
                f for f in change.fields if (f.cause or change.cause or "manifest") == cause
            )
            if fields:
                groups[cause].append(dataclasses.replace(change, fields=fields, cause=cause))
    return {cause: tuple(changes) for cause, changes in groups.items()}


def _with_cause(
    change: Change, declared: DesiredCustomer | None, models: Mapping[str, ProviderModel]
) -> Change:
    model = models.get(change.provider)
    if model is None:  # the planner refuses unknown providers; nothing to compare with here
        return dataclasses.replace(change, cause="manifest")
    values = _base_values(model, declared)
    fields = tuple(
        dataclasses.replace(field, cause=_field_cause(model, values, field))
        for field in change.fields
    )
    any_manifest = any(field.cause == "manifest" for field in fields)
    cause: Cause
    if change.action == "delete":
        cause = "manifest" if declared is not None else "drift"
    elif change.action == "missing":
        cause = "manifest" if declared is None else "drift"
    else:
        cause = "manifest" if declared is None or any_manifest else "drift"
    return dataclasses.replace(change, fields=fields, cause=cause)


def _base_values(model: ProviderModel, declared: DesiredCustomer | None) -> dict[str, Any]:
    """The managed fields the base declared, normalized as the planner normalizes them."""
    if declared is None:
        return {}
    ignored = declared.lifecycle.ignore_changes
    return {
        name: normalize(spec, declared.fields[name])
        for name, spec in model.fields.items()
        if name in declared.fields and name not in ignored
    }


def _field_cause(model: ProviderModel, values: Mapping[str, Any], field: FieldChange) -> Cause:
    name, parts = parse_path(field.path)
    spec = model.fields.get(name)
    base = (
        ABSENT
        if spec is None or name not in values
        else _declared_at(model, spec, values[name], parts)
    )
    # The plan changes the field, so head (its ``after``) differs from live (its ``before``).
    return classify(base, field.after, field.before) or "manifest"


def _declared_at(model: ProviderModel, spec: FieldSpec, value: Any, parts: tuple[str, ...]) -> Any:
    """What the base declared at a path inside a field, the way the planner reads a
    declaration: ``None`` where the declaration means "absent" (a key of authoritative
    metadata, an item a declared billing array leaves out), ``ABSENT`` where it manages
    nothing (a key of non-authoritative metadata it does not name, an item key it does not
    declare)."""
    if not parts:
        return create_value(spec, value)
    if spec.kind is FieldKind.METADATA:
        if not isinstance(value, Mapping):
            return ABSENT
        if parts[0] in value:
            return value[parts[0]]
        return None if model.metadata_authoritative else ABSENT
    if spec.kind is not FieldKind.KEYED_LISTS:
        return ABSENT
    if not isinstance(value, Mapping) or parts[0] not in value:
        return ABSENT  # an array the base did not declare is not managed there
    array = value[parts[0]]
    if len(parts) == 1:
        return array
    if not isinstance(array, list):
        return ABSENT
    item = keyed_items(spec, array).get(parts[1])
    if len(parts) == 2 or item is None:
        return item
    if not isinstance(item, Mapping) or parts[2] not in item:
        return ABSENT
    return item[parts[2]]
