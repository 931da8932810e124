"""``build_plan``: desired customers vs live customers -> a ``Plan``. Pure: no I/O, no clock.

Rules, for whoever reads a plan or changes this module:

- Only declared fields are managed; an explicit ``null`` clears a field. Values compare in
  canonical form (``normalize``), so no plan shows a change that is not real.
- ``lifecycle.ignore_changes`` names top-level fields whose drift is not corrected: they are
  left out of ``fields`` and ``before`` of an update (so drift in them never makes
  a saved plan stale). A create still sends them: they are declared.
- A declared customer not found live is a ``create`` when the provider's model
  ``creates_missing``, else ``missing`` (reported with the model's note, never sent).
- A live customer that no manifest declares is left alone, or with ``prune`` planned for
  ``delete``. Prune never deletes a customer declared in *any* manifest of the project: the
  planned ones (even those ``--target``/``--exclude`` leave out of this plan) and the
  ``project`` keys the caller passes (every manifest of ``reconciler.yaml``, when only some
  PATHs are planned). So a declared customer is never deleted, and one declared with
  ``lifecycle.prevent_destroy`` even less: the policy also refuses a delete of such a key
  (``evaluate_policy(protected=...)``), which catches saved plans made before it was declared.
- ``targets``/``excludes`` name customer ids exactly; one written ``glob:PATTERN`` is an
  ``fnmatch`` glob (case-sensitive, whole id). Exact by default because a selector that
  silently widens (``team[a]`` matching ``teama``) can prune the wrong customer. A customer is
  in the plan when it matches some target (or there are none) and no exclude.
  ``unchanged`` counts in-plan declared customers that need nothing.
- A declared id that equals another declared or live id only after Unicode normalization
  (NFC vs NFD) is an ``IdentityError`` (``identity``), never a "missing" plus a "delete".
- Order: by provider, environment, action (create, update, delete, missing), then id; fields
  in the model's field order, paths inside a field sorted. The same input gives the same plan.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any, Final

from reconciler.domain import CustomerKey, DesiredCustomer, LiveCustomer, ProviderModel
from reconciler.errors import ConfigError
from reconciler.plan.model import ACTIONS, Change, FieldChange, Plan
from reconciler.planner.diff import create_value, diff_field
from reconciler.planner.identity import check_identities
from reconciler.planner.normalize import normalize

_ACTION_ORDER = {action: index for index, action in enumerate(ACTIONS)}
GLOB_PREFIX: Final = "glob:"
"""A ``--target``/``--exclude`` starting with this is a glob; any other is an exact id."""


def selector_matches(selector: str, customer_id: str) -> bool:
    """``selector`` is ``customer_id`` exactly, or ``glob:PATTERN`` and the glob matches it."""
    if selector.startswith(GLOB_PREFIX):
        return fnmatchcase(customer_id, selector.removeprefix(GLOB_PREFIX))
    return selector == customer_id


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """What the plan covers: ``prune`` undeclared customers, ``targets``/``excludes`` (exact
    ids, or ``glob:`` patterns)."""

    prune: bool = False
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    def selects(self, customer_id: str) -> bool:
        """True when ``customer_id`` is inside this plan's target/exclude selection."""
        if self.targets and not any(selector_matches(t, customer_id) for t in self.targets):
            return False
        return not any(selector_matches(e, customer_id) for e in self.excludes)


