"""The Autumn client against the Autumn emulator (and a scripted server) over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from client_helpers import (
    FAST,
    ONCE,
)
from conftest import AUTUMN_TEST_KEY
from scripted_http import Answer, ScriptedApp, Seen, script, serve

from reconciler.clients.secret import Secret
from reconciler.emulator import RunningEmulator
from reconciler.errors import (
    ConfigError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
)
from reconciler.providers.autumn.client import (
    API_VERSION,
    PAGE_SIZE,
    AutumnClient,
    key_environment,
    twin_key,
)
from reconciler.providers.autumn.emulator import AutumnState

Emulators = Callable[..., RunningEmulator[AutumnState]]
LIVE_KEY = "am_sk_live_" + AUTUMN_TEST_KEY.removeprefix("am_sk_test_")
LIST = "POST /v1/customers.list"


def customers(count: int, env: str = "sandbox") -> list[dict[str, Any]]:
    return [
        {"id": f"c{i:05d}", "env": env, "created_at": 1_700_000_000_000 + i} for i in range(count)
    ]


def body_of(seen: Seen) -> Any:
    return json.loads(seen.body)


@pytest.fixture
def client_for() -> Iterator[Callable[..., AutumnClient]]:
    """Build clients (unpaced, fast retries unless told otherwise), closed when the test ends."""
    made: list[AutumnClient] = []

    def make(target: RunningEmulator[AutumnState] | str, **kwargs: Any) -> AutumnClient:
        if isinstance(target, str):
            url, key = target, AUTUMN_TEST_KEY
        else:
            url, key = target.url, target.api_key
        options: dict[str, Any] = {"retry": FAST, "rate_limits": None, **kwargs}
        made.append(AutumnClient(url, Secret(options.pop("key", key)), **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


# -- keys and versions ---------------------------------------------------------------------


def test_environment_comes_from_the_key_prefix() -> None:
    """am_sk_test_ is sandbox, am_sk_live_ is live, anything else is unknown."""
    assert key_environment(Secret("am_sk_test_abc")) == "sandbox"
    assert key_environment(Secret("am_sk_live_abc")) == "live"
    assert key_environment(Secret("am_pk_test_abc")) is None
    assert twin_key(Secret("am_sk_test_abc"), "live").reveal() == "am_sk_live_abc"
    assert twin_key(Secret("am_sk_live_abc"), "live").reveal() == "am_sk_live_abc"


def test_every_request_pins_the_api_version(client_for: Callable[..., AutumnClient]) -> None:
    """x-api-version 2.2.0 goes out on every call, whatever the server's default."""
    app = ScriptedApp(script(Answer(200, {"list": [], "has_more": False})))
    with serve(app) as url:
        client = client_for(url)
        client.list_customers()
    assert API_VERSION == "2.2.0"
    assert [seen.headers["x-api-version"] for seen in app.seen] == ["2.2.0"]
    assert app.seen[0].raw_path == "/v1/customers.list"
    assert app.seen[0].method == "POST"


def test_unsupported_api_version_is_refused_before_any_request() -> None:
    """A version whose shapes are unverified is a ConfigError naming the supported ones."""
    with pytest.raises(ConfigError, match=r"'2\.5\.0' is not supported: use 2\.2\.0, 2\.3\.0"):
        AutumnClient("http://127.0.0.1:9", Secret(AUTUMN_TEST_KEY), api_version="2.5.0")


# -- pagination ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "requests"), [(0, 1), (1, 1), (999, 1), (1000, 2), (1001, 2), (2000, 3)]
)
def test_offset_list_reads_every_page_and_stops_on_a_short_one(
    autumn_emulator: Emulators,
    client_for: Callable[..., AutumnClient],
    count: int,
    requests: int,
) -> None:
    """N customers cost N // 1000 + 1 list requests: a short or empty page ends the listing."""
    emulator = autumn_emulator(seed={"customers": customers(count) + customers(3, "live")})
    client = client_for(emulator)
    listed = client.list_customers()
    assert sorted(item["id"] for item in listed) == [f"c{i:05d}" for i in range(count)]
    assert emulator.stats()["requests"] == {LIST: requests}


def test_offset_pager_ignores_has_more_on_a_short_page() -> None:
    """A page shorter than the limit ends the listing even when has_more says otherwise."""
    app = ScriptedApp(
        script(
            Answer(200, {"list": [{"id": "a"}], "has_more": True, "offset": 0, "limit": 1000}),
            Answer(200, {"list": [{"id": "b"}], "has_more": True}),
        )
    )
    with serve(app) as url, AutumnClient(url, Secret(AUTUMN_TEST_KEY), retry=ONCE) as client:
        assert [c["id"] for c in client.list_customers()] == ["a"]
    assert [body_of(seen) for seen in app.seen] == [{"offset": 0, "limit": PAGE_SIZE}]


