"""The Respan emulator over real HTTP: listing, paging, sorting, retrieve, update, delete,
credit transactions, auth and error bodies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from starlette.responses import JSONResponse

from reconciler.emulator import RunningEmulator
from reconciler.providers.respan import emulator_model
from reconciler.providers.respan.emulator import RespanState
from reconciler.providers.respan.emulator_model import DETAIL_FIELDS, LIST_FIELDS, list_item

Factory = Callable[..., RunningEmulator[RespanState]]


def client(emu: RunningEmulator[Any], key: str | None = None) -> httpx.Client:
    return emu.client(key=key)


def customers(count: int, **extra: Any) -> dict[str, Any]:
    return {"customers": [{"customer_identifier": f"cust-{i:04d}", **extra} for i in range(count)]}


def user_path(identifier: str) -> str:
    return f"/api/users/{quote(identifier, safe='')}/"


def list_all(api: httpx.Client, path: str = "/api/users/list/", **params: Any) -> list[Any]:
    """Follow ``next`` links from page 1 to the end, as a careful client does."""
    items: list[Any] = []
    url: str | None = path
    first = True
    while url is not None:
        response = api.get(url, params=params if first else None)
        first = False
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["results"])
        url = page["next"]
    return items


@pytest.mark.parametrize("count", [0, 1, 1000, 1001])
def test_paging_visits_every_customer_exactly_once(respan_emulator: Factory, count: int) -> None:
    """Following next links with page_size 1000 yields each customer once, for 0/1/1000/1001."""
    emu = respan_emulator(seed=customers(count))
    with client(emu) as api:
        items = list_all(api, page_size=1000)
        first = api.post("/api/users/list/", params={"page_size": 1000}).json()
    ids = [item["customer_identifier"] for item in items]
    assert sorted(ids) == [f"cust-{i:04d}" for i in range(count)]
    assert first["count"] == count
    assert first["previous"] is None
    assert (first["next"] is not None) == (count > 1000)


def test_next_and_previous_are_absolute_and_keep_other_params(respan_emulator: Factory) -> None:
    """Page links are absolute URLs keeping the other query parameters."""
    emu = respan_emulator(seed=customers(5))
    with client(emu) as api:
        params: dict[str, str | int] = {
            "page": 2,
            "page_size": 2,
            "sort_by": "customer_identifier",
            "environment": "prod",
        }
        page = api.post("/api/users/list/", params=params).json()
    assert [c["customer_identifier"] for c in page["results"]] == ["cust-0002", "cust-0003"]
    for link, expected_page in ((page["next"], "3"), (page["previous"], "1")):
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == emu.url
        query = parse_qs(parts.query)
        assert query["page"] == [expected_page]
        assert query["page_size"] == ["2"]
        assert query["sort_by"] == ["customer_identifier"]
        assert query["environment"] == ["prod"]


def test_page_past_the_end_is_empty_and_has_no_next(respan_emulator: Factory) -> None:
    """A page beyond the last answers 200 with no results and next null (the SDK pages so)."""
    emu = respan_emulator(seed=customers(3))
    with client(emu) as api:
        response = api.post("/api/users/list/", params={"page": 7, "page_size": 2})
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert response.json()["next"] is None
    assert response.json()["count"] == 3


def test_page_size_defaults_to_50(respan_emulator: Factory) -> None:
    """Without page_size a page holds 50 customers."""
    emu = respan_emulator(seed=customers(51))
    with client(emu) as api:
        page = api.get("/api/users/list/").json()
    assert len(page["results"]) == 50
    assert page["next"] is not None


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": 1001},
        {"page_size": 0},
        {"page_size": "ten"},
        {"page": 0},
        {"page": "-1"},
        {"sort_by": "metadata"},
        {"sort_by": "-nope"},
        {"environment": "staging"},
    ],
)
def test_bad_list_parameters_are_400_with_detail(
    respan_emulator: Factory, params: dict[str, Any]
) -> None:
    """Out-of-range paging, unknown sort fields and environments are 400 {"detail": ...}."""
    emu = respan_emulator(seed=customers(1))
    with client(emu) as api:
        response = api.post("/api/users/list/", params=params)
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)


def test_list_body_that_is_not_json_is_400(respan_emulator: Factory) -> None:
    """A list body that is not JSON (or not an object) is a 400."""
    emu = respan_emulator()
    with client(emu) as api:
        broken = api.post("/api/users/list/", content=b"{not json")
        array = api.post("/api/users/list/", json=[1])
        nan = api.post("/api/users/list/", content=b'{"filters": NaN}')
    assert [broken.status_code, array.status_code, nan.status_code] == [400, 400, 400]


SORT_SEED = {
    "customers": [
        {
            "customer_identifier": "b",
            "total_cost": 5,
            "name": "Zed",
            "first_seen": "2025-03-01T00:00:00Z",
        },
        {
            "customer_identifier": "a",
            "total_cost": 5,
            "name": None,
            "first_seen": "2025-01-01T00:00:00Z",
        },
        {
            "customer_identifier": "c",
            "total_cost": 9.5,
            "name": "Amy",
            "first_seen": "2025-02-01T00:00:00.5Z",
        },
        {
            "customer_identifier": "d",
            "total_cost": 0,
            "name": "Bob",
            "first_seen": "2025-02-01T00:00:00Z",
        },
    ]
}


@pytest.mark.parametrize(
    ("sort_by", "expected"),
    [
        (None, ["b", "c", "d", "a"]),  # -first_seen by default, sub-second precision honoured
        ("first_seen", ["a", "d", "c", "b"]),
        ("total_cost", ["d", "a", "b", "c"]),  # ties broken by customer_identifier
        ("-total_cost", ["c", "a", "b", "d"]),
        ("name", ["c", "d", "b", "a"]),  # nulls last ascending
        ("-name", ["a", "b", "d", "c"]),  # nulls first descending
        ("customer_identifier", ["a", "b", "c", "d"]),
        ("-customer_identifier", ["d", "c", "b", "a"]),
    ],
)
def test_sorting(respan_emulator: Factory, sort_by: str | None, expected: list[str]) -> None:
    """sort_by orders by any documented field, - descends, ties break on the identifier."""
    emu = respan_emulator(seed=SORT_SEED)
    params = {} if sort_by is None else {"sort_by": sort_by}
    with client(emu) as api:
        page = api.post("/api/users/list/", params=params).json()
    assert [c["customer_identifier"] for c in page["results"]] == expected


def test_paging_under_ties_never_repeats_or_skips(respan_emulator: Factory) -> None:
    """With every sort key equal, small pages still cover each customer exactly once."""
    emu = respan_emulator(seed=customers(23, total_cost=1))
    with client(emu) as api:
        items = list_all(api, page_size=4, sort_by="-total_cost")
    ids = [item["customer_identifier"] for item in items]
    assert ids == sorted(set(ids))
    assert len(ids) == 23


def test_list_items_carry_exactly_the_list_fields(respan_emulator: Factory) -> None:
    """List items have the documented list fields and none of metadata/markup/period dates."""
    seed = {
        "customers": [{"customer_identifier": "x", "metadata": {"a": 1}, "markup_percentage": 20}]
    }
    emu = respan_emulator(seed=seed)
    with client(emu) as api:
        item = api.get("/api/users/list/").json()["results"][0]
    assert tuple(item) == LIST_FIELDS
    assert item["total_requests"] == item["number_of_requests"]
    assert item["tokens"] == item["total_tokens"]
    assert item["cost"] == item["total_cost"]


def test_environments_are_separate(respan_emulator: Factory) -> None:
    """The same identifier lives separately in prod (the default) and test."""
    seed = {
        "customers": [
            {"customer_identifier": "same", "environment": "prod", "name": "P"},
            {"customer_identifier": "same", "environment": "test", "name": "T"},
        ]
    }
    emu = respan_emulator(seed=seed)
    with client(emu) as api:
        prod = api.get(user_path("same")).json()
        test = api.get(user_path("same"), params={"environment": "test"}).json()
        listed = api.get("/api/users/list/", params={"environment": "test"}).json()
    assert (prod["name"], prod["environment"]) == ("P", "prod")
    assert (test["name"], test["environment"]) == ("T", "test")
    assert [c["name"] for c in listed["results"]] == ["T"]


def test_retrieve_shape_and_omit_fields(respan_emulator: Factory) -> None:
    """Retrieve carries the retrieve fields plus metadata/markup, minus omit_fields."""
    seed = {"customers": [{"customer_identifier": "x", "metadata": {"tier": "gold"}}]}
    full = respan_emulator(seed=seed)
    lean = respan_emulator(seed=seed, omit_fields=frozenset({"metadata", "markup_percentage"}))
    with client(full) as api:
        body = api.get(user_path("x")).json()
    with client(lean) as api:
        lean_body = api.get(user_path("x")).json()
        patched = api.patch(user_path("x"), json={"name": "N"}).json()
    assert tuple(body) == DETAIL_FIELDS
    assert body["metadata"] == {"tier": "gold"}
    assert body["id"] == "x"
    assert "metadata" not in lean_body
    assert "markup_percentage" not in lean_body
    assert "metadata" not in patched
    assert patched["name"] == "N"


@pytest.mark.parametrize(
    "identifier",
    [
        "a/b",
        "what?x=1",
        "hash#tag",
        "..",
        "../credit-transactions/ct_1",
        "with space",
        "ünï😀",
        "100%",
        "a%2Fb",
    ],
)
def test_identifiers_are_percent_decoded_exactly_once(
    respan_emulator: Factory, identifier: str
) -> None:
    """An encoded identifier with / ? # .. % or unicode addresses exactly that customer."""
    seed = {
        "customers": [{"customer_identifier": identifier, "name": "target"}],
        "credit_transactions": [{"id": "ct_1", "amount": 5, "transaction_type": "grant"}],
    }
    emu = respan_emulator(seed=seed)
    path = "/api/users/" + quote(identifier, safe="").replace(".", "%2E") + "/"
    with client(emu) as api:
        fetched = api.get(path)
        patched = api.patch(path, json={"email": "t@example.com"})
        deleted = api.delete(path)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["customer_identifier"] == identifier
    assert patched.json()["email"] == "t@example.com"
    assert deleted.status_code == 204
    assert emu.state.customers == {}
    requests = emu.stats()["requests"]
    assert requests == {
        "GET /api/users/{customer_identifier}/": 1,
        "PATCH /api/users/{customer_identifier}/": 1,
        "DELETE /api/users/{customer_identifier}/": 1,
    }


