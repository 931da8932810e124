"""``reconciler apply``: make live state match the manifests, or apply a saved plan exactly.

Flow: plan (from manifests, as ``plan`` does; or load ``--plan FILE``, lock the audit log and
re-read the live state of the customers it touches) -> show the plan -> refuse on policy
(exit 3) -> confirm (typed ``yes`` on a terminal, or ``--auto-approve``; after a typed ``yes``,
lock the log and re-read live state, as for a saved plan) -> ``apply_plan`` with the audit log
open -> a table of outcomes on stdout -> Markdown to ``$GITHUB_STEP_SUMMARY`` when set. A
stale check is only as good as the read it compares with, so the log's lock is held from
before that read: another apply on the log cannot write in between.

Exit codes: 0 every change applied (or nothing to do), 1 any failure, stale refusal, refusal
to run unconfirmed, or error, 3 a policy guardrail is violated (nothing is sent).

Confirmation is checked before anything is read: without a terminal and ``--auto-approve`` no
one can answer, so the run stops at once instead of reading live state for nothing. A saved
plan is the approval (Terraform's convention): ``apply --plan FILE`` never asks. With
``RECONCILER_PLAN_KEY`` set it applies only a plan signed with that key. A saved plan whose
every change is already live sends nothing and says "already applied" (exit 0), so a rerun of
a finished apply is harmless.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import sys
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click

from reconciler.apply import ApplyReport, FreshState, ProgressCallback, already_applied, apply_plan
from reconciler.apply.runner import UNKNOWN_RESULT_REASONS
from reconciler.apply.summary import headline, report_markdown, report_table
from reconciler.audit import AuditLog, discover_context
from reconciler.audit.replay import ChangeKey, applied_by_plan
from reconciler.cli.common import (
    CONNECTION_HELP,
    ManifestPath,
    connection_options,
    use_color,
    verbose_logging,
)
from reconciler.cli.planning import (
    ConnectFn,
    ManifestPlan,
    connector,
    plan_from_manifests,
    selection_options,
    with_policy,
)
from reconciler.cli.status import progress_bar, showing_waits
from reconciler.cli.target import target_lines
from reconciler.clients.secret import public_url
from reconciler.domain import CustomerKey, LiveCustomer, Source
from reconciler.errors import RunInterrupted, SavedPlanError
from reconciler.github.actions import append_step_summary
from reconciler.interrupts import stop_on_signals
from reconciler.plan.model import MUTATING_ACTIONS, Change, Plan
from reconciler.plan.saved import PLAN_KEY_VARIABLE, load_saved_plan, plan_key
from reconciler.planner import PlanOptions
from reconciler.providers.base import Declared
from reconciler.render import render_markdown, render_text
from reconciler.render.json import plan_document
from reconciler.settings.config import DEFAULT_AUDIT_LOG, Config, find_config, project_audit_log
from reconciler.settings.connection import ProviderHandle
from reconciler.settings.urls import is_loopback

EXIT_FAILED = 1
EXIT_POLICY = 3
CONFIRMATION = "yes"
NOTHING_SENT = "Nothing was sent."
NOT_APPLIED = "nothing was applied."


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A plan ready to apply, with what the audit records and the stale check need."""

    plan: Plan
    checksum: str
    manifest_dir: Path | None
    fresh: FreshState | None = None
    # A saved plan whose every change is already live: nothing is sent.
    already_applied: bool = False
    # Per provider, the environments the plan reads and changes (for the target line).
    environments: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    # A saved plan's changes its audit log shows it applied in an earlier run (record seq).
    applied_earlier: Mapping[ChangeKey, int] = dataclasses.field(default_factory=dict)


