"""The vendor's own Python SDK (respan-api 0.1.49) as a client of the Respan emulator: if the
SDK can parse what the emulator serves, the emulator speaks the documented wire format."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import httpx
import pytest
from respan import RespanClient
from respan.errors.not_found_error import NotFoundError
from vendor_sdks import RESPAN_MODULES, import_whole, no_late_imports

from reconciler.emulator import RunningEmulator
from reconciler.providers.respan.emulator import RespanState

Factory = Callable[..., RunningEmulator[RespanState]]

SEED = {
    "customers": [
        {
            "customer_identifier": f"cust-{i}",
            "email": f"billing@cust-{i}.example",
            "total_cost": float(i * 10),
            "period_budget": 100,
            "metadata": {"tier": "gold" if i % 2 else "free"},
        }
        for i in range(7)
    ],
    "credit_transactions": [
        {
            "id": "ct_1a2b3c4d5e6f7g8h",
            "organization_subscription": 42,
            "amount": 150.75,
            "transaction_type": "grant",
            "created_at": "2024-01-15T09:30:00Z",
            "expires_at": "2024-07-15T09:30:00Z",
            "description": "Welcome bonus for new customer",
            "stripe_payment_intent_id": "pi_3JH4kL2eZvKYlo2C0X9a1b2c",
            "metadata": {"campaign": "new_user_promo"},
        },
        {"amount": -12.5, "transaction_type": "adjustment", "created_at": "2024-02-01T00:00:00Z"},
    ],
}


import_whole(*RESPAN_MODULES)


@pytest.fixture(autouse=True)
def sdk_loaded_before_the_test() -> Iterator[None]:
    """Every SDK module a test reaches was imported at collection, not while servers run."""
    with no_late_imports("respan"):
        yield


@pytest.fixture
def sdk(respan_emulator: Factory) -> Iterator[tuple[RespanClient, RunningEmulator[RespanState]]]:
    emu = respan_emulator(seed=SEED)
    with httpx.Client(timeout=10) as http:
        client = RespanClient(
            base_url=emu.url,
            authorization=f"Bearer {emu.api_key}",
            respan_api_key=emu.api_key,
            httpx_client=http,
        )
        yield client, emu


def test_sdk_lists_with_filters_across_pages(
    sdk: tuple[RespanClient, RunningEmulator[RespanState]],
) -> None:
    """The SDK's pager walks filtered pages to the empty one past the end."""
    client, emu = sdk
    pager = client.users.list_customers(
        page_size=2,
        sort_by="-total_cost",
        environment="prod",
        filters={  # the documented plain-dict form
            "total_cost": {"operator": "gte", "value": [20]},
            "email": {"operator": "endswith", "value": [".example"]},
        },
    )
    identifiers = [customer.customer_identifier for customer in pager]
    assert identifiers == ["cust-6", "cust-5", "cust-4", "cust-3", "cust-2"]
    assert emu.stats()["requests"]["POST /api/users/list/"] == 4  # 3 pages + 1 empty


def test_sdk_retrieves_updates_and_deletes(
    sdk: tuple[RespanClient, RunningEmulator[RespanState]],
) -> None:
    """retrieve, update (with datetime and enum) and delete round-trip through the SDK."""
    client, emu = sdk
    fetched = client.users.retrieve_user("cust-3", environment="prod")
    assert fetched.customer_identifier == "cust-3"
    assert fetched.period_budget == 100
    assert isinstance(fetched.updated_at, dt.datetime)

    updated = client.users.update_user(
        "cust-3",
        environment="prod",
        period_budget=250.0,
        budget_duration="weekly",
        period_start=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        metadata={"tier": "enterprise"},
        name="Customer Three",
    )
    assert updated.period_budget == 250.0
    assert updated.budget_duration == "weekly"
    assert updated.period_start == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert updated.name == "Customer Three"
    stored = emu.state.customers[("prod", "cust-3")]
    assert stored["metadata"] == {"tier": "enterprise"}

    client.users.delete_user("cust-3", environment="prod")
    with pytest.raises(NotFoundError):
        client.users.retrieve_user("cust-3", environment="prod")


def test_sdk_reads_credit_transactions(
    sdk: tuple[RespanClient, RunningEmulator[RespanState]],
) -> None:
    """Both credit transaction endpoints parse with the SDK's strict models."""
    client, _ = sdk
    transactions = list(client.credit_transactions.list_credit_transactions(page_size=1))
    assert [t.amount for t in transactions] == [-12.5, 150.75]  # newest first
    one = client.credit_transactions.retrieve_credit_transaction("ct_1a2b3c4d5e6f7g8h")
    assert one.transaction_type == "grant"
    assert one.credit_amount == 150.75
    assert one.debit_amount == 0
    assert one.description == "Welcome bonus for new customer"
