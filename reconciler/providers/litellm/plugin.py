"""LiteLLM as a ``reconciler.providers`` entry point (cheap to import: factories import lazily)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reconciler.errors import ConfigError
from reconciler.providers.litellm.fields import MODEL
from reconciler.providers.plugin import (
    ConnectionDefaults,
    EmulatorParts,
    ExportReader,
    OpenRequest,
    ProviderPlugin,
)

if TYPE_CHECKING:
    from reconciler.export.filters import FilterTerm
    from reconciler.providers.base import Provider


def _open(request: OpenRequest) -> Provider:
    if request.api_version is not None:
        # Refused rather than ignored: a setting that does nothing would mislead.
        raise ConfigError(
            f"providers.{PLUGIN.name}.api_version: LiteLLM's API has no versions to choose; "
            "remove the setting"
        )
    from reconciler.providers.litellm.provider import LiteLLMProvider

    limit = request.rate_limits.get("default")
    return LiteLLMProvider.open(
        request.base_url,
        request.api_key,
        rate_limit=(limit.count, limit.per_seconds) if limit is not None else None,
        retry=request.retry,
        max_concurrency=request.max_concurrency,
    )


def _emulator() -> EmulatorParts:
    from reconciler.providers.litellm import emulator

    return EmulatorParts(
        state_from_seed=emulator.state_from_seed,
        create_app=emulator.create_app,
        default_api_key=emulator.DEFAULT_API_KEY,
        # LiteLLM documents no limit on its management endpoints.
        default_rate_limit=None,
    )


def _export_reader(provider: Provider) -> ExportReader:
    from reconciler.providers.litellm.export import LiteLLMExportReader
    from reconciler.providers.litellm.provider import LiteLLMProvider

    assert isinstance(provider, LiteLLMProvider)
    return LiteLLMExportReader(provider.client)


def _filter_body(terms: Sequence[FilterTerm]) -> dict[str, Any]:
    from reconciler.providers.litellm.export import litellm_filter_body

    return litellm_filter_body(terms)


PLUGIN = ProviderPlugin(
    model=MODEL,
    connection=ConnectionDefaults(
        # Self-hosted: no public address; the proxy's own default port on this machine.
        base_url=None,
        # The names LiteLLM's own command-line client (litellm-proxy) reads.
        base_url_variable="LITELLM_PROXY_URL",
        key_variable="LITELLM_PROXY_API_KEY",
        # LiteLLM documents no rate limit for its management endpoints: unpaced by default.
        rate_limits={},
        emulator_key_prefix="sk-",
    ),
    schema=("reconciler.providers.litellm", "schema.json"),
    sample_seed=("reconciler.providers.litellm", "sample_seed.json"),
    open=_open,
    emulator=_emulator,
    export_reader=_export_reader,
    filter_body=_filter_body,
    title="LiteLLM",
    seed_format='{"customers": [...], "models": [...]}',
)
