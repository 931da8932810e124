"""The manifest and config JSON Schemas, and the fast/authoritative validators agreeing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from manifest_strategies import manifest_documents, near_valid_documents

from reconciler.manifests.loader import check_manifest_data
from reconciler.manifests.resources import CONFIG_SCHEMA, MANIFEST_SCHEMA, load_schema
from reconciler.manifests.schema import is_valid, schema_errors
from reconciler.manifests.yamlfile import parse_yaml

SCHEMAS = [MANIFEST_SCHEMA, CONFIG_SCHEMA]
# Keywords both validators interpret identically (fastjsonschema: draft-07 semantics).
PORTABLE_KEYWORDS = {
    "$schema", "$id", "$ref", "$defs", "title", "description", "type", "enum", "pattern",
    "minimum", "minLength", "required", "properties", "additionalProperties", "items",
    "allOf", "if", "then", "exclusiveMaximum", "uniqueItems",
}  # fmt: skip
CORPUS = Path(__file__).parent / "invalid"


def subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        yield schema
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for child in value.values():
                    yield from subschemas(child)
            elif key != "enum":
                yield from subschemas(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from subschemas(item)


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_is_a_valid_2020_12_schema(name: str) -> None:
    """Each schema is a valid Draft 2020-12 schema with $schema, $id and title."""
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    assert schema["title"]


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_property_has_a_description(name: str) -> None:
    """Editors show descriptions: every declared property carries one."""
    missing = [
        prop
        for sub in subschemas(load_schema(name))
        for prop, spec in sub.get("properties", {}).items()
        if not (isinstance(spec, dict) and spec.get("description"))
    ]
    assert missing == []


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_uses_only_portable_keywords(name: str) -> None:
    """Schemas stay in the keyword subset both validators read the same way."""
    used = {key for sub in subschemas(load_schema(name)) for key in sub}
    assert used <= PORTABLE_KEYWORDS


def test_every_object_forbids_unknown_fields() -> None:
    """additionalProperties is false on every object that lists properties (typos are errors)."""
    open_objects = [
        sorted(sub["properties"])
        for sub in subschemas(load_schema(MANIFEST_SCHEMA))
        if "properties" in sub and sub.get("additionalProperties") is not False
    ]
    # The if/then branches only narrow properties the top level already closes.
    assert all(
        props in (["provider"], ["customers", "defaults", "environment"]) for props in open_objects
    )


def agree(document: Any) -> None:
    fast = is_valid(document, MANIFEST_SCHEMA)
    errors = schema_errors(document, MANIFEST_SCHEMA)
    assert fast == (not errors), (document, [e.message for e in errors])


@pytest.mark.parametrize("name", sorted(path.name for path in CORPUS.glob("*.yaml")))
def test_validators_agree_on_the_invalid_corpus(name: str) -> None:
    """Where the corpus parses as YAML, both validators give the same verdict."""
    for document in parse_yaml((CORPUS / name).read_bytes(), name).documents:
        agree(document.value)


@pytest.mark.parametrize("amount", [10**26 - 1, 10**26 + 10**12, 1e26, 9.9e25, 1e300, 10**40])
def test_validators_agree_on_huge_amounts(amount: Any) -> None:
    """The bound below 10^26 reads the same to both validators, for ints and floats."""
    for field in ("period_budget", "total_budget"):
        agree({"customers": [{"customer_identifier": "a", field: amount}]})


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifest_documents(st.text(min_size=1, max_size=8)))
def test_generated_valid_documents_pass_both_validators(document: dict[str, Any]) -> None:
    """Generated valid manifests are accepted by the fast and the authoritative validator."""
    assert is_valid(document, MANIFEST_SCHEMA)
    assert schema_errors(document, MANIFEST_SCHEMA) == []


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid_documents())
def test_validators_agree_on_near_valid_documents(document: Any) -> None:
    """Documents with arbitrary values spliced in get the same verdict from both validators."""
    agree(document)


@pytest.mark.parametrize(
    ("written", "decimal"), [("1e2", "100"), ("1.5e3", "1500"), ("2E+2", "200"), ("25e-1", "2.5")]
)
def test_an_exponent_only_yaml_1_2_reads_as_a_number_gets_a_hint_saying_so(
    written: str, decimal: str
) -> None:
    """'1e2' (no '.', or no sign) is text to YAML 1.1: the hint says so and gives the plain
    decimal, instead of asking to remove quotes that were never written."""
    document = f"customers:\n  - customer_identifier: a\n    period_budget: {written}\n"
    (problem,) = check_manifest_data([("m.yaml", document.encode())]).problems
    assert problem.message == f"'period_budget' must be a number or null, not text '{written}'"
    assert problem.hint == (
        f"YAML 1.1 reads '{written}' as text (its exponents need a '.' and a sign, as in "
        f"1.0e+2): write the plain decimal number ({decimal})"
    )
    quoted = 'customers:\n  - customer_identifier: a\n    period_budget: "1.0e+2"\n'
    (problem,) = check_manifest_data([("m.yaml", quoted.encode())]).problems
    assert problem.hint.startswith("write a plain number without quotes")