def test_offset_pager_refuses_a_full_page_that_adds_nothing_new() -> None:
    """A server ignoring offset (the same full page again) is an error, not a short list."""
    page = {"list": [{"id": f"x{i}"} for i in range(PAGE_SIZE)], "has_more": True}
    app = ScriptedApp(script(Answer(200, page)))
    with (
        serve(app) as url,
        AutumnClient(url, Secret(AUTUMN_TEST_KEY), retry=ONCE) as client,
        pytest.raises(ServerError, match="page 2 repeats only customers already listed"),
    ):
        client.list_customers()
    assert [body_of(seen)["offset"] for seen in app.seen] == [0, PAGE_SIZE]


@pytest.mark.parametrize("row", [None, "acme", ["acme"], 5])
def test_a_page_holding_anything_but_objects_is_refused_not_read_around(row: Any) -> None:
    """A full page with a null (or text, list, number) row fails the read; skipped, it would
    make the page short, end the listing there and hide the customers of the next page."""
    full = {"list": [*customers(PAGE_SIZE - 1), row], "has_more": True}
    rest = {"list": [{"id": "acme", "env": "sandbox"}], "has_more": False}
    app = ScriptedApp(script(Answer(200, full), Answer(200, rest)))
    with (
        serve(app) as url,
        AutumnClient(url, Secret(AUTUMN_TEST_KEY), retry=ONCE) as client,
        pytest.raises(ServerError, match=r"POST /v1/customers\.list: .* not a page of customer"),
    ):
        client.list_customers()


def test_cursor_pager_refuses_a_repeated_cursor() -> None:
    """A cursor that comes back (new items each time) ends in an error, not an endless walk."""
    served = [0]

    def looping(seen: Seen) -> Answer:
        served[0] += 1
        return Answer(200, {"list": [{"id": f"n{served[0]}"}], "next_cursor": "same"})

    app = ScriptedApp(looping)
    with (
        serve(app) as url,
        AutumnClient(url, Secret(AUTUMN_TEST_KEY), api_version="2.3.0", retry=ONCE) as client,
        pytest.raises(ServerError, match="repeats a cursor"),
    ):
        client.list_customers()
    assert len(app.seen) == 2


def test_cursor_version_pages_by_cursor(
    autumn_emulator: Emulators, client_for: Callable[..., AutumnClient]
) -> None:
    """With api_version 2.3.0 the list follows next_cursor until it is null."""
    emulator = autumn_emulator(seed={"customers": customers(2500)})
    client = client_for(emulator, api_version="2.3.0")
    listed = client.list_customers()
    assert len({item["id"] for item in listed}) == len(listed) == 2500
    assert emulator.stats()["requests"] == {LIST: 3}


def test_cursor_pager_stops_on_an_empty_page_whatever_the_cursor() -> None:
    """An empty cursor page ends the listing even if it names another cursor."""
    app = ScriptedApp(
        script(
            Answer(200, {"list": [{"id": "a"}], "next_cursor": "c1"}),
            Answer(200, {"list": [], "next_cursor": "c2"}),
        )
    )
    with (
        serve(app) as url,
        AutumnClient(url, Secret(AUTUMN_TEST_KEY), api_version="2.3.0", retry=ONCE) as client,
    ):
        assert [c["id"] for c in client.list_customers()] == ["a"]
    assert [body_of(seen) for seen in app.seen] == [
        {"limit": PAGE_SIZE},
        {"limit": PAGE_SIZE, "start_cursor": "c1"},
    ]
    assert {seen.headers["x-api-version"] for seen in app.seen} == {"2.3.0"}


def test_list_sends_filters_in_the_body(
    autumn_emulator: Emulators, client_for: Callable[..., AutumnClient]
) -> None:
    """Filters such as search go in the list body next to offset and limit."""
    seed = [{"id": "acme", "name": "Acme"}, {"id": "beta", "name": "Beta"}]
    client = client_for(autumn_emulator(seed={"customers": seed}))
    assert [c["id"] for c in client.list_customers({"search": "acm"})] == ["acme"]


def test_malformed_page_is_a_server_error() -> None:
    """A list answer without ``list`` is a ServerError naming the endpoint."""
    app = ScriptedApp(script(Answer(200, {"items": []})))
    with (
        serve(app) as url,
        AutumnClient(url, Secret(AUTUMN_TEST_KEY), retry=ONCE) as client,
        pytest.raises(ServerError, match=r"POST /v1/customers\.list: .* not a page"),
    ):
        client.list_customers()


def test_the_key_picks_the_environment_on_the_emulator(
    autumn_emulator: Emulators, client_for: Callable[..., AutumnClient]
) -> None:
    """A live key lists live customers and a test key sandbox ones, from one emulator."""
    emulator = autumn_emulator(seed={"customers": customers(2) + customers(1, "live")})
    sandbox = client_for(emulator)
    live = client_for(emulator, key=LIVE_KEY)
    assert (sandbox.environment, live.environment) == ("sandbox", "live")
    assert {c["env"] for c in sandbox.list_customers()} == {"sandbox"}
    assert [c["env"] for c in live.list_customers()] == ["live"]


# -- single customers ------------------------------------------------------------------------