@click.command(
    epilog="\b\nExamples:\n"
    "  reconciler apply                       plan, show, ask for 'yes', apply\n"
    "  reconciler apply --plan plan.json      apply exactly a saved plan, no prompt\n"
    "  reconciler apply --auto-approve --target acme-corp\n\n" + CONNECTION_HELP
)
@click.argument("paths", nargs=-1, type=ManifestPath())
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help=(
        "Apply exactly this saved plan (from `reconciler plan --out FILE`). The saved plan is "
        "the approval: no prompt. With RECONCILER_PLAN_KEY set, only a plan signed with it."
    ),
)
@click.option(
    "--auto-approve",
    is_flag=True,
    help="Apply without asking for confirmation (--plan never asks).",
)
@click.option("--prune", is_flag=True, help="Delete live customers no manifest declares.")
@click.option(
    "--parallelism",
    type=click.IntRange(min=1, max=64),
    default=4,
    show_default=True,
    help="Changes in flight at once (requests are still paced to the rate limit).",
)
@click.option(
    "--audit-log",
    type=click.Path(path_type=Path, dir_okay=False),
    help=(
        f"Audit log to append to [default: audit_log of reconciler.yaml, else {DEFAULT_AUDIT_LOG}]."
    ),
)
@click.option("--fail-fast", is_flag=True, help="Send nothing new after the first failure.")
@click.option(
    "--redact",
    is_flag=True,
    help="Mask e-mail addresses in text and Markdown output (the audit log keeps them).",
)
@selection_options("Apply")
@connection_options()
def apply(
    paths: tuple[Path, ...],
    plan_file: Path | None,
    auto_approve: bool,
    prune: bool,
    parallelism: int,
    audit_log: Path | None,
    fail_fast: bool,
    redact: bool,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    base_url: str | None,
    provider_name: str | None,
    rate_limit: str | None,
    verbose: bool,
) -> int:
    """Make live state match the manifests, or apply a saved plan with --plan FILE.

    Shows the plan and asks for `yes` on a terminal; --auto-approve skips the question, and a
    saved plan is applied without asking (saving the reviewed plan approved it). Every
    attempted change is appended to a hash-chained audit log. Ctrl-C or SIGTERM sends nothing
    new, prints what was done and exits 130 / 143.
    """
    if plan_file is not None and (paths or prune or targets or excludes):
        raise click.UsageError(
            "--plan applies a saved plan exactly: give no PATH, --prune, --target or --exclude"
        )
    # A saved plan was approved when it was reviewed and saved: applying it needs no prompt.
    approved = auto_approve or plan_file is not None
    if not approved and not _stdin_is_terminal():
        click.echo(
            "Error: refusing to apply without confirmation: there is no terminal to ask on. "
            "Review the plan (reconciler plan) and rerun with --auto-approve.",
            err=True,
        )
        return EXIT_FAILED
    config = find_config(Path.cwd())
    audit_path = project_audit_log(config, Path.cwd()) if audit_log is None else audit_log
    if audit_path is not None:
        # A log that cannot be written (or is not an audit log) is refused before any request.
        AuditLog.probe(audit_path)
    audit: AuditLog | None = None
    audit_open = False
    with verbose_logging(verbose), contextlib.ExitStack() as stack:
        connect = connector(stack, config, base_url, rate_limit, verbose)
        try:
            # Ctrl-C while reading stops the reads (nothing was sent); at the prompt it is Ctrl-C.
            with stop_on_signals(reading_only=True) as stop, showing_waits():
                if plan_file is None:
                    made = plan_from_manifests(
                        paths,
                        config,
                        PlanOptions(prune, targets, excludes),
                        provider_name=provider_name,
                        connection_flags=bool(base_url or rate_limit),
                        connect=connect,
                    )
                    prepared, handles = _from_manifests(made), made.handles
                else:
                    prepared, handles = _from_saved_plan(plan_file, config, provider_name, connect)
                    if _sends(prepared.plan):
                        # Locked before live state is read: another apply on this log cannot
                        # write between the stale check's read and this run's requests.
                        audit, audit_open = _open_audit(stack, audit_path, prepared), True
                        prepared = _with_fresh_state(prepared, handles, plan_file, audit)
                stop.check()
        except RunInterrupted as exc:
            click.echo(f"Interrupted by {exc.signal_name} while reading live state: {NOT_APPLIED}")
            return exc.exit_code
        plan = prepared.plan
        target = target_lines(handles, prepared.environments)
        color = use_color(sys.stdout, os.environ)
        text = render_text(plan, color=color, redact=redact)
        click.echo("\n".join([*target, "", text]), nl=False, color=color)
        if (plan.policy_violations or not plan.has_changes) and os.environ.get(
            "GITHUB_STEP_SUMMARY"
        ):
            # Nothing will be sent: the plan itself is the run's summary.
            append_step_summary(render_markdown(plan, target=target, redact=redact))
        if plan.policy_violations:
            click.echo("Error: the plan violates policy; nothing was applied.", err=True)
            return EXIT_POLICY
        if not plan.has_changes:
            click.echo("Nothing to apply.")
            return 0
        if prepared.already_applied:
            click.echo(f"The saved plan is already applied: live state matches it. {NOTHING_SENT}")
            return 0
        if not approved and not _confirmed(target):
            click.echo("Apply cancelled: nothing was changed.", err=True)
            return EXIT_FAILED
        with stop_on_signals() as stop, showing_waits():
            if not audit_open:
                audit = _open_audit(stack, audit_path, prepared)
                if not approved:
                    # The answer may have taken minutes: live state is read again (under the
                    # log's lock), and a customer that moved meanwhile is refused as stale,
                    # as for a saved plan, rather than changed over a value nobody reviewed.
                    prepared = _with_fresh_state(prepared, handles, None, audit)
            report = _run(prepared, handles, audit, parallelism, fail_fast)
    click.echo("")
    click.echo(report_table(report, redact=redact), nl=False)
    click.echo(headline(report))
    if audit is not None:
        # The head, kept outside the log, is what `audit verify --expect-head` checks next time.
        click.echo(f"Audit log head: {audit.last_hash} ({audit.records_written} new records)")
    append_step_summary(report_markdown(report, redact=redact))
    if stop.signal_number is not None:
        return _interrupted(stop.signal_number, report)
    return 0 if report.ok else EXIT_FAILED


