"""LiteLLM's own pydantic models (litellm 1.110.2, ``litellm.proxy._types``) as the judge of the
LiteLLM emulator and client: every request our client sends parses as the proxy's request
model without a dropped key, and every answer the emulator gives parses as its response model.
"""

from __future__ import annotations

import json
import os

# litellm fetches a model price map over the network on import unless told to use its own copy.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from conftest import LITELLM_TEST_KEY
from litellm.proxy._types import (
    DeleteCustomerRequest,
    LiteLLM_EndUserTable,
    NewCustomerRequest,
    ProxyException,
    UpdateCustomerRequest,
)
from litellm.types.proxy.management_endpoints.customer_endpoints import (
    CustomerResponse,
    DeleteCustomersResponse,
)
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from vendor_sdks import no_late_imports

from reconciler.clients.secret import Secret
from reconciler.emulator import EmulatorServer, EmulatorSettings
from reconciler.providers.litellm.client import LiteLLMClient
from reconciler.providers.litellm.emulator import create_app, state_from_seed

SEED = {
    "customers": [
        {
            "user_id": "acme",
            "alias": "Acme",
            "blocked": False,
            "spend": 12.5,
            "allowed_model_region": "eu",
            "default_model": "gpt-4o-mini",
            "models": ["gpt-4o-mini"],
            "litellm_budget_table": {
                "budget_id": "acme-budget",
                "max_budget": 100.0,
                "soft_budget": 80.0,
                "budget_duration": "30d",
                "tpm_limit": 1000,
                "rpm_limit": 60,
                "max_parallel_requests": 4,
                "model_max_budget": {"gpt-4o": {"max_budget": 10.0, "budget_duration": "1d"}},
            },
        },
        {"user_id": "globex", "blocked": True},
    ]
}


@dataclass
class Exchange:
    """One request the emulator received and the answer it gave."""

    method: str
    path: str
    request: Any
    status: int = 0
    response: Any = None


@dataclass
class Recorder:
    """An ASGI wrapper that keeps every exchange's JSON bodies."""

    app: ASGIApp
    exchanges: list[Exchange] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        message = await receive()
        chunks.append(message.get("body", b""))
        while message.get("more_body"):
            message = await receive()
            chunks.append(message.get("body", b""))
        raw = b"".join(chunks)
        exchange = Exchange(scope["method"], scope["path"], json.loads(raw) if raw else None)
        self.exchanges.append(exchange)
        answer: list[bytes] = []
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
            elif message["type"] == "http.response.body":
                answer.append(message.get("body", b""))
                if not message.get("more_body"):
                    exchange.response = json.loads(b"".join(answer))
            await send(message)

        await self.app(scope, replay, keep)


@pytest.fixture(autouse=True)
def litellm_loaded_before_the_test() -> Iterator[None]:
    """Every litellm module a test reaches was imported at collection, not while servers run."""
    with no_late_imports("litellm"):
        yield


@pytest.fixture
def recorded() -> Iterator[tuple[LiteLLMClient, Recorder]]:
    settings = EmulatorSettings(api_key=LITELLM_TEST_KEY)
    recorder = Recorder(create_app(state_from_seed(SEED), settings))
    with (
        EmulatorServer(recorder) as server,
        LiteLLMClient.create(server.url, Secret(LITELLM_TEST_KEY)) as client,
    ):
        yield client, recorder


REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "/customer/new": NewCustomerRequest,
    "/customer/update": UpdateCustomerRequest,
    "/customer/delete": DeleteCustomerRequest,
}


def check_request(exchange: Exchange) -> None:
    model = REQUEST_MODELS[exchange.path]
    parsed = model.model_validate(exchange.request)
    # pydantic drops unknown keys silently: a key our client sends must be one LiteLLM reads.
    assert set(exchange.request) <= set(model.model_fields), exchange.request
    assert parsed.model_dump(exclude_unset=True).keys() == exchange.request.keys()


def check_customer(customer: Any) -> None:
    CustomerResponse.model_validate(customer)
    LiteLLM_EndUserTable.model_validate(customer)


