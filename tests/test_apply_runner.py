"""The applier core against a fake of the Provider interface: order, parallelism, failures."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import records as read_records

from reconciler.apply import ApplyReport, ChangeOutcome, apply_plan
from reconciler.apply.runner import (
    ABANDONED_REASON,
    ALREADY_LIVE_REASON,
    RETRY_ABANDONED_REASON,
)
from reconciler.audit import AuditContext, AuditLog, verify_log
from reconciler.domain import FieldKind, LiveCustomer
from reconciler.errors import (
    AuditError,
    ConfigError,
    PolicyViolationError,
    ReconcilerError,
    RunInterrupted,
    ServerError,
)
from reconciler.interrupts import GRACE_SECONDS, StopRequest
from reconciler.plan.model import Action, Change, FieldChange, Plan, PolicyViolation
from reconciler.providers.base import ApplyResult, Declared
from reconciler.providers.respan.fields import RESPAN

CONTEXT = AuditContext(actor="tester", plan_checksum="checksum")
# A guard against a hung test, never a timing assertion: barriers normally release at once.
DEADLOCK_GUARD_SECONDS = 10


class FakeProvider:
    """Implements the Provider interface in memory; answers are chosen per customer id."""

    model = RESPAN
    base_url = "http://127.0.0.1:1"

    def __init__(self, answers: Mapping[str, Any] | None = None) -> None:
        self.answers = dict(answers or {})
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.before_answer: dict[str, threading.Event] = {}
        self.barrier: threading.Barrier | None = None
        self.finished_updates_at_delete_start: list[int] = []
        self.finished_updates = 0
        self.audit_path: Path | None = None  # when set: what the log held as each call began
        self.logged_at_call: dict[str, list[str]] = {}

    def read_live(
        self, environment: str, declared: Sequence[Declared]
    ) -> Mapping[str, LiveCustomer]:
        return {}

    def read_usage(self, environment: str, ids: Iterable[str]) -> Mapping[str, Decimal]:
        return {}

    def refusal(self, change: Change) -> str | None:
        return None

    def apply(self, change: Change) -> ApplyResult:
        with self.lock:
            self.calls.append((change.action, change.id))
            if self.audit_path is not None:
                self.logged_at_call[change.id] = [
                    r["outcome"]
                    for r in written_records(self.audit_path)
                    if r["customer_id"] == change.id
                ]
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if change.action == "delete":
                self.finished_updates_at_delete_start.append(self.finished_updates)
        try:
            if self.barrier is not None:
                self.barrier.wait(timeout=DEADLOCK_GUARD_SECONDS)
            gate = self.before_answer.get(change.id)
            if gate is not None:
                assert gate.wait(timeout=DEADLOCK_GUARD_SECONDS)
            answer = self.answers.get(change.id, ApplyResult(ok=True, status=200))
            if callable(answer):
                answer = answer()
            if isinstance(answer, BaseException):
                raise answer
            assert isinstance(answer, ApplyResult)
            return answer
        finally:
            with self.lock:
                self.in_flight -= 1
                if change.action != "delete":
                    self.finished_updates += 1

    def request_counts(self) -> Mapping[str, int]:
        return {}  # no HTTP: the calls are counted in ``calls``

    def close(self) -> None:
        pass


def written_records(path: Path) -> list[dict[str, Any]]:
    """The records of ``path`` whose whole line is written.

    Another worker may be appending as this reads: a last line without its newline is a record
    still being written, never the calling change's own pending record, which was written first.
    """
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]


def change(action: Action, customer_id: str, **extra: Any) -> Change:
    fields = (FieldChange("period_budget", Decimal("1.00"), Decimal("2.00"), FieldKind.MONEY),)
    return Change(
        action=action,
        provider="respan",
        environment="prod",
        id=customer_id,
        fields=fields if action == "update" else (),
        **extra,
    )


def run(
    tmp_path: Path, plan: Plan, provider: FakeProvider, **options: Any
) -> tuple[ApplyReport, list[dict[str, Any]]]:
    """Apply with an audit log; check each call's pending record was on disk before it was
    made and that its result names it; return the report and the result records."""
    path = tmp_path / "audit.jsonl"
    provider.audit_path = path
    with AuditLog.open(path, CONTEXT) as log:
        report = apply_plan(plan, {"respan": provider}, log, **options)
    assert verify_log(path).intact
    return report, results_of(path, provider)


def results_of(path: Path, provider: FakeProvider) -> list[dict[str, Any]]:
    """The result records of ``path``, after checking the write-ahead rule against the calls."""
    records = read_records(path)
    pending = {r["seq"]: r for r in records if r["outcome"] == "pending"}
    for _, customer_id in provider.calls:
        assert provider.logged_at_call[customer_id] == ["pending"], customer_id
    assert sorted(r["customer_id"] for r in pending.values()) == sorted(
        i for _, i in provider.calls
    )
    results = [r for r in records if r["outcome"] != "pending"]
    for result in results:
        if result["outcome"] != "stale":
            assert pending.pop(result["pending_seq"])["customer_id"] == result["customer_id"]
    return results


def statuses(report: ApplyReport) -> dict[str, str]:
    return {outcome.change.id: outcome.status for outcome in report.outcomes}


def test_every_change_is_applied_and_audited_once(tmp_path: Path) -> None:
    """Each mutating change is sent once and gets exactly one 'applied' record."""
    plan = Plan((change("update", "a"), change("update", "b"), change("delete", "c")), 5)
    provider = FakeProvider()
    report, records = run(tmp_path, plan, provider)
    assert sorted(provider.calls) == [("delete", "c"), ("update", "a"), ("update", "b")]
    assert statuses(report) == {"a": "applied", "b": "applied", "c": "applied"}
    assert report.ok
    assert sorted((r["customer_id"], r["outcome"]) for r in records) == [
        ("a", "applied"),
        ("b", "applied"),
        ("c", "applied"),
    ]
    assert all(r["plan_checksum"] == "checksum" and r["http_status"] == 200 for r in records)


def test_outcomes_keep_plan_order(tmp_path: Path) -> None:
    """The report lists outcomes in the plan's order, whatever order they finished in."""
    ids = [f"c{index:02}" for index in range(20)]
    plan = Plan(tuple(change("update", customer_id) for customer_id in ids), 0)
    report, _ = run(tmp_path, plan, FakeProvider(), parallelism=8)
    assert [outcome.change.id for outcome in report.outcomes] == ids


