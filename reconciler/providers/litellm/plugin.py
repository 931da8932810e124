"""LiteLLM as a ``reconciler.providers`` entry point: pure data, the rest imported when used."""

from __future__ import annotations

from reconciler.providers.plugin import ConnectionDefaults, ProviderPlugin

PLUGIN = ProviderPlugin.in_package(
    "reconciler.providers.litellm",
    name="litellm",
    connection=ConnectionDefaults(
        # Self-hosted: there is no public address to fall back on.
        base_url=None,
        # The names LiteLLM's own command-line client (litellm-proxy) reads.
        base_url_variable="LITELLM_PROXY_URL",
        key_variable="LITELLM_PROXY_API_KEY",
        # LiteLLM documents no rate limit for its management endpoints: unpaced by default.
        rate_limits={},
        emulator_key_prefix="sk-",
    ),
    title="LiteLLM",
    seed_format='{"customers": [...], "models": [...]}',
)
