"""The provider conformance suite: one set of tests run for every installed provider.

Each test starts the provider's own emulator from its sample seed, over real loopback HTTP, and
drives the real CLI with the provider's documented variables: export, then plan and apply
against what was exported. Nothing here names a provider; a provider installed through the
``reconciler.providers`` entry points is tested as soon as it is installed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cli_helpers import FAULTS, Run, assert_applied_once_despite_faults, load_schema, results
from client_helpers import (
    FAST,
    GIVE_UP,
    ONCE,
    PERSISTENT_FAULTS,
    injected_failures,
    texts_logged,
)
from conftest import stop_all

from reconciler.clients.http import ApiClient
from reconciler.clients.pacing import Pacer
from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.domain import FieldKind, LiveCustomer
from reconciler.emulator import EmulatorSettings, RunningEmulator, start_emulator
from reconciler.errors import (
    APIError,
    AuthenticationError,
    InvalidRequestError,
    RateLimitedError,
    ReconcilerError,
)
from reconciler.plan.model import Action, Change, FieldChange
from reconciler.providers.base import ApplyResult, Provider
from reconciler.providers.plugin import OpenRequest, ProviderPlugin
from reconciler.providers.registry import plugins
from reconciler.settings.connection import resolve_settings
from reconciler.settings.ratelimit import RateLimit

KEY_BODY = "conformance0123456789abcdefSECRET"
CUSTOMERS = Path("customers") / "exported.yaml"
AUDIT = Path("audit.jsonl")
AUDIT_SCHEMA = load_schema("audit.schema.json")
PLAN_SCHEMA = load_schema("plan.schema.json")
CONFIG = f"manifests:\n  - customers/\naudit_log: {AUDIT}\npolicy:\n  max_deletes: 1\n"
# Kinds a test can change by rewriting the value, and how.
EDITS: dict[FieldKind, Callable[[Any], Any]] = {
    FieldKind.TEXT: lambda value: f"{value or 'x'} (edited)",
    FieldKind.MONEY: lambda value: (value or 0) + 7,
}


@dataclass
class Live:
    """One provider's emulator, reached through the provider's own variables."""

    plugin: ProviderPlugin
    emulator: RunningEmulator[Any]
    key: str

    @property
    def id_field(self) -> str:
        return self.plugin.model.id_field


def key_for(plugin: ProviderPlugin) -> str:
    return plugin.connection.emulator_key_prefix + KEY_BODY


def start(plugin: ProviderPlugin, **settings: Any) -> RunningEmulator[Any]:
    options: dict[str, Any] = {"api_key": key_for(plugin), "rate_limit": None, **settings}
    seed = plugin.sample_seed_document()
    return start_emulator(plugin.name, EmulatorSettings(**options), seed=seed)


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


def pacers_of(provider: object) -> list[Pacer]:
    """Every pacer of the API clients a provider holds (one client, or one per environment)."""
    held = list(vars(provider).values())
    held += [v for value in held if isinstance(value, dict) for v in value.values()]
    clients = [value for value in held if isinstance(value, ApiClient)]
    assert clients, f"no API client found in {provider!r}"
    return [p for c in clients for p in c.transport.pacers.values() if isinstance(p, Pacer)]


@pytest.mark.parametrize("burst", [None, 1, 5])
def test_burst_reaches_every_pacer(plugin: ProviderPlugin, burst: int | None) -> None:
    """providers.<name>.burst, handed over in the OpenRequest, shapes every pacer of the
    provider's clients (None: the window's whole count); with no rate limit nothing is paced."""
    limits = {"default": RateLimit(60, 60.0), **plugin.connection.rate_limits}

    def opened(rate_limits: dict[str, RateLimit]) -> Any:
        return plugin.open(
            OpenRequest(
                base_url="http://127.0.0.1:9",
                api_key=Secret(key_for(plugin)),
                rate_limits=rate_limits,
                key_source="test",
                api_version=None,
                emulated=False,
                burst=burst,
            )
        )

    provider = opened(limits)
    try:
        pacers = pacers_of(provider)
        assert pacers
        assert all(p.burst == (p.count if burst is None else min(burst, p.count)) for p in pacers)
    finally:
        provider.close()
    unpaced = opened({})
    try:
        assert pacers_of(unpaced) == []
    finally:
        unpaced.close()


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


# -- the provider interface, over real HTTP ------------------------------------------------
#
# The tests below open each provider through its plug-in (``ProviderPlugin.open``), exactly as
# the connection layer does, and drive the ``Provider`` interface against the provider's own
# emulator: the behaviour every provider shares, pinned once instead of once per provider.


def environment_of(plugin: ProviderPlugin) -> str:
    return plugin.model.default_environment


@contextmanager
def opened(
    plugin: ProviderPlugin,
    emulator: RunningEmulator[Any],
    *,
    key: str | None = None,
    retry: RetryPolicy = FAST,
    rate_limits: Mapping[str, RateLimit] | None = None,
) -> Iterator[Provider]:
    """The provider opened through its plug-in against ``emulator``, closed afterwards."""
    provider = plugin.open(
        OpenRequest(
            base_url=emulator.url,
            api_key=Secret(key or key_for(plugin)),
            rate_limits=rate_limits or {},
            key_source="test",
            api_version=None,
            emulated=False,
            retry=retry,
        )
    )
    try:
        yield provider
    finally:
        provider.close()


@pytest.fixture
def emulators() -> Iterator[Callable[..., RunningEmulator[Any]]]:
    """``emulators(plugin, **settings)`` starts the plug-in's emulator from its sample seed;
    all are stopped when the test ends (without waiting, see conftest)."""
    running: list[RunningEmulator[Any]] = []

    def make(plugin: ProviderPlugin, **settings: Any) -> RunningEmulator[Any]:
        running.append(start(plugin, **settings))
        return running[-1]

    yield make
    stop_all(running)


@pytest.fixture
def served(
    plugin: ProviderPlugin, emulators: Callable[..., RunningEmulator[Any]]
) -> RunningEmulator[Any]:
    """The provider's emulator from its sample seed, unpaced and without faults."""
    return emulators(plugin)


