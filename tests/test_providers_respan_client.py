"""The Respan client against the Respan emulator (and a scripted server) over loopback HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from client_helpers import (
    FAST,
    ONCE,
)
from scripted_http import Answer, ScriptedApp, Seen, script, serve

from reconciler.clients.http import HttpTransport
from reconciler.clients.pacing import Pacer
from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.emulator import RunningEmulator
from reconciler.errors import (
    InvalidRequestError,
    NotFoundError,
    ServerError,
)
from reconciler.providers.respan.client import MAX_PAGES_WITHOUT_COUNT, RespanClient
from reconciler.providers.respan.emulator import RespanState

Emulators = Callable[..., RunningEmulator[RespanState]]
NASTY_IDS = ["a/b?c#d", "../credit-transactions/x", "..", ".", "%2F", "x y", "ü"]


def customers(count: int, environment: str = "prod") -> list[dict[str, Any]]:
    return [{"customer_identifier": f"c{i:05d}", "environment": environment} for i in range(count)]


def connect(
    emulator: RunningEmulator[RespanState],
    *,
    key: str | None = None,
    retry: RetryPolicy = FAST,
    rate_limit: tuple[int, float] | None = None,
) -> RespanClient:
    return RespanClient.create(
        emulator.url,
        Secret(key or emulator.api_key),
        rate_limit=rate_limit,
        retry=retry,
    )


@pytest.fixture
def client_for(respan_emulator: Emulators) -> Iterator[Callable[..., RespanClient]]:
    """Build clients that are closed at the end of the test."""
    made: list[RespanClient] = []

    def make(emulator: RunningEmulator[RespanState], **kwargs: Any) -> RespanClient:
        made.append(connect(emulator, **kwargs))
        return made[-1]

    yield make
    for client in made:
        client.close()


# -- pacing --------------------------------------------------------------------------------


def test_a_small_run_is_not_paced_under_the_documented_window(respan_emulator: Emulators) -> None:
    """30 requests under the emulator's 60/min sliding window go out without a wait or a 429."""
    seed = {"customers": customers(30)}
    emulator = respan_emulator(seed=seed, rate_limit=(60, 60.0))
    slept: list[float] = []
    pacer = Pacer(60, 60.0, sleep=slept.append)
    transport = HttpTransport(emulator.url, Secret(emulator.api_key), pacers={"default": pacer})
    with RespanClient(transport) as client:
        for customer in seed["customers"]:
            client.retrieve_customer("prod", customer["customer_identifier"])
    assert slept == []
    assert emulator.stats()["responses"] == {"200": 30}
    assert not pacer.throttled


# -- pagination ----------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "requests"), [(0, 1), (1, 1), (1000, 1), (1001, 2)])
def test_list_reads_every_page_with_the_fewest_requests(
    respan_emulator: Emulators, client_for: Callable[..., RespanClient], count: int, requests: int
) -> None:
    """Listing N customers costs ceil(N/1000) requests (at least one) and returns each once."""
    emulator = respan_emulator(seed={"customers": customers(count) + customers(3, "test")})
    client = client_for(emulator)
    listed = client.list_customers("prod")
    assert sorted(item["customer_identifier"] for item in listed) == [
        f"c{i:05d}" for i in range(count)
    ]
    assert emulator.stats()["requests"] == {"POST /api/users/list/": requests}
    assert client.request_counts() == {"POST": requests}


def test_list_sends_filters_and_sort(
    respan_emulator: Emulators, client_for: Callable[..., RespanClient]
) -> None:
    """Filters go in the POST body and sort_by in the query, as the API documents."""
    seed = {
        "customers": [
            {"customer_identifier": "acme", "email": "a@acme.example"},
            {"customer_identifier": "beta", "email": "b@beta.example"},
            {"customer_identifier": "acme-eu", "email": "eu@acme.example"},
        ]
    }
    client = client_for(respan_emulator(seed=seed))
    filters = {"email": {"operator": "endswith", "value": ["@acme.example"]}}
    listed = client.list_customers("prod", filters=filters, sort_by="-customer_identifier")
    assert [item["customer_identifier"] for item in listed] == ["acme-eu", "acme"]