def build_plan(
    desired: Iterable[DesiredCustomer],
    live: Mapping[CustomerKey, LiveCustomer],
    models: Mapping[str, ProviderModel],
    options: PlanOptions = PlanOptions(),
    project: Collection[CustomerKey] = frozenset(),
) -> Plan:
    """The plan that makes ``live`` match ``desired`` (see the module docstring for rules).

    ``live`` holds every live customer of the environments involved, by key; ``models`` the
    provider models by name; ``project`` the keys every manifest of the project declares,
    never pruned. Raises ``ConfigError`` for a customer of an unknown provider, and
    ``IdentityError`` when a declared id equals another in Unicode form only.
    """
    desired = tuple(desired)
    check_identities(desired, live, project)
    declared: set[CustomerKey] = set(project)
    changes: list[Change] = []
    unchanged = 0
    for customer in desired:
        declared.add(customer.key)
        if not options.selects(customer.id):
            continue
        model = _model(models, customer.provider)
        found = live.get(customer.key)
        if found is None:
            changes.append(
                _create(model, customer) if model.creates_missing else _missing(model, customer)
            )
            continue
        change = _update(model, customer, found)
        if change is None:
            unchanged += 1
        else:
            changes.append(change)
    if options.prune:
        for key, found in live.items():
            if key not in declared and options.selects(key[2]):
                changes.append(_delete(_model(models, key[0]), key, found))
    changes.sort(key=lambda c: (c.provider, c.environment, _ACTION_ORDER[c.action], c.id))
    return Plan(changes=tuple(changes), unchanged=unchanged)


def _model(models: Mapping[str, ProviderModel], name: str) -> ProviderModel:
    try:
        return models[name]
    except KeyError:
        known = ", ".join(sorted(models)) or "none"
        raise ConfigError(f"unknown provider {name!r} (known: {known})") from None


def _update(model: ProviderModel, customer: DesiredCustomer, found: LiveCustomer) -> Change | None:
    fields: list[FieldChange] = []
    ignored = customer.lifecycle.ignore_changes
    managed = [
        (name, spec)
        for name, spec in model.fields.items()
        if name in customer.fields and name not in ignored
    ]
    for name, spec in managed:
        wanted, live_value = customer.fields[name], found.get(name)
        if _identical(wanted, live_value):
            continue  # most fields of most customers: no normalizing, no diffing
        diff = diff_field(model, spec, normalize(spec, wanted), normalize(spec, live_value))
        if diff is not None:
            fields.extend(diff.changes)
    if not fields:
        return None
    before = {name: normalize(spec, found.get(name)) for name, spec in managed}
    return Change(
        action="update",
        provider=customer.provider,
        environment=customer.environment,
        id=customer.id,
        fields=tuple(fields),
        before=before,
        source=customer.source,
    )


_PLAIN_TYPES: Final = frozenset({str, Decimal, bool, type(None)})


def _identical(wanted: Any, live: Any) -> bool:
    """Equal before any normalizing: same plain type and equal value.

    Equal strings, booleans or decimals (``Decimal("250") == Decimal("250.00")``) normalize to
    equal values for every field kind, so the cheap check never hides a change. Containers are
    left to ``diff_field``: ``{"x": True} == {"x": 1}`` in Python, but not in a plan.
    """
    return type(wanted) is type(live) and type(wanted) in _PLAIN_TYPES and wanted == live


def _create(model: ProviderModel, customer: DesiredCustomer) -> Change:
    fields: list[FieldChange] = []
    for name, spec in model.fields.items():
        if name in customer.fields:
            value = create_value(spec, normalize(spec, customer.fields[name]))
            fields.append(FieldChange(name, None, value, spec.kind))
    return Change(
        action="create",
        provider=customer.provider,
        environment=customer.environment,
        id=customer.id,
        fields=tuple(fields),
        source=customer.source,
    )


def _missing(model: ProviderModel, customer: DesiredCustomer) -> Change:
    return Change(
        action="missing",
        provider=customer.provider,
        environment=customer.environment,
        id=customer.id,
        source=customer.source,
        note=model.missing_note.format(environment=customer.environment),
    )


def _delete(model: ProviderModel, key: CustomerKey, found: LiveCustomer) -> Change:
    before = {
        name: normalize(spec, found.fields[name])
        for name, spec in model.fields.items()
        if name in found.fields
    }
    provider, environment, customer_id = key
    return Change(
        action="delete",
        provider=provider,
        environment=environment,
        id=customer_id,
        before=before,
        note="not declared in any manifest (prune)",
    )