def test_missing_customers_cost_nothing(tmp_path: Path) -> None:
    """A 'missing' customer sends no request, writes no record, and is only counted."""
    plan = Plan((change("missing", "ghost"), change("update", "a")), 0)
    provider = FakeProvider()
    report, records = run(tmp_path, plan, provider)
    assert provider.calls == [("update", "a")]
    assert [r["customer_id"] for r in records] == ["a"]
    assert report.missing == 1
    assert [outcome.change.id for outcome in report.outcomes] == ["a"]


def test_deletes_start_only_after_every_update_finished(tmp_path: Path) -> None:
    """No delete is sent while any create or update is still pending or in flight."""
    plan = Plan(
        (
            change("delete", "d1"),
            change("update", "u1"),
            change("delete", "d2"),
            change("update", "u2"),
            change("update", "u3"),
        ),
        0,
    )
    provider = FakeProvider()
    run(tmp_path, plan, provider, parallelism=4)
    assert provider.finished_updates_at_delete_start == [3, 3]
    assert [action for action, _ in provider.calls[:3]] == ["update"] * 3


def test_parallelism_is_reached_and_never_exceeded(tmp_path: Path) -> None:
    """With parallelism N, N changes run at once and never more."""
    plan = Plan(tuple(change("update", f"c{index}") for index in range(12)), 0)
    provider = FakeProvider()
    provider.barrier = threading.Barrier(3)
    report, _ = run(tmp_path, plan, provider, parallelism=3)
    assert provider.max_in_flight == 3
    assert report.count("applied") == 12


