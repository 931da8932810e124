"""What a provider package brings, as one value: the ``reconciler.providers`` entry point.

A provider is found through the entry-point group ``reconciler.providers``; each entry point
names a ``ProviderPlugin``. The plug-in is cheap to load (pure data plus factories that import
the client, provider and emulator only when called), so listing the installed providers costs
no HTTP stack. See docs/providers/writing-a-provider.md.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.errors import ConfigError

if TYPE_CHECKING:
    from reconciler.export.filters import FilterTerm
    from reconciler.providers.base import Provider
    from reconciler.providers.export import ExportReader
    from reconciler.providers.model import ProviderModel
    from reconciler.providers.parts import (
        CustomerChecks,
        EmulatorParts,
        FieldChecks,
        OpenRequest,
    )
    from reconciler.settings.ratelimit import RateLimit


@dataclass(frozen=True, slots=True)
class ConnectionDefaults:
    """What the provider's documentation fixes: address, variable names, rate limits."""

    # ``None``: the API is self-hosted, so there is no public address to fall back on.
    base_url: str | None
    base_url_variable: str
    key_variable: str
    # Endpoint class ("default", "list", "write") -> documented limit; empty: unpaced.
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)
    # An in-process emulator's fresh key starts with this (for keys that name an environment).
    emulator_key_prefix: str = ""


