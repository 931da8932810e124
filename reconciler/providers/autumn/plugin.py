"""Autumn as a ``reconciler.providers`` entry point: pure data, the rest imported when used."""

from __future__ import annotations

from reconciler.providers.autumn.fields import AUTUMN
from reconciler.providers.plugin import ConnectionDefaults, ProviderPlugin
from reconciler.settings.ratelimit import RateLimit

PLUGIN = ProviderPlugin(
    model=AUTUMN,
    connection=ConnectionDefaults(
        base_url="https://api.useautumn.com",
        base_url_variable="AUTUMN_BASE_URL",
        key_variable="AUTUMN_SECRET_KEY",
        # The documented limits for customers.list and for every other call.
        rate_limits={"list": RateLimit(5, 1.0), "write": RateLimit(25, 1.0)},
        # Autumn keys name their environment; an in-process emulator's starts as a sandbox one.
        emulator_key_prefix="am_sk_test_",
    ),
    schema=("reconciler.providers.autumn", "schema.json"),
    provider="reconciler.providers.autumn.provider:open_provider",
    emulator="reconciler.providers.autumn.emulator:PARTS",
    export="reconciler.providers.autumn.export:reader",
    filters="reconciler.providers.autumn.export:autumn_filter_body",
    title="Autumn",
    sample_seed=("reconciler.providers.autumn", "sample_seed.json"),
    customer_checks="reconciler.providers.autumn.checks:customer_problems",
)