def test_failures_do_not_stop_independent_changes(tmp_path: Path) -> None:
    """Without fail-fast, one failing change leaves every other change applied."""
    error = ServerError(
        "Respan answered 500 after 5 attempts", method="PATCH", path="/x", status=500
    )
    plan = Plan((change("update", "a"), change("update", "b"), change("delete", "c")), 0)
    report, records = run(tmp_path, plan, FakeProvider({"a": error}), parallelism=1)
    assert statuses(report) == {"a": "failed", "b": "applied", "c": "applied"}
    assert not report.ok
    failed = next(r for r in records if r["customer_id"] == "a")
    assert (failed["outcome"], failed["http_status"]) == ("failed", 500)
    assert failed["reason"] == "Respan answered 500 after 5 attempts"


def test_fail_fast_stops_submitting_but_lets_in_flight_finish(tmp_path: Path) -> None:
    """With fail-fast, the change in flight at the failure finishes; later ones are not sent."""
    plan = Plan(
        (
            change("update", "a"),
            change("update", "b"),
            change("update", "c"),
            change("delete", "d"),
        ),
        0,
    )
    provider = FakeProvider({"a": ApplyResult(ok=False, status=422, reason="invalid email")})
    a_settled = threading.Event()
    provider.before_answer["b"] = a_settled

    def progress(outcome: ChangeOutcome) -> None:
        if outcome.change.id == "a":
            a_settled.set()

    report, records = run(
        tmp_path, plan, provider, parallelism=2, fail_fast=True, progress=progress
    )
    assert statuses(report) == {
        "a": "failed",
        "b": "applied",
        "c": "not attempted",
        "d": "not attempted",
    }
    assert sorted(provider.calls) == [("update", "a"), ("update", "b")]
    assert sorted(r["customer_id"] for r in records) == ["a", "b"]
    not_attempted = report.outcomes[2]
    assert "fail-fast" in not_attempted.reason
    assert report.counts() == {"applied": 1, "failed": 1, "stale": 0, "not attempted": 2}


def test_update_answering_404_means_the_customer_vanished(tmp_path: Path) -> None:
    """A PATCH answered 404 is a failure saying the customer no longer exists."""
    plan = Plan((change("update", "gone"),), 0)
    provider = FakeProvider({"gone": ApplyResult(ok=False, status=404, reason="Not found.")})
    report, records = run(tmp_path, plan, provider)
    (outcome,) = report.outcomes
    assert (outcome.status, outcome.reason, outcome.http_status) == (
        "failed",
        "customer no longer exists",
        404,
    )
    assert records[0]["reason"] == "customer no longer exists"


def test_a_provider_refusal_fails_only_that_change(tmp_path: Path) -> None:
    """A deliberate ReconcilerError from a provider fails its change with the message."""
    refusal = ReconcilerError("cannot create Respan customer 'n': Respan has no create endpoint")
    plan = Plan((change("create", "n"), change("update", "a")), 0)
    report, records = run(tmp_path, plan, FakeProvider({"n": refusal}))
    assert statuses(report) == {"n": "failed", "a": "applied"}
    created = next(r for r in records if r["customer_id"] == "n")
    assert (created["reason"], created["http_status"]) == (str(refusal), None)


def test_a_refusal_without_reason_names_the_status(tmp_path: Path) -> None:
    """A provider refusal with no reason is reported with its HTTP status."""
    plan = Plan((change("delete", "x"),), 0)
    report, _ = run(tmp_path, plan, FakeProvider({"x": ApplyResult(ok=False, status=409)}))
    assert report.outcomes[0].reason == "HTTP 409"


def test_progress_hears_of_every_outcome(tmp_path: Path) -> None:
    """The progress callback is called once per attempted or refused change."""
    seen: list[str] = []
    plan = Plan((change("update", "a"), change("delete", "b"), change("missing", "m")), 0)
    run(tmp_path, plan, FakeProvider(), progress=lambda outcome: seen.append(outcome.change.id))
    assert sorted(seen) == ["a", "b"]