def _interrupted(signal_number: int, report: ApplyReport) -> int:
    """Say what an interrupt left undone (the table above says what was done); 128 + signal."""
    interruption = RunInterrupted(signal_number)
    unknown = sum(1 for outcome in report.outcomes if outcome.reason in UNKNOWN_RESULT_REASONS)
    detail = (
        f"; {unknown} change(s) still in flight were abandoned, their result unknown: run "
        "`reconciler plan` to see live state"
        if unknown
        else ""
    )
    click.echo(f"Interrupted by {interruption.signal_name}: no new request was started{detail}.")
    return interruption.exit_code


def _from_manifests(made: ManifestPlan) -> _Prepared:
    """A plan made from manifests, its audit records pointing at the first manifest source."""
    first = Path(made.sources[0])
    manifest_dir = first if first.is_dir() else first.parent
    checksum = str(plan_document(made.plan)["checksum"])
    return _Prepared(made.plan, checksum, manifest_dir, environments=made.environments)


def _from_saved_plan(
    plan_file: Path,
    config: Config | None,
    provider_name: str | None,
    connect: ConnectFn,
) -> tuple[_Prepared, dict[str, ProviderHandle]]:
    """Load and check a saved plan and connect to its providers; the policy in force is
    applied to it (``_with_fresh_state`` reads the live state it is checked against)."""
    saved = load_saved_plan(plan_file, key=plan_key(os.environ))
    if saved.signed and plan_key(os.environ) is None:
        click.echo(
            f"Note: {plan_file} is signed, but {PLAN_KEY_VARIABLE} is not set, so the signature "
            "was not checked.",
            err=True,
        )
    names = sorted({change.provider for change in saved.plan.changes})
    if provider_name is not None and names and names != [provider_name]:
        raise SavedPlanError(
            f"{plan_file} is a plan for {', '.join(names)}, not for --provider {provider_name}"
        )
    handles: dict[str, ProviderHandle] = {}
    environments: dict[str, Sequence[str]] = {}
    for name in names:
        target = saved.provider(name)
        if target is None:
            raise SavedPlanError(f"{plan_file} records no API address for provider {name}")
        handle = connect(name)
        current = public_url(handle.provider.base_url)
        if handle.emulator is not None:
            # An in-process emulator listens on a new port every run, so its address cannot
            # match; but a plan of a remote API must not be "applied" to it instead.
            if not is_loopback(urlsplit(target.base_url).hostname):
                raise SavedPlanError(
                    f"{plan_file} was planned against {target.base_url}, but {name} is now the "
                    f"built-in emulator (providers.{name}.emulator in reconciler.yaml); point "
                    f"{name} at that API to apply it, or plan again against the emulator"
                )
        elif current != target.base_url:
            raise SavedPlanError(
                f"{plan_file} was planned against {target.base_url}, but {name} is now "
                f"configured for {current}; plan again against this API"
            )
        for change in saved.plan.changes:
            if change.provider == name and change.environment not in target.environments:
                raise SavedPlanError(
                    f"{plan_file}: {change.provider}/{change.environment}/{change.id} is in an "
                    f"environment the plan did not read ({', '.join(target.environments)})"
                )
        handles[name] = handle
        environments[name] = target.environments
    plan = saved.plan
    if not plan.policy_violations:
        # Enforce this project's guardrails too: a plan made under a laxer reconciler.yaml
        # must not get past the one in force where it is applied.
        plan = with_policy(plan, config, {name: h.provider for name, h in handles.items()})
    manifest_dir = config.root if config is not None else plan_file.resolve().parent
    prepared = _Prepared(plan, saved.checksum, manifest_dir, environments=environments)
    return prepared, handles