def repeating_pages(seen: Seen) -> Answer:
    """A broken server: every page is page 1 again, always with a next link."""
    page = {
        "count": 5000,
        "next": "http://x/api/users/list/?page=2",
        "previous": None,
        "results": [{"customer_identifier": "a", "environment": "prod"}],
    }
    return Answer(200, page)


def test_list_refuses_a_page_that_adds_nothing_new() -> None:
    """A server repeating a page while saying there is more is an error, not a short list."""
    app = ScriptedApp(repeating_pages)
    with (
        serve(app) as url,
        RespanClient(HttpTransport(url, Secret("k"), retry=ONCE)) as client,
        pytest.raises(ServerError, match="page 2 repeats only customers already listed"),
    ):
        client.list_customers("prod")
    assert len(app.seen) == 2


def inventing(count: object) -> tuple[ScriptedApp, list[int]]:
    """A server inventing new customers on every page, always with a next link."""
    served = [0]

    def endless(seen: Seen) -> Answer:
        served[0] += 1
        items = [{"customer_identifier": f"p{served[0]}-{i}"} for i in range(3)]
        return Answer(200, {"count": count, "next": "more", "results": items})

    return ScriptedApp(endless), served


def test_list_never_asks_for_more_pages_than_the_count_allows() -> None:
    """A server inventing new items forever is refused after ceil(count/1000) + 2 pages."""
    app, _ = inventing(1500)
    with (
        serve(app) as url,
        RespanClient(HttpTransport(url, Secret("k"), retry=ONCE)) as client,
        pytest.raises(ServerError, match=r"list does not end .* after 4 pages"),
    ):
        client.list_customers("prod")
    assert len(app.seen) == 4


@pytest.mark.parametrize("count", ["many", None, -1, True, 1.5])
def test_endless_list_without_a_usable_count_is_refused_after_a_bounded_number_of_pages(
    count: object,
) -> None:
    """A non-numeric count with an endless next stops with an error after a hard cap of pages."""
    app, _ = inventing(count)
    with (
        serve(app) as url,
        RespanClient(HttpTransport(url, Secret("k"), retry=ONCE)) as client,
        pytest.raises(ServerError, match="refusing an incomplete list"),
    ):
        client.list_customers("prod")
    assert len(app.seen) == MAX_PAGES_WITHOUT_COUNT


def test_list_stops_on_an_empty_page_even_with_a_next_link() -> None:
    """An empty page ends the listing, whatever ``next`` says."""
    app = ScriptedApp(
        script(
            Answer(200, {"next": "p2", "results": [{"customer_identifier": "a"}]}),
            Answer(200, {"next": "p3", "results": []}),
        )
    )
    with serve(app) as url, RespanClient(HttpTransport(url, Secret("k"), retry=ONCE)) as client:
        assert [c["customer_identifier"] for c in client.list_customers("test")] == ["a"]
    assert [seen.query for seen in app.seen] == [
        "page=1&page_size=1000&environment=test",
        "page=2&page_size=1000&environment=test",
    ]


def test_malformed_page_is_a_server_error() -> None:
    """A list answer without ``results`` is a ServerError naming the request."""
    app = ScriptedApp(script(Answer(200, {"items": []})))
    with (
        serve(app) as url,
        RespanClient(HttpTransport(url, Secret("k"), retry=ONCE)) as client,
        pytest.raises(ServerError, match=r"POST /api/users/list/: .* not a page"),
    ):
        client.list_customers("prod")


@pytest.mark.parametrize("row", [None, "acme", ["acme"], 5])
def test_a_page_holding_anything_but_objects_is_refused_not_read_around(row: Any) -> None:
    """A null (or text, list, number) among the rows fails the read: no customer is hidden."""
    rows = [{"customer_identifier": "a", "environment": "prod"}, row]
    app = ScriptedApp(script(Answer(200, {"count": 2, "next": None, "results": rows})))
    with (
        serve(app) as url,
        RespanClient(HttpTransport(url, Secret("k"), retry=ONCE)) as client,
        pytest.raises(ServerError, match=r"POST /api/users/list/: .* not a page of objects"),
    ):
        client.list_customers("prod")


