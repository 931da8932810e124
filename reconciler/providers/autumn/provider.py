"""The Autumn provider: live customers from ``customers.list``; create, update and delete.

Request economy: ``read_live`` costs one ``customers.list`` request per 1000 customers (plus
the final short page); list items are full customer objects, ``metadata`` and
``billing_controls`` included, so the only per-customer reads are one ``customers.get`` per
declared customer the list did not show (confirming a create). ``apply`` sends one request per
update or delete, and one or two per create (see below).

Environments: Autumn picks the environment from the secret key (``am_sk_test_``: sandbox,
``am_sk_live_``: live), not from the request. The provider holds one client per environment it
has a key for, and refuses, before any request, to read or write an environment it has no key
for: a ``live`` manifest planned with a sandbox key would otherwise be compared with (and
applied to) the sandbox.

Create: ``customers.get_or_create`` with every declared field. On a customer that already
exists (created by someone else since the plan, or by an earlier attempt of this one) Autumn
only fills in a missing name or email, and it may ignore fields it does not take on create;
so its answer is compared with the declared values, the planner's own way, and whatever
differs is sent at once with ``customers.update``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from reconciler.clients.identity import listed_id
from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.domain import UNKNOWN, LiveCustomer
from reconciler.errors import ConfigError, NotFoundError, RunInterrupted, ServerError
from reconciler.plan.model import Change
from reconciler.planner.body import field_body, request_body
from reconciler.planner.diff import diff_field
from reconciler.planner.normalize import normalize
from reconciler.printable import printable
from reconciler.providers.autumn.client import (
    API_VERSION,
    KEY_PREFIXES,
    AutumnClient,
    key_environment,
    pacers_for,
    twin_key,
)
from reconciler.providers.autumn.fields import AUTUMN
from reconciler.providers.base import ApplyResult, Declared
from reconciler.providers.parts import OpenRequest

logger = logging.getLogger("reconciler.providers.autumn")

GONE_REASON = "customer no longer exists"
INTERRUPTED_CREATE_REASON = (
    "created, but the run was interrupted before the fields the create left unset were updated"
)


class AutumnProvider:
    """``Provider`` for Autumn over one ``AutumnClient`` per environment it has a key for.

    ``key_source`` names where the key came from (``AUTUMN_SECRET_KEY``, a key file) for the
    message refusing an environment the key cannot reach.
    """

    model = AUTUMN

    def __init__(
        self, clients: Mapping[str, AutumnClient], *, key_source: str = "AUTUMN_SECRET_KEY"
    ) -> None:
        if not clients:
            raise ValueError("AutumnProvider needs a client for at least one environment")
        self.clients = dict(clients)
        self.key_source = key_source
        self.base_url = next(iter(self.clients.values())).base_url

    @classmethod
    def open(
        cls,
        base_url: str,
        api_key: Secret,
        *,
        key_source: str = "AUTUMN_SECRET_KEY",
        api_version: str | None = None,
        rate_limits: Mapping[str, tuple[int, float]] | None = None,
        burst: int | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 8,
        both_environments: bool = False,
    ) -> AutumnProvider:
        """A provider for ``api_key``'s environment (``ConfigError`` for a key with no
        Autumn prefix). ``both_environments``: also its twin key for the other environment,
        which only an emulator accepts. ``rate_limits`` ``None``: unpaced. ``burst``: see
        ``Pacer``."""
        environment = key_environment(api_key)
        if environment is None:
            prefixes = " or ".join(f"{p}… ({env})" for p, env in KEY_PREFIXES.items())
            raise ConfigError(
                f"{key_source} is not an Autumn secret key: it must start with {prefixes}, "
                "which is how Autumn tells the environment"
            )
        keys = {environment: api_key}
        if both_environments:
            keys = {env: twin_key(api_key, env) for env in KEY_PREFIXES.values()}
        # One set of pacers for both keys: the documented limits are per organization.
        pacers = pacers_for(rate_limits, burst)
        clients: dict[str, AutumnClient] = {}
        try:
            for env, key in keys.items():
                clients[env] = AutumnClient(
                    base_url,
                    key,
                    api_version=api_version or API_VERSION,
                    pacers=pacers,
                    retry=retry,
                    max_concurrency=max_concurrency,
                )
        except BaseException:
            for client in clients.values():
                client.close()
            raise
        return cls(clients, key_source=key_source)

    def __repr__(self) -> str:
        return f"AutumnProvider({', '.join(repr(c) for c in self.clients.values())})"

    def request_counts(self) -> dict[str, int]:
        """Request attempts sent so far, by HTTP method (all environments together)."""
        counts: dict[str, int] = {}
        for client in self.clients.values():
            for method, count in client.request_counts().items():
                counts[method] = counts.get(method, 0) + count
        return dict(sorted(counts.items()))

    def refusal(self, change: Change) -> str | None:
        """Every change the planner makes can be sent as planned: nothing to refuse."""
        return None

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    # -- reading -----------------------------------------------------------------------------

    def read_live(
        self, environment: str, declared: Sequence[Declared]
    ) -> Mapping[str, LiveCustomer]:
        """Every live customer of ``environment``, from the list, and each declared customer
        the list did not show from ``customers.get`` (absent when that answers 404).

        Offset pages shift when a customer is deleted mid-listing, so the list can skip one
        that exists: planned from the list alone it would be a create, whose get_or_create then
        updates the live customer without a "before" any guardrail could judge.
        """
        client = self._client(environment, declared)
        live: dict[str, LiveCustomer] = {}
        for item in client.list_customers():
            identifier = listed_id(item, "id", "POST /v1/customers.list")  # checked by the client
            if item.get("env", environment) != environment:
                # The key decides the environment; an item of another one is not ours to plan.
                logger.debug(
                    "skipping %r: listed in %r, not %r", identifier, item["env"], environment
                )
                continue
            live[identifier] = self._live(environment, identifier, item)
        for identifier in sorted({customer.id for customer in declared} - live.keys()):
            try:
                item = client.get_customer(identifier)
            except NotFoundError:
                continue  # missing indeed: planned as a create
            if item.get("id") != identifier or item.get("env", environment) != environment:
                raise ServerError(
                    f"POST /v1/customers.get: asked for customer {printable(repr(identifier))} "
                    f"in {environment}, the API answered customer "
                    f"{printable(repr(item.get('id')))} in {printable(repr(item.get('env')))}; "
                    "nothing was planned or written",
                    method="POST",
                    path="/v1/customers.get",
                    status=200,
                )
            live[identifier] = self._live(environment, identifier, item)
        return live

    def _live(self, environment: str, identifier: str, item: Mapping[str, Any]) -> LiveCustomer:
        return LiveCustomer(
            provider=self.model.name,
            environment=environment,
            id=identifier,
            fields=self._managed(item),
        )

    def read_usage(self, environment: str, ids: Iterable[str]) -> Mapping[str, Decimal]:
        """Nothing: no Autumn field is usage-guarded (spend limits cap overage, not usage)."""
        return {}

    def _managed(self, answer: Mapping[str, Any]) -> dict[str, Any]:
        return {name: answer[name] for name in self.model.fields if name in answer}

    def _client(self, environment: str, declared: Sequence[Declared] = ()) -> AutumnClient:
        client = self.clients.get(environment)
        if client is not None:
            return client
        where = next((str(c.source) for c in declared), "the manifests")
        held = " and ".join(sorted(self.clients))
        prefix = next(p for p, env in KEY_PREFIXES.items() if env == environment)
        raise ConfigError(
            f"{self.key_source} is a {held} key, but {where} declares environment "
            f"{environment}: Autumn picks the environment from the key, so {environment} "
            f"customers need a key starting {prefix} (nothing was sent)"
        )

    # -- writing -----------------------------------------------------------------------------

    def apply(self, change: Change) -> ApplyResult:
        """Create (get_or_create, then update what it did not set), update, or delete."""
        if change.action == "missing":
            return ApplyResult(ok=True, status=None, reason="missing live: nothing to send")
        client = self._client(change.environment)
        if change.action == "create":
            return self._create(client, change)
        if change.action == "update":
            try:
                client.update_customer(change.id, request_body(change, self.model))
            except NotFoundError as exc:
                return ApplyResult(ok=False, status=exc.status, reason=GONE_REASON)
            return ApplyResult(ok=True, status=200)
        try:
            reply = client.delete_customer(change.id)
        except NotFoundError as exc:
            return ApplyResult(ok=False, status=exc.status, reason=GONE_REASON)
        if reply.status == 404:
            return ApplyResult(ok=True, status=404, reason="deleted by an earlier, retried attempt")
        return ApplyResult(ok=True, status=reply.status)

    def _create(self, client: AutumnClient, change: Change) -> ApplyResult:
        body = request_body(change, self.model)
        answer = client.get_or_create_customer(change.id, body)
        remaining = self.unset_by(answer, body)
        if not remaining:
            return ApplyResult(ok=True, status=200)
        logger.debug("%s: get_or_create left %s unset; updating", change.id, sorted(remaining))
        try:
            client.update_customer(change.id, remaining)
        except NotFoundError as exc:
            return ApplyResult(ok=False, status=exc.status, reason=GONE_REASON)
        except RunInterrupted:
            # The customer exists now: the change was partly sent, so it is not "not attempted".
            return ApplyResult(ok=False, status=None, reason=INTERRUPTED_CREATE_REASON)
        return ApplyResult(ok=True, status=200)

    def unset_by(self, answer: Mapping[str, Any], sent: Mapping[str, Any]) -> dict[str, Any]:
        """The update body that makes ``answer`` (a customer object) hold ``sent``'s values.

        Compared and built the planner's way (canonical values; metadata authoritative, so a
        key the answer has and ``sent`` lacks is sent as null; billing arrays by
        ``feature_id``).
        """
        body: dict[str, Any] = {}
        for name, value in sent.items():
            spec = self.model.fields.get(name)
            if spec is None:
                continue
            live = normalize(spec, answer.get(name, UNKNOWN))
            diff = diff_field(self.model, spec, normalize(spec, value), live)
            if diff is not None:
                body[name] = field_body(self.model, spec, diff.changes, live)
        return body


def open_provider(request: OpenRequest) -> AutumnProvider:
    """The ``ProviderPlugin.provider`` target: one client per environment the key reaches."""
    return AutumnProvider.open(
        request.base_url,
        request.api_key,
        key_source=request.key_source,
        api_version=request.api_version,
        rate_limits={k: (v.count, v.per_seconds) for k, v in request.rate_limits.items()},
        burst=request.burst,
        retry=request.retry,
        max_concurrency=request.max_concurrency,
        # An in-process emulator accepts the key's twin for the other environment too.
        both_environments=request.emulated,
    )
