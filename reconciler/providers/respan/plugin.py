"""Respan as a ``reconciler.providers`` entry point: pure data, the rest imported when used."""

from __future__ import annotations

from reconciler.providers.plugin import ConnectionDefaults, ProviderPlugin
from reconciler.providers.respan.fields import RESPAN
from reconciler.settings.ratelimit import RateLimit

PLUGIN = ProviderPlugin(
    model=RESPAN,
    connection=ConnectionDefaults(
        base_url="https://api.respan.ai",
        base_url_variable="RESPAN_BASE_URL",
        key_variable="RESPAN_API_KEY",
        # The documented per-organization limit.
        rate_limits={"default": RateLimit(60, 60.0)},
    ),
    schema=("reconciler.providers.respan", "schema.json"),
    provider="reconciler.providers.respan.provider:open_provider",
    emulator="reconciler.providers.respan.emulator:PARTS",
    export="reconciler.providers.respan.export:reader",
    filters="reconciler.providers.respan.export:respan_filter_body",
    default=True,
    title="Respan",
    seed_format='{"customers": [...], "credit_transactions": [...]}',
    # Respan credit transactions and their balance.
    commands={"credits": "reconciler.providers.respan.command:credits"},
    command_summaries={
        "credits": "Show Respan credit transactions and the balance they add up to."
    },
    sample_seed=("reconciler.providers.respan", "sample_seed.json"),
)