def test_a_credit_page_holding_a_null_is_refused() -> None:
    """Credit transactions are read the same way: a null row is an error, not a lower sum."""
    rows = [{"id": "t1", "amount": 5}, None]
    app = ScriptedApp(script(Answer(200, {"count": 2, "next": None, "results": rows})))
    with (
        serve(app) as url,
        RespanClient(HttpTransport(url, Secret("k"), retry=ONCE)) as client,
        pytest.raises(ServerError, match="not a page of objects"),
    ):
        client.list_credit_transactions()


# -- addressing ----------------------------------------------------------------------------


def test_identifiers_address_exactly_their_customer(
    respan_emulator: Emulators, client_for: Callable[..., RespanClient]
) -> None:
    """Identifiers with /, ?, #, .. or % reach that customer and no other endpoint."""
    seed = {
        "customers": [{"customer_identifier": ident, "name": ident} for ident in NASTY_IDS]
        + [{"customer_identifier": "x", "name": "bystander"}, {"customer_identifier": "a"}],
        "credit_transactions": [{"id": "x", "amount": 5, "transaction_type": "grant"}],
    }
    emulator = respan_emulator(seed=seed)
    client = client_for(emulator)
    for ident in NASTY_IDS:
        assert client.retrieve_customer("prod", ident)["customer_identifier"] == ident
        updated = client.update_customer("prod", ident, {"name": f"new {ident}"})
        assert updated["name"] == f"new {ident}"
    for ident in NASTY_IDS:
        client.delete_customer("prod", ident)
    left = {key[1]: record for key, record in emulator.state.customers.items()}
    assert set(left) == {"x", "a"}
    assert left["x"]["name"] == "bystander"
    assert client.retrieve_credit_transaction("x")["id"] == "x"
    routes = set(emulator.stats()["requests"])
    assert routes == {
        "GET /api/users/{customer_identifier}/",
        "PATCH /api/users/{customer_identifier}/",
        "DELETE /api/users/{customer_identifier}/",
        "GET /api/credit-transactions/{id}/",
    }


@pytest.mark.parametrize("identifier", ["list", ""])
def test_identifiers_naming_an_endpoint_are_refused_before_sending(
    respan_emulator: Emulators, client_for: Callable[..., RespanClient], identifier: str
) -> None:
    """'list' (the list endpoint's segment) or an empty id is refused without a request."""
    emulator = respan_emulator()
    client = client_for(emulator)
    with pytest.raises(InvalidRequestError, match="cannot be addressed"):
        client.retrieve_customer("prod", identifier)
    with pytest.raises(InvalidRequestError, match="cannot be addressed"):
        client.delete_customer("prod", identifier)
    with pytest.raises(InvalidRequestError, match="cannot be addressed"):
        client.retrieve_credit_transaction(identifier)
    assert emulator.stats()["total_requests"] == 0


def test_update_sends_decimals_as_numbers_and_reads_them_back_exact(
    respan_emulator: Emulators, client_for: Callable[..., RespanClient]
) -> None:
    """A Decimal budget is sent as a JSON number and comes back as an exact Decimal."""
    emulator = respan_emulator(seed={"customers": [{"customer_identifier": "acme"}]})
    client = client_for(emulator)
    body = {"period_budget": Decimal("250.10"), "total_budget": Decimal("5000")}
    updated = client.update_customer("prod", "acme", body)
    assert updated["period_budget"] == Decimal("250.1")
    assert updated["total_budget"] == 5000
    stored = emulator.state.get_customer("acme")
    assert stored is not None
    assert stored["period_budget"] == pytest.approx(250.1)


def test_credit_transactions_are_listed_across_pages(
    respan_emulator: Emulators, client_for: Callable[..., RespanClient]
) -> None:
    """All credit transactions are read, newest first, one request per 1000."""
    seed = {
        "credit_transactions": [
            {
                "id": f"t{i}",
                "amount": 10,
                "transaction_type": "purchase",
                "created_at": f"2025-01-{i + 1:02d}T00:00:00Z",
            }
            for i in range(3)
        ]
    }
    emulator = respan_emulator(seed=seed)
    client = client_for(emulator)
    assert [t["id"] for t in client.list_credit_transactions()] == ["t2", "t1", "t0"]
    assert emulator.stats()["requests"] == {"GET /api/credit-transactions/list/": 1}