@dataclass(frozen=True)
class Edit:
    """One field of one live customer, and a new value for it."""

    customer: str
    field: str
    value: Any

    def change(self, plugin: ProviderPlugin, action: Action = "update") -> Change:
        kind = plugin.model.fields[self.field].kind
        fields = (FieldChange(self.field, None, self.value, kind),)
        return Change(action, plugin.name, environment_of(plugin), self.customer, fields)


def edits(plugin: ProviderPlugin, live: Mapping[str, LiveCustomer]) -> list[Edit]:
    """For each live customer, one listed field an update can change, and a new value."""
    found = []
    for identifier, customer in sorted(live.items()):
        for name, spec in plugin.model.fields.items():
            if spec.kind in EDITS and spec.updatable and spec.listed and name in customer.fields:
                before = customer.fields[name]
                if spec.kind is FieldKind.MONEY:
                    before = Decimal(str(before or 0))
                found.append(Edit(identifier, name, EDITS[spec.kind](before)))
                break
    assert found, f"{plugin.name}: no live customer has an editable listed field"
    return found


def same(value: Any, expected: Any) -> bool:
    """Equal as the planner compares them: numbers as decimals, anything else exactly."""
    if isinstance(expected, Decimal) and isinstance(value, int | float | Decimal):
        return Decimal(str(value)) == expected
    return bool(value == expected)


def requests_served(emulator: RunningEmulator[Any]) -> int:
    return int(emulator.stats()["total_requests"])


def test_the_provider_is_what_its_plugin_declares(
    plugin: ProviderPlugin, served: RunningEmulator[Any]
) -> None:
    """An opened provider carries the plug-in's model and the emulator's address, masks its key
    in repr, and reads no usage when no field is guarded by usage."""
    with opened(plugin, served) as provider:
        assert provider.model == plugin.model
        assert provider.base_url == served.url
        assert KEY_BODY not in repr(provider)
        assert "***" in repr(provider)
        if not plugin.model.usage_guarded_fields:
            assert provider.read_usage(environment_of(plugin), ["acme-corp"]) == {}
        assert requests_served(served) == 0


