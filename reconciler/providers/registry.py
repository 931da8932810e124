"""The installed providers, found through the ``reconciler.providers`` entry-point group.

The core asks this module, never a provider package, which providers exist: a provider installed
as its own distribution (declaring an entry point in that group) is used exactly like the
built-in ones, which are declared in this project's ``pyproject.toml``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from typing import Final

from reconciler.domain import ProviderModel
from reconciler.errors import ConfigError
from reconciler.providers.plugin import ProviderPlugin

GROUP: Final = "reconciler.providers"


@functools.cache
def plugins() -> Mapping[str, ProviderPlugin]:
    """Every installed provider by name, in name order (loaded once per process)."""
    found: dict[str, ProviderPlugin] = {}
    for point in entry_points(group=GROUP):
        plugin = point.load()
        if not isinstance(plugin, ProviderPlugin):
            raise TypeError(f"entry point {point.name!r} in {GROUP} is not a ProviderPlugin")
        if plugin.name != point.name:
            raise TypeError(f"entry point {point.name!r} names provider {plugin.name!r}")
        found.setdefault(plugin.name, plugin)
    defaults = [name for name, plugin in found.items() if plugin.default]
    if len(defaults) > 1:
        raise TypeError(f"more than one default provider: {', '.join(sorted(defaults))}")
    return {name: found[name] for name in sorted(found)}


def plugin(name: str) -> ProviderPlugin:
    """The plug-in of provider ``name``; ``ConfigError`` naming the installed ones if none."""
    found = plugins().get(name)
    if found is None:
        known = ", ".join(plugins()) or "none installed"
        raise ConfigError(f"unknown provider {name!r}: use one of {known}")
    return found


def default_provider() -> str:
    """The provider a manifest without ``provider:`` means."""
    for name, candidate in plugins().items():
        if candidate.default:
            return name
    return next(iter(plugins()), "")


class _Models(Mapping[str, ProviderModel]):
    """The installed providers' models by name, looked up when first used (not on import)."""

    def __getitem__(self, name: str) -> ProviderModel:
        return plugins()[name].model

    def __iter__(self) -> Iterator[str]:
        return iter(plugins())

    def __len__(self) -> int:
        return len(plugins())

    def __repr__(self) -> str:
        return f"MODELS({', '.join(plugins())})"


MODELS: Final[Mapping[str, ProviderModel]] = _Models()
