"""The Autumn emulator over real HTTP: versions, both list shapes, update semantics,
get_or_create, delete, environments by key, error bodies and rate limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.emulator import ManualClock, RunningEmulator
from reconciler.providers.autumn.emulator import AutumnState
from reconciler.providers.autumn.emulator_model import CUSTOMER_FIELDS

Factory = Callable[..., RunningEmulator[AutumnState]]


def call(
    emu: RunningEmulator[Any],
    endpoint: str,
    body: Any = None,
    *,
    version: str | None = "2.2.0",
    key: str | None = None,
) -> httpx.Response:
    headers = {} if version is None else {"x-api-version": version}
    with emu.client(key=key, headers=headers) as api:
        return api.post(f"/v1/customers.{endpoint}", json=body)


def customers(count: int) -> dict[str, Any]:
    return {
        "customers": [
            {"id": f"cus-{i:04d}", "name": f"Customer {i}", "created_at": 1_700_000_000_000 + i}
            for i in range(count)
        ]
    }


def test_get_serves_the_snake_case_customer_object(autumn_emulator: Factory) -> None:
    """customers.get returns every documented field in snake_case."""
    emu = autumn_emulator(seed=customers(1))
    response = call(emu, "get", {"customer_id": "cus-0000"})
    assert response.status_code == 200
    body = response.json()
    assert set(CUSTOMER_FIELDS) <= set(body)
    assert body["env"] == "sandbox"
    assert body["billing_controls"] == {}
    assert body["created_at"] == 1_700_000_000_000


def test_camel_case_seed_from_the_docs_example_is_accepted(autumn_emulator: Factory) -> None:
    """A seed copied from the docs' camelCase example loads; metadata keys stay as written."""
    seed = {
        "customers": [
            {
                "id": "2ee25a41",
                "createdAt": 1771409161016,
                "stripeId": "cus_U0BKxpq1mFhuJO",
                "sendEmailReceipts": False,
                "metadata": {"accountOwner": "sales"},
                "billingControls": {"autoTopups": []},
                "balances": {"messages": {"featureId": "messages", "granted": 100}},
            }
        ]
    }
    emu = autumn_emulator(seed=seed)
    body = call(emu, "get", {"customer_id": "2ee25a41"}).json()
    assert body["stripe_id"] == "cus_U0BKxpq1mFhuJO"
    assert body["metadata"] == {"accountOwner": "sales"}
    assert body["billing_controls"] == {"auto_topups": []}
    assert body["balances"] == {"messages": {"feature_id": "messages", "granted": 100}}


def test_unknown_customer_is_404_customer_not_found(autumn_emulator: Factory) -> None:
    """get, update and delete of an unknown id are 404 customer_not_found; nothing is created."""
    emu = autumn_emulator()
    responses = [
        call(emu, "get", {"customer_id": "ghost"}),
        call(emu, "update", {"customer_id": "ghost", "name": "x"}),
        call(emu, "delete", {"customer_id": "ghost"}),
    ]
    for response in responses:
        assert response.status_code == 404
        assert response.json()["code"] == "customer_not_found"
        assert response.json()["env"] == "sandbox"
        assert set(response.json()) == {"message", "code", "env"}
    assert emu.state.customers == {}


@pytest.mark.parametrize("count", [0, 1, 9, 10, 11, 25])
def test_offset_pages_of_2_2_0(autumn_emulator: Factory, count: int) -> None:
    """2.2.0 pages by offset; has_more is len(list) == limit, so a full last page is followed
    by an empty one; walking pages yields each customer once."""
    emu = autumn_emulator(seed=customers(count))
    seen: list[str] = []
    offset, pages = 0, 0
    while True:
        page = call(emu, "list", {"offset": offset, "limit": 10}).json()
        pages += 1
        assert page["limit"] == 10
        assert page["offset"] == offset
        assert page["total"] == len(page["list"])
        assert page["total_filtered_count"] == count
        assert page["has_more"] == (len(page["list"]) == 10)
        seen.extend(c["id"] for c in page["list"])
        if not page["has_more"]:
            break
        offset += 10
    assert sorted(seen) == sorted(f"cus-{i:04d}" for i in range(count))
    assert len(seen) == count
    assert pages == count // 10 + 1  # 10 customers take two pages: the second is empty


