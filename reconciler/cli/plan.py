"""``reconciler plan``: read live state, print what apply would change, optionally save it.

Flow: manifests (with ``--base REF``, also the same manifests at that git revision) -> for
each provider and environment involved, one live read -> ``build_plan`` -> usage read for
customers whose guarded budget goes down -> policy -> causes against the base -> render to
stdout -> ``--out`` saved plan (signed when ``RECONCILER_PLAN_KEY`` is set) -> Markdown
appended to ``$GITHUB_STEP_SUMMARY`` when set.

Exit codes: 0 success (no changes, or changes without ``--detailed-exitcode``), 2 changes
pending with ``--detailed-exitcode``, 3 a policy guardrail is violated (wins over 2), 1 any
error (including a failed usage read: an unguarded plan never passes for a clean one), 130 /
143 interrupted by Ctrl-C / SIGTERM (no new request is started; nothing is written).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from reconciler.cli.common import (
    CONNECTION_HELP,
    ManifestPath,
    connection_options,
    use_color,
    verbose_logging,
)
from reconciler.cli.planning import connector, plan_from_manifests, selection_options
from reconciler.cli.status import showing_waits
from reconciler.cli.target import target_lines
from reconciler.github.actions import append_step_summary
from reconciler.interrupts import stop_on_signals
from reconciler.manifests.gcpause import cyclic_gc_paused
from reconciler.plan.model import Plan
from reconciler.plan.saved import (
    PLAN_KEY_VARIABLE,
    ProviderTarget,
    plan_key,
    replaceable_by_saved_plan,
    write_saved_plan,
)
from reconciler.planner import PlanOptions
from reconciler.render import render_json, render_markdown, render_text
from reconciler.settings.config import find_config

EXIT_CHANGES = 2
EXIT_POLICY = 3


@click.command(
    epilog="\b\nExamples:\n"
    "  reconciler plan --detailed-exitcode\n"
    "  reconciler plan customers/acme.yaml --target acme-corp\n"
    "  reconciler plan --format markdown --redact > comment.md\n"
    "  reconciler plan --out plan.json && reconciler apply --plan plan.json\n\n" + CONNECTION_HELP
)
@click.argument("paths", nargs=-1, type=ManifestPath())
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help=(
        "Also write the saved plan here, for `reconciler apply --plan FILE` (signed with "
        "RECONCILER_PLAN_KEY when it is set). Replaces only an earlier saved plan or an "
        "empty file."
    ),
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="text for people, markdown for pull requests, json for programs.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes to apply (0: none, 1: error, 3: policy violated).",
)
@click.option("--prune", is_flag=True, help="Plan deletes for live customers no manifest declares.")
@click.option("--redact", is_flag=True, help="Mask e-mail addresses in text and Markdown output.")
@click.option(
    "--base",
    "base_ref",
    metavar="REF",
    help=(
        "Also read the manifests as they were at this git revision (e.g. origin/main) and "
        "tell this change's edits from drift that apply would revert."
    ),
)
@selection_options("Plan")
@connection_options()
def plan(
    paths: tuple[Path, ...],
    out: Path | None,
    output_format: str,
    detailed_exitcode: bool,
    prune: bool,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    redact: bool,
    base_ref: str | None,
    base_url: str | None,
    provider_name: str | None,
    rate_limit: str | None,
    verbose: bool,
) -> int:
    """Show what apply would change, without changing anything.

    PATH is a manifest file or a directory (every *.yaml / *.yml below it). Without PATH, the
    `manifests:` of ./reconciler.yaml are planned.
    """
    if redact and output_format == "json":
        # JSON is for programs (and keeps its checksum): it is never masked, so say so.
        click.echo(
            "Note: --redact masks e-mail addresses in text and Markdown only; the JSON plan "
            "keeps them.",
            err=True,
        )
    # Read before any request: a key set but empty must stop the run, not unsign the plan.
    key = plan_key(os.environ) if out is not None else None
    if out is not None and not replaceable_by_saved_plan(out):
        raise click.UsageError(
            f"--out {out}: the file exists and is not a saved plan (a manifest, settings?); "
            "nothing was written: name a new file, or remove this one first"
        )
    # A plan is short and allocates many small objects but no cycles (see gcpause).
    with cyclic_gc_paused():
        config = find_config(Path.cwd())
        options = PlanOptions(prune=prune, targets=targets, excludes=excludes)
        # Ctrl-C / SIGTERM: no new request, exit 130 / 143 (RunInterrupted, via the CLI).
        with (
            verbose_logging(verbose),
            contextlib.ExitStack() as stack,
            stop_on_signals(reading_only=True) as stop,
            showing_waits(),
        ):
            made = plan_from_manifests(
                paths,
                config,
                options,
                provider_name=provider_name,
                connection_flags=bool(base_url or rate_limit),
                connect=connector(stack, config, base_url, rate_limit, verbose),
                base_ref=base_ref,
            )
            result = made.plan
            stop.check()
            targets_read = [
                ProviderTarget(name, handle.provider.base_url, made.environments[name])
                for name, handle in made.handles.items()
            ]

        target = target_lines(made.handles, made.environments)
        _print(result, output_format, redact, target)
        if out is not None:
            checksum = write_saved_plan(
                out,
                result,
                providers=targets_read,
                manifest_digest=made.digest,
                created_at=datetime.now(UTC),
                key=key,
            )
            signed = f", signed with {PLAN_KEY_VARIABLE}" if key is not None else ""
            click.echo(f"Saved the plan to {out} ({checksum}{signed}).", err=True)
            click.echo(
                f"To apply exactly this plan: reconciler apply --plan {_quoted(out)}", err=True
            )
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            append_step_summary(render_markdown(result, redact=redact, target=target))
        if result.policy_violations:
            return EXIT_POLICY
        return EXIT_CHANGES if detailed_exitcode and result.has_changes else 0


def _quoted(path: Path) -> str:
    return shlex.quote(str(path))


def _print(result: Plan, output_format: str, redact: bool, target: Sequence[str]) -> None:
    if output_format == "json":
        click.echo(render_json(result), nl=False)
    elif output_format == "markdown":
        click.echo(render_markdown(result, redact=redact, target=target), nl=False)
    else:
        color = use_color(sys.stdout, os.environ)
        text = render_text(result, color=color, redact=redact)
        click.echo("\n".join([*target, "", text]), nl=False, color=color)
