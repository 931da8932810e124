"""The Autumn provider against the emulator: what it reads, what it sends, and how the planner
sees Autumn's live data (billing controls by feature_id, money to the cent, metadata removal)."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import AUTUMN_TEST_KEY
from plan_samples import sending
from scripted_http import Answer, ScriptedApp, Seen, serve

from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.domain import DesiredCustomer, Source
from reconciler.emulator import RunningEmulator
from reconciler.errors import ConfigError, ServerError
from reconciler.interrupts import STOP
from reconciler.plan.model import Action, Change, Plan
from reconciler.planner import PlanOptions, build_plan
from reconciler.planner.body import request_body
from reconciler.providers.autumn.client import AutumnClient
from reconciler.providers.autumn.emulator import AutumnState
from reconciler.providers.autumn.provider import INTERRUPTED_CREATE_REASON, AutumnProvider
from reconciler.providers.base import ApplyResult, Declared
from reconciler.providers.registry import MODELS
from reconciler.settings.config import load_config
from reconciler.settings.connection import open_provider

Emulators = Callable[..., RunningEmulator[AutumnState]]
FAST = RetryPolicy(attempts=5, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0)
LIST = "POST /v1/customers.list"
GET_OR_CREATE = "POST /v1/customers.get_or_create"
UPDATE = "POST /v1/customers.update"
DELETE = "POST /v1/customers.delete"

SEED = {
    "customers": [
        {
            "id": "acme",
            "name": "Acme",
            "email": "billing@acme.example",
            "metadata": {"tier": "gold", "legacy": "v1"},
            "send_email_receipts": True,
            "billing_controls": {
                "spend_limits": [
                    {"feature_id": "tokens", "enabled": True, "overage_limit": 250.5},
                    {"feature_id": "messages", "enabled": True, "overage_limit": 100.0},
                ],
                "usage_alerts": [
                    {
                        "feature_id": "messages",
                        "enabled": True,
                        "threshold": 80.0,
                        "threshold_type": "usage_percentage",
                    }
                ],
            },
            "subscriptions": [{"plan_id": "pro", "status": "active"}],
        },
        {"id": "beta", "name": "Beta", "metadata": {"tier": "silver"}},
        {"id": "stray", "name": "Stray"},
        {"id": "acme", "env": "live", "name": "Acme Live"},
    ]
}


def desired(identifier: str, environment: str = "sandbox", **fields: Any) -> DesiredCustomer:
    return DesiredCustomer("autumn", environment, identifier, fields, Source("a.yaml", 3))


def change(action: Action, identifier: str, payload: dict[str, Any] | None = None) -> Change:
    return Change(action, "autumn", "sandbox", identifier, sending("autumn", payload or {}))


@pytest.fixture
def provider_for() -> Iterator[Callable[..., AutumnProvider]]:
    """Build providers over emulators (unpaced, fast retries); closed when the test ends."""
    made: list[AutumnProvider] = []

    def make(target: RunningEmulator[AutumnState] | str, **kwargs: Any) -> AutumnProvider:
        url = target if isinstance(target, str) else target.url
        key = kwargs.pop("key", AUTUMN_TEST_KEY)
        options: dict[str, Any] = {"retry": FAST, **kwargs}
        made.append(AutumnProvider.open(url, Secret(key), **options))
        return made[-1]

    yield make
    for provider in made:
        provider.close()


# -- reading -----------------------------------------------------------------------------------


def test_read_live_is_one_list_request_with_every_managed_field(
    autumn_emulator: Emulators, provider_for: Callable[..., AutumnProvider]
) -> None:
    """The list carries metadata and billing controls: no per-customer read of a listed one."""
    emulator = autumn_emulator(seed=SEED)
    provider = provider_for(emulator)
    live = provider.read_live(
        "sandbox", [Declared.of(desired("acme", metadata={}, billing_controls={}))]
    )
    assert sorted(live) == ["acme", "beta", "stray"]
    acme = live["acme"]
    assert acme.key == ("autumn", "sandbox", "acme")
    assert set(acme.fields) == set(MODELS["autumn"].fields)
    assert acme.fields["metadata"] == {"tier": "gold", "legacy": "v1"}
    assert acme.fields["billing_controls"]["spend_limits"][0]["overage_limit"] == Decimal("250.5")
    assert emulator.stats()["requests"] == {LIST: 1}


def skipping_list(acme: dict[str, Any]) -> ScriptedApp:
    """An Autumn API whose list skipped acme (as an offset page does when a customer before it
    is deleted mid-listing) while customers.get still answers it."""

    def handle(seen: Seen) -> Answer:
        if seen.raw_path == "/v1/customers.list":
            return Answer(200, {"list": [{"id": "beta", "env": "sandbox"}], "has_more": False})
        asked = json.loads(seen.body)["customer_id"]
        if asked == "acme":
            return Answer(200, acme)
        return Answer(404, {"message": "Customer not found", "code": "customer_not_found"})

    return ScriptedApp(handle)


def test_a_declared_customer_the_list_skipped_is_read_and_planned_as_an_update(
    provider_for: Callable[..., AutumnProvider],
) -> None:
    """acme, missing from the list but live, is an update with its live limit as "before" (so
    the percent rules judge it), not a create; hooli, unknown to customers.get, stays a create."""
    limits = {"spend_limits": [{"feature_id": "tokens", "enabled": True, "overage_limit": 10}]}
    acme = {"id": "acme", "env": "sandbox", "name": "Acme", "billing_controls": limits}
    app = skipping_list(acme)
    wanted = {"spend_limits": [{"feature_id": "tokens", "enabled": True, "overage_limit": 5000}]}
    customers = [desired("acme", billing_controls=wanted), desired("hooli", name="Hooli")]
    with serve(app) as url:
        live = provider_for(url, rate_limits=None).read_live(
            "sandbox", [Declared.of(c) for c in customers]
        )
    assert sorted(live) == ["acme", "beta"]
    plan = build_plan(customers, {c.key: c for c in live.values()}, MODELS, PlanOptions())
    changes = {c.id: c for c in plan.changes}
    assert (changes["acme"].action, changes["hooli"].action) == ("update", "create")
    [limit] = changes["acme"].fields
    assert (limit.before, limit.after) == (Decimal("10.00"), Decimal("5000.00"))
    asked = [json.loads(seen.body).get("customer_id") for seen in app.seen]
    assert asked == [None, "acme", "hooli"]


@pytest.mark.parametrize(
    "answer", [{"id": "beta", "env": "sandbox"}, {"id": "acme", "env": "live"}]
)
def test_a_get_answered_with_another_customer_is_refused(
    provider_for: Callable[..., AutumnProvider], answer: dict[str, Any]
) -> None:
    """customers.get of acme answered with beta (or a live customer) stops the read."""
    with (
        serve(skipping_list(answer)) as url,
        pytest.raises(ServerError, match="asked for customer"),
    ):
        provider_for(url, rate_limits=None).read_live("sandbox", [Declared.of(desired("acme"))])


def test_a_live_manifest_with_a_sandbox_key_is_refused_before_any_request(
    autumn_emulator: Emulators, provider_for: Callable[..., AutumnProvider]
) -> None:
    """Reading or applying live with a test key is a ConfigError naming the key's variable."""
    emulator = autumn_emulator(seed=SEED)
    provider = provider_for(emulator)
    with pytest.raises(ConfigError) as caught:
        provider.read_live("live", [Declared.of(desired("acme", "live", name="x"))])
    message = str(caught.value)
    assert "AUTUMN_SECRET_KEY is a sandbox key, but a.yaml:3 declares environment live" in message
    assert "am_sk_live_" in message
    assert AUTUMN_TEST_KEY not in message
    with pytest.raises(ConfigError, match="sandbox key"):
        provider.apply(Change("update", "autumn", "live", "acme", sending("autumn", {"name": "x"})))
    assert emulator.stats()["total_requests"] == 0


