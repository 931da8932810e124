"""What the provider conformance suite shares: each provider's emulator from its sample seed,
the provider opened through its plug-in, and edits any provider's fields can take.

Nothing here names a provider: what differs comes from the plug-in (its model's field kinds,
connection variables and key prefix, sample seed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from client_helpers import FAST

from reconciler.clients.http import ApiClient
from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.domain import FieldKind, LiveCustomer
from reconciler.emulator import EmulatorSettings, RunningEmulator, start_emulator
from reconciler.plan.model import Action, Change, FieldChange
from reconciler.providers.base import Provider
from reconciler.providers.parts import OpenRequest
from reconciler.providers.plugin import ProviderPlugin
from reconciler.settings.ratelimit import RateLimit

KEY_BODY = "conformance0123456789abcdefSECRET"
"""The part of every provider's test key that no output may hold."""
# Kinds a test can change by rewriting the value, and how.
EDITS: dict[FieldKind, Callable[[Any], Any]] = {
    FieldKind.TEXT: lambda value: f"{value or 'x'} (edited)",
    FieldKind.MONEY: lambda value: (value or 0) + 7,
}


def key_for(plugin: ProviderPlugin) -> str:
    return plugin.connection.emulator_key_prefix + KEY_BODY


def start(plugin: ProviderPlugin, **settings: Any) -> RunningEmulator[Any]:
    options: dict[str, Any] = {"api_key": key_for(plugin), "rate_limit": None, **settings}
    seed = plugin.sample_seed_document()
    return start_emulator(plugin.name, EmulatorSettings(**options), seed=seed)


def environment_of(plugin: ProviderPlugin) -> str:
    return plugin.model.default_environment


@contextmanager
def opened(
    plugin: ProviderPlugin,
    emulator: RunningEmulator[Any],
    *,
    key: str | None = None,
    retry: RetryPolicy = FAST,
    rate_limits: Mapping[str, RateLimit] | None = None,
) -> Iterator[Provider]:
    """The provider opened through its plug-in against ``emulator``, closed afterwards."""
    provider = plugin.open(
        OpenRequest(
            base_url=emulator.url,
            api_key=Secret(key or key_for(plugin)),
            rate_limits=rate_limits or {},
            key_source="test",
            api_version=None,
            emulated=False,
            retry=retry,
        )
    )
    try:
        yield provider
    finally:
        provider.close()


@dataclass(frozen=True)
class Edit:
    """One field of one live customer, and a new value for it."""

    customer: str
    field: str
    value: Any

    def change(self, plugin: ProviderPlugin, action: Action = "update") -> Change:
        kind = plugin.model.fields[self.field].kind
        fields = (FieldChange(self.field, None, self.value, kind),)
        return Change(action, plugin.name, environment_of(plugin), self.customer, fields)


def edits(plugin: ProviderPlugin, live: Mapping[str, LiveCustomer]) -> list[Edit]:
    """For each live customer, one listed field an update can change, and a new value."""
    found = []
    for identifier, customer in sorted(live.items()):
        for name, spec in plugin.model.fields.items():
            if spec.kind in EDITS and spec.updatable and spec.listed and name in customer.fields:
                before = customer.fields[name]
                if spec.kind is FieldKind.MONEY:
                    before = Decimal(str(before or 0))
                found.append(Edit(identifier, name, EDITS[spec.kind](before)))
                break
    assert found, f"{plugin.name}: no live customer has an editable listed field"
    return found


def same(value: Any, expected: Any) -> bool:
    """Equal as the planner compares them: numbers as decimals, anything else exactly."""
    if isinstance(expected, Decimal) and isinstance(value, int | float | Decimal):
        return Decimal(str(value)) == expected
    return bool(value == expected)


def requests_served(emulator: RunningEmulator[Any]) -> int:
    return int(emulator.stats()["total_requests"])


def api_clients(provider: object) -> list[ApiClient]:
    """The API clients a provider holds (one client, or one per environment)."""
    held = list(vars(provider).values())
    held += [v for value in held if isinstance(value, dict) for v in value.values()]
    return [value for value in held if isinstance(value, ApiClient)]