def test_traversal_identifier_never_reaches_credit_transactions(respan_emulator: Factory) -> None:
    """../credit-transactions/ct_1, encoded, is a users lookup: a 404 when no such customer."""
    emu = respan_emulator(
        seed={"credit_transactions": [{"id": "ct_1", "amount": 5, "transaction_type": "grant"}]}
    )
    with client(emu) as api:
        response = api.get(user_path("../credit-transactions/ct_1"))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert emu.stats()["requests"] == {"GET /api/users/{customer_identifier}/": 1}


def test_patch_updates_fields_and_bumps_updated_at(respan_emulator: Factory) -> None:
    """PATCH stores every editable field (normalizing timestamps) and bumps updated_at."""
    emu = respan_emulator(
        seed={"customers": [{"customer_identifier": "x", "metadata": {"old": 1}}]}
    )
    body = {
        "email": "billing@acme.example",
        "name": "Acme",
        "metadata": {"tier": "enterprise"},
        "period_budget": 250.5,
        "budget_duration": "yearly",
        "total_budget": 5000,
        "period_start": "2026-11-01T02:00:00+02:00",
        "period_end": None,
        "markup_percentage": 20,
    }
    with client(emu) as api:
        response = api.patch(user_path("x"), json=body)
        again = api.get(user_path("x")).json()
    assert response.status_code == 200
    updated = response.json()
    assert updated == again
    assert updated["metadata"] == {"tier": "enterprise"}  # replaced, not merged
    assert updated["period_start"] == "2026-11-01T00:00:00Z"
    assert updated["budget_duration"] == "yearly"
    assert (updated["period_budget"], updated["total_budget"]) == (250.5, 5000)
    assert updated["updated_at"] > "2025-01-01T00:00:00Z"


