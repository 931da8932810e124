"""The vendor's own Python SDK (autumn-sdk 1.2.0, x-api-version 2.5.0) as a client of the
Autumn emulator: if its strict models parse what the emulator serves, the wire format is right."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from autumn_sdk import Autumn
from autumn_sdk.errors import AutumnDefaultError
from autumn_sdk.models import ListCustomersPlan
from vendor_sdks import AUTUMN_MODULES, import_whole, no_late_imports

from reconciler.emulator import RunningEmulator
from reconciler.providers.autumn.emulator import AutumnState

Factory = Callable[..., RunningEmulator[AutumnState]]

SEED = {
    "customers": [
        {
            "id": f"cus-{i}",
            "name": f"Customer {i}",
            "email": f"billing@cus-{i}.example",
            "created_at": 1_771_409_161_016 + i,
            "metadata": {"tier": "gold"},
            "billing_controls": {
                "spend_limits": [{"feature_id": "messages", "enabled": True, "overage_limit": 10}]
            },
            "subscriptions": [
                {
                    "id": f"sub-{i}",
                    "plan_id": "pro_plan",
                    "auto_enable": True,
                    "add_on": False,
                    "status": "active",
                    "past_due": False,
                    "canceled_at": None,
                    "expires_at": None,
                    "trial_ends_at": None,
                    "started_at": 1_771_431_921_437,
                    "current_period_start": 1_771_431_921_437,
                    "current_period_end": 1_771_999_921_437,
                    "quantity": 1,
                }
            ],
            "config": {"disable_pooled_balance": False},
        }
        for i in range(5)
    ]
}


import_whole(*AUTUMN_MODULES)


@pytest.fixture(autouse=True)
def sdk_loaded_before_the_test() -> Iterator[None]:
    """Every SDK module a test reaches was imported at collection, not while servers run."""
    with no_late_imports("autumn_sdk"):
        yield


@pytest.fixture
def sdk(autumn_emulator: Factory) -> Iterator[tuple[Autumn, RunningEmulator[AutumnState]]]:
    emu = autumn_emulator(seed=SEED)
    with httpx.Client(timeout=10) as http:
        yield Autumn(secret_key=emu.api_key, server_url=emu.url, client=http), emu


def test_sdk_lists_by_cursor(sdk: tuple[Autumn, RunningEmulator[AutumnState]]) -> None:
    """The SDK's cursor list walks every customer, newest first, and parses each one."""
    client, _ = sdk
    seen: list[str | None] = []
    page = client.customers.list(limit=2)
    seen.extend(customer.id for customer in page.list)
    while page.next_cursor is not None:
        page = client.customers.list(limit=2, start_cursor=page.next_cursor)
        seen.extend(customer.id for customer in page.list)
    assert seen == ["cus-4", "cus-3", "cus-2", "cus-1", "cus-0"]
    filtered = client.customers.list(search="customer 2", plans=[ListCustomersPlan(id="pro_plan")])
    assert [customer.id for customer in filtered.list] == ["cus-2"]


def test_sdk_gets_and_updates(sdk: tuple[Autumn, RunningEmulator[AutumnState]]) -> None:
    """get parses the full customer; update merges metadata and replaces spend limits."""
    client, emu = sdk
    customer = client.customers.get(customer_id="cus-1")
    assert customer.env == "sandbox"
    assert customer.subscriptions[0].plan_id == "pro_plan"
    spend_limits = customer.billing_controls.spend_limits
    assert spend_limits is not None
    assert spend_limits[0].overage_limit == 10

    updated = client.customers.update(
        customer_id="cus-1",
        name="Renamed",
        metadata={"region": "eu"},
        billing_controls={
            "spend_limits": [{"feature_id": "messages", "enabled": True, "overage_limit": 99.5}]
        },
    )
    assert updated.name == "Renamed"
    assert updated.metadata == {"tier": "gold", "region": "eu"}
    new_limits = updated.billing_controls.spend_limits
    assert new_limits is not None
    assert new_limits[0].overage_limit == 99.5
    assert emu.state.customers[("sandbox", "cus-1")]["name"] == "Renamed"


def test_sdk_get_or_create_and_delete(sdk: tuple[Autumn, RunningEmulator[AutumnState]]) -> None:
    """get_or_create creates once, delete answers success, and get then fails with 404."""
    client, emu = sdk
    created = client.customers.get_or_create(
        customer_id="fresh", name="Fresh", email="fresh@example.com", send_email_receipts=True
    )
    assert (created.id, created.env, created.send_email_receipts) == ("fresh", "sandbox", True)
    again = client.customers.get_or_create(customer_id="fresh", name="Ignored")
    assert again.name == "Fresh"

    assert client.customers.delete(customer_id="fresh").success is True
    with pytest.raises(AutumnDefaultError) as raised:
        client.customers.get(customer_id="fresh")
    assert raised.value.status_code == 404
    assert emu.stats()["responses"]["404"] == 1
