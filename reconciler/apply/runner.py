"""Apply a plan: send each change through its provider, in bounded parallel, audited as it goes.

For the ``apply`` command. Rules:

* Creates and updates first, deletes only once every update has finished, so a run that stops
  early never leaves deletes done with the updates they were planned alongside undone.
* At most ``parallelism`` changes are in flight; the provider's client paces and retries each
  request itself. Independent changes carry on after a failure unless ``fail_fast``: then
  nothing new is submitted, in-flight ones finish, and the rest are "not attempted".
* With ``stale_check`` (fresh live state for a saved plan), a change live state already holds
  (a rerun of a plan whose earlier run stopped part-way) is reported applied, "already as
  planned", and nothing is sent for it; a customer that moved in any other way since the plan
  was made is refused as "stale" and nothing is sent for it, and so is a change that
  ``applied_earlier`` (from the audit log) says this plan applied before: live state moved
  since, and sending it again would undo that move with a plan reviewed before it.
* Every change that is sent gets a ``pending`` audit record, fsynced before its request, and a
  result record as soon as its outcome is known; a change refused as stale gets one record, and
  one already as planned none (it is not attempted: the run that made it recorded it).
  If a record cannot be written, that change is not sent and the run stops.
  ``missing`` customers are not attempted changes: no request, no record.
* Once a stop is requested (``stop``: Ctrl-C or SIGTERM, see ``reconciler.interrupts``) nothing
  new is submitted; changes in flight get ``GRACE_SECONDS`` to finish, then are abandoned and
  reported failed with their result unknown (the request may have reached the API), as is a
  change stopped while waiting to retry a request that reached the API. The rest are "not
  attempted". The caller tells the person and exits 130 / 143.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from reconciler.apply.report import ApplyReport, ChangeOutcome
from reconciler.apply.stale import Staleness, already_applied, check_staleness
from reconciler.audit import AuditLog, Outcome
from reconciler.audit.replay import ChangeKey
from reconciler.domain import CustomerKey, LiveCustomer
from reconciler.errors import (
    APIError,
    ConfigError,
    PolicyViolationError,
    ReconcilerError,
    RunInterrupted,
)
from reconciler.interrupts import POLL_SECONDS, STOP, StopRequest
from reconciler.plan.model import MUTATING_ACTIONS, Change, Plan
from reconciler.providers.base import ApplyResult, Provider

ProgressCallback = Callable[[ChangeOutcome], None]
FreshState = Mapping[CustomerKey, LiveCustomer]

GONE_REASON = "customer no longer exists"
ALREADY_LIVE_REASON = "already as planned: live state holds this change; nothing was sent"
REAPPLIED_REASON = (
    "this saved plan applied it before (audit record seq {seq}) and live state moved since: "
    "sending it again would undo that; make a new plan"
)
FAIL_FAST_REASON = "not sent: the run stopped at the first failure (--fail-fast)"
ABORTED_REASON = "not sent: the run stopped on an error"
ABANDONED_REASON = (
    "result unknown: the run was interrupted while this change was in flight; "
    "check live state (reconciler plan)"
)
RETRY_ABANDONED_REASON = (
    "result unknown: the run was interrupted while this change waited to retry a request "
    "that reached the API; check live state (reconciler plan)"
)
UNKNOWN_RESULT_REASONS = (ABANDONED_REASON, RETRY_ABANDONED_REASON)
UNREADABLE_SUCCESS_REASON = (
    "result unknown: the API answered {status}, which says the change was made, but its "
    "answer was refused ({error}); check live state (reconciler plan)"
)


def interrupted_reason(signal_name: str) -> str:
    """Why a change was not sent after a stop: ``not sent: the run was interrupted (SIGINT)``."""
    return f"not sent: the run was interrupted ({signal_name})"


def apply_plan(
    plan: Plan,
    providers: Mapping[str, Provider],
    audit: AuditLog | None,
    *,
    parallelism: int = 4,
    fail_fast: bool = False,
    progress: ProgressCallback | None = None,
    stale_check: FreshState | None = None,
    applied_earlier: Mapping[ChangeKey, int] | None = None,
    stop: StopRequest = STOP,
) -> ApplyReport:
    """Apply ``plan`` and report every mutating change's outcome, in plan order.

    ``providers`` maps provider names to open providers; ``audit`` is ``None`` only when the
    project turned the audit log off (``audit_log: null``). ``stale_check``, when given, holds
    every live customer of each (provider, environment) the plan touches, read just now; a
    customer absent from it no longer exists; ``applied_earlier`` maps the changes this saved
    plan applied in an earlier run to the ``seq`` of that record. Raises
    ``PolicyViolationError`` before any request when the plan breaks a guardrail; re-raises
    an ``AuditError`` (or a bug) from a worker once in-flight changes have finished, since
    applying unaudited must not go on.
    When ``stop`` is requested, returns early (see the module docstring); the report says
    what was done and ``stop`` by which signal.
    """
    if plan.policy_violations:
        rules = ", ".join(sorted({violation.rule for violation in plan.policy_violations}))
        raise PolicyViolationError(f"the plan violates policy ({rules}); nothing was applied")
    if parallelism < 1:
        raise ConfigError(f"parallelism must be at least 1, got {parallelism}")
    changes = [change for change in plan.changes if change.action in MUTATING_ACTIONS]
    unknown = sorted({change.provider for change in changes} - set(providers))
    if unknown:
        raise ConfigError(f"no provider configured for: {', '.join(unknown)}")
    run = _Run(
        changes,
        providers,
        audit,
        parallelism,
        fail_fast,
        progress,
        stale_check,
        stop,
        applied_earlier,
    )
    run.execute()
    missing = sum(1 for change in plan.changes if change.action == "missing")
    return ApplyReport(tuple(run.outcomes[index] for index in range(len(changes))), missing)


class _Run:
    """The bookkeeping of one apply: what is pending, in flight and done."""

    def __init__(
        self,
        changes: Sequence[Change],
        providers: Mapping[str, Provider],
        audit: AuditLog | None,
        parallelism: int,
        fail_fast: bool,
        progress: ProgressCallback | None,
        stale_check: FreshState | None,
        stop: StopRequest = STOP,
        applied_earlier: Mapping[ChangeKey, int] | None = None,
    ) -> None:
        self.changes = changes
        self.providers = providers
        self.audit = audit
        self.parallelism = parallelism
        self.fail_fast = fail_fast
        self.progress = progress
        self.stale_check = stale_check
        self.applied_earlier: Mapping[ChangeKey, int] = applied_earlier or {}
        self.outcomes: dict[int, ChangeOutcome] = {}
        self.stop_reason = ""
        self.error: BaseException | None = None
        self.stop = stop
        # Changes still in flight when the grace period after a stop ran out.
        self.abandoned = False

    def execute(self) -> None:
        updates = [i for i, change in enumerate(self.changes) if change.action != "delete"]
        deletes = [i for i, change in enumerate(self.changes) if change.action == "delete"]
        pool = ThreadPoolExecutor(
            max_workers=self.parallelism, thread_name_prefix="reconciler-apply"
        )
        try:
            for phase in (updates, deletes):
                self._run_phase(pool, phase)
        finally:
            # Abandoned workers are not waited for: the CLI exits without them.
            pool.shutdown(wait=not self.abandoned, cancel_futures=True)
        for index, change in enumerate(self.changes):
            if index not in self.outcomes:
                self.outcomes[index] = ChangeOutcome(change, "not attempted", self.stop_reason)
        if self.error is not None:
            raise self.error

    def _run_phase(self, pool: ThreadPoolExecutor, phase: Sequence[int]) -> None:
        pending = deque(phase)
        in_flight: dict[Future[ChangeOutcome], int] = {}
        while True:
            if self.stop.requested and not self.stop_reason:
                name = RunInterrupted(self.stop.signal_number or 0).signal_name
                self.stop_reason = interrupted_reason(name)
            while pending and len(in_flight) < self.parallelism and not self.stop_reason:
                index = pending.popleft()
                change = self.changes[index]
                if self._settled_unsent(index, change):
                    continue
                future = pool.submit(_attempt, self.providers[change.provider], change, self.audit)
                in_flight[future] = index
            if not in_flight:
                return
            if self.stop.requested and self.stop.grace_left() <= 0:
                self._abandon(in_flight)
                return
            # Bounded, so that a stop request is seen while requests are still in flight.
            done, _ = wait(in_flight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                self._settle(in_flight.pop(future), future)

    def _settled_unsent(self, index: int, change: Change) -> bool:
        """Settle a saved plan's change that needs no request: already live, or stale."""
        if self.stale_check is None:
            return False
        model = self.providers[change.provider].model
        live = self.stale_check.get(change.key)
        if already_applied(change, live, model):
            self._finish(index, ChangeOutcome(change, "applied", ALREADY_LIVE_REASON))
            return True
        earlier = self.applied_earlier.get(
            (change.provider, change.environment, change.id, change.action)
        )
        staleness = (
            Staleness(REAPPLIED_REASON.format(seq=earlier))
            if earlier is not None
            else check_staleness(change, live, model)
        )
        if staleness is None:
            return False
        try:
            if self.audit is not None:
                self.audit.record(change, "stale", reason=staleness.reason, drift=staleness.drift)
        except BaseException as exc:
            self._abort(exc)
            return True
        self._finish(index, ChangeOutcome(change, "stale", staleness.reason))
        return True

    def _settle(self, index: int, future: Future[ChangeOutcome]) -> None:
        try:
            outcome = future.result()
        except BaseException as exc:
            self._abort(exc)
            return
        self._finish(index, outcome)
        if outcome.status == "failed" and self.fail_fast and not self.stop_reason:
            self.stop_reason = FAIL_FAST_REASON

    def _finish(self, index: int, outcome: ChangeOutcome) -> None:
        self.outcomes[index] = outcome
        if self.progress is not None:
            self.progress(outcome)

    def _abandon(self, in_flight: Mapping[Future[ChangeOutcome], int]) -> None:
        self.abandoned = True
        for index in in_flight.values():
            self._finish(index, ChangeOutcome(self.changes[index], "failed", ABANDONED_REASON))

    def _abort(self, exc: BaseException) -> None:
        # Keep the first error; in-flight changes still finish and get their records.
        if self.error is None:
            self.error = exc
        self.stop_reason = ABORTED_REASON