def test_policy_violations_refuse_before_any_request(tmp_path: Path) -> None:
    """A plan that breaks a guardrail raises PolicyViolationError and sends nothing."""
    violation = PolicyViolation(rule="max_deletes", message="too many deletes")
    plan = Plan((change("delete", "a"),), 0, (violation,))
    provider = FakeProvider()
    with pytest.raises(PolicyViolationError, match="max_deletes"):
        run(tmp_path, plan, provider)
    assert provider.calls == []


def test_a_change_for_an_unconfigured_provider_is_refused_up_front(tmp_path: Path) -> None:
    """A plan naming a provider that is not configured fails before any request."""
    other = Change(action="update", provider="autumn", environment="sandbox", id="x")
    provider = FakeProvider()
    with pytest.raises(ConfigError, match="autumn"):
        run(tmp_path, Plan((change("update", "a"), other), 0), provider)
    assert provider.calls == []


def test_parallelism_below_one_is_refused(tmp_path: Path) -> None:
    """Parallelism 0 is a configuration error, not a hang."""
    with pytest.raises(ConfigError, match="parallelism"):
        run(tmp_path, Plan((change("update", "a"),), 0), FakeProvider(), parallelism=0)


def test_an_unexpected_error_is_recorded_then_raised(tmp_path: Path) -> None:
    """A bug inside a provider is audited as a failure, stops the run, and is re-raised."""
    plan = Plan((change("update", "a"), change("update", "b")), 0)
    provider = FakeProvider({"a": RuntimeError("bug")})
    path = tmp_path / "audit.jsonl"
    provider.audit_path = path
    with AuditLog.open(path, CONTEXT) as log, pytest.raises(RuntimeError, match="bug"):
        apply_plan(plan, {"respan": provider}, log, parallelism=1)
    records = results_of(path, provider)
    assert [(r["customer_id"], r["reason"]) for r in records] == [
        ("a", "unexpected error (RuntimeError)")
    ]
    assert provider.calls == [("update", "a")]


def test_a_pending_record_that_cannot_be_written_sends_nothing(tmp_path: Path) -> None:
    """When the write-ahead record cannot be written, no change is sent; the AuditError
    surfaces and every change is reported not attempted."""
    plan = Plan((change("update", "a"), change("update", "b"), change("delete", "c")), 0)
    provider = FakeProvider()
    log = AuditLog.open(tmp_path / "audit.jsonl", CONTEXT)
    log.close()  # every write now fails, as on a full disk
    with pytest.raises(AuditError):
        apply_plan(plan, {"respan": provider}, log, parallelism=2)
    assert provider.calls == []


def test_a_result_that_cannot_be_written_stops_the_run(tmp_path: Path) -> None:
    """A result record that fails leaves its pending record, and nothing more is sent."""
    plan = Plan((change("update", "a"), change("update", "b"), change("delete", "c")), 0)
    provider = FakeProvider()
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, CONTEXT)
    provider.audit_path = path

    def close_the_log_then_succeed() -> ApplyResult:
        log.close()  # the result record of "a" is the first write to fail
        return ApplyResult(ok=True, status=200)

    provider.answers["a"] = close_the_log_then_succeed
    with pytest.raises(AuditError):
        apply_plan(plan, {"respan": provider}, log, parallelism=1)
    assert provider.calls == [("update", "a")]
    assert [(r["customer_id"], r["outcome"]) for r in read_records(path)] == [("a", "pending")]
    assert [str(p) for p in verify_log(path).unresolved] == [
        "line 1 (seq 1): update respan/prod/a was about to be sent and has no result record: "
        "result unknown: check live"
    ]


def live(customer_id: str, **fields: Any) -> LiveCustomer:
    return LiveCustomer(provider="respan", environment="prod", id=customer_id, fields=fields)