# -- errors --------------------------------------------------------------------------------


def test_unknown_customer_is_not_found(
    respan_emulator: Emulators, client_for: Callable[..., RespanClient]
) -> None:
    """Retrieve, PATCH and a first-attempt DELETE of an unknown customer raise NotFoundError."""
    client = client_for(respan_emulator())
    with pytest.raises(NotFoundError, match="GET /api/users/ghost/"):
        client.retrieve_customer("prod", "ghost")
    with pytest.raises(NotFoundError):
        client.update_customer("prod", "ghost", {"name": "x"})
    with pytest.raises(NotFoundError) as caught:
        client.delete_customer("prod", "ghost")
    assert (caught.value.method, caught.value.status) == ("DELETE", 404)


def test_delete_finding_404_after_a_retry_counts_as_done() -> None:
    """A DELETE whose retried attempt finds 404 is done: an earlier attempt may have deleted it."""
    app = ScriptedApp(
        script(Answer(503, {"detail": "busy"}), Answer(404, {"detail": "Not found."}))
    )
    with serve(app) as url, RespanClient(HttpTransport(url, Secret("k"), retry=FAST)) as client:
        reply = client.delete_customer("prod", "gone")
    assert (reply.status, reply.attempts) == (404, 2)
    assert [seen.method for seen in app.seen] == ["DELETE", "DELETE"]


def test_invalid_update_carries_field_errors(
    respan_emulator: Emulators, client_for: Callable[..., RespanClient]
) -> None:
    """A 422 names the bad field and keeps the API's errors mapping."""
    client = client_for(respan_emulator(seed={"customers": [{"customer_identifier": "acme"}]}))
    with pytest.raises(InvalidRequestError) as caught:
        client.update_customer("prod", "acme", {"budget_duration": "hourly"})
    assert caught.value.status == 422
    assert caught.value.errors is not None
    assert set(caught.value.errors) == {"budget_duration"}
    assert "budget_duration" in str(caught.value)


# -- faults and rate limits ----------------------------------------------------------------


def test_rows_of_another_environment_are_left_out_of_the_list() -> None:
    """A prod list that mixes in test rows yields only the prod ones (plan and export alike)."""
    rows = [
        {"customer_identifier": "a", "environment": "prod"},
        {"customer_identifier": "t", "environment": "test"},
        {"customer_identifier": "n", "environment": None},
        {"customer_identifier": "b"},
    ]
    app = ScriptedApp(script(Answer(200, {"count": 4, "next": None, "results": rows})))
    with serve(app) as url, RespanClient(HttpTransport(url, Secret("k"), retry=ONCE)) as client:
        listed = client.list_customers("prod")
    assert [item["customer_identifier"] for item in listed] == ["a", "b"]


@pytest.mark.parametrize("bad_id", [["x"], 5, None, 1.5, {"a": 1}])
def test_a_listed_row_without_a_text_id_is_a_server_error(bad_id: Any) -> None:
    """A customer_identifier that is not text is refused, never turned into str(['x'])."""
    rows = [{"customer_identifier": bad_id, "environment": "prod"}]
    app = ScriptedApp(script(Answer(200, {"count": 1, "next": None, "results": rows})))
    with (
        serve(app) as url,
        RespanClient(HttpTransport(url, Secret("k"), retry=ONCE)) as client,
        pytest.raises(ServerError, match="customer_identifier is not an id"),
    ):
        client.list_customers("prod")


def test_a_404_detail_echoing_the_key_in_another_case_is_masked() -> None:
    """A DELETE's 404 whose detail echoes the key (lower-cased) keeps the key out of the error."""
    key = "sk_test_SUPERSECRET_0123456789"

    def echo(seen: Seen) -> Answer:
        return Answer(404, {"detail": f"no user for {seen.headers['authorization'].lower()}"})

    app = ScriptedApp(echo)
    with (
        serve(app) as url,
        RespanClient(HttpTransport(url, Secret(key), retry=ONCE)) as client,
        pytest.raises(NotFoundError) as caught,
    ):
        client.delete_customer("prod", "gone")
    shown = f"{caught.value} {caught.value.detail}".lower()
    assert key.lower() not in shown
    assert "***" in shown