def test_read_live_returns_every_customer_export_reads(
    plugin: ProviderPlugin, served: RunningEmulator[Any]
) -> None:
    """read_live over HTTP returns the sample seed's customers, keyed by id and holding only
    managed fields, the same customers export reads."""
    environment = environment_of(plugin)
    with opened(plugin, served) as provider:
        live = provider.read_live(environment, [])
        assert live
        for identifier, customer in live.items():
            assert customer.key == (plugin.name, environment, identifier)
            assert set(customer.fields) <= set(plugin.model.fields)
        assert sum(provider.request_counts().values()) == requests_served(served)
        if plugin.export is not None:
            read = plugin.export_reader(provider).read(environment, [], list(plugin.model.fields))
            assert sorted(c.id for c in read.customers) == sorted(live)


def test_an_update_is_one_request_changing_that_field_only(
    plugin: ProviderPlugin, served: RunningEmulator[Any]
) -> None:
    """An update sends one request; afterwards the field holds the new value and every other
    field and customer is as before."""
    environment = environment_of(plugin)
    with opened(plugin, served) as provider:
        before = provider.read_live(environment, [])
        edit = edits(plugin, before)[0]
        sent = requests_served(served)
        result = provider.apply(edit.change(plugin))
        assert result.ok, result
        assert requests_served(served) == sent + 1
        after = provider.read_live(environment, [])
    assert same(after[edit.customer].fields[edit.field], edit.value)
    untouched = {k: v for k, v in after[edit.customer].fields.items() if k != edit.field}
    assert untouched == {k: v for k, v in before[edit.customer].fields.items() if k != edit.field}
    assert {k: v for k, v in after.items() if k != edit.customer} == {
        k: v for k, v in before.items() if k != edit.customer
    }


@pytest.mark.parametrize("action", ["update", "delete"])
def test_a_customer_gone_since_the_plan_fails_its_change(
    plugin: ProviderPlugin, served: RunningEmulator[Any], action: Action
) -> None:
    """An update or delete of a customer that no longer exists is a failed result (404) saying
    so, not an exception, and creates nothing."""
    environment = environment_of(plugin)
    with opened(plugin, served) as provider:
        edit = edits(plugin, provider.read_live(environment, []))[0]
        ghost = Edit("conformance-ghost", edit.field, edit.value)
        result = provider.apply(ghost.change(plugin, action))
        assert result == ApplyResult(ok=False, status=404, reason="customer no longer exists")
        assert "conformance-ghost" not in provider.read_live(environment, [])


def test_delete_removes_only_that_customer(
    plugin: ProviderPlugin, served: RunningEmulator[Any]
) -> None:
    """A delete succeeds with the API's 2xx status and the customer is gone live; the others
    stay."""
    environment = environment_of(plugin)
    with opened(plugin, served) as provider:
        before = provider.read_live(environment, [])
        gone = sorted(before)[0]
        result = provider.apply(Change("delete", plugin.name, environment, gone))
        assert result.ok
        assert result.status is not None
        assert 200 <= result.status < 300
        after = provider.read_live(environment, [])
    assert sorted(after) == sorted(set(before) - {gone})


def test_create_where_supported_else_refused_unsent(
    plugin: ProviderPlugin, served: RunningEmulator[Any]
) -> None:
    """A customer reported missing costs no request. A provider that creates customers creates
    one with its declared field; one that does not refuses a create, naming itself, unsent."""
    environment = environment_of(plugin)
    with opened(plugin, served) as provider:
        edit = edits(plugin, provider.read_live(environment, []))[0]
        new = Edit("conformance-new", edit.field, edit.value)
        counted, sent = dict(provider.request_counts()), requests_served(served)
        missing = provider.apply(new.change(plugin, "missing"))
        assert (missing.ok, missing.status) == (True, None)
        if plugin.model.creates_missing:
            assert provider.apply(new.change(plugin, "create")).ok
            created = provider.read_live(environment, [])["conformance-new"]
            assert same(created.fields[new.field], new.value)
        else:
            with pytest.raises(ReconcilerError, match=plugin.title or plugin.name):
                provider.apply(new.change(plugin, "create"))
            assert (dict(provider.request_counts()), requests_served(served)) == (counted, sent)
            assert "conformance-new" not in provider.read_live(environment, [])


