"""Autumn end to end: ``reconciler plan`` and ``apply`` against the Autumn emulator over HTTP."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cli_helpers import (
    AUDIT_LOG,
    FAULTS,
    ROOT,
    Run,
    assert_applied_once_despite_faults,
    isolate,
    load_schema,
    point_at,
    results,
)

from reconciler.audit import verify_log
from reconciler.emulator import RunningEmulator
from reconciler.providers.autumn.emulator import AutumnState

Emulators = Callable[..., RunningEmulator[AutumnState]]
PLAN_SCHEMA = load_schema("plan.schema.json")
AUDIT_SCHEMA = load_schema("audit.schema.json")
FAST = ("--rate-limit", "10000/s")
WRITES = (
    "POST /v1/customers.get_or_create",
    "POST /v1/customers.update",
    "POST /v1/customers.delete",
)

SEED = {
    "customers": [
        {
            "id": "acme",
            "name": "Acme",
            "email": "billing@acme.example",
            "metadata": {"tier": "enterprise", "legacy_plan": "v1"},
            "billing_controls": {
                "spend_limits": [
                    {"feature_id": "messages", "enabled": True, "overage_limit": 100.0},
                    {"feature_id": "tokens", "enabled": True, "overage_limit": 250.5},
                ]
            },
        },
        {
            "id": "globex",
            "name": "Globex",
            "metadata": {"tier": "growth"},
            "billing_controls": {
                "spend_limits": [
                    {"feature_id": "api_calls", "enabled": False, "overage_limit": 0},
                    {"feature_id": "messages", "enabled": True, "overage_limit": 40.0},
                ]
            },
        },
        {
            "id": "initech",
            "name": "Initech",
            "billing_controls": {
                "spend_limits": [{"feature_id": "messages", "enabled": True, "overage_limit": 50}]
            },
        },
        {"id": "stray", "name": "Stray", "metadata": {"tier": "trial"}},
        {"id": "acme", "env": "live", "name": "Acme (live)"},
    ]
}

DESIRED = """\
provider: autumn
environment: sandbox
customers:
  - id: acme
    name: Acme
    metadata: {tier: enterprise}
    billing_controls:
      spend_limits:
        - {feature_id: tokens, enabled: true, overage_limit: 250.50}
        - {feature_id: messages, enabled: true, overage_limit: 100}
  - id: globex
    name: Globex
    billing_controls:
      spend_limits:
        - {feature_id: messages, enabled: true, overage_limit: 40}
        - {feature_id: api_calls, enabled: false, overage_limit: 0}
  - id: initech
    billing_controls:
      spend_limits:
        - {feature_id: messages, enabled: true, overage_limit: 75.00}
  - id: hooli
    name: Hooli
    email: accounts@hooli.example
    fingerprint: hooli-main
    send_email_receipts: true
    metadata: {tier: enterprise, owner: sales}
    billing_controls:
      spend_limits:
        - {feature_id: messages, enabled: true, overage_limit: 500}
