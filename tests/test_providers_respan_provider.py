"""The Respan provider against the emulator: what it reads, what it costs, what it sends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.domain import UNKNOWN, DesiredCustomer, Source
from reconciler.emulator import RunningEmulator
from reconciler.providers.base import Declared
from reconciler.providers.respan.client import RespanClient
from reconciler.providers.respan.emulator import RespanState
from reconciler.providers.respan.provider import RespanProvider

Emulators = Callable[..., RunningEmulator[RespanState]]
FAST = RetryPolicy(attempts=5, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0)
LIST = "POST /api/users/list/"
RETRIEVE = "GET /api/users/{customer_identifier}/"

SEED = {
    "customers": [
        {
            "customer_identifier": "acme",
            "name": "Acme",
            "period_budget": 250,
            "metadata": {"tier": "gold"},
            "markup_percentage": 20,
            "total_period_usage": 45.67,
        },
        {"customer_identifier": "beta", "name": "Beta", "period_budget": 10},
        {"customer_identifier": "gamma", "metadata": {"tier": "silver"}},
        {"customer_identifier": "undeclared", "metadata": {"x": "y"}},
        {"customer_identifier": "acme", "environment": "test", "metadata": {"env": "t"}},
    ]
}


def desired(identifier: str, environment: str = "prod", **fields: Any) -> DesiredCustomer:
    return DesiredCustomer("respan", environment, identifier, fields, Source("c.yaml", 1))


@pytest.fixture
def provider_for() -> Iterator[Callable[[RunningEmulator[RespanState]], RespanProvider]]:
    """Build providers over emulators; closed when the test ends."""
    made: list[RespanProvider] = []

    def make(emulator: RunningEmulator[RespanState]) -> RespanProvider:
        client = RespanClient.create(
            emulator.url, Secret(emulator.api_key), rate_limit=None, retry=FAST
        )
        made.append(RespanProvider(client, max_concurrency=4))
        return made[-1]

    yield make
    for provider in made:
        provider.close()


def test_read_live_retrieves_only_customers_declaring_unlisted_fields(
    respan_emulator: Emulators, provider_for: Callable[..., RespanProvider]
) -> None:
    """One list request, plus one retrieve per declared live customer needing detail fields."""
    emulator = respan_emulator(seed=SEED)
    provider = provider_for(emulator)
    manifests = [
        desired("acme", metadata={"tier": "gold"}, period_budget=Decimal(250)),
        desired("beta", name="Beta", period_budget=Decimal(10)),  # listed fields only
        desired("ghost", metadata={}),  # not live: nothing to retrieve
        desired("gamma", "test", markup_percentage=Decimal(5)),  # another environment
    ]
    # The run passes each environment's own customers: gamma is declared in test only.
    live = provider.read_live(
        "prod", [Declared.of(c) for c in manifests if c.environment == "prod"]
    )
    assert sorted(live) == ["acme", "beta", "gamma", "undeclared"]
    assert emulator.stats()["requests"] == {LIST: 1, RETRIEVE: 1}

    acme = live["acme"]
    assert acme.key == ("respan", "prod", "acme")
    assert acme.get("metadata") == {"tier": "gold"}
    assert acme.get("markup_percentage") == 20
    assert acme.get("period_budget") == 250
    assert acme.get("period_start") == "2025-01-01T00:00:00Z"
    assert acme.usage == Decimal("45.67")

    for name in ("beta", "undeclared"):
        assert live[name].get("metadata") is UNKNOWN
        assert live[name].usage is None
    assert live["beta"].get("name") == "Beta"
    assert live["undeclared"].get("period_budget") is None


def test_fields_the_api_does_not_return_stay_unknown(
    respan_emulator: Emulators, provider_for: Callable[..., RespanProvider]
) -> None:
    """When retrieve omits metadata and markup, they are UNKNOWN, never assumed."""
    emulator = respan_emulator(seed=SEED, omit_fields=frozenset({"metadata", "markup_percentage"}))
    provider = provider_for(emulator)
    live = provider.read_live("prod", [Declared.of(desired("acme", metadata={"tier": "gold"}))])
    assert live["acme"].get("metadata") is UNKNOWN
    assert live["acme"].get("markup_percentage") is UNKNOWN
    assert live["acme"].get("period_end") is None


def test_many_retrieves_run_concurrently_and_are_all_read(
    respan_emulator: Emulators, provider_for: Callable[..., RespanProvider]
) -> None:
    """Forty customers needing detail cost forty retrieves, each answered for its customer."""
    seed = {
        "customers": [
            {"customer_identifier": f"c{i}", "metadata": {"n": str(i)}} for i in range(40)
        ]
    }
    emulator = respan_emulator(seed=seed)
    provider = provider_for(emulator)
    declared = [Declared.of(desired(f"c{i}", metadata={})) for i in range(40)]
    live = provider.read_live("prod", declared)
    assert all(live[f"c{i}"].get("metadata") == {"n": str(i)} for i in range(40))
    assert emulator.stats()["requests"] == {LIST: 1, RETRIEVE: 40}


def test_a_customer_named_like_an_endpoint_keeps_its_listed_fields(
    respan_emulator: Emulators, provider_for: Callable[..., RespanProvider]
) -> None:
    """A live customer 'list' cannot be retrieved: listed fields are read, the rest unknown."""
    emulator = respan_emulator(seed={"customers": [{"customer_identifier": "list", "name": "L"}]})
    provider = provider_for(emulator)
    live = provider.read_live("prod", [Declared.of(desired("list", metadata={}))])
    assert live["list"].get("name") == "L"
    assert live["list"].get("metadata") is UNKNOWN
    assert provider.read_usage("prod", ["list"]) == {}
    assert emulator.stats()["requests"] == {LIST: 1}


def test_read_usage_reuses_this_runs_retrieves(
    respan_emulator: Emulators, provider_for: Callable[..., RespanProvider]
) -> None:
    """Usage of an already retrieved customer costs nothing; others one retrieve each, once."""
    emulator = respan_emulator(seed=SEED)
    provider = provider_for(emulator)
    provider.read_live("prod", [Declared.of(desired("acme", metadata={}))])
    usage = provider.read_usage("prod", ["acme", "beta", "beta", "ghost"])
    assert usage == {"acme": Decimal("45.67"), "beta": Decimal(0)}
    provider.read_usage("prod", ["beta"])
    assert emulator.stats()["requests"] == {LIST: 1, RETRIEVE: 3}