def test_a_bad_body_is_refused_by_the_emulator_as_invalid(
    plugin: ProviderPlugin, served: RunningEmulator[Any]
) -> None:
    """The emulator validates request bodies as the API does: a number for a text field is an
    InvalidRequestError naming the field, and nothing changes."""
    environment = environment_of(plugin)
    with opened(plugin, served) as provider:
        before = provider.read_live(environment, [])
        customer = sorted(before)[0]
        name = next(
            n
            for n, spec in plugin.model.fields.items()
            if spec.kind is FieldKind.TEXT and spec.updatable
        )
        bad = Change(
            "update",
            plugin.name,
            environment,
            customer,
            (FieldChange(name, None, 5, FieldKind.TEXT),),
        )
        with pytest.raises(InvalidRequestError) as caught:
            provider.apply(bad)
        assert caught.value.status in (400, 422)
        assert name in str(caught.value)
        assert provider.read_live(environment, []) == before


@pytest.mark.parametrize(
    "faults",
    [
        {"fail_rate": 0.3},
        {"drop_rate": 0.3},
        {"rate_limit_429_rate": 0.3, "injected_retry_after": 0},
        {"rate_limit_429_rate": 0.3, "injected_retry_after": 0, "retry_after_header": True},
    ],
)
def test_injected_faults_are_retried_until_success(
    plugin: ProviderPlugin, emulators: Callable[..., RunningEmulator[Any]], faults: dict[str, Any]
) -> None:
    """500s, dropped connections and 429s (with or without Retry-After) are retried: every
    read and update succeeds, and each attempt is counted."""
    environment = environment_of(plugin)
    emulator = emulators(plugin, seed=11, **faults)
    with opened(plugin, emulator) as provider:
        for round_ in range(3):
            live = provider.read_live(environment, [])
            for edit in edits(plugin, live):
                result = provider.apply(edit.change(plugin))
                assert result.ok, (round_, result)
        final = provider.read_live(environment, [])
        assert all(same(final[e.customer].fields[e.field], e.value) for e in edits(plugin, live))
        assert injected_failures(emulator) > 0
        assert sum(provider.request_counts().values()) == requests_served(emulator)


@PERSISTENT_FAULTS
def test_persistent_failures_give_up_with_typed_errors(
    plugin: ProviderPlugin,
    emulators: Callable[..., RunningEmulator[Any]],
    faults: dict[str, Any],
    error_type: type[Exception],
) -> None:
    """When every attempt fails, the error's type says why and the attempts are bounded."""
    with (
        start(plugin, seed=1, **faults) as emulator,
        opened(plugin, emulator, retry=GIVE_UP) as provider,
    ):
        with pytest.raises(error_type, match="gave up after 3 attempts"):
            provider.read_live(environment_of(plugin), [])
        assert requests_served(emulator) == 3


def test_a_wrong_key_is_an_authentication_error_without_either_key(
    plugin: ProviderPlugin, served: RunningEmulator[Any]
) -> None:
    """A rejected key raises AuthenticationError (401) carrying the API's own message, and
    neither the wrong key nor the right one shows in it."""
    wrong = key_for(plugin).replace(KEY_BODY, KEY_BODY[::-1])
    with (
        opened(plugin, served, key=wrong) as provider,
        pytest.raises(AuthenticationError) as caught,
    ):
        provider.read_live(environment_of(plugin), [])
    error = caught.value
    assert error.status == 401
    assert error.detail
    assert error.detail in str(error)
    for text in (str(error), repr(error), repr(error.detail)):
        assert KEY_BODY not in text
        assert KEY_BODY[::-1] not in text


def api_clients(provider: object) -> list[ApiClient]:
    """The API clients a provider holds (one client, or one per environment)."""
    held = list(vars(provider).values())
    held += [v for value in held if isinstance(value, dict) for v in value.values()]
    return [value for value in held if isinstance(value, ApiClient)]


def shown(call: Callable[[], object], statuses: set[int | None]) -> list[str]:
    """What the outcome of ``call`` shows: a result's repr, or everything an API error says;
    its HTTP status is added to ``statuses``."""
    try:
        outcome = call()
    except APIError as error:
        statuses.add(error.status)
        return [str(error), repr(error), repr(error.detail), repr(error.errors)]
    if isinstance(outcome, ApplyResult):
        statuses.add(outcome.status)
    return [repr(outcome)]