def test_patch_null_clears_a_budget(respan_emulator: Factory) -> None:
    """period_budget: null clears the budget."""
    emu = respan_emulator(seed={"customers": [{"customer_identifier": "x", "period_budget": 10}]})
    with client(emu) as api:
        response = api.patch(user_path("x"), json={"period_budget": None})
    assert response.json()["period_budget"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"period_budget": -1}, "period_budget"),
        ({"total_budget": "100"}, "total_budget"),
        ({"period_budget": True}, "period_budget"),
        ({"budget_duration": "hourly"}, "budget_duration"),
        ({"budget_duration": None}, "budget_duration"),
        ({"email": 5}, "email"),
        ({"metadata": ["a"]}, "metadata"),
        ({"metadata": None}, "metadata"),
        ({"period_start": "yesterday"}, "period_start"),
        ({"period_start": "2026-11-01"}, "period_start"),
        ({"period_start": None}, "period_start"),
        ({"period_end": "2026-13-01T00:00:00Z"}, "period_end"),
        # A valid date whose instant in UTC is past year 9999 (it was a 500).
        ({"period_end": "9999-12-31T23:59:59-23:59"}, "period_end"),
        ({"markup_percentage": None}, "markup_percentage"),
        ({"customer_identifier": "other"}, "customer_identifier"),
        ({"total_cost": 1}, "total_cost"),
    ],
)
def test_patch_validation_errors_are_422(
    respan_emulator: Factory, body: dict[str, Any], field: str
) -> None:
    """Bad types, negative amounts, bad enums/timestamps and unknown fields are 422 per field."""
    emu = respan_emulator(seed={"customers": [{"customer_identifier": "x", "period_budget": 10}]})
    with client(emu) as api:
        response = api.patch(user_path("x"), json=body)
    assert response.status_code == 422
    payload = response.json()
    assert payload["detail"] == "Validation error"
    assert list(payload["errors"]) == [field]
    assert isinstance(payload["errors"][field][0], str)
    assert emu.state.customers[("prod", "x")]["period_budget"] == 10  # nothing was stored


