"""Reading live state for a plan: which environments, which customers, which usage reads."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from reconciler.clients.secret import Secret
from reconciler.domain import DesiredCustomer, Source
from reconciler.emulator import RunningEmulator
from reconciler.livestate import environments, read_live, read_usage
from reconciler.planner import PlanOptions, build_plan
from reconciler.providers.registry import MODELS
from reconciler.providers.respan.client import RespanClient
from reconciler.providers.respan.emulator import RespanState
from reconciler.providers.respan.provider import RespanProvider

Emulators = Callable[..., RunningEmulator[RespanState]]
LIST = "POST /api/users/list/"
RETRIEVE = "GET /api/users/{customer_identifier}/"

SEED = {
    "customers": [
        {"customer_identifier": "a", "period_budget": 100, "total_period_usage": 80},
        {"customer_identifier": "b", "period_budget": 100, "metadata": {"k": "v"}},
        {"customer_identifier": "c", "environment": "test", "period_budget": 5},
    ]
}


def desired(identifier: str, environment: str = "prod", **fields: Any) -> DesiredCustomer:
    return DesiredCustomer("respan", environment, identifier, fields, Source("c.yaml", 1))


def test_environments_are_collected_per_provider_sorted() -> None:
    """Each provider is read once per environment its declared customers live in."""
    customers = [desired("a", "test"), desired("b"), desired("c", "test")]
    assert environments(customers) == {"respan": ("prod", "test")}


def test_read_live_skips_detail_reads_for_customers_outside_the_selection(
    respan_emulator: Emulators,
) -> None:
    """An excluded customer that declares metadata costs no retrieve; lists still cover all."""
    emulator = respan_emulator(seed=SEED)
    provider = RespanProvider(RespanClient.create(emulator.url, Secret(emulator.api_key)))
    customers = [desired("a", period_budget=Decimal(50)), desired("b", metadata={"k": "w"})]
    try:
        live = read_live(
            {"respan": provider},
            environments(customers),
            customers,
            PlanOptions(excludes=("b",)),
        )
    finally:
        provider.close()
    assert set(live) == {("respan", "prod", "a"), ("respan", "prod", "b")}
    assert emulator.stats()["requests"] == {LIST: 1}


def test_usage_is_read_only_for_budgets_that_go_down(respan_emulator: Emulators) -> None:
    """Usage is retrieved for the customer whose period budget decreases, and no other."""
    emulator = respan_emulator(seed=SEED)
    provider = RespanProvider(RespanClient.create(emulator.url, Secret(emulator.api_key)))
    customers = [desired("a", period_budget=Decimal(50)), desired("b", period_budget=Decimal(150))]
    try:
        providers = {"respan": provider}
        live = read_live(providers, environments(customers), customers, PlanOptions())
        plan = build_plan(customers, live, MODELS, PlanOptions())
        usage = read_usage(providers, plan)
    finally:
        provider.close()
    assert usage == {("respan", "prod", "a"): Decimal(80)}
    assert emulator.stats()["requests"] == {LIST: 1, RETRIEVE: 1}


def test_each_environment_is_read_with_its_own_customers_declared_by_field_name(
    respan_emulator: Emulators,
) -> None:
    """A provider's read of one environment is told only that environment's customers, by id
    and declared field names (never their values): a customer declaring metadata in test
    costs no retrieve of the same id in prod."""
    emulator = respan_emulator(
        seed={
            "customers": [
                {"customer_identifier": "a", "period_budget": 1},
                {"customer_identifier": "a", "environment": "test", "period_budget": 1},
            ]
        }
    )
    provider = RespanProvider(RespanClient.create(emulator.url, Secret(emulator.api_key)))
    customers = [desired("a", period_budget=Decimal(5)), desired("a", "test", metadata={})]
    try:
        live = read_live({"respan": provider}, environments(customers), customers, PlanOptions())
    finally:
        provider.close()
    assert set(live) == {("respan", "prod", "a"), ("respan", "test", "a")}
    assert emulator.stats()["requests"] == {LIST: 2, RETRIEVE: 1}
