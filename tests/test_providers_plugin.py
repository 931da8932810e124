"""The plug-in value: a provider package's parts found where the convention puts them."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.clients.http import DEFAULT_PACE, ApiClient
from reconciler.clients.pacing import Pacer
from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.providers.autumn.plugin import PLUGIN as AUTUMN_PLUGIN
from reconciler.providers.parts import EmulatorParts, OpenRequest
from reconciler.providers.plugin import ProviderPlugin
from reconciler.providers.registry import plugins
from reconciler.settings.ratelimit import RateLimit


def test_in_package_names_the_conventional_parts_and_options_override_them() -> None:
    """``in_package`` points every part at its conventional module and attribute; an option
    replaces one (or sets a field the convention does not cover)."""
    made = ProviderPlugin.in_package(
        "acme_billing",
        name="acme",
        connection=AUTUMN_PLUGIN.connection,
        filters=None,
        title="Acme",
    )
    assert (made.name, made.model_target) == ("acme", "acme_billing.fields:MODEL")
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


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("reconciler.providers.registry:GROUP", "is not a ProviderModel"),
        (
            "reconciler.providers.respan.fields:RESPAN",
            "model of provider 'respan', not of 'autumn'",
        ),
    ],
)
def test_a_model_target_naming_something_else_is_refused(target: str, message: str) -> None:
    """The model is imported when first used, and must be the plug-in's own: a target naming
    another value, or another provider's model, is a packaging bug refused by name."""
    plugin = dataclasses.replace(AUTUMN_PLUGIN, model_target=target)
    with pytest.raises(TypeError, match=message):
        _ = plugin.model
    assert AUTUMN_PLUGIN.model.name == "autumn"


@pytest.mark.parametrize("name", sorted(plugins()))
def test_every_installed_providers_parts_resolve(name: str) -> None:
    """Each installed plug-in's named parts exist: its emulator parts, schema fragment and
    sample seed load, and its export and filter targets are importable functions."""
    plugin = plugins()[name]
    assert isinstance(plugin.emulator_parts(), EmulatorParts)
    assert plugin.schema_fragment()["if"]
    assert plugin.sample_seed_document() is not None
    assert plugin.filter_body(()) == {}


def test_an_open_request_builds_a_client_at_its_single_limit() -> None:
    """``single_limit_client`` gives the client class the request's address, key, retries and
    concurrency, and one pacer at the ``default`` limit shaped by ``burst`` (none: unpaced)."""
    retry = RetryPolicy(attempts=2)
    request = OpenRequest(
        base_url="http://127.0.0.1:9",
        api_key=Secret("sk-test-0123456789"),
        rate_limits={"default": RateLimit(6, 60.0)},
        key_source="ACME_KEY",
        api_version=None,
        emulated=True,
        burst=2,
        retry=retry,
        max_concurrency=3,
    )
    with request.single_limit_client(ApiClient) as client:
        pacer = client.transport.pacers[DEFAULT_PACE]
        assert isinstance(pacer, Pacer)
        assert (pacer.count, pacer.per_seconds, pacer.burst) == (6, 60.0, 2)
        assert (client.base_url, client.transport.retry) == ("http://127.0.0.1:9", retry)
        assert client.transport.max_concurrency == 3
    unpaced = dataclasses.replace(request, rate_limits={})
    with unpaced.single_limit_client(ApiClient) as client:
        assert dict(client.transport.pacers) == {}
