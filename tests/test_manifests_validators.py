"""Compiled schema validators: built once per schema, kept in the cache directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from reconciler.manifests.resources import MANIFEST_SCHEMA, load_schema
from reconciler.manifests.validators import compiled_validator, schema_key

SCHEMA = {
    "type": "object",
    "properties": {"budget": {"type": "number", "minimum": 0}},
    "required": ["budget"],
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECONCILER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def compiles(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record every code generation fastjsonschema is asked for."""
    calls: list[object] = []
    generate = fastjsonschema.compile_to_code

    def counting(definition: dict[str, Any], **options: Any) -> str:
        calls.append(definition)
        return generate(definition, **options)

    monkeypatch.setattr(fastjsonschema, "compile_to_code", counting)
    return calls


def test_a_schema_is_compiled_once_then_loaded_from_the_cache(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second validator for one schema is read from the cache; both judge alike."""
    calls = compiles(monkeypatch)
    first = compiled_validator(SCHEMA)
    second = compiled_validator(SCHEMA)
    assert len(calls) == 1
    assert [path.name for path in (cache / "validators").iterdir()] == [
        f"schema-{schema_key(SCHEMA)}.marshal"
    ]
    for validate in (first, second):
        assert validate({"budget": 5}) == {"budget": 5}
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            validate({"budget": -1})


def test_another_schema_gets_another_file(cache: Path) -> None:
    """A changed schema never reuses the validator of the old one."""
    changed = {**SCHEMA, "required": []}
    assert schema_key(changed) != schema_key(SCHEMA)
    assert compiled_validator(changed)({}) == {}
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        compiled_validator(SCHEMA)({})


def test_defaults_are_never_written_into_the_document(cache: Path) -> None:
    """Validation leaves the checked value as it was (use_default=False), cached or not."""
    schema = {"type": "object", "properties": {"x": {"type": "number", "default": 1}}}
    for _ in range(2):
        document: dict[str, object] = {}
        compiled_validator(schema)(document)
        assert document == {}


def test_a_corrupt_cache_file_is_rebuilt(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged cached validator is compiled again and replaced, never trusted."""
    compiled_validator(SCHEMA)
    path = cache / "validators" / f"schema-{schema_key(SCHEMA)}.marshal"
    path.write_bytes(b"not marshal data")
    calls = compiles(monkeypatch)
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        compiled_validator(SCHEMA)({"budget": "lots"})
    assert len(calls) == 1
    assert compiled_validator(SCHEMA)({"budget": 1}) == {"budget": 1}
    assert len(calls) == 1


def test_an_unwritable_cache_still_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the cache directory cannot be created, the validator is built in memory."""
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("RECONCILER_CACHE_DIR", str(blocker / "cache"))
    assert compiled_validator(SCHEMA)({"budget": 0}) == {"budget": 0}


def test_the_manifest_schema_validator_agrees_with_fastjsonschema(cache: Path) -> None:
    """The cached manifest validator accepts and refuses what a fresh compile does."""
    schema = load_schema(MANIFEST_SCHEMA)
    fresh = fastjsonschema.compile(schema, use_default=False)
    cached = compiled_validator(schema)
    good = {
        "provider": "respan",
        "environment": "prod",
        "customers": [{"customer_identifier": "a"}],
    }
    assert cached(good) == fresh(good)
    for bad in ({"provider": "respan"}, {**good, "customers": [{"nope": 1}]}):
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            fresh(bad)
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            cached(bad)