def test_a_sandbox_manifest_with_a_live_key_is_refused_too(
    autumn_emulator: Emulators, provider_for: Callable[..., AutumnProvider]
) -> None:
    """A live key never reads or writes sandbox customers; the message names the key source."""
    emulator = autumn_emulator(seed=SEED)
    provider = provider_for(
        emulator, key="am_sk_live_" + AUTUMN_TEST_KEY[11:], key_source="the key in x.key"
    )
    with pytest.raises(ConfigError, match=r"the key in x\.key is a live key, but a\.yaml:3"):
        provider.read_live("sandbox", [Declared.of(desired("acme"))])
    assert sorted(provider.read_live("live", [])) == ["acme"]


def test_a_key_without_an_autumn_prefix_is_refused() -> None:
    """Autumn tells the environment by the key prefix: a key without one cannot be used."""
    with pytest.raises(ConfigError, match=r"AUTUMN_SECRET_KEY is not an Autumn secret key"):
        AutumnProvider.open("http://127.0.0.1:9", Secret("sk_something_else"))


def test_an_emulator_provider_reaches_both_environments(
    autumn_emulator: Emulators, provider_for: Callable[..., AutumnProvider]
) -> None:
    """With both_environments the key's twin reads the other environment of one emulator."""
    emulator = autumn_emulator(seed=SEED)
    provider = provider_for(emulator, both_environments=True)
    assert sorted(provider.clients) == ["live", "sandbox"]
    assert provider.read_live("live", [])["acme"].fields["name"] == "Acme Live"
    assert "beta" in provider.read_live("sandbox", [])
    assert provider.request_counts() == {"POST": 2}


