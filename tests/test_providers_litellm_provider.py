"""The LiteLLM provider over the emulator: live state from the list alone (budget fields
lifted from the nested table), and applies that refuse what LiteLLM's update would skip."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import LITELLM_TEST_KEY
from scripted_http import Answer, ScriptedApp, script, serve

from reconciler.audit import AuditContext, AuditLog
from reconciler.clients.secret import Secret
from reconciler.domain import UNKNOWN, FieldKind
from reconciler.emulator import RunningEmulator
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.plan.model import Change, FieldChange
from reconciler.providers.litellm.emulator_model import LiteLLMState
from reconciler.providers.litellm.fields import ENVIRONMENT, FIELDS, Location
from reconciler.providers.litellm.provider import (
    LiteLLMProvider,
    request_body,
    update_refusal,
)

Factory = Callable[..., RunningEmulator[LiteLLMState]]
NOT_SENT = "(key not sent)"
BUDGET_FIELDS = [name for name, field in FIELDS.items() if field.location is Location.BUDGET]

SEED = {
    "customers": [
        {
            "user_id": "acme",
            "alias": "Acme",
            "blocked": False,
            "spend": 42.75,
            "models": ["gpt-4o"],
            "litellm_budget_table": {
                "budget_id": "acme-budget",
                "max_budget": 100.0,
                "budget_duration": "30d",
                "rpm_limit": 60,
            },
        },
        {"user_id": "free-1", "blocked": False, "litellm_budget_table": {"budget_id": "free"}},
        {"user_id": "free-2", "blocked": False, "budget_id": "free"},
        {"user_id": "plain", "blocked": True},
    ]
}


@pytest.fixture
def emu(litellm_emulator: Factory) -> RunningEmulator[LiteLLMState]:
    return litellm_emulator(seed=SEED)


@pytest.fixture
def provider(emu: RunningEmulator[LiteLLMState]) -> Iterator[LiteLLMProvider]:
    opened = LiteLLMProvider.open(emu.url, Secret(emu.api_key))
    yield opened
    opened.close()


def change(action: Any, user_id: str, **body: Any) -> Change:
    """A change whose whole-field changes make the request body ``body`` (a field whose kind
    the core lacks is labelled text: the body does not read kinds)."""
    fields = tuple(
        FieldChange(name, None, value, FIELDS[name].core_kind or FieldKind.TEXT)
        for name, value in body.items()
    )
    return Change(action, "litellm", ENVIRONMENT, user_id, fields)


def test_read_live_lifts_budget_fields_and_reads_spend(
    provider: LiteLLMProvider, emu: RunningEmulator[LiteLLMState]
) -> None:
    """One list request gives every field: budget ones from the table, null without one."""
    live = provider.read_live(ENVIRONMENT, [])
    assert sorted(live) == ["acme", "free-1", "free-2", "plain"]
    acme = live["acme"]
    assert acme.fields["alias"] == "Acme"
    assert acme.fields["max_budget"] == Decimal("100.0")
    assert (acme.fields["budget_duration"], acme.fields["rpm_limit"]) == ("30d", 60)
    assert acme.fields["models"] == ["gpt-4o"]
    assert acme.usage == Decimal("42.75")
    assert set(live["plain"].fields) == set(FIELDS)
    assert live["plain"].fields["max_budget"] is None
    assert emu.stats()["requests"] == {"GET /customer/list": 1}
    assert provider.read_usage(ENVIRONMENT, ["acme", "nobody"]) == {"acme": Decimal("42.75")}
    assert emu.stats()["requests"] == {"GET /customer/list": 1}


@pytest.mark.parametrize("table", [NOT_SENT, "none", [], 5, True])
def test_a_budget_table_the_answer_lacks_leaves_budget_fields_unknown(table: Any) -> None:
    """A listed customer without a litellm_budget_table (or with no object there) has unknown
    budget fields, never "no budget": a raise of max_budget is then judged as unknowable."""
    row: dict[str, Any] = {"user_id": "acme", "alias": "Acme", "blocked": False}
    if table is not NOT_SENT:
        row["litellm_budget_table"] = table
    app = ScriptedApp(script(Answer(200, [row])))
    with serve(app) as url:
        opened = LiteLLMProvider.open(url, Secret(LITELLM_TEST_KEY))
        try:
            acme = opened.read_live(ENVIRONMENT, [])["acme"]
        finally:
            opened.close()
    assert acme.get("alias") == "Acme"
    assert all(acme.get(name) is UNKNOWN for name in BUDGET_FIELDS)


def test_other_environments_are_refused(provider: LiteLLMProvider) -> None:
    """LiteLLM has no environments: any name but the default one is a ConfigError."""
    with pytest.raises(ConfigError, match="no environments"):
        provider.read_live("prod", [])


def test_create_sends_every_declared_field(
    provider: LiteLLMProvider, emu: RunningEmulator[LiteLLMState]
) -> None:
    """A create is one /customer/new with the declared fields, create-only ones included."""
    result = provider.apply(
        change("create", "hooli", alias="Hooli", max_budget=Decimal("500"), tpm_limit=Decimal(9))
    )
    assert (result.ok, result.status) == (True, 200)
    hooli = emu.state.customers["hooli"]
    assert hooli["alias"] == "Hooli"
    assert hooli["litellm_budget_table"]["max_budget"] == 500
    assert hooli["litellm_budget_table"]["tpm_limit"] == 9


def test_create_of_an_existing_customer_updates_what_differs(
    provider: LiteLLMProvider, emu: RunningEmulator[LiteLLMState]
) -> None:
    """A create that finds the id taken reads it and updates only the differing fields."""
    result = provider.apply(change("create", "acme", alias="Acme", blocked=True))
    assert result.ok
    assert emu.state.customers["acme"]["blocked"] is True
    assert emu.stats()["requests"] == {
        "GET /customer/info": 1,
        "POST /customer/new": 1,
        "POST /customer/update": 1,
    }


def test_update_sends_updatable_fields(
    provider: LiteLLMProvider, emu: RunningEmulator[LiteLLMState]
) -> None:
    """An update of alias, max_budget and models is one /customer/update."""
    result = provider.apply(
        change("update", "acme", alias="ACME", max_budget=Decimal("150.25"), models=[])
    )
    assert result.ok
    acme = emu.state.customers["acme"]
    assert (acme["alias"], acme["models"]) == ("ACME", [])
    assert acme["litellm_budget_table"]["max_budget"] == 150.25


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"rpm_limit": Decimal(5)}, "rpm_limit cannot be changed on an existing"),
        ({"alias": None}, "ignores null"),
        ({"max_budget": Decimal("0.00")}, "ignores 0; set blocked: true"),
    ],
)
def test_updates_litellm_would_skip_are_refused_unsent(
    provider: LiteLLMProvider,
    emu: RunningEmulator[LiteLLMState],
    payload: dict[str, Any],
    reason: str,
) -> None:
    """Create-only fields, null and a zero max_budget fail with the reason; nothing is sent."""
    result = provider.apply(change("update", "acme", **payload))
    assert not result.ok
    assert reason in result.reason
    assert "nothing was sent" in result.reason
    assert "POST /customer/update" not in emu.stats()["requests"]


def test_max_budget_of_a_shared_budget_is_refused(
    provider: LiteLLMProvider, emu: RunningEmulator[LiteLLMState]
) -> None:
    """Changing max_budget on a budget row two customers share would change both: refused."""
    result = provider.apply(change("update", "free-1", max_budget=Decimal(10)))
    assert not result.ok
    assert "shared with 1 other customer(s)" in result.reason
    assert emu.state.customers["free-2"]["litellm_budget_table"]["max_budget"] is None
    assert provider.apply(change("update", "free-1", alias="ok")).ok


def test_update_refusal_accepts_what_update_applies() -> None:
    """Text, booleans, regions, models and non-zero money pass the refusal check."""
    assert (
        update_refusal(
            {
                "alias": "",
                "blocked": False,
                "allowed_model_region": "eu",
                "max_budget": Decimal("0.01"),
            }
        )
        is None
    )


@pytest.mark.parametrize("path", ["alias.x", "not_a_field"])
def test_the_body_comes_from_whole_field_changes_only(path: str) -> None:
    """The body is each field change's after; a path naming no LiteLLM field is refused."""
    sent = change("update", "acme", alias="ACME", max_budget=Decimal(5))
    assert request_body(sent) == {"alias": "ACME", "max_budget": Decimal(5)}
    odd = Change(
        "update", "litellm", ENVIRONMENT, "acme", (FieldChange(path, None, 1, FieldKind.TEXT),)
    )
    with pytest.raises(ReconcilerError, match="is not a LiteLLM field to send"):
        request_body(odd)