def test_get_or_create_creates_then_only_fills_missing_name_or_email(
    autumn_emulator: Emulators, client_for: Callable[..., AutumnClient]
) -> None:
    """A new id is created with its fields; on an existing one get_or_create changes little."""
    emulator = autumn_emulator()
    client = client_for(emulator)
    fields = {
        "name": "Hooli",
        "metadata": {"tier": "gold"},
        "billing_controls": {
            "spend_limits": [
                {"feature_id": "m", "enabled": True, "overage_limit": Decimal("12.50")}
            ]
        },
    }
    created = client.get_or_create_customer("hooli", fields)
    assert created["id"] == "hooli"
    assert created["billing_controls"]["spend_limits"][0]["overage_limit"] == Decimal("12.5")
    again = client.get_or_create_customer(
        "hooli", {"name": "Other", "email": "a@hooli.example", "metadata": {"tier": "x"}}
    )
    assert (again["name"], again["email"]) == ("Hooli", "a@hooli.example")
    assert again["metadata"] == {"tier": "gold"}
    assert client.get_customer("hooli")["email"] == "a@hooli.example"


def test_update_merges_metadata_and_replaces_sent_arrays(
    autumn_emulator: Emulators, client_for: Callable[..., AutumnClient]
) -> None:
    """Metadata keys merge (null removes one); a sent billing array replaces the stored one."""
    seed = {
        "id": "acme",
        "metadata": {"keep": "k", "drop": "d"},
        "billing_controls": {
            "spend_limits": [{"feature_id": "a", "overage_limit": 1}],
            "overage_allowed": [{"feature_id": "a", "enabled": True}],
        },
    }
    emulator = autumn_emulator(seed={"customers": [seed]})
    client = client_for(emulator)
    body = {
        "metadata": {"drop": None, "new": "n"},
        "billing_controls": {"spend_limits": [{"feature_id": "b", "overage_limit": Decimal("7")}]},
    }
    updated = client.update_customer("acme", body)
    assert updated["metadata"] == {"keep": "k", "new": "n"}
    assert updated["billing_controls"] == {
        "spend_limits": [{"feature_id": "b", "overage_limit": 7}],
        "overage_allowed": [{"feature_id": "a", "enabled": True}],
    }


def test_unknown_customer_is_not_found(
    autumn_emulator: Emulators, client_for: Callable[..., AutumnClient]
) -> None:
    """get, update and a first-attempt delete of an unknown customer raise NotFoundError."""
    client = client_for(autumn_emulator())
    with pytest.raises(NotFoundError, match=r"customers\.get: .*customer_not_found"):
        client.get_customer("ghost")
    with pytest.raises(NotFoundError):
        client.update_customer("ghost", {"name": "x"})
    with pytest.raises(NotFoundError) as caught:
        client.delete_customer("ghost")
    assert (caught.value.method, caught.value.status) == ("POST", 404)


def test_delete_never_deletes_in_stripe() -> None:
    """Every delete body carries delete_in_stripe: false."""
    app = ScriptedApp(script(Answer(200, {"success": True})))
    with serve(app) as url, AutumnClient(url, Secret(AUTUMN_TEST_KEY), retry=ONCE) as client:
        reply = client.delete_customer("acme")
    assert reply.status == 200
    assert app.seen[0].raw_path == "/v1/customers.delete"
    assert body_of(app.seen[0]) == {"customer_id": "acme", "delete_in_stripe": False}


def test_delete_finding_404_after_a_retry_counts_as_done() -> None:
    """A delete whose retried attempt finds 404 is done: an earlier attempt may have worked."""
    app = ScriptedApp(
        script(
            Answer(503, {"message": "busy", "code": "internal_error"}),
            Answer(404, {"message": "Customer gone not found", "code": "customer_not_found"}),
        )
    )
    with serve(app) as url, AutumnClient(url, Secret(AUTUMN_TEST_KEY), retry=FAST) as client:
        reply = client.delete_customer("gone")
    assert (reply.status, reply.attempts) == (404, 2)


def test_empty_id_is_refused_before_sending(client_for: Callable[..., AutumnClient]) -> None:
    """An empty customer id never reaches the API."""
    app = ScriptedApp(script(Answer(200, {})))
    with serve(app) as url:
        client = client_for(url)
        with pytest.raises(InvalidRequestError, match="cannot be addressed"):
            client.update_customer("", {"name": "x"})
        with pytest.raises(InvalidRequestError, match="cannot be addressed"):
            client.delete_customer("")
    assert app.seen == []


def test_invalid_input_is_an_invalid_request_with_the_api_message(
    autumn_emulator: Emulators, client_for: Callable[..., AutumnClient]
) -> None:
    """A 400 invalid_inputs names what was wrong, with Autumn's code."""
    client = client_for(autumn_emulator(seed={"customers": [{"id": "acme"}]}))
    with pytest.raises(InvalidRequestError, match=r"400: .*send_email_receipts.*invalid_inputs"):
        client.update_customer("acme", {"send_email_receipts": "yes"})


# -- faults, limits and secrets --------------------------------------------------------------
