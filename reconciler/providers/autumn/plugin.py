"""Autumn as a ``reconciler.providers`` entry point: pure data, the rest imported when used."""

from __future__ import annotations

from reconciler.providers.plugin import ConnectionDefaults, ProviderPlugin
from reconciler.settings.ratelimit import RateLimit

PLUGIN = ProviderPlugin.in_package(
    "reconciler.providers.autumn",
    name="autumn",
    model_target="reconciler.providers.autumn.fields:AUTUMN",
    connection=ConnectionDefaults(
        base_url="https://api.useautumn.com",
        base_url_variable="AUTUMN_BASE_URL",
        key_variable="AUTUMN_SECRET_KEY",
        # The documented limits for customers.list and for every other call.
        rate_limits={"list": RateLimit(5, 1.0), "write": RateLimit(25, 1.0)},
        # Autumn keys name their environment; an in-process emulator's starts as a sandbox one.
        emulator_key_prefix="am_sk_test_",
    ),
    title="Autumn",
    customer_checks="reconciler.providers.autumn.checks:customer_problems",
)
