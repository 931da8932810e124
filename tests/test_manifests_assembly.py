"""The manifest and configuration schemas are assembled from the installed providers."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifests.assembly import (
    assemble,
    assemble_config,
    config_schema,
    manifest_schema,
    render,
)
from reconciler.manifests.resources import CONFIG_SCHEMA, MANIFEST_SCHEMA, load_schema
from reconciler.providers.registry import plugins

SHIPPED = Path(__file__).resolve().parent.parent / "schemas"
CORE = {"properties": {"provider": {}}, "$defs": {"money": {"type": "number"}}}


@pytest.mark.parametrize(
    ("name", "built"), [(MANIFEST_SCHEMA, manifest_schema), (CONFIG_SCHEMA, config_schema)]
)
def test_shipped_schema_is_the_assembly_of_the_installed_providers(
    name: str, built: object
) -> None:
    """schemas/<name> is byte for byte the assembly (regenerate it with
    `python -m reconciler.manifests.assembly manifest|config`)."""
    assert callable(built)
    assert (SHIPPED / name).read_text(encoding="utf-8") == render(built())


def test_validation_uses_the_assembled_schemas() -> None:
    """What manifests and configurations are validated against is the assembly itself."""
    assert load_schema(MANIFEST_SCHEMA) is manifest_schema()
    assert load_schema(CONFIG_SCHEMA) is config_schema()


def test_every_installed_provider_brings_one_allof_entry_and_a_settings_block() -> None:
    """One if/then per provider, its name in the provider enum, default first; one
    providers.<name> block in the configuration schema."""
    schema = manifest_schema()
    names = schema["properties"]["provider"]["enum"]
    assert sorted(names) == sorted(plugins())
    assert plugins()[names[0]].default
    guarded = [entry["if"]["properties"]["provider"]["enum"] for entry in schema["allOf"]]
    assert guarded == [[name] for name in names]
    assert sorted(config_schema()["properties"]["providers"]["properties"]) == sorted(plugins())


def test_a_fragment_redefining_a_definition_is_refused() -> None:
    """A fragment may not redefine a $defs name the core (or another fragment) has: one of
    the two would silently win."""
    core = {**CORE, "$defs": {"respanCustomer": {"type": "object"}}}
    with pytest.raises(ValueError, match="redefines \\$defs/respanCustomer"):
        assemble(core, [plugins()["respan"]])


def test_config_blocks_name_the_provider_variables() -> None:
    """Each settings block says which environment variables override it."""
    block = assemble_config(
        {"properties": {"providers": {"properties": {}}}}, [plugins()["litellm"]]
    )["properties"]["providers"]["properties"]["litellm"]
    assert "LITELLM_PROXY_URL" in block["description"]
    assert "LITELLM_PROXY_API_KEY" in block["description"]
