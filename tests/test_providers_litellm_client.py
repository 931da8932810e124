"""The LiteLLM client against the emulator over real HTTP: paging, typed calls, LiteLLM's
error messages, retries only where safe, and the master key never in any output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import LITELLM_TEST_KEY
from scripted_http import Answer, ScriptedApp, Seen, script, serve

from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.emulator import RunningEmulator
from reconciler.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from reconciler.providers.litellm import client as litellm_client
from reconciler.providers.litellm.client import (
    PAGE_SIZE,
    CustomerExistsError,
    LiteLLMClient,
    error_message,
)
from reconciler.providers.litellm.emulator_model import LiteLLMState

Factory = Callable[..., RunningEmulator[LiteLLMState]]
FAST_RETRY = RetryPolicy(attempts=5, wait_initial=0, wait_max=0, wait_jitter=0)


def client_for(emu: RunningEmulator[Any], key: str | None = None) -> LiteLLMClient:
    return LiteLLMClient.create(emu.url, Secret(key or emu.api_key), retry=FAST_RETRY)


def seed(count: int) -> dict[str, Any]:
    return {"customers": [{"user_id": f"u-{i:04d}", "blocked": False} for i in range(count)]}


def test_list_walks_every_page_once(litellm_emulator: Factory) -> None:
    """250 customers cost three list requests (100, 100, 50) and come back in id order."""
    emu = litellm_emulator(seed=seed(250))
    with client_for(emu) as client:
        customers = client.list_customers()
    assert [c["user_id"] for c in customers] == sorted(emu.state.customers)
    assert emu.stats()["requests"] == {"GET /customer/list": 3}


def test_a_full_last_page_costs_one_empty_page(litellm_emulator: Factory) -> None:
    """Exactly PAGE_SIZE customers: the pager asks once more and stops at the empty page."""
    emu = litellm_emulator(seed=seed(PAGE_SIZE))
    with client_for(emu) as client:
        assert len(client.list_customers()) == PAGE_SIZE
    assert emu.stats()["requests"] == {"GET /customer/list": 2}


def test_a_row_without_a_text_id_fails_the_read() -> None:
    """A listed customer whose user_id is not text fails the whole read before any plan."""
    app = ScriptedApp(script(Answer(200, [{"user_id": "a"}, {"user_id": 7}])))
    with (
        serve(app) as url,
        LiteLLMClient.create(url, Secret(LITELLM_TEST_KEY)) as client,
        pytest.raises(ServerError, match="user_id is not an id"),
    ):
        client.list_customers()


def test_a_proxy_that_ignores_paging_costs_one_more_request() -> None:
    """Older proxies answer every customer on every page: the pager stops at the repeat."""
    everyone = [{"user_id": f"u-{i}", "blocked": False} for i in range(150)]
    app = ScriptedApp(script(Answer(200, everyone)))
    with serve(app) as url, LiteLLMClient.create(url, Secret(LITELLM_TEST_KEY)) as client:
        assert len(client.list_customers()) == 150
    assert [seen.query for seen in app.seen] == ["page=1&page_size=100", "page=2&page_size=100"]


def test_a_full_page_repeating_the_first_one_is_refused() -> None:
    """A proxy that honours page_size but not page (the first 100 again) fails the read
    instead of hiding every customer after the first page."""
    first = [{"user_id": f"u-{i:03}", "blocked": False} for i in range(100)]
    app = ScriptedApp(script(Answer(200, first)))
    with (
        serve(app) as url,
        LiteLLMClient.create(url, Secret(LITELLM_TEST_KEY)) as client,
        pytest.raises(ServerError, match="page 2 repeats only customers already listed"),
    ):
        client.list_customers()


def test_a_list_still_full_after_the_page_bound_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A proxy inventing full pages of new customers is an error at the bound, not a list
    silently cut there."""
    monkeypatch.setattr(litellm_client, "MAX_PAGES", 3)
    served = [0]

    def inventing(seen: Seen) -> Answer:
        served[0] += 1
        return Answer(200, [{"user_id": f"p{served[0]}-{i:03}"} for i in range(100)])

    app = ScriptedApp(inventing)
    with (
        serve(app) as url,
        LiteLLMClient.create(url, Secret(LITELLM_TEST_KEY)) as client,
        pytest.raises(ServerError, match="after 3 pages"),
    ):
        client.list_customers()
    assert len(app.seen) == 3


