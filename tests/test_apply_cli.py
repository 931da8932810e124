"""``reconciler apply`` end to end: the real CLI against the Respan emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import stamina
from cli_helpers import (
    AUDIT_LOG,
    FAULTS,
    Run,
    assert_applied_once_despite_faults,
    point_at,
    records,
    results,
)
from scripted_http import Answer, ScriptedApp, Seen, serve

from reconciler.audit import AuditContext, AuditLog, verify_log
from reconciler.emulator import RunningEmulator
from reconciler.providers.respan.emulator import RespanState
from reconciler.render.json import dumps, with_checksum

Emulators = Callable[..., RunningEmulator[RespanState]]
PATCH = "PATCH /api/users/{customer_identifier}/"
DELETE = "DELETE /api/users/{customer_identifier}/"
FAST = "10000/s"
PACED = ("--rate-limit", FAST, "--parallelism", "2")
# Bounds a wait for a condition, never an assertion about how long something took.
DEADLINE_SECONDS = 60

SEED = {
    "customers": [
        {
            "customer_identifier": "acme",
            "name": "Acme",
            "email": "billing@acme.example",
            "period_budget": 250,
            "budget_duration": "monthly",
        },
        {"customer_identifier": "beta", "name": "Beta", "period_budget": 10.5},
        {"customer_identifier": "stray", "name": "Stray"},
    ]
}

DESIRED = """\
provider: respan
environment: prod
customers:
  - customer_identifier: acme
    name: Acme Corp
    period_budget: 300
  - customer_identifier: beta
    name: Beta
    period_budget: 20.25
"""


@pytest.fixture
def project(workdir: Path) -> Path:
    """An empty project directory as the working directory, with the desired manifest."""
    (workdir / "customers.yaml").write_text(DESIRED, encoding="utf-8")
    return workdir


@pytest.fixture
def emulator(
    project: Path, respan_emulator: Emulators, monkeypatch: pytest.MonkeyPatch
) -> RunningEmulator[RespanState]:
    """A seeded Respan emulator the CLI is pointed at through the environment."""
    running = respan_emulator(seed=SEED)
    point_at(monkeypatch, running)
    return running


def writes(running: RunningEmulator[RespanState]) -> int:
    requests = running.stats()["requests"]
    return int(requests.get(PATCH, 0) + requests.get(DELETE, 0))


def budget(running: RunningEmulator[RespanState], customer: str) -> Any:
    found = running.state.get_customer(customer, environment="prod")
    assert found is not None
    return found["period_budget"]


# -- applying and converging ---------------------------------------------------------------------


def test_apply_converges_and_a_second_plan_is_empty(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """Apply makes live state match; then plan shows nothing and apply sends no write."""
    first = cli("apply", "customers.yaml", "--auto-approve", "--rate-limit", FAST)
    assert first.code == 0, first.err
    assert "~ respan/prod/acme" in first.out
    assert "Apply complete: 2 applied, 0 failed, 0 stale, 0 not attempted." in first.out
    assert budget(emulator, "acme") == 300
    assert float(budget(emulator, "beta")) == pytest.approx(20.25)
    assert emulator.state.get_customer("stray", environment="prod") is not None

    second_plan = cli("plan", "customers.yaml", "--detailed-exitcode", "--rate-limit", FAST)
    assert second_plan.code == 0, second_plan.out
    emulator.reset_stats()
    second = cli("apply", "customers.yaml", "--auto-approve", "--rate-limit", FAST)
    assert second.code == 0
    assert "Nothing to apply." in second.out
    assert writes(emulator) == 0


def test_audit_log_flag_and_config_choose_the_file(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """--audit-log wins over audit_log: in reconciler.yaml, which wins over the default."""
    (project / "reconciler.yaml").write_text("audit_log: logs/audit.jsonl\n", encoding="utf-8")
    (project / "logs").mkdir()
    assert cli("apply", "customers.yaml", "--auto-approve", "--rate-limit", FAST).code == 0
    assert len(results(project / "logs" / "audit.jsonl")) == 2
    assert not (project / "reconciler-audit.jsonl").exists()

    emulator.state.update_customer("acme", {"period_budget": 1}, environment="prod")
    flag = project / "flag.jsonl"
    run = cli(
        "apply", "customers.yaml", "--auto-approve", "--rate-limit", FAST, "--audit-log", str(flag)
    )
    assert run.code == 0
    assert [r["customer_id"] for r in results(flag)] == ["acme"]


def test_step_summary_gets_the_outcome_table(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With GITHUB_STEP_SUMMARY set, apply appends its Markdown outcome there."""
    summary = project / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert cli("apply", "customers.yaml", "--auto-approve", "--rate-limit", FAST).code == 0
    text = summary.read_text(encoding="utf-8")
    assert "### reconciler apply" in text
    assert "| applied | update | `respan/prod/acme` | 200 |" in text


# -- confirmation --------------------------------------------------------------------------------


def test_without_a_terminal_or_auto_approve_apply_refuses_before_any_request(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run]
) -> None:
    """No terminal and no --auto-approve: exit 1 saying why, and not one request sent."""
    run = cli("apply", "customers.yaml", "--rate-limit", FAST)
    assert run.code == 1
    assert "--auto-approve" in run.err
    assert emulator.stats()["total_requests"] == 0


