"""Autumn as a ``reconciler.providers`` entry point (cheap to import: factories import lazily)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reconciler.config import RateLimit
from reconciler.providers.autumn.fields import AUTUMN
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
    from reconciler.providers.autumn.provider import AutumnProvider

    return AutumnProvider.open(
        request.base_url,
        request.api_key,
        key_source=request.key_source,
        api_version=request.api_version,
        rate_limits={k: (v.count, v.per_seconds) for k, v in request.rate_limits.items()},
        retry=request.retry,
        max_concurrency=request.max_concurrency,
        # An in-process emulator accepts the key's twin for the other environment too.
        both_environments=request.emulated,
    )


def _emulator() -> EmulatorParts:
    from reconciler.providers.autumn import emulator as autumn

    return EmulatorParts(
        state_from_seed=autumn.AutumnState.from_seed,
        create_app=autumn.create_app,
        default_api_key=autumn.DEFAULT_API_KEY,
        default_rate_limit=autumn.DEFAULT_RATE_LIMIT,
    )


def _export_reader(provider: Provider) -> ExportReader:
    from reconciler.providers.autumn.export import AutumnExportReader
    from reconciler.providers.autumn.provider import AutumnProvider

    assert isinstance(provider, AutumnProvider)
    return AutumnExportReader(provider.clients)


def _filter_body(terms: Sequence[FilterTerm]) -> dict[str, Any]:
    from reconciler.providers.autumn.export import autumn_filter_body

    return autumn_filter_body(terms)


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
    sample_seed=("reconciler.providers.autumn", "sample_seed.json"),
    open=_open,
    emulator=_emulator,
    export_reader=_export_reader,
    filter_body=_filter_body,
    title="Autumn",
)
