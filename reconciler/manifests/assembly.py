"""The manifest and configuration JSON Schemas, assembled for the installed providers.

The core (``manifest.core.json`` beside this module) describes what every manifest has:
``provider``, ``environment``, ``defaults``, ``customers`` and the shared definitions
(``money``, ``timestamp``, ``metadata``, ``lifecycle``...). Each provider's fragment adds one
``allOf`` entry (``if`` the provider is this one, ``then`` its customers and defaults) and its
own ``$defs``. The configuration's ``providers`` block gets one entry per provider, described
with its variable names and address. The shipped ``schemas/manifest.schema.json`` and
``schemas/config.schema.json`` (for editors) are these assemblies for the built-in providers;
``python -m reconciler.manifests.assembly manifest|config`` prints one.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable
from typing import Any

from reconciler.providers.plugin import ProviderPlugin, json_resource


def assemble(core: dict[str, Any], providers: Iterable[ProviderPlugin]) -> dict[str, Any]:
    """``core`` with each provider's fragment added; the default provider comes first.

    ``ValueError`` when two fragments define the same ``$defs`` name (or one the core has).
    """
    schema = copy.deepcopy(core)
    ordered = sorted(providers, key=lambda plugin: (not plugin.default, plugin.name))
    names = [plugin.name for plugin in ordered]
    default = [plugin.name for plugin in ordered if plugin.default]
    listed = [f"{name} (default)" if name in default else name for name in names]
    schema["properties"]["provider"] = {
        "description": "The billing API these customers live in: " + _either(listed) + ".",
        "enum": names,
    }
    definitions: dict[str, Any] = schema.setdefault("$defs", {})
    for plugin in ordered:
        fragment = plugin.schema_fragment()
        schema.setdefault("allOf", []).append({"if": fragment["if"], "then": fragment["then"]})
        for name, definition in fragment.get("$defs", {}).items():
            if name in definitions:
                raise ValueError(f"the {plugin.name} schema fragment redefines $defs/{name}")
            definitions[name] = definition
    return schema


def assemble_config(core: dict[str, Any], providers: Iterable[ProviderPlugin]) -> dict[str, Any]:
    """``core`` with a ``providers.<name>`` settings block for each provider, by name."""
    schema = copy.deepcopy(core)
    blocks = schema["properties"]["providers"]["properties"]
    for plugin in sorted(providers, key=lambda plugin: plugin.name):
        blocks[plugin.name] = _settings_block(plugin)
    return schema


@functools.cache
def manifest_schema() -> dict[str, Any]:
    """The manifest schema for the installed providers (built once per process)."""
    from reconciler.providers.registry import plugins

    return assemble(_core("manifest.core.json"), plugins().values())


@functools.cache
def config_schema() -> dict[str, Any]:
    """The configuration schema for the installed providers (built once per process)."""
    from reconciler.providers.registry import plugins

    return assemble_config(_core("config.core.json"), plugins().values())


def _core(name: str) -> dict[str, Any]:
    return json_resource("reconciler.manifests", name)


def _settings_block(plugin: ProviderPlugin) -> dict[str, Any]:
    title = plugin.title or plugin.name
    connection = plugin.connection
    example = f", e.g. {connection.base_url}" if connection.base_url else ""
    return {
        "description": (
            f"Connection settings for {title}. Environment variables "
            f"({connection.base_url_variable}, {connection.key_variable}) override them."
        ),
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "base_url": {
                "description": (
                    f"The {title} API address{example}. A non-loopback http:// address is refused."
                ),
                "type": "string",
                "minLength": 1,
            },
            "api_key_file": {
                "description": (
                    "A file holding the API key (path relative to this file). Keys are never "
                    "written here."
                ),
                "type": "string",
                "minLength": 1,
            },
            "rate_limit": {
                "$ref": "#/$defs/rateLimit",
                "description": (
                    "Client-side request pacing for this provider, e.g. 60/min; overrides the "
                    "top-level rate_limit."
                ),
            },
            "burst": {
                "description": (
                    "How many requests may go out back to back within one rate-limit window, "
                    "e.g. 10. Default: the window's whole count (a small run is not paced at "
                    "all); 1 spaces every request evenly. After the first 429 of a run, "
                    "requests are spaced evenly whatever this says. No effect without a rate "
                    "limit."
                ),
                "type": "integer",
                "minimum": 1,
            },
            "api_version": {
                "description": (
                    "API version to request, for a provider whose API has versions (others "
                    "refuse the setting)."
                ),
                "type": "string",
                "minLength": 1,
            },
            "emulator": {
                "description": (
                    "Run the built-in emulator of this provider in-process instead of "
                    "connecting (for demos and tests)."
                ),
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "seed": {
                        "description": (
                            f"Emulator seed file (JSON {plugin.seed_format}), relative to "
                            "this file."
                        ),
                        "type": "string",
                        "minLength": 1,
                    }
                },
            },
        },
    }


def render(schema: dict[str, Any]) -> str:
    """``schema`` as the shipped file holds it: two-space indents, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _either(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


if __name__ == "__main__":  # pragma: no cover - the maintainers' regeneration command
    import sys

    chosen = config_schema() if sys.argv[1:] == ["config"] else manifest_schema()
    print(render(chosen), end="")
