"""The provider conformance suite: one set of tests run for every installed provider.

Each test starts the provider's own emulator from its sample seed, over real loopback HTTP, and
drives the real CLI with the provider's documented variables: export, then plan and apply
against what was exported. Nothing here names a provider; a provider installed through the
``reconciler.providers`` entry points is tested as soon as it is installed. The suite's other
half, tests/test_providers_base.py, drives the ``Provider`` interface itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cli_helpers import FAULTS, Run, assert_applied_once_despite_faults, load_schema, results
from conformance_helpers import EDITS, KEY_BODY, key_for, start

from reconciler.domain import FieldKind
from reconciler.emulator import RunningEmulator
from reconciler.providers.plugin import ProviderPlugin
from reconciler.providers.registry import plugins
from reconciler.settings.connection import resolve_settings

CUSTOMERS = Path("customers") / "exported.yaml"
AUDIT = Path("audit.jsonl")
AUDIT_SCHEMA = load_schema("audit.schema.json")
PLAN_SCHEMA = load_schema("plan.schema.json")
CONFIG = f"manifests:\n  - customers/\naudit_log: {AUDIT}\npolicy:\n  max_deletes: 1\n"


@dataclass
class Live:
    """One provider's emulator, reached through the provider's own variables."""

    plugin: ProviderPlugin
    emulator: RunningEmulator[Any]
    key: str

    @property
    def id_field(self) -> str:
        return self.plugin.model.id_field


@pytest.fixture(params=sorted(plugins()))
def plugin(request: pytest.FixtureRequest) -> ProviderPlugin:
    """Each installed provider in turn."""
    return plugins()[request.param]


@pytest.fixture
def live(plugin: ProviderPlugin, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """The provider's emulator from its sample seed, the project configured for it."""
    assert plugin.sample_seed is not None, f"{plugin.name} brings no sample seed"
    emulator = start(plugin)
    monkeypatch.setenv(plugin.connection.base_url_variable, emulator.url)
    monkeypatch.setenv(plugin.connection.key_variable, key_for(plugin))
    (workdir / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    try:
        yield Live(plugin, emulator, key_for(plugin))
    finally:
        emulator.stop()


def export(cli: Callable[..., Run], live: Live) -> dict[str, Any]:
    # --force: a second export of a test reads live state again into the same file.
    run = cli("export", "--provider", live.plugin.name, "-o", str(CUSTOMERS), "--force")
    assert run.code == 0, run.err
    document = yaml.safe_load(CUSTOMERS.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def write(document: dict[str, Any]) -> None:
    CUSTOMERS.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def editable(live: Live, document: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A customer of ``document`` and a field of it an update can change."""
    defaults = document.get("defaults") or {}
    for customer in document["customers"]:
        for name, spec in live.plugin.model.fields.items():
            if spec.kind in EDITS and spec.updatable and (name in customer or name in defaults):
                return customer, name
    raise AssertionError(f"{live.plugin.name}: no exported customer has an editable field")


def edit_every_customer(live: Live, document: dict[str, Any]) -> list[str]:
    """Change one editable field of every customer of ``document`` that has one; their ids."""
    defaults = document.get("defaults") or {}
    edited = []
    for customer in document["customers"]:
        for name, spec in live.plugin.model.fields.items():
            if spec.kind in EDITS and spec.updatable and (name in customer or name in defaults):
                customer[name] = EDITS[spec.kind](customer.get(name, defaults.get(name)))
                edited.append(customer[live.id_field])
                break
    assert edited, f"{live.plugin.name}: no exported customer has an editable field"
    return edited


def in_sync(cli: Callable[..., Run]) -> Run:
    run = cli("plan", "--prune", "--detailed-exitcode")
    assert run.code == 0, run.out + run.err
    return run


def test_the_plugin_is_complete(plugin: ProviderPlugin) -> None:
    """Every provider brings its model, variables, schema fragment, emulator and sample seed,
    and its fragment declares exactly its fields."""
    assert plugin.model.name == plugin.name
    assert plugin.connection.base_url_variable != plugin.connection.key_variable
    fragment = plugin.schema_fragment()
    assert fragment["if"]["properties"]["provider"]["enum"] == [plugin.name]
    declared = {
        name
        for definition in fragment["$defs"].values()
        for name in definition.get("properties", {})
    }
    assert set(plugin.model.fields) <= declared
    assert plugin.sample_seed_document() is not None
    assert plugin.emulator_parts().default_api_key


def test_export_round_trip_plans_no_change(live: Live, cli: Callable[..., Run]) -> None:
    """What export writes from the sample seed validates and plans no change, pruning
    included: every listed customer and field comes back as it is live."""
    document = export(cli, live)
    assert document["customers"], "the sample seed exports no customer"
    assert cli("validate", "--strict").code == 0
    in_sync(cli)


def test_an_update_is_applied_then_in_sync(live: Live, cli: Callable[..., Run]) -> None:
    """A changed field plans one update (exit 2; as JSON, valid against plan.schema.json),
    apply sends it and audits it in one verifiable record, and the next plan is clean."""
    document = export(cli, live)
    customer, name = editable(live, document)
    defaults = document.get("defaults") or {}
    kind = live.plugin.model.fields[name].kind
    before = customer.get(name, defaults.get(name))
    customer[name] = EDITS[kind](before)
    write(document)
    planned = cli("plan", "--detailed-exitcode")
    assert planned.code == 2, planned.out + planned.err
    assert customer[live.id_field] in planned.out
    as_json = cli("plan", "--format", "json")
    assert as_json.code == 0, as_json.err
    plan = json.loads(as_json.out)
    jsonschema.validate(plan, PLAN_SCHEMA)
    (change,) = plan["changes"]
    assert (change["action"], change["provider"], change["id"]) == (
        "update",
        live.plugin.name,
        customer[live.id_field],
    )
    assert [field["path"] for field in change["fields"]] == [name]
    applied = cli("apply", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    in_sync(cli)
    (record,) = results(AUDIT)
    jsonschema.validate(record, AUDIT_SCHEMA)
    assert [record[k] for k in ("provider", "environment", "action", "outcome")] == [
        live.plugin.name,
        document.get("environment", live.plugin.model.default_environment),
        "update",
        "applied",
    ]
    assert record["customer_id"] == customer[live.id_field]
    assert record["plan_checksum"].startswith("sha256:")
    assert [change["path"] for change in record["fields"]] == [name]
    if kind is FieldKind.TEXT:
        assert record["fields"] == [{"path": name, "before": before, "after": customer[name]}]
    verified = cli("audit", "verify", str(AUDIT))
    assert verified.code == 0, verified.out + verified.err


def test_prune_deletes_an_undeclared_customer(live: Live, cli: Callable[..., Run]) -> None:
    """A customer left out of the manifests is deleted by apply --prune, and is gone live."""
    document = export(cli, live)
    gone = document["customers"].pop()[live.id_field]
    write(document)
    applied = cli("apply", "--prune", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    in_sync(cli)
    after = export(cli, live)
    assert gone not in [customer[live.id_field] for customer in after["customers"]]


def test_a_declared_customer_missing_live_is_created_or_reported(
    live: Live, cli: Callable[..., Run]
) -> None:
    """A declared customer that does not exist is created when the provider creates
    customers, else reported missing with nothing sent."""
    document = export(cli, live)
    template = dict(document["customers"][0])
    template[live.id_field] = "conformance-new"
    template.pop("lifecycle", None)
    document["customers"].append(template)
    write(document)
    planned = cli("plan")
    assert planned.code == 0, planned.err
    assert "conformance-new" in planned.out
    applied = cli("apply", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    ids = [customer[live.id_field] for customer in export(cli, live)["customers"]]
    assert ("conformance-new" in ids) is live.plugin.model.creates_missing


def test_injected_faults_are_retried_to_the_same_result(
    plugin: ProviderPlugin,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., Run],
    no_backoff: None,
) -> None:
    """500s, 429s and dropped connections from the emulator are retried: export, an apply of an
    update to every customer and a prune, and the clean plan after it come out as without
    faults, each change applied exactly once though faults of every kind were injected."""
    # Paced far above the documented limits: after the first injected 429 a run spaces its
    # requests evenly, which at a documented 60 per minute would cost a second each.
    config = CONFIG + "rate_limit: 1000/s\n"
    (workdir / "reconciler.yaml").write_text(config, encoding="utf-8")
    with start(plugin, seed=7, **FAULTS) as emulator:
        monkeypatch.setenv(plugin.connection.base_url_variable, emulator.url)
        monkeypatch.setenv(plugin.connection.key_variable, key_for(plugin))
        current = Live(plugin, emulator, key_for(plugin))
        document = export(cli, current)
        edited = edit_every_customer(current, document)
        pruned = document["customers"].pop()[current.id_field]
        write(document)
        applied = cli("apply", "--prune", "--auto-approve", "--parallelism", "8")
        assert applied.code == 0, applied.out + applied.err
        in_sync(cli)
        # Each change was sent once (one pending record each, every one with its result) and
        # applied: a retry never doubled or lost one.
        assert_applied_once_despite_faults(emulator, AUDIT, len(set(edited) | {pruned}))


def test_pacing_defaults_to_the_documented_limits(plugin: ProviderPlugin) -> None:
    """Without flags or settings, a provider is paced at its documented rate limits; a
    --rate-limit replaces them; an in-process emulator is unpaced."""
    environ = {
        plugin.connection.base_url_variable: "https://billing.example",
        plugin.connection.key_variable: key_for(plugin),
    }
    settings = resolve_settings(plugin.name, config=None, environ=environ)
    assert dict(settings.rate_limits) == dict(plugin.connection.rate_limits)
    flagged = resolve_settings(plugin.name, config=None, environ=environ, rate_limit_flag="9/s")
    assert [(v.count, v.per_seconds) for v in flagged.rate_limits.values()] == [(9, 1.0)]


def test_a_paced_run_names_its_pacing(live: Live, cli: Callable[..., Run]) -> None:
    """With --rate-limit, -v says the run is paced at it, and the run still succeeds."""
    export(cli, live)
    run = cli("plan", "-v", "--rate-limit", "1000/s", "--detailed-exitcode")
    assert run.code == 0, run.err
    assert "pacing default 1000/s" in run.err


def test_the_key_never_appears(live: Live, cli: Callable[..., Run], workdir: Path) -> None:
    """Across export, plan, a saved plan applied, apply and an authentication failure, neither
    output nor any file written (saved plan, audit log, manifests) holds the key."""
    runs = []
    document = export(cli, live)
    customer, name = editable(live, document)
    defaults = document.get("defaults") or {}
    kind = live.plugin.model.fields[name].kind
    customer[name] = EDITS[kind](customer.get(name, defaults.get(name)))
    write(document)
    runs.append(cli("plan", "-v", "--out", "saved.plan"))
    runs.append(cli("apply", "-v", "--plan", "saved.plan", "--auto-approve"))
    assert runs[-1].code == 0, runs[-1].out + runs[-1].err
    runs.append(cli("apply", "-v", "--auto-approve"))
    wrong = key_for(live.plugin).replace(KEY_BODY, KEY_BODY[::-1])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(live.plugin.connection.key_variable, wrong)
        refused = cli("plan", "-v")
    assert refused.code == 1
    runs.append(refused)
    texts = [run.out + run.err for run in runs]
    texts += [path.read_text(encoding="utf-8") for path in workdir.rglob("*") if path.is_file()]
    assert not [text for text in texts if KEY_BODY in text or KEY_BODY[::-1] in text]