def test_every_request_and_answer_parses_as_litellms_models(
    recorded: tuple[LiteLLMClient, Recorder],
) -> None:
    """list, info, new, update, delete: requests and answers fit LiteLLM's models exactly."""
    client, recorder = recorded
    client.list_customers()
    client.customer_info("acme")
    client.new_customer(
        "initech",
        {
            "alias": "Initech",
            "max_budget": Decimal("250.00"),
            "soft_budget": Decimal("200"),
            "budget_duration": "monthly",
            "tpm_limit": 5000,
            "rpm_limit": 100,
            "max_parallel_requests": 8,
            "allowed_model_region": "us",
            "default_model": "gpt-4o",
            "models": ["gpt-4o", "gpt-4o-mini"],
            "model_max_budget": {"gpt-4o": {"max_budget": 20, "budget_duration": "1d"}},
            "blocked": False,
        },
    )
    client.update_customer(
        "initech",
        {"alias": "Initech Ltd", "blocked": True, "max_budget": Decimal("300.5"), "models": []},
    )
    client.delete_customer("globex")
    seen = {(e.method, e.path) for e in recorder.exchanges}
    assert seen == {
        ("GET", "/customer/list"),
        ("GET", "/customer/info"),
        ("POST", "/customer/new"),
        ("POST", "/customer/update"),
        ("POST", "/customer/delete"),
    }
    for exchange in recorder.exchanges:
        assert exchange.status == 200, exchange
        if exchange.method == "POST":
            check_request(exchange)
        if exchange.path == "/customer/list":
            assert isinstance(exchange.response, list)
            for customer in exchange.response:
                check_customer(customer)
        elif exchange.path == "/customer/delete":
            DeleteCustomersResponse.model_validate(exchange.response)
        else:
            check_customer(exchange.response)


def test_the_budget_table_parses_with_its_values(
    recorded: tuple[LiteLLMClient, Recorder],
) -> None:
    """The nested budget table's values survive LiteLLM's parse (nothing lost or renamed)."""
    client, _ = recorded
    customer = CustomerResponse.model_validate(client.customer_info("acme"))
    budget = customer.litellm_budget_table
    assert budget is not None
    assert (budget.max_budget, budget.soft_budget, budget.budget_duration) == (100.0, 80.0, "30d")
    assert (budget.tpm_limit, budget.rpm_limit, budget.max_parallel_requests) == (1000, 60, 4)
    assert customer.budget_id == budget.budget_id == "acme-budget"
    assert customer.spend == 12.5


@pytest.mark.parametrize(
    ("call", "status", "kind", "param"),
    [
        (lambda c: c.customer_info("ghost"), 404, "not_found", "end_user_id"),
        (lambda c: c.update_customer("ghost", {"alias": "x"}), 404, "not_found", "user_id"),
        (lambda c: c.new_customer("acme", {}), 400, "bad_request", "user_id"),
        (lambda c: c.delete_customer("ghost"), 404, "not_found", "user_ids"),
    ],
)
def test_error_bodies_are_proxy_exceptions(
    recorded: tuple[LiteLLMClient, Recorder], call: Any, status: int, kind: str, param: str
) -> None:
    """Each refusal's body is exactly what LiteLLM's ProxyException.to_dict() produces."""
    client, recorder = recorded
    with pytest.raises(Exception, match=str(status)):
        call(client)
    error = recorder.exchanges[-1].response["error"]
    expected = ProxyException(message=error["message"], type=kind, param=param, code=status)
    assert recorder.exchanges[-1].status == status
    assert error == expected.to_dict()


def test_update_model_lacks_the_create_only_fields() -> None:
    """LiteLLM's update model has no key for the fields our field specs call create-only."""
    from reconciler.providers.litellm.fields import CREATE_ONLY_FIELDS, UPDATABLE_FIELDS

    update_keys = set(UpdateCustomerRequest.model_fields)
    assert set(UPDATABLE_FIELDS) <= update_keys
    assert not set(CREATE_ONLY_FIELDS) & update_keys
    assert set(CREATE_ONLY_FIELDS) | set(UPDATABLE_FIELDS) <= set(NewCustomerRequest.model_fields)
