"""The LiteLLM proxy emulator over real HTTP: routes, auth, the nested budget table, update
semantics (what LiteLLM silently skips), all-or-nothing delete, error bodies, paging, faults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.emulator import ManualClock, RunningEmulator
from reconciler.errors import ConfigError
from reconciler.providers.litellm.emulator import state_from_seed
from reconciler.providers.litellm.emulator_model import LiteLLMState, duration_seconds

Factory = Callable[..., RunningEmulator[LiteLLMState]]


def post(
    emu: RunningEmulator[Any], path: str, body: Any, *, key: str | None = None
) -> httpx.Response:
    with emu.client(key=key) as api:
        return api.post(path, json=body)


def get(emu: RunningEmulator[Any], path: str, **params: Any) -> httpx.Response:
    with emu.client() as api:
        return api.get(path, params=params)


def seed(count: int) -> dict[str, Any]:
    return {"customers": [{"user_id": f"user-{i:03d}", "blocked": False} for i in range(count)]}


def test_new_customer_nests_budget_fields_in_the_budget_table(litellm_emulator: Factory) -> None:
    """/customer/new puts budget fields in litellm_budget_table, profile fields at the top."""
    emu = litellm_emulator()
    body = {
        "user_id": "acme",
        "alias": "Acme",
        "max_budget": 250.5,
        "budget_duration": "30d",
        "tpm_limit": 1000,
        "allowed_model_region": "eu",
        "models": ["gpt-4o-mini"],
    }
    created = post(emu, "/customer/new", body)
    assert created.status_code == 200
    customer = created.json()
    assert (customer["user_id"], customer["alias"], customer["blocked"]) == ("acme", "Acme", False)
    assert (customer["allowed_model_region"], customer["models"]) == ("eu", ["gpt-4o-mini"])
    budget = customer["litellm_budget_table"]
    assert (budget["max_budget"], budget["budget_duration"], budget["tpm_limit"]) == (
        250.5,
        "30d",
        1000,
    )
    assert customer["budget_id"] == budget["budget_id"]
    assert budget["budget_reset_at"] is not None
    assert budget["created_at"] is not None
    assert "max_budget" not in customer
    assert get(emu, "/customer/info", end_user_id="acme").json() == customer


def test_customer_without_budget_fields_has_no_budget_table(litellm_emulator: Factory) -> None:
    """A customer created without budget fields answers litellm_budget_table: null."""
    emu = litellm_emulator()
    customer = post(emu, "/customer/new", {"user_id": "plain"}).json()
    assert customer["litellm_budget_table"] is None
    assert customer["budget_id"] is None


def test_duplicate_create_is_litellms_400(litellm_emulator: Factory) -> None:
    """Creating a user_id twice answers 400 with LiteLLM's ProxyException body."""
    emu = litellm_emulator(seed=seed(1))
    response = post(emu, "/customer/new", {"user_id": "user-000"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Customer already exists, passed user_id=user-000. "
            "Please pass a new user_id.",
            "type": "bad_request",
            "param": "user_id",
            "code": "400",
        }
    }


