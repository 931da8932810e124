"""Reading live customers for export, through the provider's own export reader.

Each provider narrows the list with its API's filters and reads details only where a wanted
field needs them (see its ``export`` module); this module only finds the reader.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.domain import ProviderModel
from reconciler.errors import ConfigError
from reconciler.providers.base import Provider
from reconciler.providers.export import ExportRead, ExportReader, Progress
from reconciler.providers.registry import plugin

__all__ = ["ExportRead", "ExportReader", "Progress", "export_reader", "field_selection"]


def export_reader(provider: Provider) -> ExportReader:
    """The export reader for an open provider; ``ConfigError`` when export cannot read it."""
    return plugin(provider.model.name).export_reader(provider)


def field_selection(model: ProviderModel, names: Sequence[str] | None) -> tuple[str, ...]:
    """``--fields`` checked against the model (``None``: every declarable field)."""
    if not names:
        return model.field_names()
    unknown = [name for name in names if name not in model.fields]
    if unknown:
        raise ConfigError(
            f"--fields names {unknown[0]!r}, which a {model.name} customer cannot declare; "
            f"use some of: {', '.join(model.field_names())}"
        )
    return tuple(name for name in model.field_names() if name in names)
