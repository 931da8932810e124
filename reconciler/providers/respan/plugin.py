"""Respan as a ``reconciler.providers`` entry point (cheap to import: factories import lazily)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reconciler.config import RateLimit
from reconciler.errors import ConfigError
from reconciler.providers.plugin import (
    ConnectionDefaults,
    EmulatorParts,
    ExportReader,
    OpenRequest,
    ProviderPlugin,
)
from reconciler.providers.respan.fields import RESPAN

if TYPE_CHECKING:
    from reconciler.export.filters import FilterTerm
    from reconciler.providers.base import Provider


def _open(request: OpenRequest) -> Provider:
    if request.api_version is not None:
        # Refused rather than ignored: a setting that does nothing would mislead.
        raise ConfigError(
            f"providers.{PLUGIN.name}.api_version: Respan's API has no versions to choose; "
            "remove the setting"
        )
    from reconciler.providers.respan.client import RespanClient
    from reconciler.providers.respan.provider import RespanProvider

    limit = request.rate_limits.get("default")
    client = RespanClient.create(
        request.base_url,
        request.api_key,
        rate_limit=(limit.count, limit.per_seconds) if limit is not None else None,
        retry=request.retry,
        max_concurrency=request.max_concurrency,
    )
    return RespanProvider(client, max_concurrency=request.max_concurrency)


def _emulator() -> EmulatorParts:
    from reconciler.providers.respan import emulator as respan

    return EmulatorParts(
        state_from_seed=respan.RespanState.from_seed,
        create_app=respan.create_app,
        default_api_key=respan.DEFAULT_API_KEY,
        default_rate_limit=respan.DEFAULT_RATE_LIMIT,
    )


def _export_reader(provider: Provider) -> ExportReader:
    from reconciler.providers.respan.export import RespanExportReader
    from reconciler.providers.respan.provider import RespanProvider

    assert isinstance(provider, RespanProvider)
    return RespanExportReader(provider.client, max_concurrency=provider.max_concurrency)


def _filter_body(terms: Sequence[FilterTerm]) -> dict[str, Any]:
    from reconciler.providers.respan.export import respan_filter_body

    return respan_filter_body(terms)


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
    sample_seed=("reconciler.providers.respan", "sample_seed.json"),
    open=_open,
    emulator=_emulator,
    export_reader=_export_reader,
    filter_body=_filter_body,
    default=True,
    # Respan credit transactions and their balance.
    commands={"credits": "reconciler.providers.respan.command:credits"},
    title="Respan",
    seed_format='{"customers": [...], "credit_transactions": [...]}',
)