# -- the planner on Autumn's live data --------------------------------------------------------


def plan_against(
    provider: AutumnProvider, customers: list[DesiredCustomer], prune: bool = False
) -> Plan:
    """The plan for ``customers`` against what ``provider`` reads live in sandbox."""
    declared = [Declared.of(c) for c in customers]
    live = {c.key: c for c in provider.read_live("sandbox", declared).values()}
    return build_plan(customers, live, MODELS, PlanOptions(prune=prune))


def test_reordered_billing_controls_and_equal_amounts_are_no_change(
    autumn_emulator: Emulators, provider_for: Callable[..., AutumnProvider]
) -> None:
    """Items matched by feature_id in any order; 100 = 100.0, 250.50 = 250.5, 80 = 80.0."""
    provider = provider_for(autumn_emulator(seed=SEED))
    acme = desired(
        "acme",
        name="Acme",
        metadata={"tier": "gold", "legacy": "v1"},
        billing_controls={
            "spend_limits": [
                {"feature_id": "messages", "enabled": True, "overage_limit": Decimal("100")},
                {"feature_id": "tokens", "enabled": True, "overage_limit": Decimal("250.50")},
            ],
            "usage_alerts": [
                {"feature_id": "messages", "threshold": Decimal("80")},
            ],
        },
    )
    result = plan_against(provider, [acme])
    assert result.changes == ()
    assert result.unchanged == 1


def test_changed_limit_and_removed_metadata_key_make_a_minimal_update(
    autumn_emulator: Emulators, provider_for: Callable[..., AutumnProvider]
) -> None:
    """One changed overage_limit sends its whole array; an undeclared metadata key is nulled."""
    emulator = autumn_emulator(seed=SEED)
    provider = provider_for(emulator)
    limits = [
        {"feature_id": "tokens", "enabled": True, "overage_limit": Decimal("250.5")},
        {"feature_id": "messages", "enabled": True, "overage_limit": Decimal("150")},
    ]
    acme = desired("acme", metadata={"tier": "gold"}, billing_controls={"spend_limits": limits})
    (update,) = plan_against(provider, [acme]).changes
    assert update.action == "update"
    assert [(f.path, f.before, f.after) for f in update.fields] == [
        ("metadata.legacy", "v1", None),
        (
            "billing_controls.spend_limits[messages].overage_limit",
            Decimal("100.00"),
            Decimal("150.00"),
        ),
    ]
    body = request_body(update, provider.model)
    assert body["metadata"] == {"legacy": None}
    assert list(body["billing_controls"]) == ["spend_limits"]
    assert provider.apply(update) == ApplyResult(ok=True, status=200)
    stored = emulator.state.get_customer("acme")
    assert stored is not None
    assert stored["metadata"] == {"tier": "gold"}
    assert {
        i["feature_id"]: i["overage_limit"] for i in stored["billing_controls"]["spend_limits"]
    } == {
        "messages": 150,
        "tokens": 250.5,
    }
    assert stored["billing_controls"]["usage_alerts"][0]["threshold"] == 80
    assert plan_against(provider, [acme]).changes == ()


# -- applying ------------------------------------------------------------------------------------


