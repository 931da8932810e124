"""Live API values as a manifest writes them, field kind by field kind.

The rule for every kind: what is written must load back (through the manifest schema and the
planner's normalization) as a value equal to the live one, so that ``plan`` of an export shows
no changes. Hence money is written to the cent without float noise (``250.0000001`` -> ``250``,
``99.5`` -> ``99.5``), percentages to the planner's precision, timestamps as canonical UTC text,
and structures with keys in the schema's order.

A value that no manifest can declare (text where a number belongs, a negative amount or one
of 10^26 or more, a billing-control entry lacking a required key) raises ``Unrepresentable``:
the caller leaves the field out and says so, rather than writing a file that fails validation
(or that the planner would read as another value). Metadata is judged key by key
(``undeclarable_metadata``): one value no manifest can hold need not cost the other keys.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from reconciler.domain import FieldKind, FieldSpec
from reconciler.manifests.resources import MANIFEST_SCHEMA, load_schema
from reconciler.money import AMOUNT_LIMIT, CENT, to_decimal
from reconciler.planner.normalize import canonical_decimal, canonical_timestamp

_ONE = Decimal(1)
# What YAML 1.1 reads as line breaks besides \n and \r (NEL, LS, PS): text holding one is
# written double-quoted, escaped, or reading it back folds the break into a space.
LINE_BREAKS = frozenset("\x85\u2028\u2029")


class Unrepresentable(ValueError):
    """A live value that a valid manifest cannot hold; the message says why."""


class Timestamp(str):
    """Text that is an ISO 8601 instant: YAML writers quote it, so it stays a string."""

    __slots__ = ()


def manifest_value(spec: FieldSpec, value: Any) -> Any:
    """``value`` (as the API returned it) in the form a manifest declares for ``spec``.

    ``None`` stays ``None``. Raises ``Unrepresentable`` when no manifest can declare it.
    """
    if value is None:
        return None
    kind = spec.kind
    try:
        if kind is FieldKind.MONEY:
            return money(value)
        if kind is FieldKind.DECIMAL:
            return plain(declarable(canonical_decimal(value), value))
        if kind is FieldKind.TIMESTAMP:
            return Timestamp(canonical_timestamp(value))
    except Unrepresentable:
        raise
    except (ValueError, ArithmeticError):
        # ArithmeticError: decimal's InvalidOperation for digits beyond its precision.
        raise Unrepresentable(f"{value!r} is not a {kind.value}") from None
    if kind is FieldKind.TEXT:
        if not isinstance(value, str):
            raise Unrepresentable(f"{value!r} is not text")
        return value
    if kind is FieldKind.ENUM:
        if value not in spec.choices:
            raise Unrepresentable(f"{value!r} is not one of {', '.join(spec.choices)}")
        return value
    if kind is FieldKind.BOOL:
        if not isinstance(value, bool):
            raise Unrepresentable(f"{value!r} is not true/false")
        return value
    if kind is FieldKind.METADATA:
        return metadata(value)
    if kind is FieldKind.INTEGER:
        return whole_number(value)
    if kind is FieldKind.LIST:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise Unrepresentable(f"{value!r} is not a list of text")
        return sorted(set(value))
    if kind is FieldKind.MAPPING:
        if not isinstance(value, Mapping):
            raise Unrepresentable(f"{value!r} is not a mapping")
        return nested(value)
    return keyed_lists(value, spec)


def money(value: Any) -> Decimal:
    """A USD amount to the cent, spelled without trailing zeros: ``250``, ``99.5``, ``0.01``.

    Raises ``Unrepresentable`` for an amount no manifest declares (negative, 10^26 or more).
    """
    number = declarable(to_decimal(value), value)
    return plain(number.quantize(CENT, rounding=ROUND_HALF_EVEN))


def declarable(number: Decimal, value: Any) -> Decimal:
    """``number`` when a manifest can declare it where amounts, percentages and counts go
    (0 or more, below 10^26: the schema's bounds); ``Unrepresentable`` naming ``value`` if not.
    """
    if number < 0:
        raise Unrepresentable(f"{value!r} is negative")
    if number >= AMOUNT_LIMIT:
        raise Unrepresentable(f"{value!r} is not below 10^26")
    return number


def plain(number: Decimal) -> Decimal:
    """The same number without trailing zeros or exponent: ``250.00`` -> ``250``.

    Raises ``Unrepresentable`` for a number with a fraction that the manifest loader, which
    reads such a number through a binary float, would read back as another one (more than
    about 16 significant digits: ``0.12345678901234567891``).
    """
    if number == number.to_integral_value():
        return number.quantize(_ONE)
    if Decimal(repr(float(number))) != number:
        raise Unrepresentable(f"{number} has more digits than a manifest number keeps")
    return number.normalize()


def metadata(value: Any) -> dict[str, Any]:
    """A flat mapping of scalars with its keys sorted; ``Unrepresentable`` if not a mapping.

    Keys whose value no manifest can declare (a mapping or list, which the schema does not
    allow; a number the loader would read as another) are left out; ``undeclarable_metadata``
    names them for the caller's notes.
    """
    if not isinstance(value, Mapping):
        raise Unrepresentable(f"{value!r} is not a mapping")
    return {key: item for key, item in _labels(value).items() if not _refused(item)}


def undeclarable_metadata(value: Any) -> dict[str, str]:
    """Metadata key -> why no manifest can declare its value (``{}`` when all can be)."""
    if not isinstance(value, Mapping):
        return {}
    return {key: str(item) for key, item in _labels(value).items() if _refused(item)}


def _labels(value: Mapping[Any, Any]) -> dict[str, Any]:
    """Each key's value as a manifest declares it, or the ``Unrepresentable`` saying why not."""
    labels: dict[str, Any] = {}
    for key in sorted(value, key=str):
        item = value[key]
        try:
            if isinstance(item, Mapping | list | tuple):
                raise Unrepresentable("a nested value cannot be declared")
            labels[str(key)] = _scalar(item)
        except Unrepresentable as exc:
            labels[str(key)] = exc
    return labels


def _refused(label: Any) -> bool:
    return isinstance(label, Unrepresentable)


def whole_number(value: Any) -> Decimal:
    """A whole number as a plain ``Decimal`` (``60``); ``Unrepresentable`` for ``2.5``."""
    if isinstance(value, bool):
        raise Unrepresentable(f"{value!r} is not a whole number")
    number = declarable(_or_unrepresentable(to_decimal, value, "a value"), value)
    if number != number.to_integral_value():
        raise Unrepresentable(f"{value!r} is not a whole number")
    return plain(number)


def nested(value: Any) -> Any:
    """Nested JSON with its keys sorted and its numbers as plain ``Decimal``s."""
    if isinstance(value, Mapping):
        return {str(key): nested(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [nested(item) for item in value]
    return _scalar(value)


def keyed_lists(value: Any, spec: FieldSpec) -> dict[str, Any]:
    """Keyed item arrays (a ``billing_controls`` field) limited to what the schema declares
    for ``spec`` (its ``definition``), in the schema's key order.

    Arrays the schema does not know are left out (undeclared arrays are not managed, so this
    loses nothing a plan would compare); entries keep only the schema's keys, in its order.
    Raises ``Unrepresentable`` for an entry missing a required key.
    """
    if not isinstance(value, Mapping):
        raise Unrepresentable(f"{value!r} is not a mapping")
    controls: dict[str, Any] = {}
    for name, item_schema in _item_arrays(spec.definition).items():
        items = value.get(name)
        if items is None:
            continue
        where = f"{spec.name}.{name}"
        if not isinstance(items, list):
            raise Unrepresentable(f"{where} is not a list")
        controls[name] = [_item(where, entry, item_schema, spec.money_keys) for entry in items]
    return controls


def _item(
    array: str, entry: Any, schema: Mapping[str, Any], money_keys: frozenset[str]
) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise Unrepresentable(f"an entry of {array} is not a mapping")
    missing = [key for key in schema.get("required", ()) if entry.get(key) is None]
    if missing:
        raise Unrepresentable(f"an entry of {array} has no {missing[0]}")
    written: dict[str, Any] = {}
    for key, key_schema in schema["properties"].items():
        if entry.get(key) is None:
            continue
        item = entry[key]
        if key in money_keys:
            written[key] = _or_unrepresentable(money, item, f"{array}.{key}")
        elif "$ref" in key_schema:
            nested = _definition(key_schema["$ref"])
            if not isinstance(item, Mapping):
                raise Unrepresentable(f"{array}.{key} is not a mapping")
            written[key] = {
                name: _bounded(item[name], schema, f"{array}.{key}.{name}")
                for name, schema in nested["properties"].items()
                if name in item
            }
        else:
            written[key] = _bounded(item, key_schema, f"{array}.{key}")
    return written


def _bounded(value: Any, schema: Mapping[str, Any], where: str) -> Any:
    """``_scalar(value)``, ``Unrepresentable`` when a number is below the schema's minimum."""
    written = _scalar(value)
    minimum = schema.get("minimum")
    if isinstance(written, Decimal) and minimum is not None and written < minimum:
        raise Unrepresentable(f"{where}: {value!r} is below {minimum}")
    return written


def _scalar(value: Any) -> Any:
    """Text, true/false and null as they are; every other number as a plain ``Decimal``."""
    if value is None or isinstance(value, str | bool):
        return value
    return _or_unrepresentable(lambda number: plain(to_decimal(number)), value, "a value")


def _or_unrepresentable(convert: Any, value: Any, where: str) -> Any:
    try:
        return convert(value)
    except Unrepresentable as exc:
        raise Unrepresentable(f"{where}: {exc}") from None
    except (ValueError, ArithmeticError):
        # ArithmeticError: ``plain`` of a number with more digits than decimal's precision
        # (1e30), which the planner could not compare as a number either.
        raise Unrepresentable(f"{where}: {value!r} is not a number a manifest keeps") from None


@functools.cache
def _item_arrays(definition: str) -> dict[str, Mapping[str, Any]]:
    """Array name -> the schema of its entries, in the schema's order, for the arrays of
    ``$defs/<definition>``."""
    properties = _definition(definition)["properties"]
    return {name: _definition(spec["items"]["$ref"]) for name, spec in properties.items()}


def _definition(ref: str) -> Mapping[str, Any]:
    name = ref.removeprefix("#/$defs/")
    definition: Mapping[str, Any] = load_schema(MANIFEST_SCHEMA)["$defs"][name]
    return definition


def schema_keys(definition: str) -> tuple[str, ...]:
    """The property names of ``$defs/<definition>`` in the schema's order."""
    return tuple(_definition(definition)["properties"])