def test_an_error_body_echoing_the_key_is_redacted() -> None:
    """A proxy that puts the presented key in its error message never gets it into ours."""
    echo = {"error": {"message": f"bad key {LITELLM_TEST_KEY}", "type": "auth_error"}}
    app = ScriptedApp(script(Answer(401, echo)))
    with (
        serve(app) as url,
        LiteLLMClient.create(url, Secret(LITELLM_TEST_KEY)) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.customer_info("acme")
    assert LITELLM_TEST_KEY not in str(caught.value)
    assert "bad key ***" in str(caught.value)


def test_create_update_info_delete_round_trip(litellm_emulator: Factory) -> None:
    """new, update, info and delete do what they say, with Decimal amounts sent as numbers."""
    from decimal import Decimal

    emu = litellm_emulator()
    with client_for(emu) as client:
        created = client.new_customer("acme", {"alias": "Acme", "max_budget": Decimal("12.50")})
        assert created["litellm_budget_table"]["max_budget"] == Decimal("12.5")
        client.update_customer("acme", {"blocked": True})
        assert client.customer_info("acme")["blocked"] is True
        assert client.delete_customer("acme").status == 200
        with pytest.raises(NotFoundError, match="End User Id=acme does not exist in db"):
            client.customer_info("acme")
    assert emu.state.customers == {}


def test_identifiers_travel_in_queries_and_bodies(litellm_emulator: Factory) -> None:
    """An id with /, ?, # and .. is one customer: it never becomes part of a path."""
    odd = "../customer/list?x=1#frag"
    emu = litellm_emulator(seed={"customers": [{"user_id": odd, "blocked": False}]})
    with client_for(emu) as client:
        assert client.customer_info(odd)["user_id"] == odd
        client.update_customer(odd, {"alias": "odd"})
    assert emu.state.customers[odd]["alias"] == "odd"


def test_duplicate_create_is_a_typed_error(litellm_emulator: Factory) -> None:
    """Creating an existing id raises CustomerExistsError with LiteLLM's message."""
    emu = litellm_emulator(seed=seed(1))
    with client_for(emu) as client, pytest.raises(CustomerExistsError, match="already exists"):
        client.new_customer("u-0000", {})


def test_validation_errors_name_the_field(litellm_emulator: Factory) -> None:
    """A 422 from FastAPI becomes InvalidRequestError naming the body field."""
    emu = litellm_emulator()
    with client_for(emu) as client, pytest.raises(InvalidRequestError) as caught:
        client.new_customer("x", {"allowed_model_region": "mars"})
    assert "body.allowed_model_region: Input should be 'eu' or 'us'" in str(caught.value)


def test_delete_404_first_time_is_not_found(litellm_emulator: Factory) -> None:
    """Deleting an unknown customer on the first attempt raises NotFoundError."""
    emu = litellm_emulator()
    with client_for(emu) as client, pytest.raises(NotFoundError, match="do not exist"):
        client.delete_customer("ghost")


def test_reads_and_updates_are_retried_creates_are_not(
    litellm_emulator: Factory, no_backoff: None
) -> None:
    """Injected 500s: list and update retry to success; a create fails after one attempt,
    with the text of LiteLLM's error body."""
    emu = litellm_emulator(seed=seed(3), fail_rate=0.5, fault_seed=7)
    with client_for(emu) as client:
        assert len(client.list_customers()) == 3
        for _ in range(5):
            client.update_customer("u-0001", {"alias": "retried"})
    assert emu.state.customers["u-0001"]["alias"] == "retried"
    always = litellm_emulator(fail_rate=1.0)
    # The transport reads LiteLLM's {"error": {...}} body through the client's reader.
    with (
        client_for(always) as client,
        pytest.raises(
            ServerError, match=r"answered 500: Internal Server Error \[internal_server_error\]"
        ),
    ):
        client.new_customer("once", {})
    assert always.stats()["requests"] == {"POST /customer/new": 1}


def test_error_message_reads_every_litellm_shape() -> None:
    """LiteLLM's error object, FastAPI's detail list and a plain detail all give their text."""
    proxy = {"error": {"message": "gone", "type": "not_found", "param": "user_id", "code": "404"}}
    assert error_message(proxy) == "gone [not_found]"
    validation = {"detail": [{"loc": ["query", "page_size"], "msg": "too big"}]}
    assert error_message(validation) == "query.page_size: too big"
    assert error_message({"detail": "Not Found"}) == "Not Found"
    assert error_message("") is None


def test_a_throttled_read_keeps_litellm_s_error_text(
    litellm_emulator: Factory, no_backoff: None
) -> None:
    """A 429 that never clears fails with LiteLLM's own message, read from its error body."""
    throttled = litellm_emulator(rate_limit_429_rate=1.0, injected_retry_after=0)
    with (
        client_for(throttled) as client,
        pytest.raises(RateLimitedError, match=r"answered 429: Rate limit exceeded"),
    ):
        client.list_customers()