def test_create_is_one_get_or_create_when_it_sets_everything(
    autumn_emulator: Emulators, provider_for: Callable[..., AutumnProvider]
) -> None:
    """A new customer with every declared field costs one request and then plans unchanged."""
    emulator = autumn_emulator(seed=SEED)
    provider = provider_for(emulator)
    hooli = desired(
        "hooli",
        name="Hooli",
        email=None,
        fingerprint="fp-1",
        send_email_receipts=True,
        metadata={"tier": "gold", "unset": None},
        billing_controls={
            "spend_limits": [{"feature_id": "m", "enabled": True, "overage_limit": Decimal("5")}]
        },
    )
    (create,) = plan_against(provider, [hooli]).changes
    assert create.action == "create"
    emulator.reset_stats()
    assert provider.apply(create) == ApplyResult(ok=True, status=200)
    assert emulator.stats()["requests"] == {GET_OR_CREATE: 1}
    assert plan_against(provider, [hooli]).changes == ()


def test_create_of_an_existing_customer_enforces_the_declared_state(
    autumn_emulator: Emulators, provider_for: Callable[..., AutumnProvider]
) -> None:
    """Created by someone else since the plan: get_or_create, then update what differs."""
    emulator = autumn_emulator(seed=SEED)
    provider = provider_for(emulator)
    payload = {
        "name": "Beta Inc",
        "metadata": {"tier": "gold"},
        "billing_controls": {"overage_allowed": [{"feature_id": "m", "enabled": True}]},
    }
    assert provider.apply(change("create", "beta", payload)).ok
    assert emulator.stats()["requests"] == {GET_OR_CREATE: 1, UPDATE: 1}
    stored = emulator.state.get_customer("beta")
    assert stored is not None
    assert stored["name"] == "Beta Inc"
    assert stored["metadata"] == {"tier": "gold"}
    assert stored["billing_controls"]["overage_allowed"] == [{"feature_id": "m", "enabled": True}]


def test_create_follows_up_on_fields_the_server_ignored_on_create() -> None:
    """A get_or_create answer lacking declared values is followed by an update of just those."""
    answers = {
        "/v1/customers.get_or_create": {
            "id": "new",
            "name": "New",
            "metadata": {"tier": "gold", "auto": "added"},
            "billing_controls": {},
        },
        "/v1/customers.update": {"id": "new"},
    }

    def handler(seen: Seen) -> Answer:
        return Answer(200, answers[seen.raw_path])

    app = ScriptedApp(handler)
    payload = {
        "name": "New",
        "metadata": {"tier": "gold"},
        "billing_controls": {
            "spend_limits": [{"feature_id": "m", "overage_limit": Decimal("9.5")}]
        },
    }
    with serve(app) as url:
        provider = AutumnProvider({"sandbox": AutumnClient(url, Secret(AUTUMN_TEST_KEY))})
        try:
            assert provider.apply(change("create", "new", payload)).ok
        finally:
            provider.close()
    assert [seen.raw_path for seen in app.seen] == [
        "/v1/customers.get_or_create",
        "/v1/customers.update",
    ]
    assert json.loads(app.seen[0].body)["customer_id"] == "new"
    assert json.loads(app.seen[1].body) == {
        "customer_id": "new",
        "metadata": {"auto": None},
        "billing_controls": {"spend_limits": [{"feature_id": "m", "overage_limit": 9.5}]},
    }


def test_update_sends_only_the_payload(
    autumn_emulator: Emulators, provider_for: Callable[..., AutumnProvider]
) -> None:
    """An update changes the payload's fields and leaves every other field alone."""
    emulator = autumn_emulator(seed=SEED)
    provider = provider_for(emulator)
    assert provider.apply(change("update", "acme", {"email": None})).ok
    stored = emulator.state.get_customer("acme")
    assert stored is not None
    assert (stored["email"], stored["name"], stored["metadata"]["legacy"]) == (None, "Acme", "v1")


def test_delete_removes_the_customer_in_autumn_only(
    autumn_emulator: Emulators, provider_for: Callable[..., AutumnProvider]
) -> None:
    """A prune delete removes the sandbox customer and not its live namesake."""
    emulator = autumn_emulator(seed=SEED)
    provider = provider_for(emulator)
    (delete,) = plan_against(provider, [desired("beta"), desired("stray")], prune=True).changes
    assert (delete.action, delete.id) == ("delete", "acme")
    assert provider.apply(delete) == ApplyResult(ok=True, status=200)
    assert emulator.state.get_customer("acme") is None
    assert emulator.state.get_customer("acme", env="live") is not None


# -- opening through the connection settings ----------------------------------------------------