def test_stale_customers_are_refused_and_the_rest_applied(tmp_path: Path) -> None:
    """With fresh state, a moved customer is refused as stale with no request; others apply."""
    before = {"period_budget": Decimal("1.00")}
    plan = Plan(
        (
            change("update", "moved", before=before),
            change("update", "same", before=before),
            change("update", "vanished", before=before),
        ),
        0,
    )
    fresh = {
        ("respan", "prod", "moved"): live("moved", period_budget=7.5),
        ("respan", "prod", "same"): live("same", period_budget=1.0),
    }
    provider = FakeProvider()
    report, records = run(tmp_path, plan, provider, stale_check=fresh)
    assert provider.calls == [("update", "same")]
    assert statuses(report) == {"moved": "stale", "same": "applied", "vanished": "stale"}
    moved = next(r for r in records if r["customer_id"] == "moved")
    assert moved["outcome"] == "stale"
    assert moved["drift"] == [{"path": "period_budget", "planned": "1.00", "live": "7.50"}]
    assert "period_budget" in moved["reason"]
    vanished = next(r for r in records if r["customer_id"] == "vanished")
    assert (vanished["outcome"], vanished["reason"]) == ("stale", "customer no longer exists")
    assert not report.ok


def test_changes_live_state_already_holds_are_applied_without_a_request(tmp_path: Path) -> None:
    """A rerun of a saved plan: what live already holds (an updated value, a deleted
    customer) is reported applied, with no request and no record; the rest is sent."""
    before = {"period_budget": Decimal("1.00")}
    plan = Plan(
        (
            change("update", "done", before=before),
            change("delete", "gone"),
            change("update", "todo", before=before),
        ),
        0,
    )
    fresh = {
        ("respan", "prod", "done"): live("done", period_budget=2),
        ("respan", "prod", "todo"): live("todo", period_budget=1),
    }
    provider = FakeProvider()
    report, records = run(tmp_path, plan, provider, stale_check=fresh)
    assert provider.calls == [("update", "todo")]
    assert statuses(report) == {"done": "applied", "gone": "applied", "todo": "applied"}
    assert {outcome.change.id: outcome.reason for outcome in report.outcomes} == {
        "done": ALREADY_LIVE_REASON,
        "gone": ALREADY_LIVE_REASON,
        "todo": "",
    }
    assert [r["customer_id"] for r in records] == ["todo"]
    assert report.ok


def test_stale_refusals_do_not_trigger_fail_fast(tmp_path: Path) -> None:
    """A stale customer is refused alone: fail-fast only reacts to failed requests."""
    plan = Plan((change("update", "gone"), change("update", "a")), 0)
    provider = FakeProvider()
    report, _ = run(
        tmp_path, plan, provider, fail_fast=True, stale_check={("respan", "prod", "a"): live("a")}
    )
    assert statuses(report) == {"gone": "stale", "a": "applied"}


def test_without_an_audit_log_changes_still_apply() -> None:
    """With the audit log turned off, outcomes (stale ones included) are still reported."""
    plan = Plan((change("update", "a"), change("update", "gone")), 0)
    provider = FakeProvider()
    report = apply_plan(
        plan, {"respan": provider}, None, stale_check={("respan", "prod", "a"): live("a")}
    )
    assert statuses(report) == {"a": "applied", "gone": "stale"}


class StoppingProvider(FakeProvider):
    """Requests a stop from inside its first change, the way a signal arrives mid-run."""

    def __init__(self, stop: StopRequest) -> None:
        super().__init__()
        self.stop = stop

    def apply(self, change: Change) -> ApplyResult:
        if not self.stop.requested:
            self.stop.request(signal.SIGINT)
        return super().apply(change)