def _sends(plan: Plan) -> bool:
    """Whether applying ``plan`` may send anything: it has a change to make, within policy."""
    return plan.has_changes and not plan.policy_violations


def _with_fresh_state(
    prepared: _Prepared,
    handles: Mapping[str, ProviderHandle],
    plan_file: Path | None,
    audit: AuditLog | None,
) -> _Prepared:
    """``prepared`` with the live state, read now, of every customer its plan touches: what
    the stale check compares with, and whether the plan is already applied; and, for a saved
    plan (``plan_file``), with what the (open, locked) audit log says it applied before. A
    plan just made from manifests has no earlier runs: the same changes planned again after
    someone undid them are a new review, not a replay."""
    changes = [change for change in prepared.plan.changes if change.action in MUTATING_ACTIONS]
    earlier = (
        applied_by_plan(audit.path, prepared.checksum)
        if audit is not None and plan_file is not None
        else {}
    )
    fresh = _read_fresh(handles, changes, plan_file)
    done = all(
        already_applied(change, fresh.get(change.key), handles[change.provider].provider.model)
        for change in changes
    )
    return dataclasses.replace(
        prepared, fresh=fresh, already_applied=bool(changes) and done, applied_earlier=earlier
    )


def _read_fresh(
    handles: Mapping[str, ProviderHandle], changes: Sequence[Change], plan_file: Path | None
) -> FreshState:
    """Live state now, with the same list/retrieve economy as plan: each customer the plan
    touches is passed as declaring the fields its ``before`` holds (declared in the saved
    plan's file, or where its manifest declares it)."""
    wanted: dict[tuple[str, str], list[Declared]] = defaultdict(list)
    for change in changes:
        where = change.source if plan_file is None else None
        source = where or Source(str(plan_file or "the plan"), 1)
        wanted[(change.provider, change.environment)].append(
            Declared(change.id, frozenset(change.before), source)
        )
    fresh: dict[CustomerKey, LiveCustomer] = {}
    for (name, environment), declared in sorted(wanted.items()):
        for found in handles[name].provider.read_live(environment, declared).values():
            fresh[found.key] = found
    return fresh


def _open_audit(
    stack: contextlib.ExitStack[bool | None], audit_path: Path | None, prepared: _Prepared
) -> AuditLog | None:
    """Open and lock the audit log for the rest of the run (``None``: the log is off)."""
    if audit_path is None:
        click.echo("Note: the audit log is off (audit_log: null in reconciler.yaml).", err=True)
        return None
    context = discover_context(
        os.environ, manifest_dir=prepared.manifest_dir, plan_checksum=prepared.checksum
    )
    audit = stack.enter_context(AuditLog.open(audit_path, context))
    if audit.recovered_tail is not None:
        click.echo(
            f"Warning: {audit_path} ended with an incomplete record (a write was cut "
            f"short); it was moved to {audit.recovered_tail} and the chain continues "
            "from the last complete record.",
            err=True,
        )
    return audit


def _run(
    prepared: _Prepared,
    handles: Mapping[str, ProviderHandle],
    audit: AuditLog | None,
    parallelism: int,
    fail_fast: bool,
) -> ApplyReport:
    providers = {name: handle.provider for name, handle in handles.items()}
    total = sum(1 for change in prepared.plan.changes if change.action in MUTATING_ACTIONS)
    with _progress(total) as progress:
        return apply_plan(
            prepared.plan,
            providers,
            audit,
            parallelism=parallelism,
            fail_fast=fail_fast,
            progress=progress,
            stale_check=prepared.fresh,
            applied_earlier=prepared.applied_earlier,
        )


@contextlib.contextmanager
def _progress(total: int) -> Iterator[ProgressCallback | None]:
    """Advance a progress bar by one per finished change (when stderr is a terminal)."""
    if total == 0:
        yield None
        return
    with progress_bar("Applying", total) as update:
        if update is None:
            yield None
            return
        done = itertools.count(1)
        yield lambda outcome: update(next(done), total)


def _confirmed(target: Sequence[str]) -> bool:
    named = "".join(f"  {line}\n" for line in target)
    click.echo(
        f"\nDo you want to perform these actions?\n{named}"
        f"  Only '{CONFIRMATION}' will be accepted to approve.\n",
        err=True,
    )
    answer = click.prompt("  Enter a value", default="", show_default=False, err=True)
    return str(answer).strip() == CONFIRMATION


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()
