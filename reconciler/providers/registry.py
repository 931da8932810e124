"""The installed providers, found through the ``reconciler.providers`` entry-point group.

The core asks this module, never a provider package, which providers exist: a provider installed
as its own distribution (declaring an entry point in that group) is used exactly like the
built-in ones, which are declared in this project's ``pyproject.toml``. The entry points come
from ``reconciler.providers.discovery``, which keeps them in the cache directory between runs.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from reconciler.errors import ConfigError
from reconciler.providers.discovery import entry_points
from reconciler.providers.plugin import ProviderPlugin

if TYPE_CHECKING:
    from reconciler.providers.model import ProviderModel

GROUP: Final = "reconciler.providers"
# An entry point's value, as the entry-points specification writes it: "module:attr [extras]".
_VALUE: Final = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?(\[.*\]\s*)?$")


@functools.cache
def plugins() -> Mapping[str, ProviderPlugin]:
    """Every installed provider by name, in name order (loaded once per process)."""
    found: dict[str, ProviderPlugin] = {}
    for name, value in entry_points(GROUP):
        plugin = _load(name, value)
        if not isinstance(plugin, ProviderPlugin):
            raise TypeError(f"entry point {name!r} in {GROUP} is not a ProviderPlugin")
        if plugin.name != name:
            raise TypeError(f"entry point {name!r} names provider {plugin.name!r}")
        found.setdefault(plugin.name, plugin)
    defaults = [name for name, plugin in found.items() if plugin.default]
    if len(defaults) > 1:
        raise TypeError(f"more than one default provider: {', '.join(sorted(defaults))}")
    return {name: found[name] for name in sorted(found)}


def _load(name: str, value: str) -> Any:
    """What the entry point names, as ``importlib.metadata.EntryPoint.load`` would load it."""
    match = _VALUE.match(value)
    if match is None:
        raise TypeError(f"entry point {name!r} in {GROUP}: {value!r} is not module:attribute")
    found: Any = importlib.import_module(match.group("module"))
    attributes = match.group("attr")
    for attribute in attributes.split(".") if attributes else ():
        found = getattr(found, attribute)
    return found


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


class _Models(Mapping[str, "ProviderModel"]):
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