def _attempt(provider: Provider, change: Change, audit: AuditLog | None) -> ChangeOutcome:
    """Record the change as pending, send it, and record its outcome (on a worker thread).

    The pending record is on disk before the request leaves: if it cannot be written the
    ``AuditError`` propagates and nothing is sent, so no write reaches the API unrecorded,
    even if the process is killed the moment after.
    """
    pending_seq = audit.record_pending(change) if audit is not None else None
    status: Outcome
    try:
        result = provider.apply(change)
    except RunInterrupted as exc:
        if exc.after_sending:
            # Stopped while waiting to retry: the attempt that went out may have taken effect.
            if audit is not None:
                audit.record(
                    change, "failed", reason=RETRY_ABANDONED_REASON, pending_seq=pending_seq
                )
            return ChangeOutcome(change, "failed", RETRY_ABANDONED_REASON)
        # Stopped before its request started (waiting for the pacer): nothing was sent. The
        # pending record gets its answer, so the log does not call the result unknown.
        reason = interrupted_reason(exc.signal_name)
        if audit is not None:
            audit.record(change, "failed", reason=reason, pending_seq=pending_seq)
        return ChangeOutcome(change, "not attempted", reason)
    except ReconcilerError as exc:
        # Deliberate errors (APIError and the provider's own refusals) carry messages built by
        # our code, never the key; they fail this change only.
        status, reason = "failed", str(exc)
        http_status = exc.status if isinstance(exc, APIError) else None
        if http_status is not None and 200 <= http_status < 300:
            # Accepted, by its status, but the answer was refused (not JSON, not the
            # customer's, echoing the key): the change may well have been made.
            reason = UNREADABLE_SUCCESS_REASON.format(status=http_status, error=reason)
    except Exception as exc:
        # A bug: the request may or may not have gone out. Record that much, then surface it.
        if audit is not None:
            audit.record(
                change,
                "failed",
                reason=f"unexpected error ({type(exc).__name__})",
                pending_seq=pending_seq,
            )
        raise
    else:
        http_status = result.status
        if result.ok:
            status, reason = "applied", ""
        else:
            status, reason = "failed", _failure_reason(change, result)
    if audit is not None:
        audit.record(
            change, status, reason=reason, http_status=http_status, pending_seq=pending_seq
        )
    return ChangeOutcome(change, status, reason, http_status)


def _failure_reason(change: Change, result: ApplyResult) -> str:
    if result.status == 404 and change.action != "delete":
        return GONE_REASON
    return result.reason or f"HTTP {result.status}"
