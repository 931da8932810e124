"""``reconciler audit show``: the audit log as an auditor reads it, filtered, in four formats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from reconciler.audit.history import Query, read_history, time_bound
from reconciler.render import history as render
from reconciler.settings.config import DEFAULT_AUDIT_LOG, find_config

FORMATS = {
    "table": render.render_table,
    "csv": render.render_csv,
    "json": render.render_json,
    "markdown": render.render_markdown,
}
OUTCOMES = ("applied", "failed", "stale", "pending")


def _bound(
    *, end_of_day: bool
) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return time_bound(value, end_of_day=end_of_day)
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is not a date (2026-10-01) or an ISO 8601 time (2026-10-01T09:30:00Z)"
            ) from None

    return convert


@click.command()
@click.argument("file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--customer",
    "customers",
    multiple=True,
    metavar="ID",
    help="Only this customer (exact id; repeatable).",
)
@click.option(
    "--actor", metavar="A", help="Only changes by this actor (as recorded, e.g. github:alice)."
)
@click.option(
    "--since",
    metavar="TIME",
    callback=_bound(end_of_day=False),
    help="From this date or time on (UTC unless an offset is given).",
)
@click.option(
    "--until",
    metavar="TIME",
    callback=_bound(end_of_day=True),
    help="Up to this time; a date includes its whole day.",
)
@click.option(
    "--pull-request",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only changes applied from pull request N.",
)
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    type=click.Choice(OUTCOMES),
    help="Only this outcome (repeatable).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(tuple(FORMATS)),
    default="table",
    show_default=True,
)
def show(
    file: Path | None,
    customers: tuple[str, ...],
    actor: str | None,
    since: str | None,
    until: str | None,
    pull_request: int | None,
    outcomes: tuple[str, ...],
    output_format: str,
) -> int:
    """Show who changed what, when, through which commit and pull request.

    Reads FILE (default: audit_log of ./reconciler.yaml), checks its hash chain first and says
    so; a log whose chain breaks is reported up to the break, marked, and exits 1. Per
    customer, each field's history: time, before → after, outcome, actor, commit, pull
    request; then a summary of the selected records. --format markdown adds a chart of each
    money field over time (Mermaid, drawn by GitHub in comments and step summaries).

    \b
    Examples:
      reconciler audit show --customer acme-corp --since 2026-10-01
      reconciler audit show --pull-request 42 --format markdown >> "$GITHUB_STEP_SUMMARY"
      reconciler audit show --outcome failed --outcome pending --format csv > review.csv
    """
    path = file if file is not None else _configured_log()
    query = Query(
        customers=frozenset(customers),
        actor=actor,
        since=since,
        until=until,
        pull_request=pull_request,
        outcomes=frozenset(outcomes),
    )
    history = read_history(path, query)
    click.echo(FORMATS[output_format](history), nl=False)
    if history.chain_break is not None:
        click.echo(f"Error: {path}: the hash chain breaks at {history.chain_break}", err=True)
        return 1
    return 0


def _configured_log() -> Path:
    config = find_config(Path.cwd())
    if config is None:
        return Path(DEFAULT_AUDIT_LOG)
    if config.audit_log is None:
        raise click.UsageError(
            "reconciler.yaml turns the audit log off (audit_log: null); give FILE"
        )
    try:  # shown as the user would type it
        return config.audit_log.relative_to(Path.cwd())
    except ValueError:
        return config.audit_log