def test_patch_body_not_json_is_400(respan_emulator: Factory) -> None:
    """A PATCH body that is not a JSON object is a 400."""
    emu = respan_emulator(seed={"customers": [{"customer_identifier": "x"}]})
    with client(emu) as api:
        broken = api.patch(user_path("x"), content=b"name=x")
        array = api.patch(user_path("x"), json=["name"])
    assert (broken.status_code, array.status_code) == (400, 400)
    assert "detail" in broken.json()


def test_patch_and_delete_of_unknown_customer_are_404_and_create_nothing(
    respan_emulator: Factory,
) -> None:
    """PATCH/GET/DELETE of an unknown customer are 404 {"detail": "Not found."}."""
    emu = respan_emulator()
    with client(emu) as api:
        responses = [
            api.patch(user_path("ghost"), json={"name": "x"}),
            api.get(user_path("ghost")),
            api.delete(user_path("ghost")),
        ]
    assert [r.status_code for r in responses] == [404, 404, 404]
    assert all(r.json() == {"detail": "Not found."} for r in responses)
    assert emu.state.customers == {}


def test_a_customer_called_list_cannot_be_patched_or_deleted(respan_emulator: Factory) -> None:
    """/api/users/list/ is the list endpoint for every method: PATCH and DELETE there are 405
    (encoded or not) and leave a customer called "list" as it was."""
    emu = respan_emulator(seed={"customers": [{"customer_identifier": "list", "name": "L"}]})
    with client(emu) as api:
        refused = [
            api.patch("/api/users/list/", json={"name": "changed"}),
            api.delete("/api/users/list/"),
            api.delete("/api/users/%6Cist/"),
        ]
    assert [r.status_code for r in refused] == [405, 405, 405]
    assert refused[0].json() == {"detail": 'Method "PATCH" not allowed.'}
    assert refused[1].headers["allow"] == "GET, POST"
    assert emu.state.customers[("prod", "list")]["name"] == "L"