"""


@pytest.fixture
def project(workdir: Path) -> Path:
    """A project directory (manifest, policy allowing a prune delete) as working directory."""
    (workdir / "customers.yaml").write_text(DESIRED, encoding="utf-8")
    (workdir / "reconciler.yaml").write_text("policy:\n  max_deletes: 50\n", encoding="utf-8")
    return workdir


@pytest.fixture
def emulator(
    project: Path, autumn_emulator: Emulators, monkeypatch: pytest.MonkeyPatch
) -> RunningEmulator[AutumnState]:
    """A seeded Autumn emulator the CLI reaches through AUTUMN_BASE_URL / AUTUMN_SECRET_KEY."""
    running = autumn_emulator(seed=SEED)
    point_at(monkeypatch, running)
    return running


def customer(running: RunningEmulator[AutumnState], identifier: str) -> dict[str, Any]:
    found = running.state.get_customer(identifier)
    assert found is not None, identifier
    return found


def limits(found: dict[str, Any]) -> dict[str, Any]:
    return {i["feature_id"]: i["overage_limit"] for i in found["billing_controls"]["spend_limits"]}


def writes(running: RunningEmulator[AutumnState]) -> int:
    requests = running.stats()["requests"]
    return sum(int(requests.get(route, 0)) for route in WRITES)


# -- plan --------------------------------------------------------------------------------------


def test_plan_shows_create_update_and_prune_delete_but_not_a_reordered_list(
    emulator: RunningEmulator[AutumnState], cli: Callable[..., Run]
) -> None:
    """Create, metadata key removal, a changed limit and a prune delete; globex is unchanged."""
    run = cli("plan", "customers.yaml", "--prune", "--detailed-exitcode", *FAST)
    assert run.code == 2, run.err
    assert "+ autumn/sandbox/hooli" in run.out
    assert "~ autumn/sandbox/acme" in run.out
    assert 'metadata.legacy_plan: "v1" → (none)' in run.out
    assert (
        "billing_controls.spend_limits[messages].overage_limit: $50.00 → $75.00 (+$25.00, +50.0%)"
        in run.out
    )
    assert "- autumn/sandbox/stray" in run.out
    assert "globex" not in run.out
    assert "Plan: 1 to create, 2 to update, 1 to delete, 0 missing, 1 unchanged." in run.out
    # One list, and one get confirming that hooli, not listed, is missing indeed.
    assert emulator.stats()["requests"] == {
        "POST /v1/customers.list": 1,
        "POST /v1/customers.get": 1,
    }


def test_json_plan_is_schema_valid_and_sends_only_changed_keys(
    emulator: RunningEmulator[AutumnState], cli: Callable[..., Run]
) -> None:
    """The JSON plan validates and names the Autumn paths that change, before and after."""
    run = cli("plan", "customers.yaml", "--format", "json", *FAST)
    assert run.code == 0, run.err
    document = json.loads(run.out)
    jsonschema.validate(document, PLAN_SCHEMA)
    assert document["summary"] == {
        "create": 1,
        "update": 2,
        "delete": 0,
        "missing": 0,
        "unchanged": 1,
    }
    acme = next(c for c in document["changes"] if c["id"] == "acme")
    assert (acme["action"], acme["provider"], acme["environment"]) == (
        "update",
        "autumn",
        "sandbox",
    )
    assert [(f["path"], f["before"], f["after"]) for f in acme["fields"]] == [
        ("metadata.legacy_plan", "v1", None)
    ]


# -- apply ---------------------------------------------------------------------------------------


def test_apply_converges_and_a_second_plan_is_empty(
    emulator: RunningEmulator[AutumnState], cli: Callable[..., Run]
) -> None:
    """Apply creates, updates and prunes; afterwards plan is empty and apply sends nothing."""
    run = cli("apply", "customers.yaml", "--prune", "--auto-approve", *FAST)
    assert run.code == 0, run.out + run.err
    assert "Apply complete: 4 applied, 0 failed, 0 stale, 0 not attempted." in run.out

    hooli = customer(emulator, "hooli")
    assert (hooli["name"], hooli["email"], hooli["fingerprint"]) == (
        "Hooli",
        "accounts@hooli.example",
        "hooli-main",
    )
    assert hooli["send_email_receipts"] is True
    assert hooli["metadata"] == {"tier": "enterprise", "owner": "sales"}
    assert limits(hooli) == {"messages": 500}
    assert customer(emulator, "acme")["metadata"] == {"tier": "enterprise"}
    assert limits(customer(emulator, "acme")) == {"messages": 100, "tokens": 250.5}
    assert limits(customer(emulator, "initech")) == {"messages": 75}
    assert emulator.state.get_customer("stray") is None
    assert emulator.state.get_customer("acme", env="live") is not None
    requests = emulator.stats()["requests"]
    assert [requests.get(route) for route in WRITES] == [1, 2, 1]

    again = cli("plan", "customers.yaml", "--prune", "--detailed-exitcode", *FAST)
    assert again.code == 0, again.out
    emulator.reset_stats()
    second = cli("apply", "customers.yaml", "--prune", "--auto-approve", *FAST)
    assert (second.code, "Nothing to apply." in second.out) == (0, True)
    assert writes(emulator) == 0


def test_every_change_is_audited_with_the_leaf_that_moved(
    emulator: RunningEmulator[AutumnState], cli: Callable[..., Run], project: Path
) -> None:
    """One schema-valid record per change, a spend limit's record names the limit it moved,
    and the chain verifies."""
    run = cli("apply", "customers.yaml", "--prune", "--auto-approve", *FAST)
    assert run.code == 0, run.err
    log = project / "reconciler-audit.jsonl"
    written = results(log)
    assert sorted((r["action"], r["customer_id"], r["outcome"]) for r in written) == [
        ("create", "hooli", "applied"),
        ("delete", "stray", "applied"),
        ("update", "acme", "applied"),
        ("update", "initech", "applied"),
    ]
    for record in written:
        jsonschema.validate(record, AUDIT_SCHEMA)
        assert (record["provider"], record["environment"]) == ("autumn", "sandbox")
    initech = next(r for r in written if r["customer_id"] == "initech")
    assert initech["fields"] == [
        {
            "path": "billing_controls.spend_limits[messages].overage_limit",
            "before": "50.00",
            "after": "75.00",
        }
    ]
    assert verify_log(log).intact


def test_saved_plan_refuses_customers_changed_or_created_since(
    emulator: RunningEmulator[AutumnState], cli: Callable[..., Run], project: Path
) -> None:
    """A moved limit and a customer created meanwhile are stale; the rest is applied."""
    saved = cli("plan", "customers.yaml", "--out", "plan.json", *FAST)
    assert saved.code == 0, saved.err
    moved = {"spend_limits": [{"feature_id": "messages", "enabled": True, "overage_limit": 60}]}
    emulator.state.update_customer("initech", {"billing_controls": moved})
    emulator.state.add_customer({"id": "hooli", "name": "Someone else's Hooli"})

    run = cli("apply", "--plan", "plan.json", "--auto-approve", *FAST)
    assert run.code == 1
    assert "1 applied, 0 failed, 2 stale, 0 not attempted." in run.out
    assert "created by someone else" in run.out
    assert limits(customer(emulator, "initech")) == {"messages": 60}  # nothing overwritten
    assert customer(emulator, "hooli")["name"] == "Someone else's Hooli"
    assert customer(emulator, "acme")["metadata"] == {"tier": "enterprise"}
    outcome = {r["customer_id"]: r for r in results(project / "reconciler-audit.jsonl")}
    assert outcome["hooli"]["outcome"] == outcome["initech"]["outcome"] == "stale"
    assert outcome["initech"]["drift"] == [  # the leaf that moved, as the plan names it
        {
            "path": "billing_controls.spend_limits[messages].overage_limit",
            "planned": "50.00",
            "live": "60.00",
        }
    ]


def test_a_fresh_saved_plan_applies_exactly(
    emulator: RunningEmulator[AutumnState], cli: Callable[..., Run]
) -> None:
    """With nothing moved, apply --plan applies every planned change and converges."""
    assert cli("plan", "customers.yaml", "--prune", "--out", "plan.json", *FAST).code == 0
    run = cli("apply", "--plan", "plan.json", "--auto-approve", *FAST)
    assert run.code == 0, run.out + run.err
    assert "Apply complete: 4 applied" in run.out
    assert cli("plan", "customers.yaml", "--prune", "--detailed-exitcode", *FAST).code == 0


def many(count: int) -> tuple[dict[str, Any], str]:
    """A seed of ``count`` customers and a manifest changing each one's spend limit."""
    seed = {
        "customers": [
            {
                "id": f"c{index:03}",
                "billing_controls": {"spend_limits": [{"feature_id": "m", "overage_limit": 1}]},
            }
            for index in range(count)
        ]
    }
    body = "".join(
        f"  - id: c{index:03}\n    metadata: {{n: '{index}'}}\n"
        f"    billing_controls: {{spend_limits: [{{feature_id: m, overage_limit: {index}.5}}]}}\n"
        for index in range(count)
    )
    return seed, f"provider: autumn\nenvironment: sandbox\ncustomers:\n{body}"