@dataclass(frozen=True, slots=True)
class ProviderPlugin:
    """One provider, as the core sees it. Everything provider-specific hangs off this value.

    Every part but the name and the connection defaults is named as a ``"module:attribute"``
    target and imported only when used, so listing the installed providers (``reconciler
    --help``) loads no provider's field table, HTTP client or emulator.
    """

    # The provider's name: its entry point's, its manifests' ``provider:`` and its model's.
    name: str
    connection: ConnectionDefaults
    # "module:attribute" of the ``ProviderModel`` (field specs, environments, identity); the
    # ``model`` property imports it on first use.
    model_target: str
    # (package, resource) of the manifest schema fragment.
    schema: tuple[str, str]
    # A function ``(OpenRequest) -> Provider``.
    provider: str
    # An ``EmulatorParts`` value.
    emulator: str
    # A function ``(Provider) -> ExportReader`` for a provider ``provider`` opened; ``None``:
    # export is not supported.
    export: str | None = None
    # A function ``(terms) -> dict``: ``--filter`` terms as the server-side filter body of the
    # list request, ``ConfigError`` for a term the API cannot apply. ``None``: no filtering.
    filters: str | None = None
    # A manifest without ``provider:`` means this provider (exactly one plug-in sets it).
    default: bool = False
    # How messages and schema descriptions name the provider, e.g. its product name.
    title: str = ""
    # The emulator seed document's shape, for the configuration schema's description.
    seed_format: str = '{"customers": [...]}'
    # Commands the provider adds to ``reconciler``: name -> "module:attribute" of a click
    # command, imported only when it runs.
    commands: Mapping[str, str] = field(default_factory=dict)
    # name -> the first paragraph of each of those commands' help, for ``reconciler --help``,
    # which lists the commands without importing them.
    command_summaries: Mapping[str, str] = field(default_factory=dict)
    # (package, resource) of a small seed in the API's own shapes: a few live customers for
    # demos and for the conformance suite, which runs every provider's emulator from it.
    sample_seed: tuple[str, str] | None = None
    # A ``CustomerChecks`` function: what manifest validation checks beyond the schema for
    # each declared customer of this provider (``None``: nothing).
    customer_checks: str | None = None
    # A ``FieldChecks`` function: what manifest validation checks of each desired customer's
    # values taken together, defaults merged in (``None``: nothing).
    field_checks: str | None = None

    @classmethod
    def in_package(
        cls, package: str, *, name: str, connection: ConnectionDefaults, **options: Any
    ) -> ProviderPlugin:
        """A plug-in whose parts sit where the package convention puts them: ``fields:MODEL``,
        ``schema.json``, ``provider:open_provider``, ``emulator:PARTS``, ``export:reader`` and
        ``export:filter_body``, ``sample_seed.json`` (``options`` set the other fields, or
        override these)."""
        conventional: dict[str, Any] = {
            "model_target": f"{package}.fields:MODEL",
            "schema": (package, "schema.json"),
            "provider": f"{package}.provider:open_provider",
            "emulator": f"{package}.emulator:PARTS",
            "export": f"{package}.export:reader",
            "filters": f"{package}.export:filter_body",
            "sample_seed": (package, "sample_seed.json"),
        }
        return cls(name=name, connection=connection, **{**conventional, **options})

    @property
    def model(self) -> ProviderModel:
        """The provider's model, imported on first use (``TypeError`` if ``model_target`` names
        something else, or the model of another provider)."""
        return _model(self.model_target, self.name)

    def open(self, request: OpenRequest) -> Provider:
        """Open the provider (``ConfigError`` for settings it cannot use)."""
        opened: Provider = _target(self.provider)(request)
        return opened

    def customer_checker(self) -> CustomerChecks | None:
        """The ``customer_checks`` function, imported; ``None`` when the provider has none."""
        if self.customer_checks is None:
            return None
        checks: CustomerChecks = _target(self.customer_checks)
        return checks

    def field_checker(self) -> FieldChecks | None:
        """The ``field_checks`` function, imported; ``None`` when the provider has none."""
        if self.field_checks is None:
            return None
        checks: FieldChecks = _target(self.field_checks)
        return checks

    def emulator_parts(self) -> EmulatorParts:
        parts = _target(self.emulator)
        from reconciler.providers.parts import EmulatorParts

        if not isinstance(parts, EmulatorParts):
            raise TypeError(f"{self.emulator} is not EmulatorParts")
        return parts

    def export_reader(self, provider: Provider) -> ExportReader:
        """The export reader for ``provider``; ``ConfigError`` when export cannot read it."""
        if self.export is None:
            raise ConfigError(f"export does not support the {self.name} provider")
        reader: ExportReader = _target(self.export)(provider)
        return reader

    def filter_body(self, terms: Sequence[FilterTerm]) -> dict[str, Any]:
        """The list request's filter body for ``terms`` (``ConfigError`` if it cannot be)."""
        if self.filters is None:
            raise ConfigError(f"the {self.name} provider cannot filter an export")
        body: dict[str, Any] = _target(self.filters)(terms)
        return body

    def sample_seed_document(self) -> dict[str, Any] | None:
        """The sample seed, parsed (``None`` when the provider has none)."""
        return None if self.sample_seed is None else json_resource(*self.sample_seed)

    def schema_fragment(self) -> dict[str, Any]:
        """The manifest schema fragment: an ``if``/``then`` on ``provider`` and its ``$defs``."""
        return json_resource(*self.schema)


@functools.cache
def _model(target: str, name: str) -> ProviderModel:
    # Cached: the planner and the applier ask for a model per customer and per change.
    from reconciler.providers.model import ProviderModel

    model = _target(target)
    if not isinstance(model, ProviderModel):
        raise TypeError(f"{target} is not a ProviderModel")
    if model.name != name:
        raise TypeError(f"{target} is the model of provider {model.name!r}, not of {name!r}")
    return model


def _target(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def json_resource(package: str, resource: str) -> dict[str, Any]:
    """The JSON object in data file ``resource`` of ``package`` (a schema fragment, a seed)."""
    import json  # not at import: listing the providers (``reconciler --help``) needs no JSON

    location = getattr(importlib.import_module(package), "__file__", None)
    path = os.path.join(os.path.dirname(location), resource) if location else ""
    if path and os.path.isfile(path):
        # Installed as files (a wheel, a source tree): a plain path is enough. importlib's
        # resources (some 8 ms of imports: tempfile, zipfile...) serve any other loader.
        with open(path, encoding="utf-8") as file:
            text = file.read()
    else:
        from importlib import resources

        text = resources.files(package).joinpath(resource).read_text(encoding="utf-8")
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError(f"{package}/{resource}: expected a JSON object")
    return document
