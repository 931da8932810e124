"""``reconciler plan``: read live state, print what apply would change, optionally save it.

Flow: manifests -> for each provider and environment involved, one live read -> ``build_plan``
-> usage read for customers whose guarded budget goes down -> policy -> render to stdout ->
``--out`` saved plan -> Markdown appended to ``$GITHUB_STEP_SUMMARY`` when set.

Exit codes: 0 success (no changes, or changes without ``--detailed-exitcode``), 2 changes
pending with ``--detailed-exitcode``, 3 a policy guardrail is violated (wins over 2), 1 any
error (including a failed usage read: an unguarded plan never passes for a clean one).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from reconciler.cli.common import connection_options, manifest_paths, use_color, verbose_logging
from reconciler.config import find_config
from reconciler.connection import open_provider
from reconciler.domain import Policy
from reconciler.gcpause import cyclic_gc_paused
from reconciler.github_actions import append_step_summary
from reconciler.livestate import environments, read_live, read_usage
from reconciler.manifests import load_manifests
from reconciler.plan import Plan
from reconciler.planner import PlanOptions, build_plan, evaluate_policy
from reconciler.providers.catalog import MODELS
from reconciler.render import render_json, render_markdown, render_text
from reconciler.savedplan import ProviderTarget, write_saved_plan

EXIT_CHANGES = 2
EXIT_POLICY = 3


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the saved plan here, for `reconciler apply --plan FILE`.",
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
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ID",
    help="Only customers whose id matches this glob (repeatable).",
)
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="ID",
    help="Leave out customers whose id matches this glob (repeatable).",
)
@click.option("--redact", is_flag=True, help="Mask e-mail addresses in text and Markdown output.")
@connection_options()
@click.option(
    "--provider",
    "provider_name",
    type=click.Choice(sorted(MODELS)),
    help="Plan only this provider's customers; --base-url and --rate-limit apply to it.",
)
def plan(
    paths: tuple[Path, ...],
    out: Path | None,
    output_format: str,
    detailed_exitcode: bool,
    prune: bool,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    redact: bool,
    base_url: str | None,
    provider_name: str | None,
    rate_limit: str | None,
    verbose: bool,
) -> int:
    """Show what apply would change, without changing anything.

    PATH is a manifest file or a directory (every *.yaml / *.yml below it). Without PATH, the
    `manifests:` of ./reconciler.yaml are planned.
    """
    # A plan is short and allocates many small objects but no cycles (see gcpause).
    with cyclic_gc_paused():
        config = find_config(Path.cwd())
        loaded = load_manifests(manifest_paths(paths, config))
        for warning in loaded.warnings:
            click.echo(str(warning), err=True)
        customers = [
            customer
            for customer in loaded.customers
            if provider_name is None or customer.provider == provider_name
        ]
        providers = sorted({customer.provider for customer in customers})
        if (base_url or rate_limit) and provider_name is None and len(providers) > 1:
            raise click.UsageError(
                "--base-url and --rate-limit need --provider when the manifests use several "
                f"providers ({', '.join(providers)})"
            )
        options = PlanOptions(prune=prune, targets=targets, excludes=excludes)
        policy = config.policy if config is not None else Policy()

        with verbose_logging(verbose), contextlib.ExitStack() as stack:
            handles = {
                name: stack.enter_context(
                    open_provider(
                        name,
                        config=config,
                        base_url_flag=base_url,
                        rate_limit_flag=rate_limit,
                        verbose=verbose,
                    )
                )
                for name in providers
            }
            providers_by_name = {name: handle.provider for name, handle in handles.items()}
            wanted = environments(customers)
            live = read_live(providers_by_name, wanted, customers, options)
            result = build_plan(customers, live, MODELS, options)
            usage = read_usage(providers_by_name, result)
            result = dataclasses.replace(
                result, policy_violations=evaluate_policy(result, policy, usage, MODELS)
            )
            targets_read = [
                ProviderTarget(name, handles[name].provider.base_url, wanted[name])
                for name in providers
            ]

        _print(result, output_format, redact)
        if out is not None:
            checksum = write_saved_plan(
                out,
                result,
                providers=targets_read,
                manifest_digest=loaded.digest,
                created_at=datetime.now(UTC),
            )
            click.echo(f"Saved the plan to {out} ({checksum}).", err=True)
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            append_step_summary(render_markdown(result, redact=redact))
        if result.policy_violations:
            return EXIT_POLICY
        return EXIT_CHANGES if detailed_exitcode and result.has_changes else 0


def _print(result: Plan, output_format: str, redact: bool) -> None:
    if output_format == "json":
        click.echo(render_json(result), nl=False)
    elif output_format == "markdown":
        click.echo(render_markdown(result, redact=redact), nl=False)
    else:
        color = use_color(sys.stdout, os.environ)
        click.echo(render_text(result, color=color, redact=redact), nl=False, color=color)