def test_open_provider_uses_the_autumn_variables(
    autumn_emulator: Emulators, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AUTUMN_BASE_URL and AUTUMN_SECRET_KEY open an Autumn provider for the key's environment."""
    emulator = autumn_emulator(seed=SEED)
    environ = {"AUTUMN_BASE_URL": emulator.url, "AUTUMN_SECRET_KEY": emulator.api_key}
    with open_provider("autumn", config=None, environ=environ, retry=FAST) as handle:
        provider = handle.provider
        assert isinstance(provider, AutumnProvider)
        assert sorted(provider.clients) == ["sandbox"]
        assert provider.clients["sandbox"].api_version == "2.2.0"
        assert "beta" in provider.read_live("sandbox", [])
        with pytest.raises(ConfigError, match=r"^AUTUMN_SECRET_KEY is a sandbox key"):
            provider.read_live("live", [])


def test_open_provider_with_an_emulator_seed_serves_both_environments(tmp_path: Path) -> None:
    """providers.autumn.emulator.seed starts an in-process emulator reachable in both envs."""
    (tmp_path / "live.json").write_text(
        '{"customers": [{"id": "s"}, {"id": "l", "env": "live"}]}', encoding="utf-8"
    )
    (tmp_path / "reconciler.yaml").write_text(
        "providers:\n  autumn:\n    emulator: {seed: live.json}\n    api_version: 2.3.0\n",
        encoding="utf-8",
    )
    config = load_config(tmp_path / "reconciler.yaml")
    with open_provider("autumn", config=config, environ={}) as handle:
        provider = handle.provider
        assert isinstance(provider, AutumnProvider)
        assert handle.emulator is not None
        assert sorted(provider.read_live("sandbox", [])) == ["s"]
        assert sorted(provider.read_live("live", [])) == ["l"]
        assert provider.clients["live"].api_version == "2.3.0"


def test_open_provider_names_the_key_file_when_the_key_has_no_prefix(tmp_path: Path) -> None:
    """A key from providers.autumn.api_key_file without an Autumn prefix names that setting."""
    (tmp_path / "autumn.key").write_text("not-an-autumn-key\n", encoding="utf-8")
    (tmp_path / "reconciler.yaml").write_text(
        "providers:\n  autumn:\n    api_key_file: autumn.key\n", encoding="utf-8"
    )
    config = load_config(tmp_path / "reconciler.yaml")
    with pytest.raises(ConfigError) as caught:
        open_provider("autumn", config=config, environ={})
    assert str(caught.value).startswith(
        "the key in providers.autumn.api_key_file is not an Autumn secret key"
    )
    assert "not-an-autumn-key" not in str(caught.value)


@pytest.mark.parametrize("bad_id", [["x"], 5, None, {"a": 1}])
def test_a_listed_customer_without_a_text_id_is_refused(bad_id: Any) -> None:
    """A list row whose id is not text fails the read; it is never planned as str(['x'])."""
    rows = [{"id": "ok", "env": "sandbox"}, {"id": bad_id, "env": "sandbox"}]
    app = ScriptedApp(lambda seen: Answer(200, {"list": rows, "has_more": False}))
    with serve(app) as url:
        provider = AutumnProvider({"sandbox": AutumnClient(url, Secret(AUTUMN_TEST_KEY))})
        try:
            with pytest.raises(ServerError, match="listed a customer whose id is not an id"):
                provider.read_live("sandbox", [])
        finally:
            provider.close()


def test_a_create_interrupted_before_its_follow_up_is_a_partial_failure() -> None:
    """Stopped after get_or_create: the follow-up update is not sent, and the change failed."""

    def handler(seen: Seen) -> Answer:
        STOP.request(signal.SIGINT)  # Ctrl-C while the create is in flight
        return Answer(200, {"id": "new", "name": None, "metadata": {}, "billing_controls": {}})

    app = ScriptedApp(handler)
    try:
        with serve(app) as url:
            provider = AutumnProvider({"sandbox": AutumnClient(url, Secret(AUTUMN_TEST_KEY))})
            try:
                result = provider.apply(change("create", "new", {"name": "New"}))
            finally:
                provider.close()
    finally:
        STOP.reset()
    assert result == ApplyResult(ok=False, status=None, reason=INTERRUPTED_CREATE_REASON)
    assert [seen.raw_path for seen in app.seen] == ["/v1/customers.get_or_create"]
