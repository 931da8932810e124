"""A repository with Respan and Autumn manifests side by side: one plan, one apply, two APIs,
each reached with its own credentials (two emulators over loopback HTTP)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_helpers import Run, isolate, point_at, results

from reconciler.audit import verify_log
from reconciler.emulator import RunningEmulator
from reconciler.providers.autumn.emulator import AutumnState
from reconciler.providers.respan.emulator import RespanState

RESPAN_SEED = {
    "customers": [
        {"customer_identifier": "acme", "name": "Acme", "period_budget": 250},
        {"customer_identifier": "old-respan", "name": "Old"},
    ]
}
AUTUMN_SEED = {
    "customers": [
        {
            "id": "acme",
            "name": "Acme",
            "metadata": {"tier": "gold", "legacy": "v1"},
            "billing_controls": {
                "spend_limits": [{"feature_id": "messages", "enabled": True, "overage_limit": 50}]
            },
        },
        {"id": "old-autumn", "name": "Old"},
    ]
}
RESPAN_MANIFEST = """\
provider: respan
environment: prod
customers:
  - customer_identifier: acme
    period_budget: 300
"""
AUTUMN_MANIFEST = """\
provider: autumn
environment: sandbox
customers:
  - id: acme
    metadata: {tier: gold}
    billing_controls:
      spend_limits:
        - {feature_id: messages, enabled: true, overage_limit: 80}
  - id: hooli
    name: Hooli
"""
# One pacing for both providers: --rate-limit would need --provider in a mixed project.
CONFIG = """\
manifests: [customers/]
rate_limit: 10000/s
policy:
  max_deletes: 2
"""


@dataclass
class Apis:
    """The two emulators a mixed project talks to."""

    respan: RunningEmulator[RespanState]
    autumn: RunningEmulator[AutumnState]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose reconciler.yaml lists customers/ with one manifest per provider."""
    isolate(monkeypatch, tmp_path)
    (tmp_path / "customers").mkdir()
    (tmp_path / "customers" / "respan.yaml").write_text(RESPAN_MANIFEST, encoding="utf-8")
    (tmp_path / "customers" / "autumn.yaml").write_text(AUTUMN_MANIFEST, encoding="utf-8")
    (tmp_path / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


@pytest.fixture
def apis(
    project: Path,
    respan_emulator: Callable[..., RunningEmulator[RespanState]],
    autumn_emulator: Callable[..., RunningEmulator[AutumnState]],
    monkeypatch: pytest.MonkeyPatch,
) -> Apis:
    """Both emulators, each reached through its own provider's environment variables."""
    found = Apis(respan_emulator(seed=RESPAN_SEED), autumn_emulator(seed=AUTUMN_SEED))
    point_at(monkeypatch, found.respan)
    point_at(monkeypatch, found.autumn)
    return found


def test_one_plan_covers_both_providers(apis: Apis, cli: Callable[..., Run]) -> None:
    """Respan and Autumn changes appear in one plan, each read from its own API."""
    run = cli("plan", "--prune", "--format", "json")
    assert run.code == 0, run.err
    document = json.loads(run.out)
    actions = sorted((c["provider"], c["action"], c["id"]) for c in document["changes"])
    assert actions == [
        ("autumn", "create", "hooli"),
        ("autumn", "delete", "old-autumn"),
        ("autumn", "update", "acme"),
        ("respan", "delete", "old-respan"),
        ("respan", "update", "acme"),
    ]
    assert apis.respan.stats()["requests"] == {"POST /api/users/list/": 1}
    # hooli, declared but not listed, is confirmed missing with one customers.get.
    assert apis.autumn.stats()["requests"] == {
        "POST /v1/customers.list": 1,
        "POST /v1/customers.get": 1,
    }


def test_one_apply_converges_both_providers_with_their_own_keys(
    apis: Apis, cli: Callable[..., Run], project: Path
) -> None:
    """Apply changes both APIs in one run and audits each change; a second plan is empty."""
    run = cli("apply", "--prune", "--auto-approve")
    assert run.code == 0, run.out + run.err
    assert "Apply complete: 5 applied, 0 failed" in run.out
    respan_acme = apis.respan.state.get_customer("acme", environment="prod")
    assert respan_acme is not None
    assert respan_acme["period_budget"] == 300
    autumn_acme = apis.autumn.state.get_customer("acme")
    assert autumn_acme is not None
    assert autumn_acme["metadata"] == {"tier": "gold"}
    assert autumn_acme["billing_controls"]["spend_limits"][0]["overage_limit"] == 80
    assert apis.autumn.state.get_customer("hooli") is not None
    assert apis.autumn.state.get_customer("old-autumn") is None
    assert apis.respan.state.get_customer("old-respan", environment="prod") is None
    # Every request of each API was authenticated with that API's own key (the one 404 is
    # Autumn's customers.get confirming that hooli is missing before it is created).
    for api in (apis.respan, apis.autumn):
        responses = api.stats()["responses"]
        assert responses
        failed = [status for status in responses if status.startswith(("4", "5"))]
        assert failed == (["404"] if api is apis.autumn else [])

    log = project / "reconciler-audit.jsonl"
    written = results(log)
    assert sorted((r["provider"], r["action"], r["customer_id"]) for r in written) == [
        ("autumn", "create", "hooli"),
        ("autumn", "delete", "old-autumn"),
        ("autumn", "update", "acme"),
        ("respan", "delete", "old-respan"),
        ("respan", "update", "acme"),
    ]
    assert verify_log(log).intact
    assert cli("plan", "--prune", "--detailed-exitcode").code == 0


def test_a_saved_mixed_plan_applies_to_both_apis(apis: Apis, cli: Callable[..., Run]) -> None:
    """plan --out records both APIs; apply --plan applies exactly it to each."""
    assert cli("plan", "--out", "plan.json").code == 0
    apis.respan.reset_stats()
    apis.autumn.reset_stats()
    run = cli("apply", "--plan", "plan.json", "--auto-approve")
    assert run.code == 0, run.out + run.err
    assert "Apply complete: 3 applied" in run.out
    assert apis.respan.stats()["requests"]["PATCH /api/users/{customer_identifier}/"] == 1
    autumn_requests = apis.autumn.stats()["requests"]
    assert autumn_requests["POST /v1/customers.update"] == 1
    assert autumn_requests["POST /v1/customers.get_or_create"] == 1


def test_keys_of_one_provider_never_reach_the_other(
    apis: Apis, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Respan key in AUTUMN_SECRET_KEY is refused as no Autumn key, with neither key shown."""
    monkeypatch.setenv("AUTUMN_SECRET_KEY", apis.respan.api_key)
    run = cli("plan")
    assert run.code == 1
    assert "AUTUMN_SECRET_KEY is not an Autumn secret key" in run.err
    assert apis.respan.api_key not in run.err + run.out
    assert apis.autumn.stats()["total_requests"] == 0
