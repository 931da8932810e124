"""JSON Schema validation of YAML documents, reported as positioned, plain-language Problems.

Two validators read the same schema file: ``fastjsonschema`` (compiled once per schema, see
``reconciler.manifests.validators``) accepts
valid documents quickly; only when it rejects one does ``jsonschema``'s Draft 2020-12 validator
run, which is authoritative and reports *every* error with its exact path. The schemas stay in
the keyword subset both interpret identically (tests pin the agreement).

Each error is mapped back to the YAML node it is about (the unknown key itself for an unknown
field, the mapping for a missing one) and worded for the people who edit manifests.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import fastjsonschema

from reconciler.manifests.resources import MANIFEST_SCHEMA, load_schema
from reconciler.manifests.validators import compiled_validator
from reconciler.manifests.yamlfile import YamlDocument, locate, position
from reconciler.problems import Problem, closest
from reconciler.providers.registry import MODELS, default_provider

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

_JSON_TYPES = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true/false",
    "null": "null",
    "object": "a mapping (key: value lines)",
    "array": "a list",
}


def _unknown_field_hints() -> dict[str, str]:
    """Unknown fields that are a known mistake, with what to do instead."""
    from reconciler.providers.registry import plugins

    naming = ", ".join(
        f"{plugin.title or name} customers by '{plugin.model.id_field}'"
        for name, plugin in plugins().items()
    )
    variables = ", ".join(plugin.connection.key_variable for plugin in plugins().values())
    hints = {
        "api_key": (
            "API keys never go in files that are committed: name a key file with "
            f"'api_key_file', or set the provider's environment variable ({variables})"
        )
    }
    for plugin in plugins().values():
        hints.setdefault(plugin.model.id_field, f"customers are named by their id: {naming}")
    hints.setdefault("id", f"customers are named by their id: {naming}")
    return hints


@functools.cache
def _fast_validator(schema_name: str) -> Callable[[Any], Any]:
    # Compiled once per schema and kept on disk: compiling costs more than a small run.
    return compiled_validator(load_schema(schema_name))


@functools.cache
def _full_validator(schema_name: str) -> Validator:
    # Imported here: jsonschema is slow to import and only needed when a document is invalid.
    from jsonschema import Draft202012Validator

    validator: Validator = Draft202012Validator(load_schema(schema_name))
    return validator


def is_valid(value: Any, schema_name: str) -> bool:
    """True when ``value`` satisfies the schema (the fast path only)."""
    try:
        _fast_validator(schema_name)(value)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def schema_errors(value: Any, schema_name: str) -> list[ValidationError]:
    """Every error the authoritative validator finds in ``value``."""
    return list(_full_validator(schema_name).iter_errors(value))


def schema_problems(document: YamlDocument, schema_name: str) -> list[Problem]:
    """The document's schema errors as Problems, or ``[]`` when it is valid."""
    if is_valid(document.value, schema_name):
        return []
    problems: set[Problem] = set()
    for error in schema_errors(document.value, schema_name):
        problems.update(_problems_for(error, document))
    return sorted(problems)


def _problems_for(error: ValidationError, document: YamlDocument) -> Iterable[Problem]:
    path = list(error.absolute_path)
    validator = error.validator
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(_schema_of(error).get("properties", {}))
        for name in error.instance:
            if name in allowed:
                continue
            node = locate(document.node, [*path, name], key=True)
            if id(node) in document.broken:
                continue
            yield _at(document, node, *_unknown_field(name, allowed, path, document.value))
        return
    if validator == "required" and isinstance(error.instance, dict):
        node = locate(document.node, path)
        required: list[str] = list(_expected_value(error))
        for name in required:
            if name not in error.instance:
                yield _at(document, node, *_missing_field(name, path))
        return
    node = locate(document.node, path)
    if id(node) in document.broken:
        return
    if not path and error.validator == "type":
        yield _at(document, node, *_not_a_mapping(error))
        return
    yield _at(document, node, *_describe(error, path))


def _schema_of(error: ValidationError) -> Mapping[str, Any]:
    schema = error.schema
    return schema if isinstance(schema, Mapping) else {}


def _expected_value(error: ValidationError) -> Any:
    """The keyword's value in the schema (e.g. the enum's choices); typed loosely on purpose."""
    value: Any = error.validator_value
    return value


def _at(document: YamlDocument, node: Any, message: str, hint: str) -> Problem:
    line, column = position(node)
    return Problem(document.path, line, column, message, hint)


def _field(path: Sequence[str | int]) -> str:
    """How to name the value at ``path`` in a message: ``'period_budget'``, ``item 2 of ...``."""
    if not path:
        return "the document"
    last = path[-1]
    if isinstance(last, int):
        parent = _field(path[:-1])
        return f"item {last + 1} of {parent}"
    return f"'{last}'"


def _suggest(word: str, choices: Iterable[str]) -> str:
    return closest(word, choices) or ""


def _unknown_field(
    name: str, allowed: Sequence[str], path: Sequence[str | int], document: Any
) -> tuple[str, str]:
    guess = _suggest(name, allowed)
    message = f"unknown field '{name}'"
    if guess:
        message += f" (did you mean '{guess}'?)"
    provider = document.get("provider", default_provider()) if isinstance(document, dict) else ""
    elsewhere = [
        model.name for model in MODELS.values() if name in model.fields and name not in allowed
    ]
    id_fields = {model.id_field for model in MODELS.values()}
    if path and path[0] == "defaults" and name in id_fields:
        hint = "the identifier belongs on each customer, not in defaults"
    elif name in (hints := _unknown_field_hints()):
        hint = hints[name]
    elif guess:
        hint = "fix the spelling, or remove the field"
    elif elsewhere and path and path[0] in ("customers", "defaults"):
        hint = f"'{name}' is a field of {elsewhere[0]} customers, and this file's provider is "
        hint += f"{provider}; allowed here: " + ", ".join(allowed)
    else:
        hint = "allowed here: " + ", ".join(allowed) if allowed else "remove the field"
    return message, hint


