"""Providers are found through the reconciler.providers entry points, and checked as found."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from reconciler.errors import ConfigError
from reconciler.providers import registry
from reconciler.providers.plugin import ProviderPlugin
from reconciler.providers.respan.plugin import PLUGIN as RESPAN_PLUGIN


def fake_entry_points(*points: tuple[str, str]) -> object:
    return lambda group: list(points) if group == registry.GROUP else []


def point(name: str, value: str) -> tuple[str, str]:
    return (name, value)


def test_the_built_in_providers_are_installed_entry_points() -> None:
    """The installed package declares respan, autumn and litellm in the entry-point group,
    and Respan is what a manifest without provider: means."""
    assert {"respan", "autumn", "litellm"} <= set(registry.plugins())
    assert all(isinstance(p, ProviderPlugin) for p in registry.plugins().values())
    assert registry.default_provider() == "respan"
    assert set(registry.MODELS) == set(registry.plugins())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("reconciler.providers.registry:GROUP", "is not a ProviderPlugin"),
        ("reconciler.providers.respan.plugin:PLUGIN", "names provider 'respan'"),
    ],
)
def test_a_malformed_entry_point_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    """An entry point that is not a ProviderPlugin, or is named after another provider, is a
    packaging bug: refused by name rather than half loaded."""
    monkeypatch.setattr(registry, "entry_points", fake_entry_points(point("acme", value)))
    registry.plugins.cache_clear()
    try:
        with pytest.raises(TypeError, match=message):
            registry.plugins()
    finally:
        registry.plugins.cache_clear()


ACME_MODEL = dataclasses.replace(RESPAN_PLUGIN.model, name="acme")
ACME = dataclasses.replace(
    RESPAN_PLUGIN,
    name="acme",
    model_target="test_providers_registry:ACME_MODEL",
    default=False,
)
"""Respan's parts under another name: a provider from a package of its own."""
ACME_DEFAULT = dataclasses.replace(ACME, default=True)


def test_a_provider_of_its_own_package_is_used_like_the_built_in_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An entry point of another distribution joins the registry and the models."""
    points = fake_entry_points(
        point("respan", "reconciler.providers.respan.plugin:PLUGIN"),
        point("acme", "test_providers_registry:ACME"),
    )
    monkeypatch.setattr(registry, "entry_points", points)
    registry.plugins.cache_clear()
    try:
        assert list(registry.plugins()) == ["acme", "respan"]
        assert registry.plugin("acme") is ACME
        assert registry.MODELS["acme"].name == "acme"
        assert registry.default_provider() == "respan"
        with pytest.raises(ConfigError, match="unknown provider 'nowhere': use one of acme, "):
            registry.plugin("nowhere")
    finally:
        registry.plugins.cache_clear()


def test_two_default_providers_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only one provider may be what a manifest without provider: means."""
    points = fake_entry_points(
        point("respan", "reconciler.providers.respan.plugin:PLUGIN"),
        point("acme", "test_providers_registry:ACME_DEFAULT"),
    )
    monkeypatch.setattr(registry, "entry_points", points)
    registry.plugins.cache_clear()
    try:
        with pytest.raises(TypeError, match="more than one default provider: acme, respan"):
            registry.plugins()
    finally:
        registry.plugins.cache_clear()


def test_listing_providers_imports_no_http_or_server_stack() -> None:
    """Finding the installed providers loads their plug-ins only: no field table (model),
    client, emulator, httpx or starlette, so `reconciler --help` stays cheap."""
    code = (
        "import sys\n"
        "from reconciler.providers.registry import plugins\n"
        "plugins()\n"
        "heavy = ('httpx', 'starlette', 'uvicorn')\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in heavy or m.endswith(('.client', "
        "'.emulator', '.provider', '.fields', '.model'))]\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_entry_point_values_load_as_the_specification_writes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A value with extras or spaces loads what it names; one that is not module:attribute is
    refused by name."""
    points = fake_entry_points(point("respan", "reconciler.providers.respan.plugin : PLUGIN [x]"))
    monkeypatch.setattr(registry, "entry_points", points)
    registry.plugins.cache_clear()
    try:
        assert registry.plugin("respan") is RESPAN_PLUGIN
        monkeypatch.setattr(registry, "entry_points", fake_entry_points(point("acme", "a b")))
        registry.plugins.cache_clear()
        with pytest.raises(TypeError, match="'a b' is not module:attribute"):
            registry.plugins()
    finally:
        registry.plugins.cache_clear()