def test_the_key_appears_in_no_log_repr_or_error_of_a_troubled_run(
    plugin: ProviderPlugin,
    emulators: Callable[..., RunningEmulator[Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Through retried faults, a 401, a 404 and a refused body, logged at DEBUG, neither the
    key nor a wrong one shows in any repr, result, error or log record."""
    caplog.set_level(logging.DEBUG)
    environment = environment_of(plugin)
    emulator = emulators(plugin, seed=5, fail_rate=0.3, drop_rate=0.2)
    with opened(plugin, emulator) as provider:
        edit = edits(plugin, provider.read_live(environment, []))[0]
    text_field = next(n for n, s in plugin.model.fields.items() if s.kind is FieldKind.TEXT)
    changes = [
        edit.change(plugin),
        Edit("conformance-ghost", edit.field, edit.value).change(plugin),
        Edit(edit.customer, text_field, 5).change(plugin),
    ]
    texts: list[str] = []
    statuses: set[int | None] = set()
    for key in (key_for(plugin), key_for(plugin).replace(KEY_BODY, KEY_BODY[::-1])):
        with opened(plugin, emulator, key=key) as provider:
            clients = api_clients(provider)
            texts += [repr(provider), str(provider)]
            texts += [repr(c) for c in clients] + [repr(c.transport) for c in clients]
            texts += shown(lambda: provider.read_live(environment, []), statuses)
            for change in changes:
                texts += shown(lambda: provider.apply(change), statuses)  # noqa: B023
    texts += texts_logged(caplog)
    assert {401, 404} <= statuses
    assert statuses & {400, 422}
    assert not [text for text in texts if KEY_BODY in text or KEY_BODY[::-1] in text]


def scaled(limit: RateLimit, factor: float) -> RateLimit:
    return RateLimit(limit.count, limit.per_seconds * factor)


def over_one_window(limits: Mapping[str, RateLimit], kind: str) -> int:
    """Two requests more than the window of the limit ``kind`` requests fall under holds."""
    return limits.get(kind, limits.get("default", RateLimit(0, 1.0))).count + 2


@pytest.mark.parametrize(
    "name", sorted(name for name, found in plugins().items() if found.connection.rate_limits)
)
@pytest.mark.parametrize("paced", [True, False])
def test_the_documented_limits_paced_see_no_429(
    emulators: Callable[..., RunningEmulator[Any]], name: str, paced: bool
) -> None:
    """Paced at its documented limits, a provider sends, reads and updates at once, more of
    each than its limit's window holds to an emulator enforcing the same limits, and sees no
    429; unpaced, the same burst is refused (so the paced case can fail). Windows are scaled
    to one second, counts kept."""
    plugin = plugins()[name]
    documented = plugin.connection.rate_limits
    factor = 1.0 / max(limit.per_seconds for limit in documented.values())
    served_limit = plugin.emulator_parts().default_rate_limit
    assert served_limit is not None, f"{name}: the emulator does not enforce its documented limit"
    count, per_seconds = served_limit
    emulator = emulators(plugin, rate_limit=(count, per_seconds * factor))
    environment = environment_of(plugin)
    limits = {kind: scaled(limit, factor) for kind, limit in documented.items()}
    with opened(plugin, emulator, retry=ONCE, rate_limits=limits if paced else {}) as provider:
        edit = edits(plugin, provider.read_live(environment, []))[0]

        def reads() -> None:
            for _ in range(over_one_window(documented, "list") - 1):
                provider.read_live(environment, [])

        def updates() -> None:
            for _ in range(over_one_window(documented, "write")):
                assert provider.apply(edit.change(plugin)).ok

        with ThreadPoolExecutor(max_workers=2) as pool:
            bursts = [pool.submit(reads), pool.submit(updates)]
            errors = [burst.exception() for burst in bursts]
    responses = emulator.stats()["responses"]
    if paced:
        assert errors == [None, None]
        assert "429" not in responses, responses
    else:
        assert {type(error) for error in errors if error is not None} == {RateLimitedError}
        assert responses["429"] >= 1
