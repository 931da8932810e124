"""The Respan provider: live customers from the users API, changes applied by PATCH and DELETE.

Request economy: one list request per 1000 live customers, plus one retrieve for each declared
customer (that exists live) whose manifest declares a field the list does not return
(``metadata``, ``markup_percentage``, ``period_start``, ``period_end``). Retrieves run
concurrently under the client's pacer; their answers are cached for the run, so
``read_usage`` never asks for the same customer twice.

A field the API does not return stays absent from ``LiveCustomer.fields`` (unknown): the live
API may omit ``metadata`` and ``markup_percentage`` from the retrieve answer (API-FACTS), and
an omitted field must never pass for an equal one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from reconciler.domain import LiveCustomer
from reconciler.errors import NotFoundError, ReconcilerError, RunInterrupted, ServerError
from reconciler.interrupts import STOP
from reconciler.money import to_money
from reconciler.plan.model import Change
from reconciler.planner.body import request_body
from reconciler.printable import printable
from reconciler.providers.base import ApplyResult, Declared
from reconciler.providers.parts import OpenRequest
from reconciler.providers.respan.client import ENDPOINTS, RESERVED_SEGMENTS, RespanClient
from reconciler.providers.respan.fields import RESPAN

GONE_REASON = "customer no longer exists"


class RespanProvider:
    """``Provider`` for Respan over a ``RespanClient``; one instance per run (it caches reads)."""

    model = RESPAN

    def __init__(self, client: RespanClient, *, max_concurrency: int = 8) -> None:
        self.client = client
        self.base_url = client.base_url
        self.max_concurrency = max(1, max_concurrency)
        self._lock = threading.Lock()
        # (environment, customer_identifier) -> retrieve answer, for this run.
        self._details: dict[tuple[str, str], dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"RespanProvider({self.client!r})"

    def request_counts(self) -> dict[str, int]:
        """Request attempts sent so far, by HTTP method."""
        return self.client.request_counts()

    def refusal(self, change: Change) -> str | None:
        """Every change the planner makes can be sent as planned: nothing to refuse."""
        return None

    def close(self) -> None:
        self.client.close()

    # -- reading -----------------------------------------------------------------------------

    def read_live(
        self, environment: str, declared: Sequence[Declared]
    ) -> Mapping[str, LiveCustomer]:
        """Every live customer of ``environment``; detail reads only where manifests need them.

        The client leaves out rows of another environment and refuses rows without a text id.
        """
        # Each page is reduced to the managed fields as it arrives and then let go: the raw
        # rows (every field the API sends) are never all held at once.
        listed: dict[str, dict[str, Any]] = {}
        for page in self.client.iter_customer_pages(environment):
            for item in page:
                listed[item["customer_identifier"]] = self._managed(item)
            del page
        unlisted = {name for name, spec in self.model.fields.items() if not spec.listed}
        wanted = sorted(
            {
                customer.id
                for customer in declared
                if customer.id in listed
                and unlisted.intersection(customer.fields)
                # No URL retrieves these; their detail-only fields stay unknown.
                and customer.id not in RESERVED_SEGMENTS
            }
        )
        details = self._retrieve_many(environment, wanted)

        live: dict[str, LiveCustomer] = {}
        for identifier, fields in listed.items():
            if identifier in wanted and identifier not in details:
                continue  # deleted between the list and the retrieve
            detail = details.get(identifier)
            usage = None
            if detail is not None:
                fields.update(self._managed(detail))
                usage = _usage(detail)
            live[identifier] = LiveCustomer(
                provider=self.model.name,
                environment=environment,
                id=identifier,
                fields=fields,
                usage=usage,
            )
        return live

    def read_usage(self, environment: str, ids: Iterable[str]) -> Mapping[str, Decimal]:
        """``total_period_usage`` per customer, from this run's retrieves where there were any."""
        addressable = {i for i in ids if i and i not in RESERVED_SEGMENTS}
        details = self._retrieve_many(environment, sorted(addressable))
        usage: dict[str, Decimal] = {}
        for identifier, detail in details.items():
            value = _usage(detail)
            if value is not None:
                usage[identifier] = value
        return usage

    def _retrieve_many(self, environment: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Retrieve answers for ``ids``, cached ones reused; customers now gone are left out."""
        with self._lock:
            missing = [i for i in ids if (environment, i) not in self._details]
        results = retrieve_each(
            self.client, environment, missing, max_concurrency=self.max_concurrency
        )
        with self._lock:
            for identifier, detail in results.items():
                if detail is not None:
                    self._details[(environment, identifier)] = detail
            return {
                i: self._details[(environment, i)] for i in ids if (environment, i) in self._details
            }

    def _managed(self, answer: Mapping[str, Any]) -> dict[str, Any]:
        return {name: answer[name] for name in self.model.fields if name in answer}

    # -- writing -----------------------------------------------------------------------------

    def apply(self, change: Change) -> ApplyResult:
        """PATCH the changed fields, DELETE, or nothing (``missing``); Respan cannot create."""
        if change.action == "missing":
            return ApplyResult(ok=True, status=None, reason="missing live: nothing to send")
        if change.action == "create":
            raise ReconcilerError(
                f"cannot create Respan customer {change.id!r}: Respan has no create endpoint "
                "(customers appear with their first API request)"
            )
        # Applying invalidates what this run read about the customer.
        with self._lock:
            self._details.pop((change.environment, change.id), None)
        if change.action == "update":
            try:
                self.client.update_customer(
                    change.environment, change.id, request_body(change, self.model)
                )
            except NotFoundError as exc:
                return ApplyResult(ok=False, status=exc.status, reason=GONE_REASON)
            return ApplyResult(ok=True, status=200)
        try:
            reply = self.client.delete_customer(change.environment, change.id)
        except NotFoundError as exc:
            return ApplyResult(ok=False, status=exc.status, reason=GONE_REASON)
        if reply.status == 404:
            return ApplyResult(ok=True, status=404, reason="deleted by an earlier, retried attempt")
        return ApplyResult(ok=True, status=reply.status)


def retrieve_each(
    client: RespanClient,
    environment: str,
    ids: Sequence[str],
    *,
    max_concurrency: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict[str, Any] | None]:
    """Each customer's retrieve answer (``None``: deleted since it was listed), up to
    ``max_concurrency`` at a time under the client's pacer; ``progress(done, total)`` is called
    before the first and after each one. An answer for another customer or environment than
    the one asked for is a ``ServerError``. The first error cancels the retrieves not yet begun;
    a stopped run (``interrupts.STOP``) raises ``RunInterrupted`` at once, abandoning the
    retrieves in flight (reads: nothing to report about them).
    """
    results: dict[str, dict[str, Any] | None] = {}
    if not ids:
        return results
    if progress is not None:
        progress(0, len(ids))

    def retrieve(identifier: str) -> dict[str, Any] | None:
        try:
            detail = client.retrieve_customer(environment, identifier)
        except NotFoundError:
            return None
        _check_answered(environment, identifier, detail)
        return detail

    pool = ThreadPoolExecutor(max_workers=min(max(1, max_concurrency), len(ids)))
    abandon = False
    try:
        futures = {pool.submit(retrieve, i): i for i in ids}
        remaining = set(futures)
        while remaining:
            for future in STOP.wait_any(remaining):
                remaining.discard(future)
                results[futures[future]] = future.result()
                if progress is not None:
                    progress(len(results), len(ids))
    except RunInterrupted:
        abandon = True
        raise
    finally:
        pool.shutdown(wait=not abandon, cancel_futures=True)
    return results


def _check_answered(environment: str, identifier: str, detail: Mapping[str, Any]) -> None:
    """``ServerError`` when a retrieve of ``identifier`` in ``environment`` answered another
    customer: whose answer it is decides whose metadata, markup and usage are planned with."""
    answered = detail.get("environment", environment)
    named = detail.get("customer_identifier", identifier)
    if answered != environment:
        what = (
            f"asked for environment {environment}, the API answered a customer of "
            f"environment {printable(repr(answered))}"
        )
    elif named != identifier:
        what = (
            f"asked for customer {printable(repr(identifier))}, the API answered customer "
            f"{printable(repr(named))}"
        )
    else:
        return
    path = ENDPOINTS["retrieve_customer"].url_path(identifier)
    raise ServerError(
        f"GET {path}: {what}; nothing was planned or written",
        method="GET",
        path=path,
        status=200,
    )


def _usage(detail: Mapping[str, Any]) -> Decimal | None:
    """``total_period_usage`` as an amount, or ``None`` when it is absent or not an amount
    (the policy then treats the usage as not returned, and refuses to guess)."""
    try:
        return to_money(detail.get("total_period_usage"))
    except ValueError:
        return None


def open_provider(request: OpenRequest) -> RespanProvider:
    """The ``ProviderPlugin.provider`` target: a provider over a client paced as requested."""
    request.refuse_api_version("respan")
    client = request.single_limit_client(RespanClient)
    return RespanProvider(client, max_concurrency=request.max_concurrency)