def test_a_stop_sends_nothing_new_and_reports_the_rest_not_attempted(tmp_path: Path) -> None:
    """The change in flight at the stop finishes and is audited; no later one is sent."""
    stop = StopRequest()
    plan = Plan((*(change("update", name) for name in "abcd"), change("delete", "e")), 0)
    provider = StoppingProvider(stop)
    report, records = run(tmp_path, plan, provider, parallelism=1, stop=stop)
    assert provider.calls == [("update", "a")]
    assert statuses(report) == {
        "a": "applied",
        "b": "not attempted",
        "c": "not attempted",
        "d": "not attempted",
        "e": "not attempted",
    }
    assert report.outcomes[1].reason == "not sent: the run was interrupted (SIGINT)"
    assert [r["customer_id"] for r in records] == ["a"]


def test_changes_still_in_flight_after_the_grace_are_abandoned_as_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the grace period the run returns without waiting; the result is reported unknown."""
    now = [0.0]
    stop = StopRequest(clock=lambda: now[0])
    release = threading.Event()
    provider = StoppingProvider(stop)
    # In flight until released: the runner must not wait for it past the grace.
    provider.before_answer["a"] = release
    original = provider.stop.request

    def request_and_let_the_grace_pass(signal_number: int) -> None:
        original(signal_number)
        now[0] += GRACE_SECONDS

    monkeypatch.setattr(provider.stop, "request", request_and_let_the_grace_pass)
    plan = Plan((change("update", "a"), change("update", "b")), 0)
    try:
        report, records = run(tmp_path, plan, provider, parallelism=1, stop=stop)
    finally:
        release.set()
    assert statuses(report) == {"a": "failed", "b": "not attempted"}
    assert report.outcomes[0].reason == ABANDONED_REASON
    assert records == []


def test_a_change_stopped_before_its_request_is_not_attempted(tmp_path: Path) -> None:
    """Refused by the transport after the stop (it waited for the pacer): nothing was sent,
    and its pending record is answered as not sent."""
    plan = Plan((change("update", "a"), change("update", "b")), 0)
    provider = FakeProvider({"a": RunInterrupted(signal.SIGTERM)})
    report, records = run(tmp_path, plan, provider)
    assert statuses(report) == {"a": "not attempted", "b": "applied"}
    reason = "not sent: the run was interrupted (SIGTERM)"
    assert report.outcomes[0].reason == reason
    results = {r["customer_id"]: r for r in records if r["outcome"] != "pending"}
    assert (results["a"]["outcome"], results["a"]["reason"]) == ("failed", reason)
    assert results["a"]["pending_seq"] is not None


def test_a_change_stopped_while_waiting_to_retry_a_sent_request_has_an_unknown_result(
    tmp_path: Path,
) -> None:
    """Interrupted after an attempt reached the API: failed with its result unknown, in the
    report and in the record answering its pending one, never "not sent"."""
    plan = Plan((change("update", "a"),), 0)
    provider = FakeProvider({"a": RunInterrupted(signal.SIGINT, after_sending=True)})
    report, records = run(tmp_path, plan, provider)
    assert statuses(report) == {"a": "failed"}
    assert report.outcomes[0].reason == RETRY_ABANDONED_REASON
    (result,) = [r for r in records if r["outcome"] != "pending"]
    assert (result["outcome"], result["reason"]) == ("failed", RETRY_ABANDONED_REASON)


def test_a_success_status_with_a_refused_answer_is_failed_with_its_result_unknown(
    tmp_path: Path,
) -> None:
    """A write answered 2xx whose answer is refused (not JSON, say) probably took effect: it
    is failed, as nothing confirms it, with a reason and record saying the result is unknown
    rather than that the write did not happen."""
    refused = ServerError(
        "PATCH /api/users/a/: the API answered 200 with a body that is not JSON",
        method="PATCH",
        path="/api/users/a/",
        status=200,
    )
    plan = Plan((change("update", "a"),), 0)
    report, records = run(tmp_path, plan, FakeProvider({"a": refused}))
    assert statuses(report) == {"a": "failed"}
    (result,) = [r for r in records if r["outcome"] != "pending"]
    assert result["http_status"] == 200
    assert result["reason"].startswith("result unknown: the API answered 200, which says the ")
    assert "body that is not JSON" in result["reason"]
