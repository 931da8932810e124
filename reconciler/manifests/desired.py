"""From a schema-valid manifest document to ``DesiredCustomer`` values.

``defaults`` are merged under each customer: the customer's own value wins, ``metadata`` merges
key by key (the customer's keys win), ``lifecycle.prevent_destroy`` is the customer's if given,
and ``lifecycle.ignore_changes`` is the union of both lists. Numbers become ``Decimal`` (from
their shortest text, so ``19.99`` is ``Decimal("19.99")``), everywhere including metadata and
billing controls; timestamps stay the text as written. Beyond the schema, each customer goes
through its provider's ``customer_checks`` (``ProviderPlugin``), which point at the node at fault.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from yaml.nodes import Node

from reconciler.domain import DesiredCustomer, Lifecycle, ProviderModel, Source
from reconciler.manifests.checks import provider_checks
from reconciler.manifests.yamlfile import YamlDocument, locate, position
from reconciler.problems import Problem, closest
from reconciler.providers.registry import MODELS, default_provider

_NO_LIFECYCLE = Lifecycle()


def desired_value(value: Any) -> Any:
    """A manifest value as desired state holds it: numbers as ``Decimal``, the rest as is."""
    kind = value.__class__
    if kind is str or value is None or kind is bool:
        return value
    if kind is int:
        return Decimal(value)
    if kind is float:
        return Decimal(repr(value))
    if kind is dict:
        return {key: desired_value(item) for key, item in value.items()}
    if kind is list:
        return [desired_value(item) for item in value]
    return value  # pragma: no cover - documents hold JSON-like values only


def build_customers(document: YamlDocument) -> tuple[list[DesiredCustomer], list[Problem]]:
    """The customers a schema-valid document declares, and the problems only nodes can show."""
    value: dict[str, Any] = document.value
    model = MODELS[value.get("provider", default_provider())]
    checks, _ = provider_checks(model.name)
    environment: str = value.get("environment", model.default_environment)
    path = document.path
    problems: list[Problem] = []

    defaults: dict[str, Any] = value.get("defaults") or {}
    default_fields = {
        name: desired_value(item) for name, item in defaults.items() if name in model.fields
    }
    default_lifecycle: dict[str, Any] = defaults.get("lifecycle") or {}
    default_ignored: list[str] = default_lifecycle.get("ignore_changes", [])
    if "defaults" in value:
        problems.extend(
            _ignore_changes_problems(default_ignored, _below(document, "defaults"), model, path)
        )

    customers: list[DesiredCustomer] = []
    positions = document.item_positions("customers")
    for index, (item, (line, column)) in enumerate(zip(value["customers"], positions, strict=True)):
        fields: dict[str, Any] = {}
        for name in model.fields:
            if name in item:
                declared = desired_value(item[name])
                if name == "metadata" and "metadata" in default_fields:
                    declared = {**default_fields["metadata"], **declared}
                fields[name] = declared
            elif name in default_fields:
                fields[name] = default_fields[name]

        own_lifecycle: dict[str, Any] | None = item.get("lifecycle")
        if own_lifecycle is None and not default_lifecycle:
            lifecycle = _NO_LIFECYCLE
        else:
            own = own_lifecycle or {}
            own_ignored: list[str] = own.get("ignore_changes", [])
            # The item's node is composed only if a problem needs its position.
            item_node = _below(document, "customers", index)
            problems.extend(_ignore_changes_problems(own_ignored, item_node, model, path))
            lifecycle = Lifecycle(
                prevent_destroy=own.get(
                    "prevent_destroy", default_lifecycle.get("prevent_destroy", False)
                ),
                ignore_changes=frozenset(default_ignored).union(own_ignored),
            )
        if checks is not None:
            for found in checks(item):
                # The item's node is composed only for a problem to place.
                at = locate(document.node, ["customers", index, *found.path])
                at_line, at_column = position(at)
                problems.append(Problem(path, at_line, at_column, found.message, found.hint))
        customers.append(
            DesiredCustomer(
                provider=model.name,
                environment=environment,
                id=item[model.id_field],
                fields=fields,
                source=Source(path, line, column),
                lifecycle=lifecycle,
            )
        )
    return customers, problems


def _below(document: YamlDocument, *path: str | int) -> Callable[[], Node]:
    """The node at ``path`` in ``document``, found when called (it may compose the file)."""
    return lambda: locate(document.node, path)


def _ignore_changes_problems(
    names: Sequence[str], owner: Callable[[], Node], model: ProviderModel, path: str
) -> Iterator[Problem]:
    for index, name in enumerate(names):
        if name in model.fields:
            continue
        node = locate(owner(), ["lifecycle", "ignore_changes", index])
        line, column = position(node)
        if name == model.id_field:
            message = f"'{name}' names the customer and cannot be ignored"
            hint = "list fields whose drift should not be corrected, e.g. metadata"
        else:
            message = f"ignore_changes names '{name}', which a {model.name} customer cannot declare"
            close = closest(name, model.fields)
            hint = (
                f"did you mean '{close}'?"
                if close
                else "use one of: " + ", ".join(model.field_names())
            )
        yield Problem(path, line, column, message, hint)