def _missing_field(name: str, path: Sequence[str | int]) -> tuple[str, str]:
    if not path:
        return f"missing required field '{name}'", f"add '{name}:' at the top of the document"
    where = "customer" if len(path) == 2 and path[0] == "customers" else _field(path)
    return f"{where} has no '{name}'", f"add '{name}:' (it is required)"


def _type_names(types: Any) -> list[str]:
    return [types] if isinstance(types, str) else [str(name) for name in types]


def _expected(types: Any) -> str:
    words = [_JSON_TYPES.get(name, name) for name in _type_names(types)]
    if len(words) <= 2:
        return " or ".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def _shown(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"text '{value}'" if len(value) <= 60 else "text"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)  # pragma: no cover - documents hold JSON-like values only


def _not_a_mapping(error: ValidationError) -> tuple[str, str]:
    """The whole document is not a mapping: say what the file should look like."""
    if "customers" in _schema_of(error).get("required", ()):
        return (
            "a manifest must be a mapping with a 'customers:' list",
            "start the document with 'customers:' (and optionally provider, environment, defaults)",
        )
    return (
        "the file must be a mapping of settings (key: value lines)",
        "see the documented reconciler.yaml keys: manifests, audit_log, rate_limit, policy, "
        "providers",
    )


def _describe(error: ValidationError, path: Sequence[str | int]) -> tuple[str, str]:
    """Plain-language message and hint for one (non-key) schema error."""
    field = _field(path)
    value = error.instance
    expected = _expected_value(error)
    if error.validator == "type":
        if value is None:
            if path == ["customers"]:
                return f"{field} is empty", "list customers under it, or write 'customers: []'"
            if len(path) == 1 and path[0] in ("defaults", "policy", "providers"):
                return f"{field} is empty", "add entries under it, or remove the line"
            return (
                f"{field} cannot be null here",
                "write a value, or remove the line to leave the field unmanaged",
            )
        message = f"{field} must be {_expected(expected)}, not {_shown(value)}"
        return message, _type_hint(expected, value)
    if error.validator == "enum":
        choices = [str(choice) for choice in expected]
        listed = ", ".join(choices)
        if path == ["environment"]:
            return f"unknown environment '{value}' for this provider", f"use one of: {listed}"
        guess = _suggest(str(value), choices)
        message = f"{field} must be one of {listed}, not {_shown(value)}"
        hint = f"did you mean '{guess}'?" if guess else f"use one of: {listed}"
        return message, hint
    if error.validator == "minimum":
        if expected == 0:
            return f"{field} must not be negative (got {value})", "use 0 or a positive amount"
        return f"{field} must be at least {expected} (got {value})", f"use {expected} or more"
    if error.validator == "exclusiveMaximum":
        return (
            f"{field} is too large (got {value}): numbers must be below 10^26",
            "check the number of digits; amounts are USD",
        )
    if error.validator == "minLength":
        return f"{field} must not be empty", "write a value, or remove the line"
    if error.validator == "pattern":
        if expected == _timestamp_pattern():
            return (
                f"{field} is not a date and time with a time zone: {_shown(value)}",
                'write it as an ISO 8601 timestamp in quotes, e.g. "2026-11-01T00:00:00Z"',
            )
        return f"{field} is not valid: {_shown(value)}", str(
            _schema_of(error).get("description", "")
        )
    return f"{field}: {error.message}", ""  # pragma: no cover - keywords the schemas don't use


@functools.cache
def _timestamp_pattern() -> str:
    return str(load_schema(MANIFEST_SCHEMA)["$defs"]["timestamp"]["pattern"])


# A number with an exponent as JSON and YAML 1.2 write it; YAML 1.1 (PyYAML) takes it as text
# unless it has both a '.' and a signed exponent, so `1e2` reaches the schema as text.
_YAML12_EXPONENT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]{1,3}")
_SIGNED_EXPONENT = re.compile(r"[eE][-+]")


def _plain_decimal(text: str) -> str:
    """`` (100)`` for ``1e2``; nothing when the number is too long to be useful to show."""
    plain = f"{Decimal(text).normalize():f}"
    return f" ({plain})" if len(plain) <= 30 else ""


def _type_hint(expected: Any, value: Any) -> str:
    names = _type_names(expected)
    if isinstance(value, dict | list) and "object" not in names and "array" not in names:
        return "write a single value here, not a mapping or list"
    if "number" in names or "integer" in names:
        if (
            isinstance(value, str)
            and _YAML12_EXPONENT.fullmatch(value)
            and not ("." in value and _SIGNED_EXPONENT.search(value))  # else it was quoted
        ):
            return (
                f"YAML 1.1 reads '{value}' as text (its exponents need a '.' and a sign, as in "
                f"1.0e+2): write the plain decimal number{_plain_decimal(value)}"
            )
        return "write a plain number without quotes or currency signs, e.g. 250 or 19.99"
    if "boolean" in names:
        return "write true or false, without quotes"
    if "array" in names:
        return "write a list: one '- item' per line, or [a, b]"
    if "object" in names:
        return "write 'key: value' lines indented under it"
    if "string" in names:
        return "write text; quote it if it looks like a number or true/false"
    return ""  # pragma: no cover - every type the schemas use is covered above