@pytest.mark.usefixtures("no_backoff")
def test_faults_never_apply_a_change_twice_or_lose_one(
    autumn_emulator: Emulators,
    cli: Callable[..., Run],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under 500s, 429s and dropped connections, each of 150 changes is applied exactly once."""
    seed, manifest = many(100)
    seed["customers"] += [{"id": f"old{index:02}"} for index in range(20)]
    manifest += "".join(f"  - id: new{index:02}\n    name: New {index}\n" for index in range(30))
    (project / "customers.yaml").write_text(manifest, encoding="utf-8")
    running = autumn_emulator(seed=seed, fault_seed=3, **FAULTS)
    point_at(monkeypatch, running)
    args = ("customers.yaml", "--prune", "--auto-approve", *FAST)
    run = cli("apply", *args, "--parallelism", "8")
    assert run.code == 0, run.out + run.err
    assert_applied_once_despite_faults(running, project / AUDIT_LOG, 150)
    assert running.state.count("sandbox") == 130
    assert limits(customer(running, "c042")) == {"m": 42.5}
    assert cli("plan", *args[:2], "--detailed-exitcode", *FAST).code == 0


# -- environments --------------------------------------------------------------------------------


def test_a_live_manifest_with_a_sandbox_key_is_refused_before_any_request(
    emulator: RunningEmulator[AutumnState], cli: Callable[..., Run], project: Path
) -> None:
    """environment: live with an am_sk_test_ key: exit 1 naming the variable, nothing read."""
    (project / "customers.yaml").write_text(
        DESIRED.replace("environment: sandbox", "environment: live"), encoding="utf-8"
    )
    for args in (("plan",), ("apply", "--auto-approve")):
        run = cli(*args, "customers.yaml", *FAST)
        assert run.code == 1
        assert "AUTUMN_SECRET_KEY is a sandbox key, but customers.yaml:4" in run.err
        assert "declares environment live" in run.err
        assert "Traceback" not in run.err
    assert emulator.stats()["total_requests"] == 0


def test_a_live_key_manages_live_customers(
    emulator: RunningEmulator[AutumnState],
    cli: Callable[..., Run],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With an am_sk_live_ key a live manifest plans and applies against live only."""
    live_key = "am_sk_live_" + emulator.api_key.removeprefix("am_sk_test_")
    point_at(monkeypatch, emulator, key=live_key)
    (project / "customers.yaml").write_text(
        "provider: autumn\nenvironment: live\ncustomers:\n  - id: acme\n    name: Acme Live\n",
        encoding="utf-8",
    )
    run = cli("apply", "customers.yaml", "--auto-approve", *FAST)
    assert run.code == 0, run.err
    assert "~ autumn/live/acme" in run.out
    assert customer(emulator, "acme")["name"] == "Acme"
    live = emulator.state.get_customer("acme", env="live")
    assert live is not None
    assert live["name"] == "Acme Live"


# -- the example repository ----------------------------------------------------------------------


def test_the_example_plans_what_its_comments_promise(
    tmp_path: Path, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/autumn against its in-process emulator: create, two updates, a prune delete."""
    copy = tmp_path / "example"
    shutil.copytree(ROOT / "examples" / "autumn", copy)
    isolate(monkeypatch, copy)
    run = cli("plan", "--prune", "--format", "json")
    assert run.code == 0, run.err
    document = json.loads(run.out)
    assert document["summary"] == {
        "create": 1,
        "update": 2,
        "delete": 1,
        "missing": 0,
        "unchanged": 1,
    }
    paths = {c["id"]: [f["path"] for f in c["fields"]] for c in document["changes"]}
    assert paths["acme-corp"] == ["metadata.legacy_plan"]
    assert paths["initech"] == ["billing_controls.spend_limits[messages].overage_limit"]
    assert {c["id"]: c["action"] for c in document["changes"]}["trial-expired-co"] == "delete"
    applied = cli("apply", "--prune", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert "Apply complete: 4 applied, 0 failed" in applied.out