def test_delete_is_204_with_empty_body(respan_emulator: Factory) -> None:
    """DELETE answers 204 with no body and the customer is gone."""
    emu = respan_emulator(seed={"customers": [{"customer_identifier": "x"}]})
    with client(emu) as api:
        response = api.delete(user_path("x"))
        after = api.get(user_path("x"))
    assert response.status_code == 204
    assert response.content == b""
    assert after.status_code == 404


def test_unknown_route_and_method_use_drf_bodies(respan_emulator: Factory) -> None:
    """Unknown paths are 404 {"detail": "Not found."}; wrong methods are 405 with detail."""
    emu = respan_emulator(seed={"customers": [{"customer_identifier": "x"}]})
    with client(emu) as api:
        missing = api.get("/api/nothing/")
        no_slash = api.get("/api/users/x")
        wrong = api.put(user_path("x"), json={})
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not found."}
    assert no_slash.status_code == 404
    assert wrong.status_code == 405
    assert wrong.json() == {"detail": 'Method "PUT" not allowed.'}


def test_missing_and_wrong_keys_are_401(respan_emulator: Factory) -> None:
    """No Authorization header and a wrong key are 401 with DRF-style details."""
    emu = respan_emulator()
    with emu.client(key="") as anonymous:
        missing = anonymous.get("/api/users/list/")
        basic = anonymous.get("/api/users/list/", headers={"Authorization": "Basic abc"})
    with client(emu, key="not-the-key") as wrong:
        bad = wrong.get("/api/users/list/")
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Authentication credentials were not provided."}
    assert (bad.status_code, bad.json()) == (401, {"detail": "Invalid API key."})
    assert basic.status_code == 401
    assert emu.api_key not in bad.text


def test_state_changes_are_visible_over_http(respan_emulator: Factory) -> None:
    """Tests can change a customer in-process (someone else's edit) and the API shows it."""
    emu = respan_emulator(seed={"customers": [{"customer_identifier": "x", "period_budget": 1}]})
    emu.state.update_customer("x", {"period_budget": 99})
    emu.state.add_customer({"customer_identifier": "new", "environment": "test"})
    with client(emu) as api:
        assert api.get(user_path("x")).json()["period_budget"] == 99
        listed = api.get("/api/users/list/", params={"environment": "test"}).json()
    assert [c["customer_identifier"] for c in listed["results"]] == ["new"]


def test_a_listed_customer_shows_every_change_after_it_was_listed(
    respan_emulator: Factory,
) -> None:
    """A list page read before a PATCH, an in-process edit or a delete never hides it after."""
    emu = respan_emulator(seed=customers(3, period_budget=1))

    def listed(api: httpx.Client) -> dict[str, Any]:
        page = api.post("/api/users/list/", params={"sort_by": "customer_identifier"}).json()
        return {item["customer_identifier"]: item["period_budget"] for item in page["results"]}

    with client(emu) as api:
        assert listed(api) == {"cust-0000": 1, "cust-0001": 1, "cust-0002": 1}
        assert api.patch(user_path("cust-0000"), json={"period_budget": 5}).status_code == 200
        assert listed(api)["cust-0000"] == 5
        emu.state.update_customer("cust-0001", {"period_budget": 7})
        assert listed(api)["cust-0001"] == 7
        assert api.delete(user_path("cust-0002")).status_code == 204
        assert listed(api) == {"cust-0000": 5, "cust-0001": 7}