def test_offset_list_defaults_and_newest_first(autumn_emulator: Factory) -> None:
    """Without a header the version is 2.2.0: limit 10 by default, newest customers first."""
    emu = autumn_emulator(seed=customers(12))
    page = call(emu, "list", {}, version=None).json()
    assert page["limit"] == 10
    assert page["list"][0]["id"] == "cus-0011"


@pytest.mark.parametrize("version", ["2.3.0", "2.5.0"])
@pytest.mark.parametrize("count", [0, 1, 3, 4, 7])
def test_cursor_pages_of_newer_versions(autumn_emulator: Factory, version: str, count: int) -> None:
    """2.3.0+ pages by cursor: next_cursor until the last page, each customer exactly once."""
    emu = autumn_emulator(seed=customers(count))
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        response = call(emu, "list", {"start_cursor": cursor, "limit": 3}, version=version)
        page = response.json()
        assert set(page) == {"list", "next_cursor"}
        seen.extend(c["id"] for c in page["list"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["list"]) == 3
    assert seen == [f"cus-{i:04d}" for i in reversed(range(count))]


def test_cursor_order_and_filters(autumn_emulator: Factory) -> None:
    """sort_order asc, search and created_at_range narrow and order the cursor list."""
    emu = autumn_emulator(seed=customers(5))
    asc = call(emu, "list", {"sort_order": "asc", "limit": 50}, version="2.5.0").json()
    assert [c["id"] for c in asc["list"]][:2] == ["cus-0000", "cus-0001"]
    found = call(emu, "list", {"search": "customer 3"}, version="2.5.0").json()
    assert [c["id"] for c in found["list"]] == ["cus-0003"]
    window = {"created_at_range": {"start": 1_700_000_000_001, "end": 1_700_000_000_002}}
    ranged = call(emu, "list", window, version="2.5.0").json()
    assert [c["id"] for c in ranged["list"]] == ["cus-0002", "cus-0001"]


def test_cursor_survives_deletes_between_pages(autumn_emulator: Factory) -> None:
    """A cursor names a position, so deleting seen customers never skips unseen ones."""
    emu = autumn_emulator(seed=customers(6))
    first = call(emu, "list", {"limit": 3}, version="2.5.0").json()
    for customer in first["list"]:
        assert call(emu, "delete", {"customer_id": customer["id"]}).status_code == 200
    second = call(emu, "list", {"limit": 3, "start_cursor": first["next_cursor"]}, version="2.5.0")
    assert [c["id"] for c in second.json()["list"]] == ["cus-0002", "cus-0001", "cus-0000"]


@pytest.mark.parametrize(
    ("version", "body"),
    [
        ("2.2.0", {"limit": 0}),
        ("2.2.0", {"limit": 1001}),
        ("2.2.0", {"offset": -1}),
        ("2.2.0", {"start_cursor": "x"}),  # a 2.3.0 field under 2.2.0
        ("2.5.0", {"limit": 5001}),
        ("2.5.0", {"limit": "10"}),
        ("2.5.0", {"start_cursor": "not-a-cursor"}),
        ("2.5.0", {"sort_order": "sideways"}),
        ("2.5.0", {"offset": 10}),  # a 2.2.0 field under 2.5.0
        ("2.5.0", {"subscription_status": "cancelled"}),
    ],
)
def test_bad_list_bodies_are_invalid_inputs(
    autumn_emulator: Factory, version: str, body: dict[str, Any]
) -> None:
    """Out-of-range limits, foreign fields and bad cursors are 400 invalid_inputs."""
    emu = autumn_emulator(seed=customers(2))
    response = call(emu, "list", body, version=version)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_inputs"


def test_unknown_api_version_is_400(autumn_emulator: Factory) -> None:
    """An x-api-version the API does not know is 400 invalid_inputs, on every endpoint."""
    emu = autumn_emulator(seed=customers(1))
    for endpoint in ("get", "list", "update"):
        response = call(emu, endpoint, {"customer_id": "cus-0000"}, version="9.9.9")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_inputs"


def test_update_merges_metadata_and_replaces_sent_control_arrays(autumn_emulator: Factory) -> None:
    """update merges metadata (null removes a key) and replaces only the arrays it sends."""
    seed = {
        "customers": [
            {
                "id": "acme",
                "metadata": {"tier": "gold", "owner": "sales", "region": "eu"},
                "billing_controls": {
                    "spend_limits": [
                        {"feature_id": "messages", "enabled": True, "overage_limit": 10}
                    ],
                    "usage_alerts": [
                        {
                            "feature_id": "messages",
                            "threshold": 80,
                            "threshold_type": "usage_percentage",
                        }
                    ],
                },
            }
        ]
    }
    emu = autumn_emulator(seed=seed)
    body = {
        "customer_id": "acme",
        "name": "Acme",
        "send_email_receipts": True,
        "metadata": {"tier": "platinum", "owner": None, "new": 1},
        "billing_controls": {
            "spend_limits": [{"feature_id": "tokens", "enabled": True, "overage_limit": 250.5}]
        },
    }
    response = call(emu, "update", body)
    assert response.status_code == 200
    updated = response.json()
    assert updated["metadata"] == {"tier": "platinum", "region": "eu", "new": 1}
    assert updated["billing_controls"]["spend_limits"] == [
        {"feature_id": "tokens", "enabled": True, "overage_limit": 250.5}
    ]
    assert updated["billing_controls"]["usage_alerts"] == [
        {"feature_id": "messages", "threshold": 80, "threshold_type": "usage_percentage"}
    ]
    assert (updated["name"], updated["send_email_receipts"]) == ("Acme", True)
    assert call(emu, "get", {"customer_id": "acme"}).json() == updated


def test_update_can_clear_an_array_and_rename(autumn_emulator: Factory) -> None:
    """An empty array clears it; new_customer_id renames, refusing a taken id with 409."""
    seed = {
        "customers": [
            {"id": "a", "billing_controls": {"spend_limits": [{"feature_id": "m"}]}},
            {"id": "b"},
        ]
    }
    emu = autumn_emulator(seed=seed)
    cleared = call(emu, "update", {"customer_id": "a", "billing_controls": {"spend_limits": []}})
    assert cleared.json()["billing_controls"]["spend_limits"] == []
    taken = call(emu, "update", {"customer_id": "a", "new_customer_id": "b"})
    assert taken.status_code == 409
    assert taken.json()["code"] == "customer_already_exists"
    renamed = call(emu, "update", {"customer_id": "a", "new_customer_id": "c"})
    assert renamed.json()["id"] == "c"
    assert set(emu.state.customers) == {("sandbox", "b"), ("sandbox", "c")}


@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": "a", "name": 5},
        {"customer_id": "a", "metadata": ["x"]},
        {"customer_id": "a", "send_email_receipts": "yes"},
        {"customer_id": "a", "billing_controls": {"spend_limit": []}},
        {"customer_id": "a", "billing_controls": {"spend_limits": {}}},
        {"customer_id": "a", "billing_controls": {"spend_limits": [{"overage_limit": -1}]}},
        {"customer_id": "a", "billing_controls": {"usage_alerts": [{"threshold": 5}]}},
        {
            "customer_id": "a",
            "billing_controls": {
                "auto_topups": [
                    {
                        "feature_id": "m",
                        "threshold": 1,
                        "quantity": 5,
                        "purchase_limit": {"interval": "year", "limit": 1},
                    }
                ]
            },
        },
        {"customer_id": "a", "new_customer_id": None},
        {"customer_id": "a", "nickname": "x"},
        {"customer_id": ""},
        {},
    ],
)
def test_bad_update_bodies_are_invalid_inputs(
    autumn_emulator: Factory, body: dict[str, Any]
) -> None:
    """Wrong types, unknown keys and malformed billing controls are 400 and change nothing."""
    emu = autumn_emulator(seed={"customers": [{"id": "a", "name": "Before"}]})
    response = call(emu, "update", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_inputs"
    assert emu.state.customers[("sandbox", "a")]["name"] == "Before"


@pytest.mark.parametrize("endpoint", ["update", "get_or_create"])
def test_a_purchase_limit_needs_its_limit(autumn_emulator: Factory, endpoint: str) -> None:
    """A top-up's purchase_limit without ``limit`` is 400 (the API's model requires it), so a
    pipeline that passes here does not fail in production; with it, it is stored."""
    emu = autumn_emulator(seed={"customers": [{"id": "a"}]})

    def topup(limit: dict[str, Any]) -> dict[str, Any]:
        entry = {"feature_id": "m", "threshold": 1, "quantity": 5, "purchase_limit": limit}
        return {"customer_id": "b", "billing_controls": {"auto_topups": [entry]}}

    body = topup({"interval": "month", "interval_count": 1})
    if endpoint == "update":
        body["customer_id"] = "a"
    refused = call(emu, endpoint, body)
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_inputs"
    assert "purchase_limit.limit" in refused.json()["message"]
    assert set(emu.state.customers) == {("sandbox", "a")}
    assert emu.state.customers[("sandbox", "a")]["billing_controls"] == {}

    body["billing_controls"]["auto_topups"][0]["purchase_limit"]["limit"] = 3
    stored = call(emu, endpoint, body).json()["billing_controls"]["auto_topups"]
    assert stored[0]["purchase_limit"] == {"interval": "month", "interval_count": 1, "limit": 3}


def test_get_or_create_creates_then_only_fills_missing_name_and_email(
    autumn_emulator: Factory,
) -> None:
    """get_or_create creates a missing customer; on an existing one it only fills gaps."""
    emu = autumn_emulator()
    created = call(
        emu,
        "get_or_create",
        {"customer_id": "new", "email": "a@b.example", "metadata": {"k": "v"}},
    ).json()
    assert (created["id"], created["env"], created["metadata"]) == ("new", "sandbox", {"k": "v"})
    again = call(
        emu,
        "get_or_create",
        {"customer_id": "new", "name": "Filled", "email": "other@b.example", "metadata": {"k": 2}},
    ).json()
    assert again["name"] == "Filled"
    assert again["email"] == "a@b.example"
    assert again["metadata"] == {"k": "v"}
    assert again["created_at"] == created["created_at"]


def test_get_or_create_checks_the_body_even_for_existing_customers(
    autumn_emulator: Factory,
) -> None:
    """A malformed get_or_create body is 400 whether or not the customer exists."""
    emu = autumn_emulator(seed=customers(1))
    bad_controls = {"spend_limits": [{"overage_limit": "lots"}]}
    for identifier in ("cus-0000", "brand-new"):
        response = call(
            emu, "get_or_create", {"customer_id": identifier, "billing_controls": bad_controls}
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_inputs"
    assert ("sandbox", "brand-new") not in emu.state.customers


def test_delete_answers_success(autumn_emulator: Factory) -> None:
    """delete answers {"success": true} and the customer is gone."""
    emu = autumn_emulator(seed=customers(1))
    response = call(emu, "delete", {"customer_id": "cus-0000", "delete_in_stripe": False})
    assert response.json() == {"success": True}
    assert emu.state.customers == {}


def test_environment_follows_the_key_prefix(autumn_emulator: Factory) -> None:
    """A live key sees only live customers; errors carry the key's env."""
    seed = {
        "customers": [{"id": "same", "env": "sandbox"}, {"id": "same", "env": "live", "name": "L"}]
    }
    emu = autumn_emulator(seed=seed)
    live_key = emu.api_key.replace("am_sk_test_", "am_sk_live_")
    live = call(emu, "get", {"customer_id": "same"}, key=live_key).json()
    assert (live["env"], live["name"]) == ("live", "L")
    created = call(emu, "get_or_create", {"customer_id": "only-live"}, key=live_key).json()
    assert created["env"] == "live"
    missing = call(emu, "get", {"customer_id": "only-live"})
    assert missing.json()["env"] == "sandbox"
    assert missing.status_code == 404


def test_auth_errors(autumn_emulator: Factory) -> None:
    """No key and a wrong key are 401 in Autumn's error shape, never echoing the key."""
    emu = autumn_emulator()
    with emu.client(key="") as anonymous:
        missing = anonymous.post("/v1/customers.list", json={})
    wrong = call(emu, "list", {}, key="am_sk_test_wrong")
    assert missing.status_code == 401
    assert missing.json()["code"] == "no_secret_key"
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_secret_key"
    assert "am_sk_test_wrong" not in wrong.text


def test_unknown_route_and_get_method(autumn_emulator: Factory) -> None:
    """Unknown routes are 404 and GET on a POST endpoint is 405, both in Autumn's shape."""
    emu = autumn_emulator()
    with emu.client() as api:
        missing = api.post("/v1/customers.create_many", json={})
        wrong = api.get("/v1/customers.list")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")


def test_list_and_write_rate_limits_with_ratelimit_headers(autumn_emulator: Factory) -> None:
    """list has its own limit; other calls get five times it; 429s carry RateLimit-* headers."""
    clock = ManualClock()
    emu = autumn_emulator(seed=customers(1), rate_limit=(2, 1.0), clock=clock)
    lists = [call(emu, "list", {}).status_code for _ in range(3)]
    gets = [call(emu, "get", {"customer_id": "cus-0000"}).status_code for _ in range(11)]
    refused = call(emu, "list", {})
    assert lists == [200, 200, 429]
    assert gets == [200] * 10 + [429]
    assert refused.json() == {
        "message": "Rate limit exceeded",
        "code": "rate_limit_exceeded",
        "env": "sandbox",
    }
    assert refused.headers["ratelimit-limit"] == "2"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["ratelimit-reset"] == "1"
    clock.advance(1.0)
    assert call(emu, "list", {}).status_code == 200


def test_injected_faults_use_autumn_bodies(autumn_emulator: Factory) -> None:
    """Injected 500s and 429s carry Autumn's codes; drops close the connection."""
    failing = autumn_emulator(fail_rate=1.0)
    assert call(failing, "list", {}).json()["code"] == "internal_error"
    throttled = autumn_emulator(rate_limit_429_rate=1.0, retry_after_header=True)
    response = call(throttled, "list", {})
    assert response.json()["code"] == "rate_limit_exceeded"
    assert response.headers["retry-after"] == "1"
    dropping = autumn_emulator(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        call(dropping, "list", {})
    assert dropping.stats()["requests"] == {"POST /v1/customers.list": 1}


def test_an_injected_429_without_a_limit_states_no_limit(autumn_emulator: Factory) -> None:
    """With no rate limit set, an injected 429 says when to retry but claims no limit of 0
    (a client reading RateLimit-Limit: 0 would take the organization for blocked)."""
    throttled = autumn_emulator(rate_limit=None, rate_limit_429_rate=1.0)
    response = call(throttled, "list", {})
    assert response.status_code == 429
    assert response.headers["ratelimit-reset"] == "1"
    assert "ratelimit-limit" not in response.headers
    assert "ratelimit-remaining" not in response.headers
    limited = autumn_emulator(rate_limit=(5, 1.0), rate_limit_429_rate=1.0)
    assert call(limited, "list", {}).headers["ratelimit-limit"] == "5"