def test_create_refuses_bad_types_and_budget_conflicts_with_422(litellm_emulator: Factory) -> None:
    """Wrong types, a missing user_id, or max_budget with budget_id are FastAPI 422s."""
    emu = litellm_emulator()
    wrong = post(emu, "/customer/new", {"user_id": "x", "allowed_model_region": "mars"})
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "allowed_model_region"]
    missing = post(emu, "/customer/new", {"alias": "no id"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["type"] == "missing"
    both = post(emu, "/customer/new", {"user_id": "x", "max_budget": 1, "budget_id": "b"})
    assert both.status_code == 422
    assert "not both" in both.json()["detail"][0]["msg"]
    assert emu.state.customers == {}


def test_default_model_must_be_served_when_the_seed_names_models(
    litellm_emulator: Factory,
) -> None:
    """With the proxy's models seeded, a create naming another default_model is a 422."""
    emu = litellm_emulator(seed={"customers": [], "models": ["gpt-4o"]})
    refused = post(emu, "/customer/new", {"user_id": "x", "default_model": "gpt-5"})
    assert refused.status_code == 422
    assert "Default Model not on proxy" in refused.json()["error"]["message"]
    assert post(emu, "/customer/new", {"user_id": "x", "default_model": "gpt-4o"}).is_success


def test_invalid_budget_duration_is_a_400(litellm_emulator: Factory) -> None:
    """A budget_duration LiteLLM cannot parse is refused (400) and nothing is created."""
    emu = litellm_emulator()
    response = post(emu, "/customer/new", {"user_id": "x", "budget_duration": "soon"})
    assert response.status_code == 400
    assert "Invalid budget_duration 'soon'" in response.json()["error"]["message"]
    assert emu.state.customers == {}


def test_update_applies_what_litellm_applies(litellm_emulator: Factory) -> None:
    """Update sets sent values, keeps absent ones, and skips null, 0 and create-only fields."""
    emu = litellm_emulator()
    post(emu, "/customer/new", {"user_id": "u", "alias": "Old", "max_budget": 10, "rpm_limit": 5})
    response = post(
        emu,
        "/customer/update",
        {
            "user_id": "u",
            "default_model": "gpt-4o",
            "alias": None,
            "rpm_limit": 99,
            "soft_budget": 3,
        },
    )
    customer = response.json()
    assert response.status_code == 200
    assert (customer["alias"], customer["default_model"]) == ("Old", "gpt-4o")
    assert customer["litellm_budget_table"]["rpm_limit"] == 5
    assert customer["litellm_budget_table"]["soft_budget"] is None
    zero = post(emu, "/customer/update", {"user_id": "u", "max_budget": 0}).json()
    assert zero["litellm_budget_table"]["max_budget"] == 10


def test_update_blocked_and_models_only_when_sent(litellm_emulator: Factory) -> None:
    """blocked: false unblocks when sent; an empty models list clears; absent keys stay."""
    emu = litellm_emulator()
    post(emu, "/customer/new", {"user_id": "u", "blocked": True, "models": ["a", "b"]})
    kept = post(emu, "/customer/update", {"user_id": "u", "alias": "A"}).json()
    assert (kept["blocked"], kept["models"]) == (True, ["a", "b"])
    changed = post(emu, "/customer/update", {"user_id": "u", "blocked": False, "models": []})
    assert (changed.json()["blocked"], changed.json()["models"]) == (False, [])


def test_update_max_budget_creates_or_changes_the_budget_row(litellm_emulator: Factory) -> None:
    """max_budget on a customer without budget creates a row; on a shared row, all see it."""
    budget = {"budget_id": "free_tier", "max_budget": 5.0}
    emu = litellm_emulator(
        seed={
            "customers": [
                {"user_id": "a", "blocked": False, "litellm_budget_table": budget},
                {"user_id": "b", "blocked": False, "budget_id": "free_tier"},
                {"user_id": "c", "blocked": False},
            ]
        }
    )
    created = post(emu, "/customer/update", {"user_id": "c", "max_budget": 7.25}).json()
    assert created["litellm_budget_table"]["max_budget"] == 7.25
    post(emu, "/customer/update", {"user_id": "a", "max_budget": 50})
    assert emu.state.customers["b"]["litellm_budget_table"]["max_budget"] == 50


def test_update_and_info_of_unknown_customer_are_404(litellm_emulator: Factory) -> None:
    """Update never creates; info and update of an unknown id answer LiteLLM's not_found."""
    emu = litellm_emulator()
    update = post(emu, "/customer/update", {"user_id": "ghost", "alias": "x"})
    assert update.status_code == 404
    assert update.json()["error"] == {
        "message": "End User Id=ghost does not exist in db",
        "type": "not_found",
        "param": "user_id",
        "code": "404",
    }
    info = get(emu, "/customer/info", end_user_id="ghost")
    assert (info.status_code, info.json()["error"]["param"]) == (404, "end_user_id")
    assert emu.state.customers == {}


def test_delete_is_all_or_nothing(litellm_emulator: Factory) -> None:
    """Delete removes every listed id, or none when one is missing (404 naming it)."""
    emu = litellm_emulator(seed=seed(3))
    refused = post(emu, "/customer/delete", {"user_ids": ["user-000", "nobody"]})
    assert refused.status_code == 404
    assert refused.json()["error"]["message"] == "End User Id(s)=nobody do not exist in db"
    assert len(emu.state.customers) == 3
    done = post(emu, "/customer/delete", {"user_ids": ["user-000", "user-001"]})
    assert done.json() == {
        "deleted_customers": 2,
        "message": "Successfully deleted customers with ids: ['user-000', 'user-001']",
    }
    assert list(emu.state.customers) == ["user-002"]


def test_list_pages_by_user_id_as_a_bare_array(litellm_emulator: Factory) -> None:
    """/customer/list pages (page_size at most 100) in user_id order and searches id or alias."""
    emu = litellm_emulator(seed=seed(120))
    first = get(emu, "/customer/list", page=1, page_size=100).json()
    second = get(emu, "/customer/list", page=2, page_size=100).json()
    assert isinstance(first, list)
    assert len(first) == 100
    assert len(second) == 20
    assert [c["user_id"] for c in first + second] == sorted(emu.state.customers)
    assert get(emu, "/customer/list", page=3, page_size=100).json() == []
    assert len(get(emu, "/customer/list").json()) == 50
    assert [c["user_id"] for c in get(emu, "/customer/list", search="USER-11").json()] == [
        f"user-11{i}" for i in range(10)
    ]
    too_big = get(emu, "/customer/list", page_size=101)
    assert too_big.status_code == 422
    assert too_big.json()["detail"][0]["loc"] == ["query", "page_size"]


def test_end_user_aliases_serve_the_same_routes(litellm_emulator: Factory) -> None:
    """The older /end_user/* names reach the same customers."""
    emu = litellm_emulator(seed=seed(1))
    assert get(emu, "/end_user/info", end_user_id="user-000").json()["user_id"] == "user-000"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Authentication Error, No api key passed in."),
        ("sk-wrong", "Authentication Error, Invalid proxy server token passed."),
    ],
)
def test_bad_keys_get_litellms_401(litellm_emulator: Factory, key: str, message: str) -> None:
    """No key or a wrong key answers 401 auth_error, and the stats count the route."""
    emu = litellm_emulator()
    response = post(emu, "/customer/new", {"user_id": "x"}, key=key)
    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": message, "type": "auth_error", "param": None, "code": "401"}
    }
    assert emu.stats()["requests"] == {"POST /customer/new": 1}
    assert emu.stats()["responses"] == {"401": 1}