@pytest.mark.parametrize(("answer", "code", "applied"), [("yes\n", 0, True), ("y\n", 1, False)])
def test_on_a_terminal_only_yes_approves(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    applied: bool,
) -> None:
    """On a terminal the plan is shown and only a typed 'yes' applies it."""
    monkeypatch.setattr("reconciler.cli.apply._stdin_is_terminal", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    run = cli("apply", "customers.yaml", "--rate-limit", FAST)
    assert run.code == code
    assert "Only 'yes' will be accepted" in run.err
    assert (writes(emulator) > 0) is applied
    if not applied:
        assert "Apply cancelled" in run.err


class _AnswerAfter(io.StringIO):
    """Standard input answering ``yes`` once ``meanwhile`` has run: what happens elsewhere while
    the person reads the plan."""

    def __init__(self, meanwhile: Callable[[], None]) -> None:
        super().__init__("yes\n")
        self.meanwhile = meanwhile

    # As for _CtrlC below: the override is what StringIO itself declares.
    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
        self.meanwhile()
        return super().readline(-1 if size is None else size)


def test_a_customer_changed_while_the_prompt_waits_is_refused_as_stale(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Live state is read again once the person says yes: a customer someone changed while
    the plan was on screen is refused as stale (nothing sent for it), the rest applied."""
    monkeypatch.setattr("reconciler.cli.apply._stdin_is_terminal", lambda: True)

    def someone_else_edits_acme() -> None:
        emulator.state.update_customer("acme", {"period_budget": 5000}, environment="prod")

    monkeypatch.setattr("sys.stdin", _AnswerAfter(someone_else_edits_acme))
    run = cli("apply", "customers.yaml", "--rate-limit", FAST)
    assert run.code == 1, run.err
    assert "Apply finished with problems: 1 applied, 0 failed, 1 stale" in run.out
    assert "period_budget was 250.00 in the plan, now 5000.00" in run.out
    assert budget(emulator, "acme") == 5000
    assert float(budget(emulator, "beta")) == pytest.approx(20.25)
    outcomes = {r["customer_id"]: r["outcome"] for r in results(project / "reconciler-audit.jsonl")}
    assert outcomes == {"acme": "stale", "beta": "applied"}


class _CtrlC(io.StringIO):
    """Standard input on which the person presses Ctrl-C."""

    # typeshed's _IOBase.readline returns bytes and its text streams override it with str under
    # the same ignore: the override is what StringIO itself declares.
    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
        raise KeyboardInterrupt


def test_ctrl_c_at_the_prompt_sends_nothing_and_exits_130(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C at the confirmation question is an interrupt (130), not an error (1)."""
    monkeypatch.setattr("reconciler.cli.apply._stdin_is_terminal", lambda: True)
    monkeypatch.setattr("sys.stdin", _CtrlC())
    run = cli("apply", "customers.yaml", "--rate-limit", FAST)
    assert run.code == 130
    assert "Interrupted." in run.err
    assert writes(emulator) == 0


# -- refusals ------------------------------------------------------------------------------------


def test_policy_violation_refuses_with_exit_3_and_sends_nothing(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plan breaking a guardrail is shown (also in the step summary), then refused, exit 3."""
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(project / "summary.md"))
    (project / "reconciler.yaml").write_text("policy:\n  max_period_budget: 100\n", "utf-8")
    run = cli("apply", "customers.yaml", "--auto-approve", "--rate-limit", FAST)
    assert run.code == 3
    assert "violates policy" in run.err
    assert writes(emulator) == 0
    assert not (project / "reconciler-audit.jsonl").exists()
    assert "1 policy violation" in (project / "summary.md").read_text(encoding="utf-8")


def test_plan_file_with_paths_is_a_usage_error(cli: Callable[..., Run], project: Path) -> None:
    """--plan cannot be combined with PATH: a usage error (exit 1, never 2)."""
    run = cli("apply", "customers.yaml", "--plan", "plan.json", "--auto-approve")
    assert run.code == 1
    assert "--plan applies a saved plan exactly" in run.err


def test_rate_limit_with_several_providers_needs_provider(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """--rate-limit is ambiguous with Respan and Autumn manifests: refused before any request."""
    (project / "autumn.yaml").write_text(
        "provider: autumn\nenvironment: sandbox\ncustomers:\n  - id: c1\n    name: C\n",
        encoding="utf-8",
    )
    run = cli("apply", ".", "--auto-approve", "--rate-limit", FAST)
    assert run.code == 1
    assert "--base-url and --rate-limit need --provider" in run.err
    assert emulator.stats()["total_requests"] == 0


# -- saved plans ---------------------------------------------------------------------------------


def save_plan(cli: Callable[..., Run], *extra: str) -> None:
    run = cli("plan", "customers.yaml", "--out", "plan.json", "--rate-limit", FAST, *extra)
    assert run.code == 0, run.err


def test_saved_plan_applies_exactly_and_refuses_a_customer_changed_since(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """A customer changed after planning is refused as stale; the others are applied."""
    save_plan(cli)
    emulator.state.update_customer("acme", {"period_budget": 999}, environment="prod")
    run = cli("apply", "--plan", "plan.json", "--auto-approve", "--rate-limit", FAST)
    assert run.code == 1
    assert "stale" in run.out
    assert "period_budget was 250.00 in the plan, now 999.00" in run.out
    assert budget(emulator, "acme") == 999  # nothing overwritten
    assert float(budget(emulator, "beta")) == pytest.approx(20.25)
    written = {r["customer_id"]: r for r in results(project / "reconciler-audit.jsonl")}
    assert written["beta"]["outcome"] == "applied"
    assert written["acme"]["outcome"] == "stale"
    assert written["acme"]["drift"] == [
        {"path": "period_budget", "planned": "250.00", "live": "999.00"}
    ]
    assert emulator.stats()["requests"].get(PATCH) == 1


def test_saved_plan_for_a_deleted_customer_is_already_as_planned(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """A planned delete whose customer is already gone is done: nothing sent, no record."""
    (project / "reconciler.yaml").write_text("policy:\n  max_deletes: 5\n", encoding="utf-8")
    save_plan(cli, "--prune")
    emulator.state.delete_customer("stray", environment="prod")
    emulator.reset_stats()
    run = cli("apply", "--plan", "plan.json", "--auto-approve", "--rate-limit", FAST)
    assert run.code == 0, run.out
    assert "already as planned" in run.out
    assert emulator.stats()["requests"].get(DELETE, 0) == 0
    assert emulator.stats()["requests"].get(PATCH) == 2
    assert "stray" not in {r["customer_id"] for r in results(project / AUDIT_LOG)}


def test_rerunning_a_saved_plan_that_stopped_part_way_sends_only_the_rest(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """A change live state already holds (an earlier run applied it) is not sent again nor
    refused as stale: the rerun applies the rest and exits 0."""
    save_plan(cli)
    emulator.state.update_customer(
        "acme", {"name": "Acme Corp", "period_budget": 300}, environment="prod"
    )
    emulator.reset_stats()
    run = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert run.code == 0, run.out
    assert "Apply complete: 2 applied, 0 failed, 0 stale, 0 not attempted." in run.out
    assert re.search(r"applied +update +respan/prod/acme +- +already as planned", run.out)
    assert emulator.stats()["requests"].get(PATCH) == 1
    assert [r["customer_id"] for r in results(project / AUDIT_LOG)] == ["beta"]
    assert float(budget(emulator, "beta")) == pytest.approx(20.25)


def test_saved_plan_for_another_api_is_refused(
    emulator: RunningEmulator[RespanState],
    respan_emulator: Emulators,
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A saved plan made against one base URL is refused against another, before any write."""
    save_plan(cli)
    other = respan_emulator(seed=SEED)
    point_at(monkeypatch, other)
    run = cli("apply", "--plan", "plan.json", "--auto-approve", "--rate-limit", FAST)
    assert run.code == 1
    assert "was planned against" in run.err
    assert writes(other) == 0


def test_tampered_saved_plan_is_refused(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """An edited saved plan fails its checksum and nothing is sent."""
    save_plan(cli)
    path = project / "plan.json"
    path.write_text(path.read_text(encoding="utf-8").replace("300.00", "900.00"), "utf-8")
    run = cli("apply", "--plan", "plan.json", "--auto-approve", "--rate-limit", FAST)
    assert run.code == 1
    assert "checksum mismatch" in run.err
    assert writes(emulator) == 0


def edit_saved_plan(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Edit a saved plan as an attacker with write access would, checksum recomputed the
    documented way (sha256 of the canonical JSON without the checksum key)."""
    document = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    edit(document)
    del document["checksum"]
    path.write_text(dumps(with_checksum(document), indent=2), encoding="utf-8")


def acme_budget(document: dict[str, Any]) -> dict[str, Any]:
    """The period_budget field change of acme in a saved plan document."""
    acme = next(change for change in document["changes"] if change["id"] == "acme")
    return next(field for field in acme["fields"] if field["path"] == "period_budget")


def test_an_edited_amount_is_what_the_plan_shows_the_policy_checks_and_apply_sends(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """No hidden copy: an edited after value is shown, checked by policy, sent and audited."""
    (project / "reconciler.yaml").write_text("policy:\n  max_period_budget: 1000\n", "utf-8")
    save_plan(cli)
    plan_file = project / "plan.json"
    edit_saved_plan(plan_file, lambda document: acme_budget(document).update(after=50000))
    refused = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert refused.code == 3
    assert "$250.00 → $50,000.00" in refused.out
    assert "max_period_budget" in refused.out
    assert writes(emulator) == 0

    edit_saved_plan(plan_file, lambda document: acme_budget(document).update(after=700))
    applied = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert applied.code == 0, applied.err
    assert "$250.00 → $700.00" in applied.out
    assert budget(emulator, "acme") == 700
    sent = next(r for r in records(project / AUDIT_LOG) if r["customer_id"] == "acme")
    assert sent["body"] == {"name": "Acme Corp", "period_budget": "700"}
    assert {"path": "period_budget", "before": "250.00", "after": "700"} in sent["fields"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda document: document["changes"][0].update(payload={"period_budget": 50000}),
            "unexpected key 'payload'",
        ),
        (
            lambda document: acme_budget(document).update(before=290),
            "period_budget shows a before value the plan did not record",
        ),
        (
            lambda document: acme_budget(document).update(kind="text"),
            "period_budget is not of kind text",
        ),
        (
            lambda document: acme_budget(document).update(after="50000"),
            "'50000' is not a money value",
        ),
        (
            lambda document: acme_budget(document).update(after=Decimal("-5")),
            "-5 is not an amount in whole cents of 0 or more",
        ),
        (
            lambda document: acme_budget(document).update(after=Decimal("300.001")),
            "300.001 is not an amount in whole cents",
        ),
        (
            lambda document: acme_budget(document).update(after=Decimal("1e30")),
            "1000000000000000000000000000000 is not an amount in whole cents",
        ),
        (
            lambda document: document["changes"][0].update(action="delete"),
            "a delete changes no fields",
        ),
        (
            lambda document: acme_budget(document).update(path="period_budget.x"),
            "period_budget has no parts to change",
        ),
    ],
)
def test_a_saved_plan_edited_beyond_what_a_plan_can_hold_is_refused(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    project: Path,
    edit: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    """A body beside the fields, a faked before, a kind or type that hides an amount: exit 1."""
    save_plan(cli)
    edit_saved_plan(project / "plan.json", edit)
    run = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert run.code == 1
    assert message in run.err
    assert writes(emulator) == 0


def test_a_saved_plan_is_the_approval_and_applying_it_again_sends_nothing(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """No prompt and no --auto-approve without a terminal; the second run is "already applied"."""
    save_plan(cli)
    first = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert first.code == 0, first.err
    assert budget(emulator, "acme") == 300
    emulator.reset_stats()
    again = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert again.code == 0, again.err
    assert "already applied" in again.out
    assert writes(emulator) == 0
    assert [r["outcome"] for r in records(project / AUDIT_LOG)].count("applied") == 2


def test_a_change_reverted_after_its_plan_applied_it_is_not_sent_again_by_that_plan(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """Rerunning a saved plan (a re-run CI job) after someone undid one of its changes does
    not undo their fix: the change its audit log shows applied is refused as stale, nothing
    sent for it; a change of the plan that never applied is still sent."""
    save_plan(cli)
    emulator.state.update_customer("beta", {"period_budget": 99}, environment="prod")
    first = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert first.code == 1  # beta moved: stale; acme applied
    undone = {"name": "Acme", "period_budget": 250}
    emulator.state.update_customer("acme", undone, environment="prod")
    emulator.state.update_customer("beta", {"period_budget": 10.5}, environment="prod")
    emulator.reset_stats()
    again = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert again.code == 1, again.out
    assert re.search(r"stale +update +respan/prod/acme +- +this saved plan applied it", again.out)
    assert budget(emulator, "acme") == 250  # the revert stands
    assert float(budget(emulator, "beta")) == pytest.approx(20.25)
    assert emulator.stats()["requests"].get(PATCH) == 1
    assert verify_log(project / AUDIT_LOG).intact


def test_a_saved_plan_applies_on_a_terminal_without_asking(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a terminal too, apply --plan asks nothing: saving the reviewed plan approved it."""
    save_plan(cli)
    monkeypatch.setattr("reconciler.cli.apply._stdin_is_terminal", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    run = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert run.code == 0, run.err
    assert "Only 'yes' will be accepted" not in run.err
    assert budget(emulator, "acme") == 300


def test_with_a_plan_key_only_a_plan_signed_with_it_applies(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unsigned, re-checksummed after an edit, or signed with another key: exit 1, nothing sent."""
    save_plan(cli)  # unsigned
    monkeypatch.setenv("RECONCILER_PLAN_KEY", "k1")
    unsigned = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert (unsigned.code, "is not signed" in unsigned.err) == (1, True)

    save_plan(cli)
    text = (project / "plan.json").read_text(encoding="utf-8")
    assert '"signature": "hmac-sha256:' in text
    edit_saved_plan(project / "plan.json", lambda document: acme_budget(document).update(after=1))
    edited = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert (edited.code, "does not carry a valid signature" in edited.err) == (1, True)

    (project / "plan.json").write_text(text, encoding="utf-8")
    monkeypatch.setenv("RECONCILER_PLAN_KEY", "k2")
    other_key = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert (other_key.code, "does not carry a valid signature" in other_key.err) == (1, True)
    assert writes(emulator) == 0
    assert "k1" not in other_key.out + other_key.err

    monkeypatch.setenv("RECONCILER_PLAN_KEY", "k1")
    signed = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert signed.code == 0, signed.err
    assert budget(emulator, "acme") == 300


def test_a_signed_plan_applies_without_the_key_saying_it_was_not_checked(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without RECONCILER_PLAN_KEY a signed plan still applies, with a note on stderr."""
    monkeypatch.setenv("RECONCILER_PLAN_KEY", "k1")
    save_plan(cli)
    monkeypatch.delenv("RECONCILER_PLAN_KEY")
    run = cli("apply", "--plan", "plan.json", "--rate-limit", FAST)
    assert run.code == 0, run.err
    assert "the signature was not checked" in run.err


def test_an_empty_plan_key_is_an_error_not_signing_turned_off(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RECONCILER_PLAN_KEY set but empty stops plan --out before any request."""
    monkeypatch.setenv("RECONCILER_PLAN_KEY", "")
    run = cli("plan", "customers.yaml", "--out", "plan.json", "--rate-limit", FAST)
    assert run.code == 1
    assert "RECONCILER_PLAN_KEY is set but empty" in run.err
    assert emulator.stats()["total_requests"] == 0


def test_a_plan_of_a_remote_api_is_not_applied_to_the_built_in_emulator(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plan made against a remote API, applied where reconciler.yaml falls back to the
    built-in emulator (the API's variables unset), is refused: it is not "applied" to a
    stand-in while the API it was reviewed for is left unchanged."""
    save_plan(cli)
    edit_saved_plan(
        project / "plan.json",
        lambda document: document["providers"][0].update(base_url="https://api.respan.ai"),
    )
    (project / "seed.json").write_text(json.dumps(SEED), encoding="utf-8")
    (project / "reconciler.yaml").write_text(
        "providers:\n  respan:\n    emulator:\n      seed: seed.json\n", encoding="utf-8"
    )
    monkeypatch.delenv("RESPAN_BASE_URL")
    monkeypatch.delenv("RESPAN_API_KEY")
    run = cli("apply", "--plan", "plan.json")
    assert run.code == 1, run.out
    assert (
        "plan.json was planned against https://api.respan.ai, but respan is now the built-in "
        "emulator" in run.err
    )
    assert not (project / AUDIT_LOG).exists()


def test_saved_plan_for_another_provider_is_refused(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run]
) -> None:
    """--provider naming another provider than the saved plan's is refused."""
    save_plan(cli)
    run = cli("apply", "--plan", "plan.json", "--auto-approve", "--provider", "autumn")
    assert run.code == 1
    assert "is a plan for respan, not for --provider autumn" in run.err


class HeldRespan:
    """One Respan customer served from memory: PATCH changes it; the list can be held open."""

    def __init__(self, budget: int) -> None:
        self.row: dict[str, Any] = {"customer_identifier": "acme", "period_budget": budget}
        self.live_at_patch: list[Any] = []
        self.hold_next_list = False
        self.list_held = threading.Event()
        self.release = threading.Event()

    async def __call__(self, seen: Seen) -> Answer:
        if seen.method == "PATCH":
            self.live_at_patch.append(self.row["period_budget"])
            self.row.update(json.loads(seen.body))
            return Answer(200, dict(self.row))
        page = {"count": 1, "next": None, "results": [dict(self.row)]}
        if self.hold_next_list:  # answered with the row as it was when asked
            self.hold_next_list = False
            self.list_held.set()
            await asyncio.to_thread(self.release.wait, DEADLINE_SECONDS)
        return Answer(200, page)


def test_two_saved_plans_applied_at_once_never_overwrite_unseen(
    cli: Callable[..., Run], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A saved plan's live state is read under the audit log's lock: a second apply of the
    same log is refused while the first reads, so no change is sent over a value its stale
    check never saw, and every record's before is what the API held."""
    server = HeldRespan(budget=250)
    with serve(ScriptedApp(server)) as url:
        connection = {"RESPAN_BASE_URL": url, "RESPAN_API_KEY": "rsp_test_key"}
        for name, value in connection.items():
            monkeypatch.setenv(name, value)
        manifest = (
            "provider: respan\nenvironment: prod\ncustomers:\n  - customer_identifier: acme\n"
        )
        for plan_file, budget in (("first.json", 300), ("second.json", 400)):
            (project / "customers.yaml").write_text(
                f"{manifest}    period_budget: {budget}\n", encoding="utf-8"
            )
            made = cli("plan", "customers.yaml", "--out", plan_file)
            assert made.code == 0, made.err

        # second.json is applied first and its live read held; first.json comes meanwhile.
        server.hold_next_list = True
        held = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "apply", "--plan", "second.json"],
            cwd=project,
            env={**os.environ, **connection},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.list_held.wait(DEADLINE_SECONDS), held.stderr
            meanwhile = cli("apply", "--plan", "first.json")
            server.release.set()
            out, err = held.communicate(timeout=DEADLINE_SECONDS)
        finally:
            server.release.set()
            held.kill()
            held.wait()
    assert meanwhile.code == 1
    assert "in use by another apply" in meanwhile.err
    assert held.returncode == 0, out + err
    assert server.live_at_patch == [250]
    applied = [r for r in results(project / AUDIT_LOG) if r["outcome"] == "applied"]
    assert [r["fields"][0]["before"] for r in applied] == ["250.00"]
    assert server.row["period_budget"] == 400


# -- faults, crashes and secrets -----------------------------------------------------------------


def many_customers(count: int) -> tuple[dict[str, Any], str]:
    seed = {
        "customers": [
            {"customer_identifier": f"c{index:03}", "name": f"C{index}", "period_budget": 1}
            for index in range(count)
        ]
    }
    body = "".join(
        f"  - customer_identifier: c{index:03}\n    period_budget: {index + 2}.50\n"
        for index in range(count)
    )
    return seed, f"provider: respan\nenvironment: prod\ncustomers:\n{body}"


@pytest.mark.usefixtures("no_backoff")
def test_faults_never_apply_a_change_twice_or_lose_one(
    respan_emulator: Emulators,
    cli: Callable[..., Run],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under 500s, 429s and dropped connections, each of 300 changes is applied exactly once."""
    seed, manifest = many_customers(250)
    seed["customers"] += [{"customer_identifier": f"old{index:02}"} for index in range(50)]
    (project / "customers.yaml").write_text(manifest, encoding="utf-8")
    (project / "reconciler.yaml").write_text("policy:\n  max_deletes: 50\n", encoding="utf-8")
    running = respan_emulator(seed=seed, fault_seed=7, **FAULTS)
    point_at(monkeypatch, running)
    args = ("customers.yaml", "--prune", "--auto-approve", "--rate-limit", FAST)
    run = cli("apply", *args, "--parallelism", "8")
    assert run.code == 0, run.out + run.err
    assert_applied_once_despite_faults(running, project / AUDIT_LOG, 300)
    assert cli("plan", *args[:2], "--detailed-exitcode", "--rate-limit", FAST).code == 0


WIDE = ("--parallelism", "8")
KILL_MOMENTS = (
    ("PATCH", 1),  # the first request just reached the API, the others are being sent
    ("record", 1),  # the first pending record is on disk, its request may not be out yet
    ("PATCH", 6),
    ("record", 9),
    ("PATCH", 13),
    ("record", 20),
)
"""When each successive run is killed: once the emulator has received N of its PATCHes, or once
the run has written N audit records."""


def kill_moment(
    running: RunningEmulator[RespanState], log: Path, event: str, count: int
) -> Callable[[], bool]:
    """True once ``count`` more PATCHes reached the emulator (``event`` "PATCH") or ``count``
    more records are in the log ("record") than now."""
    if event == "PATCH":
        patches = running.stats()["requests"].get(PATCH, 0)
        return lambda: running.stats()["requests"].get(PATCH, 0) - patches >= count
    lines = log.read_bytes().count(b"\n") if log.exists() else 0
    return lambda: log.exists() and log.read_bytes().count(b"\n") - lines >= count


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    """Poll ``condition`` until true; fail if the process ends first or the guard runs out."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert process.poll() is None, f"apply ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE_SECONDS} s"
        time.sleep(0.001)


def test_no_write_reaches_the_api_without_a_record_even_under_sigkill(
    respan_emulator: Emulators,
    cli: Callable[..., Run],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Applies killed with SIGKILL at six moments leave every PATCH the API received with a
    pending record before it; the log verifies after each kill, and a rerun converges."""
    seed, manifest = many_customers(120)
    (project / "customers.yaml").write_text(manifest, encoding="utf-8")
    running = respan_emulator(seed=seed, latency_ms=100)
    env = {**os.environ, "RESPAN_BASE_URL": running.url, "RESPAN_API_KEY": running.api_key}
    log = project / AUDIT_LOG
    command = [sys.executable, "-m", "reconciler", "apply", "customers.yaml", "--auto-approve"]
    for event, count in KILL_MOMENTS:
        reached = kill_moment(running, log, event, count)
        process = subprocess.Popen(
            [*command, "--rate-limit", FAST, "--parallelism", "4"],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(reached, process, f"{count} new {event}s")
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait()
        assert process.returncode == -signal.SIGKILL
        assert intact_but_for_a_torn_tail(log)
        assert_every_write_was_recorded_first(running, log, seed)

    point_at(monkeypatch, running)
    rerun = cli("apply", "customers.yaml", "--auto-approve", "--rate-limit", FAST, *WIDE)
    assert rerun.code == 0, rerun.err
    assert cli("plan", "customers.yaml", "--detailed-exitcode", "--rate-limit", FAST).code == 0
    assert_every_write_was_recorded_first(running, log, seed)
    final = verify_log(log)
    assert final.intact
    # Every change has a result except those in flight at a kill (each kill found requests
    # waiting out the emulator's latency), which verify lists.
    assert final.unresolved
    assert cli("audit", "verify", str(log)).out.count("result unknown: check live") == len(
        final.unresolved
    )


def intact_but_for_a_torn_tail(log: Path) -> bool:
    """The log verifies, or breaks only at an incomplete last line: Linux stops a write on
    SIGKILL between two pages of the file, so a record that spans a page boundary can be cut
    short (the next run moves that tail aside, and a cut pending record sent nothing)."""
    verification = verify_log(log)
    if verification.chain_break is None:
        return True
    lines = log.read_bytes().split(b"\n")
    return verification.chain_break.line == len(
        lines
    ) and verification.chain_break.reason.startswith("incomplete last line")


def complete_records(log: Path) -> list[dict[str, Any]]:
    """The records of ``log`` without a torn last line (see ``intact_but_for_a_torn_tail``)."""
    *whole, tail = log.read_bytes().split(b"\n")
    found = [json.loads(line) for line in whole]
    with contextlib.suppress(ValueError):
        found.append(json.loads(tail))
    return found


def assert_every_write_was_recorded_first(
    running: RunningEmulator[RespanState], log: Path, seed: dict[str, Any]
) -> None:
    """Each PATCH the emulator received had a pending record: no more PATCHes than pending
    records, and each customer that changed live has one."""
    written = complete_records(log)
    pending = [r["customer_id"] for r in written if r["outcome"] == "pending"]
    assert running.stats()["requests"].get(PATCH, 0) <= len(pending)
    changed = {
        customer["customer_identifier"]
        for customer in seed["customers"]
        if budget(running, customer["customer_identifier"]) != customer["period_budget"]
    }
    assert changed <= set(pending), sorted(changed - set(pending))


def headline_counts(out: str) -> tuple[int, ...]:
    """Applied, failed, stale and not attempted, from apply's closing headline."""
    found = re.search(r"(\d+) applied, (\d+) failed, (\d+) stale, (\d+) not attempted\.", out)
    assert found is not None, out
    return tuple(int(count) for count in found.groups())


def start_apply(project: Path, url: str, key: str) -> subprocess.Popen[str]:
    """``reconciler apply`` of customers.yaml as a real process, two changes in flight at most."""
    env = {**os.environ, "RESPAN_BASE_URL": url, "RESPAN_API_KEY": key}
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "customers.yaml", "--auto-approve", *PACED],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("signal_number", "code", "name"),
    [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")],
)
def test_a_signal_mid_apply_starts_nothing_new_and_prints_what_was_done(
    respan_emulator: Emulators, project: Path, signal_number: int, code: int, name: str
) -> None:
    """Ctrl-C / SIGTERM: in-flight changes finish, no new request, summary, exit 130 / 143."""
    seed, manifest = many_customers(40)
    (project / "customers.yaml").write_text(manifest, encoding="utf-8")
    running = respan_emulator(seed=seed, latency_ms=100)
    process = start_apply(project, running.url, running.api_key)
    try:
        assert running.wait_for_requests(PATCH, 2, DEADLINE_SECONDS) >= 2, process.stderr
        process.send_signal(signal_number)
        at_signal = running.stats()["requests"][PATCH]
        out, err = process.communicate(timeout=DEADLINE_SECONDS)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == code, err
    sent = running.stats()["requests"][PATCH]
    # Only requests in flight at the signal may arrive after it: at most --parallelism 2.
    assert at_signal <= sent <= at_signal + 2
    assert f"Interrupted by {name}: no new request was started." in out
    assert "Apply finished with problems:" in out
    # Those in flight finished (applied) or, on a very slow machine, were abandoned (failed).
    applied, failed, stale, not_attempted = headline_counts(out)
    assert (applied + failed, stale, not_attempted) == (sent, 0, 40 - sent)
    assert f"not sent: the run was interrupted ({name})" in out
    log = project / AUDIT_LOG
    assert verify_log(log).intact
    outcomes = [r["outcome"] for r in records(log)]
    assert outcomes.count("pending") >= sent  # no request left without its record
    assert outcomes.count("applied") == applied
    assert "Traceback" not in err


APPLY = (sys.executable, "-m", "reconciler", "apply")


def test_a_signal_while_a_sent_request_waits_to_be_retried_leaves_its_result_unknown(
    project: Path,
) -> None:
    """A PATCH the API acted on but answered 504 waits for its retry's pacing slot when Ctrl-C
    comes: the change is failed with its result unknown, never "not sent"."""
    row = {"customer_identifier": "acme", "period_budget": 250}

    def gateway_timeout_after_applying(seen: Seen) -> Answer:
        if seen.method != "PATCH":
            return Answer(200, {"count": 1, "next": None, "results": [dict(row)]})
        row.update(json.loads(seen.body))
        return Answer(504, {"detail": "upstream timed out"})

    (project / "customers.yaml").write_text(
        "provider: respan\nenvironment: prod\ncustomers:\n"
        "  - customer_identifier: acme\n    period_budget: 300\n",
        encoding="utf-8",
    )
    with serve(ScriptedApp(gateway_timeout_after_applying)) as url:
        env = {**os.environ, "RESPAN_BASE_URL": url, "RESPAN_API_KEY": "rsp_test_key"}
        process = subprocess.Popen(
            [*APPLY, "customers.yaml", "--auto-approve", "--rate-limit", "2/min"],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stderr is not None
            # The list and the first PATCH fit the rate limit; the retry waits for a slot.
            waiting = next((line for line in process.stderr if "pacing requests" in line), "")
            assert waiting.startswith("Waiting"), "the apply ended without waiting for a slot"
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=DEADLINE_SECONDS)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert row["period_budget"] == 300  # the write took effect
    assert "0 applied, 1 failed, 0 stale, 0 not attempted." in out
    assert "1 change(s) still in flight were abandoned, their result unknown" in out
    result = results(project / AUDIT_LOG)[0]
    assert result["outcome"] == "failed"
    assert result["reason"].startswith("result unknown: the run was interrupted while this change")
    assert "not sent" not in out + json.dumps(result)


def test_requests_still_in_flight_after_the_grace_period_are_abandoned(project: Path) -> None:
    """A server that never answers a PATCH does not hold the exit: both in flight abandoned."""
    seed, manifest = many_customers(10)
    (project / "customers.yaml").write_text(manifest, encoding="utf-8")
    page = {"count": 10, "next": None, "previous": None, "results": seed["customers"]}
    patches: list[str] = []
    arrived = threading.Condition()
    release = threading.Event()  # set once the test is done, so the server can stop at once

    async def hold_writes(seen: Seen) -> Answer:
        if seen.method != "PATCH":  # the list (POST /api/users/list/)
            return Answer(200, page)
        with arrived:
            patches.append(seen.raw_path)
            arrived.notify_all()
        await asyncio.to_thread(release.wait, DEADLINE_SECONDS)  # no answer while it matters
        return Answer(200, {})

    with serve(ScriptedApp(hold_writes)) as url:
        process = start_apply(project, url, "rsp_test_key")
        try:
            with arrived:
                assert arrived.wait_for(lambda: len(patches) >= 2, DEADLINE_SECONDS)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=DEADLINE_SECONDS)
        finally:
            process.kill()
            process.wait()
            release.set()
    assert process.returncode == 130, err
    assert len(patches) == 2
    assert "0 applied, 2 failed, 0 stale, 8 not attempted." in out
    assert "2 change(s) still in flight were abandoned, their result unknown" in out
    assert "result unknown: the run was interrupted while this change was in flight" in out


def test_a_torn_audit_tail_is_repaired_with_a_warning(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """An audit log ending in a cut-short line is repaired, the user warned, the chain kept."""
    log = project / "reconciler-audit.jsonl"
    log.write_bytes(b'{"action":"update","actor":"ci","cust')
    run = cli("apply", "customers.yaml", "--auto-approve", "--rate-limit", FAST)
    assert run.code == 0
    assert "ended with an incomplete record" in run.err
    assert (project / "reconciler-audit.jsonl.torn").exists()
    assert verify_log(log).records == 4


def test_audit_log_null_turns_the_log_off(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """audit_log: null in reconciler.yaml applies without a log, and says so."""
    (project / "reconciler.yaml").write_text("audit_log: null\n", encoding="utf-8")
    run = cli("apply", "customers.yaml", "--auto-approve", "--rate-limit", FAST)
    assert run.code == 0
    assert "audit log is off" in run.err
    assert list(project.glob("*.jsonl")) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_audit_log_that_cannot_be_written_sends_nothing(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """--audit-log /dev/full exits 1 with a clear message before any request is made."""
    run = cli(
        "apply",
        "customers.yaml",
        "--auto-approve",
        "--rate-limit",
        FAST,
        "--audit-log",
        "/dev/full",
    )
    assert run.code == 1
    assert run.err == (
        "Error: audit log /dev/full is not a regular file; point --audit-log (or audit_log: in "
        "reconciler.yaml) at a file\n"
    )
    assert emulator.stats()["total_requests"] == 0


def test_a_file_that_is_not_an_audit_log_is_refused_untouched(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """--audit-log pointed at another file (the manifest itself) exits 1 and leaves it as it was,
    its last line included, with nothing sent."""
    manifest = project / "customers.yaml"
    manifest.write_bytes(manifest.read_bytes() + b"# a last line without a newline")
    original = manifest.read_bytes()
    run = cli("apply", "customers.yaml", "--auto-approve", "--audit-log", "customers.yaml")
    assert run.code == 1
    assert "customers.yaml is not an audit log (its first line is not an audit record)" in run.err
    assert manifest.read_bytes() == original
    assert sorted(path.name for path in project.iterdir()) == ["customers.yaml"]
    assert emulator.stats()["total_requests"] == 0


def test_a_disk_that_fills_up_mid_run_stops_before_an_unrecorded_write(
    respan_emulator: Emulators, project: Path
) -> None:
    """When audit records start failing (file size limit, as on a full disk) apply exits 1, and
    every PATCH the API received had its pending record written first."""
    seed, manifest = many_customers(30)
    (project / "customers.yaml").write_text(manifest, encoding="utf-8")
    running = respan_emulator(seed=seed)
    env = {**os.environ, "RESPAN_BASE_URL": running.url, "RESPAN_API_KEY": running.api_key}
    limit = 4000  # a few records, then every write fails (partly written, as a full disk does)
    wrapper = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "from reconciler.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    args = ["apply", "customers.yaml", "--auto-approve", *PACED]
    result = subprocess.run(
        [sys.executable, "-c", wrapper, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Error: cannot write audit log" in result.stderr
    assert "Traceback" not in result.stderr
    log = project / AUDIT_LOG
    sent = running.stats()["requests"].get(PATCH, 0)
    assert 0 < sent < 30
    with AuditLog.open(log, AuditContext(actor="test")) as audit:  # repairs the torn tail
        assert audit.recovered_tail is not None
    assert_every_write_was_recorded_first(running, log, seed)


def test_apply_prints_the_head_and_creates_the_log_owner_only(
    emulator: RunningEmulator[RespanState], cli: Callable[..., Run], project: Path
) -> None:
    """apply ends with the log's new head (what verify prints) and a new log is 0600."""
    run = cli("apply", "customers.yaml", "--auto-approve", "--rate-limit", FAST)
    assert run.code == 0
    log = project / AUDIT_LOG
    head = verify_log(log).head
    assert run.out.endswith(f"Audit log head: {head} (4 new records)\n")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert cli("audit", "verify", "--expect-head", head).code == 0


def test_progress_is_drawn_on_a_terminal(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With stderr on a terminal a progress bar is drawn there, and stdout stays clean."""
    monkeypatch.setattr("reconciler.cli.common.stderr_is_terminal", lambda: True)
    run = cli("apply", "customers.yaml", "--auto-approve", "--rate-limit", FAST)
    assert run.code == 0
    assert "Applying" in run.err
    assert "Applying" not in run.out


@pytest.mark.parametrize(
    ("fail_fast", "expected"),
    [
        ((), {"acme": "applied", "beta": "failed", "stray": "failed"}),
        (("--fail-fast",), {"acme": "applied", "beta": "failed"}),
    ],
)
def test_failed_changes_exit_1_and_fail_fast_stops_sending(
    respan_emulator: Emulators,
    cli: Callable[..., Run],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    fail_fast: tuple[str, ...],
    expected: dict[str, str],
) -> None:
    """Changes the API refuses fail alone (exit 1); with --fail-fast later ones are not sent."""
    (project / "customers.yaml").write_text(
        DESIRED + "  - customer_identifier: stray\n    name: Stray Cat\n", encoding="utf-8"
    )
    # The server allows the list and one PATCH; retries are off, so the rest answer 429.
    running = respan_emulator(seed=SEED, rate_limit=(2, 3600.0))
    point_at(monkeypatch, running)
    with stamina.set_testing(True, attempts=1):
        run = cli(
            "apply",
            "customers.yaml",
            "--auto-approve",
            *PACED[:2],
            "--parallelism",
            "1",
            *fail_fast,
        )
    assert run.code == 1
    assert table_row(run.out, "respan/prod/beta")[:2] == ["failed", "update"]
    assert "429" in table_row(run.out, "respan/prod/beta")
    written = results(project / "reconciler-audit.jsonl")
    assert {r["customer_id"]: r["outcome"] for r in written} == expected
    if fail_fast:
        assert table_row(run.out, "respan/prod/stray")[:2] == ["not", "attempted"]
        assert "1 applied, 1 failed, 0 stale, 1 not attempted" in run.out


def table_row(out: str, customer: str) -> list[str]:
    """The words of the outcome-table line naming ``customer``."""
    tail = out.split("STATUS", 1)[1]
    return next(line.split() for line in tail.splitlines() if customer in line)


def test_target_limits_what_is_applied_and_github_provenance_is_recorded(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--target applies only matching customers; records carry GitHub's actor, commit and PR."""
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    monkeypatch.setenv("GITHUB_SHA", "a" * 40)
    monkeypatch.setenv("GITHUB_REF", "refs/pull/12/merge")
    run = cli(
        "apply", "customers.yaml", "--auto-approve", "--rate-limit", FAST, "--target", "glob:ac*"
    )
    assert run.code == 0
    (record,) = results(project / "reconciler-audit.jsonl")
    assert (record["customer_id"], record["actor"], record["git_commit"]) == (
        "acme",
        "octocat",
        "a" * 40,
    )
    assert record["pull_request"] == 12
    assert float(budget(emulator, "beta")) == pytest.approx(10.5)


def test_undeclared_live_metadata_keys_survive_an_apply(
    project: Path,
    respan_emulator: Emulators,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., Run],
) -> None:
    """Changing one declared metadata key keeps the keys the manifest does not mention, even
    though the emulator's PATCH replaces the stored object whole."""
    running = respan_emulator(
        seed={"customers": [{"customer_identifier": "m", "metadata": {"tier": "a", "crm": "7"}}]}
    )
    point_at(monkeypatch, running)
    (project / "customers.yaml").write_text(
        "customers:\n  - customer_identifier: m\n    metadata: {tier: b, gone: null}\n",
        encoding="utf-8",
    )
    assert cli("apply", "customers.yaml", "--auto-approve", *PACED).code == 0
    found = running.state.get_customer("m", environment="prod")
    assert found is not None
    assert found["metadata"] == {"tier": "b", "crm": "7"}
    assert cli("plan", "customers.yaml", "--detailed-exitcode", "--rate-limit", FAST).code == 0


def test_prompt_names_what_apply_talks_to(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The plan starts with the API's provider, environment and address; the prompt repeats it."""
    monkeypatch.setattr("reconciler.cli.apply._stdin_is_terminal", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("no\n"))
    run = cli("apply", "customers.yaml", "--rate-limit", FAST)
    target = f"Talking to respan, environment prod, at {emulator.url} (from RESPAN_BASE_URL)"
    assert run.out.splitlines()[0] == target
    assert f"Do you want to perform these actions?\n  {target}\n" in run.err


def test_redact_masks_addresses_in_the_output_and_the_summary(
    emulator: RunningEmulator[RespanState],
    cli: Callable[..., Run],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With --redact, an address changed by apply shows masked on the terminal and in the step
    summary (a public repository's job summary); the audit log keeps it as sent."""
    summary = project / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    (project / "owner.yaml").write_text(
        "provider: respan\nenvironment: prod\ncustomers:\n"
        "  - customer_identifier: acme\n    email: finance@acme.example\n",
        encoding="utf-8",
    )
    run = cli("apply", "owner.yaml", "--auto-approve", "--redact", "--rate-limit", FAST)
    assert run.code == 0, run.err
    assert '"b***@acme.example" → "f***@acme.example"' in run.out
    for shown in (run.out, summary.read_text(encoding="utf-8")):
        assert "billing@" not in shown
        assert "finance@" not in shown
    assert "finance@acme.example" in (project / "reconciler-audit.jsonl").read_text("utf-8")

    # A refused plan is the run's summary: masked too.
    (project / "reconciler.yaml").write_text("policy:\n  max_period_budget: 1\n", "utf-8")
    (project / "owner.yaml").write_text(
        "provider: respan\nenvironment: prod\ncustomers:\n  - customer_identifier: acme\n"
        "    email: audit@acme.example\n    period_budget: 5000\n",
        encoding="utf-8",
    )
    refused = cli("apply", "owner.yaml", "--auto-approve", "--redact", "--rate-limit", FAST)
    assert refused.code == 3
    written = summary.read_text(encoding="utf-8")
    assert "a***@acme.example" in written
    for shown in (refused.out, written):
        assert "audit@" not in shown
        assert "finance@" not in shown
