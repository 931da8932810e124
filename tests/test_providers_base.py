"""The provider conformance suite, at the ``Provider`` interface: every installed provider
opened through its plug-in (``ProviderPlugin.open``), as the connection layer opens it, and
driven over real loopback HTTP against its own emulator started from its sample seed.

The behaviour every provider shares is pinned here once instead of once per provider: reads,
updates, deletes, creates (or their refusal), customers gone since the plan, bad bodies,
faults retried or given up on, a wrong key, the key never shown, pacing at the documented
limits. Nothing here names a provider; tests/test_providers_conformance.py is the suite's
other half, through the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from client_helpers import GIVE_UP, ONCE, PERSISTENT_FAULTS, injected_failures, texts_logged
from conformance_helpers import (
    KEY_BODY,
    Edit,
    api_clients,
    edits,
    environment_of,
    key_for,
    opened,
    requests_served,
    same,
    start,
)
from conftest import stop_all

from reconciler.clients.pacing import Pacer
from reconciler.clients.secret import Secret
from reconciler.domain import UNKNOWN, DesiredCustomer, FieldKind, Source
from reconciler.emulator import RunningEmulator
from reconciler.errors import (
    APIError,
    AuthenticationError,
    InvalidRequestError,
    RateLimitedError,
    ReconcilerError,
)
from reconciler.plan.model import Action, Change, FieldChange
from reconciler.providers.base import ApplyResult, Declared
from reconciler.providers.parts import OpenRequest
from reconciler.providers.plugin import ProviderPlugin
from reconciler.providers.registry import plugins
from reconciler.settings.ratelimit import RateLimit


@pytest.fixture(params=sorted(plugins()))
def plugin(request: pytest.FixtureRequest) -> ProviderPlugin:
    """Each installed provider in turn."""
    return plugins()[request.param]


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


def test_an_unreadable_answer_names_its_customer_by_the_models_id_field(
    plugin: ProviderPlugin, served: RunningEmulator[Any]
) -> None:
    """Each API client tells its transport where ids are (the model's id field), so an answer
    refused as too deep names the customer it is about."""
    with opened(plugin, served) as provider:
        clients = api_clients(provider)
        assert clients
        assert {c.transport.id_keys for c in clients} == {(plugin.model.id_field,)}


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


def bursts(limits: Mapping[str, RateLimit]) -> tuple[int, int]:
    """How many reads and updates, sent at once, overrun one window of the limits they fall
    under: two more than each limit's count, or, when one limit covers both, one more than
    half its count each."""
    kinds = [kind if kind in limits else "default" for kind in ("list", "write")]
    if kinds[0] == kinds[1]:
        half = limits[kinds[0]].count // 2 + 1
        return half, half
    reads, updates = (limits[kind].count + 2 if kind in limits else 1 for kind in kinds)
    return reads, updates


@pytest.mark.parametrize(
    "name", sorted(name for name, found in plugins().items() if found.connection.rate_limits)
)
@pytest.mark.parametrize("paced", [True, False])
def test_the_documented_limits_paced_see_no_429(
    emulators: Callable[..., RunningEmulator[Any]], name: str, paced: bool
) -> None:
    """Paced at its documented limits, a provider sending reads and updates at once, more of
    each than its limit's window holds, to an emulator enforcing the same limits sees no 429;
    unpaced, the same burst is refused (so the paced case can fail). Windows are scaled,
    counts kept."""
    plugin = plugins()[name]
    documented = plugin.connection.rate_limits
    # Paced, the run waits out a window: one second keeps that short. Unpaced, it ends at the
    # first 429, so a long window costs nothing and holds the burst however slow the machine.
    window = 1.0 if paced else 30.0
    factor = window / max(limit.per_seconds for limit in documented.values())
    served_limit = plugin.emulator_parts().default_rate_limit
    assert served_limit is not None, f"{name}: the emulator does not enforce its documented limit"
    count, per_seconds = served_limit
    emulator = emulators(plugin, rate_limit=(count, per_seconds * factor))
    environment = environment_of(plugin)
    limits = {kind: scaled(limit, factor) for kind, limit in documented.items()}
    read_count, update_count = bursts(documented)
    with opened(plugin, emulator, retry=ONCE, rate_limits=limits if paced else {}) as provider:
        edit = edits(plugin, provider.read_live(environment, []))[0]

        def reads() -> None:
            for _ in range(read_count - 1):  # the read above was the first
                provider.read_live(environment, [])

        def updates() -> None:
            for _ in range(update_count):
                assert provider.apply(edit.change(plugin)).ok

        with ThreadPoolExecutor(max_workers=2) as pool:
            running = [pool.submit(reads), pool.submit(updates)]
            errors = [burst.exception() for burst in running]
    responses = emulator.stats()["responses"]
    if paced:
        assert errors == [None, None]
        assert "429" not in responses, responses
    else:
        assert {type(error) for error in errors if error is not None} == {RateLimitedError}
        assert responses["429"] >= 1


def pacers_of(provider: object) -> list[Pacer]:
    """Every pacer of the API clients a provider holds (one client, or one per environment)."""
    clients = api_clients(provider)
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


@pytest.mark.parametrize(
    "name",
    sorted(
        name
        for name, found in plugins().items()
        if any(not spec.listed for spec in found.model.fields.values())
    ),
)
def test_an_unlisted_field_costs_one_detail_read_per_customer_declaring_it(
    emulators: Callable[..., RunningEmulator[Any]], name: str
) -> None:
    """A field the list does not return is unknown until declared; declared on one customer,
    it is read for that customer alone, at the cost of one request more than the list."""
    plugin = plugins()[name]
    emulator = emulators(plugin)
    environment = environment_of(plugin)
    unlisted = next(n for n, spec in plugin.model.fields.items() if not spec.listed)
    with opened(plugin, emulator) as provider:
        listing = requests_served(emulator)
        listed = provider.read_live(environment, [])
        listing = requests_served(emulator) - listing
        assert all(customer.get(unlisted) is UNKNOWN for customer in listed.values())
        declaring, *others = sorted(listed)
        desired = DesiredCustomer(
            plugin.name, environment, declaring, {unlisted: None}, Source("c.yaml", 1)
        )
        before = requests_served(emulator)
        live = provider.read_live(environment, [Declared.of(desired)])
        assert requests_served(emulator) == before + listing + 1
    assert live[declaring].get(unlisted) is not UNKNOWN
    assert all(live[other].get(unlisted) is UNKNOWN for other in others)
