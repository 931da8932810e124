"""The plug-in value: a provider package's parts found where the convention puts them."""

from __future__ import annotations

import pytest

from reconciler.providers.autumn.plugin import PLUGIN as AUTUMN_PLUGIN
from reconciler.providers.plugin import EmulatorParts, ProviderPlugin
from reconciler.providers.registry import plugins


def test_in_package_names_the_conventional_parts_and_options_override_them() -> None:
    """``in_package`` points every part at its conventional module and attribute; an option
    replaces one (or sets a field the convention does not cover)."""
    made = ProviderPlugin.in_package(
        "acme_billing",
        model=AUTUMN_PLUGIN.model,
        connection=AUTUMN_PLUGIN.connection,
        filters=None,
        title="Acme",
    )
    assert (made.schema, made.sample_seed) == (
        ("acme_billing", "schema.json"),
        ("acme_billing", "sample_seed.json"),
    )
    assert (made.provider, made.emulator, made.export) == (
        "acme_billing.provider:open_provider",
        "acme_billing.emulator:PARTS",
        "acme_billing.export:reader",
    )
    assert (made.filters, made.title) == (None, "Acme")


@pytest.mark.parametrize("name", sorted(plugins()))
def test_every_installed_providers_parts_resolve(name: str) -> None:
    """Each installed plug-in's named parts exist: its emulator parts, schema fragment and
    sample seed load, and its export and filter targets are importable functions."""
    plugin = plugins()[name]
    assert isinstance(plugin.emulator_parts(), EmulatorParts)
    assert plugin.schema_fragment()["if"]
    assert plugin.sample_seed_document() is not None
    assert plugin.filter_body(()) == {}