def test_plan_time_refusals_need_no_request_beyond_the_list(
    provider: LiteLLMProvider, emu: RunningEmulator[LiteLLMState]
) -> None:
    """``refusal`` judges a planned update on what the list read: a shared budget row or a
    zero max_budget is refused; create-only fields are left to the planner's rule."""
    provider.read_live(ENVIRONMENT, [])
    before = emu.stats()["requests"]
    shared = provider.refusal(change("update", "free-1", max_budget=Decimal(10)))
    assert shared is not None
    assert "shared with 1 other customer(s)" in shared
    zero = provider.refusal(change("update", "acme", max_budget=Decimal(0)))
    assert zero is not None
    assert "ignores 0" in zero
    assert provider.refusal(change("update", "acme", budget_duration="7d")) is None
    assert provider.refusal(change("update", "acme", alias="ok")) is None
    assert provider.refusal(change("create", "new", max_budget=Decimal(0))) is None
    assert emu.stats()["requests"] == before


def test_the_audit_body_of_a_create_is_the_body_sent(tmp_path: Path) -> None:
    """A create's audit record holds the body /customer/new received, without ``user_id``: a
    field declared null, which the create leaves out, is left out of both."""
    app = ScriptedApp(script(Answer(200, {"user_id": "hooli"})))
    created = change(
        "create", "hooli", alias="Hooli", max_budget=Decimal("500"), default_model=None
    )
    log = tmp_path / "audit.jsonl"
    with serve(app) as url, AuditLog.open(log, AuditContext("ci")) as audit:
        provider = LiteLLMProvider.open(url, Secret(LITELLM_TEST_KEY))
        try:
            audit.record_pending(created)
            assert provider.apply(created).ok
        finally:
            provider.close()
    (new,) = [seen for seen in app.seen if seen.raw_path == "/customer/new"]
    sent = json.loads(new.body)
    assert sent.pop("user_id") == "hooli"
    (pending,) = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    # The log keeps numbers as exact text: compared as text.
    assert {k: str(v) for k, v in sent.items()} == {k: str(v) for k, v in pending["body"].items()}
    assert "default_model" not in sent