def test_unknown_route_is_fastapis_404(litellm_emulator: Factory) -> None:
    """A route the proxy does not have answers FastAPI's {"detail": "Not Found"}."""
    emu = litellm_emulator()
    response = get(emu, "/customer/nope")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


def test_rate_limit_and_injected_failures_use_litellms_shape(litellm_emulator: Factory) -> None:
    """A configured limit answers 429 rate_limit_error (Retry-After if asked) until time moves."""
    clock = ManualClock()
    emu = litellm_emulator(rate_limit=(2, 1.0), clock=clock, retry_after_header=True)
    assert [get(emu, "/customer/list").status_code for _ in range(3)] == [200, 200, 429]
    limited = get(emu, "/customer/list")
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert limited.headers["retry-after"] == "1"
    clock.advance(1.0)
    assert get(emu, "/customer/list").status_code == 200
    failing = litellm_emulator(fail_rate=1.0)
    response = get(failing, "/customer/list")
    assert (response.status_code, response.json()["error"]["code"]) == (500, "500")


def test_seed_errors_name_the_entry() -> None:
    """A seed customer without user_id, or an unknown top-level key, is a ConfigError."""
    with pytest.raises(ConfigError, match=r"live.json: customers\[1\]: user_id"):
        state_from_seed({"customers": [{"user_id": "a"}, {"alias": "b"}]}, source="live.json")
    with pytest.raises(ConfigError, match="unknown key 'users'"):
        state_from_seed({"users": []})
    with pytest.raises(ConfigError, match="models must be a list"):
        state_from_seed({"models": "gpt-4o"})


def test_durations_parse_as_litellm_does() -> None:
    """Durations in seconds for each unit and word alias; zero and nonsense are refused."""
    assert duration_seconds("30s") == 30
    assert duration_seconds("2h") == 7200
    assert duration_seconds("monthly") == duration_seconds("30d") == 2_592_000
    assert duration_seconds("1mo") == 2_592_000
    assert duration_seconds("0d") is None
    assert duration_seconds("soon") is None
