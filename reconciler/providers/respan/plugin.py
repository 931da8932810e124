"""Respan as a ``reconciler.providers`` entry point: pure data, the rest imported when used."""

from __future__ import annotations

from reconciler.providers.plugin import ConnectionDefaults, ProviderPlugin
from reconciler.settings.ratelimit import RateLimit

PLUGIN = ProviderPlugin.in_package(
    "reconciler.providers.respan",
    name="respan",
    model_target="reconciler.providers.respan.fields:RESPAN",
    connection=ConnectionDefaults(
        base_url="https://api.respan.ai",
        base_url_variable="RESPAN_BASE_URL",
        key_variable="RESPAN_API_KEY",
        # The documented per-organization limit.
        rate_limits={"default": RateLimit(60, 60.0)},
    ),
    default=True,
    field_checks="reconciler.providers.respan.checks:field_problems",
    title="Respan",
    seed_format='{"customers": [...], "credit_transactions": [...]}',
    # Respan credit transactions and their balance.
    commands={"credits": "reconciler.providers.respan.command:credits"},
    command_summaries={
        "credits": "Show Respan credit transactions and the balance they add up to."
    },
)