def test_a_listed_customer_is_written_as_json_once_until_it_changes(
    respan_emulator: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paging through the same customers again reuses their JSON; a change writes it anew."""
    emu = respan_emulator(seed=customers(3))
    written: list[str] = []

    def counted(record: Mapping[str, Any]) -> dict[str, Any]:
        written.append(record["customer_identifier"])
        return list_item(record)

    monkeypatch.setattr(emulator_model, "list_item", counted)
    with client(emu) as api:
        for _ in range(3):
            assert api.post("/api/users/list/").status_code == 200
        assert sorted(written) == ["cust-0000", "cust-0001", "cust-0002"]
        assert api.patch(user_path("cust-0001"), json={"period_budget": 5}).status_code == 200
        page = api.post("/api/users/list/").json()
    assert len(written) == 6
    assert {c["customer_identifier"]: c["period_budget"] for c in page["results"]}["cust-0001"] == 5


def test_a_list_page_is_written_as_one_json_object(respan_emulator: Factory) -> None:
    """A page's bytes are exactly Starlette's JSON of the page object (non-ASCII unescaped)."""
    emu = respan_emulator(seed=customers(3, name="Zoë 日本"))
    with client(emu) as api:
        response = api.post("/api/users/list/", params={"page_size": 2})
    assert response.headers["content-type"] == "application/json"
    assert response.content == JSONResponse(response.json()).body
    assert "Zoë 日本".encode() in response.content


def test_credit_transactions_list_newest_first_with_both_shapes(respan_emulator: Factory) -> None:
    """Credit transactions list newest first, default page 100, with both documented shapes."""
    seed = {
        "credit_transactions": [
            {
                "id": "old",
                "amount": 150.75,
                "transaction_type": "grant",
                "created_at": "2024-01-15T09:30:00Z",
            },
            {
                "id": "new",
                "amount": -20,
                "transaction_type": "adjustment",
                "created_at": "2024-03-01T00:00:00Z",
            },
        ]
        + [
            {"amount": 1, "transaction_type": "bonus", "created_at": "2023-01-01T00:00:00Z"}
            for _ in range(100)
        ]
    }
    emu = respan_emulator(seed=seed)
    with client(emu) as api:
        page = api.get("/api/credit-transactions/list/").json()
        rest = api.get(page["next"]).json()
        one = api.get("/api/credit-transactions/new/").json()
        missing = api.get("/api/credit-transactions/nope/")
        too_big = api.get("/api/credit-transactions/list/", params={"page_size": 1001})
    assert [t["id"] for t in page["results"][:2]] == ["new", "old"]
    assert len(page["results"]) == 100
    assert len(rest["results"]) == 2
    assert page["count"] == 102
    assert one["credit_amount"] == 0
    assert one["debit_amount"] == 20
    assert page["results"][1]["credit_amount"] == 150.75
    for key in (
        "organization_subscription",
        "unique_organization_id",
        "billable_type",
        "source_id",
        "expires_at",
        "description",
        "stripe_payment_intent_id",
        "metadata",
    ):
        assert key in one
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not found."}
    assert too_big.status_code == 400


def test_stats_count_requests_by_route_and_responses_by_status(respan_emulator: Factory) -> None:
    """/_emulator/stats counts API requests by route template and responses by status."""
    emu = respan_emulator(seed={"customers": [{"customer_identifier": "x"}]})
    with client(emu) as api:
        api.post("/api/users/list/")
        api.post("/api/users/list/")
        api.get(user_path("x"))
        api.get(user_path("nobody"))
        served = api.get("/_emulator/stats").json()
        api.post("/_emulator/reset-stats")
        after_reset = api.get("/_emulator/stats", headers={"Authorization": ""}).json()
    assert served == {
        "requests": {"GET /api/users/{customer_identifier}/": 2, "POST /api/users/list/": 2},
        "responses": {"200": 3, "404": 1},
        "total_requests": 4,
        "dropped_connections": 0,
    }
    assert after_reset["total_requests"] == 0
    assert emu.stats() == after_reset
