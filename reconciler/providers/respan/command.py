"""``reconciler credits``: Respan credit transactions, newest first, and the balance.

Reads every page of ``GET /api/credit-transactions/list/``, then prints a table (date, type,
amount, expires, description), totals by type, expired grants (shown, not counted) and the
balance as of now. ``--format json`` prints the same as one JSON document with amounts as
decimal text. ``--since`` lists only transactions created from then on; the balance always
covers every transaction.

Exit codes: 0 success, 1 any error (credentials, unreachable API, an unreadable transaction).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import click

from reconciler.cli.common import connection_options, verbose_logging
from reconciler.cli.status import showing_waits
from reconciler.cli.target import connection_notes, echo_lines, variable_hints
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.money import format_money
from reconciler.providers.respan.credits import (
    CreditSummary,
    CreditTransaction,
    InvalidTransaction,
    parse_since,
    parse_transaction,
    summarize,
)
from reconciler.providers.respan.provider import RespanProvider
from reconciler.settings.config import find_config
from reconciler.settings.connection import open_provider
from reconciler.timestamps import utc_text

JSON_FORMAT_VERSION: Final = 1
_COLUMNS: Final = ("Date", "Type", "Amount", "Expires", "Description")


@click.command()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for programs.",
)
@click.option(
    "--since",
    metavar="DATE",
    help="Only transactions created at or after this date (2026-01-31) or date-time (UTC).",
)
@connection_options("Respan API address.")
def credits(
    output_format: str,
    since: str | None,
    base_url: str | None,
    rate_limit: str | None,
    verbose: bool,
) -> int:
    """Show Respan credit transactions and the balance they add up to."""
    since_at = None
    if since is not None:
        try:
            since_at = parse_since(since)
        except ValueError:
            raise click.BadParameter(
                f"{since!r} is not a date (2026-01-31) or date-time (2026-01-31T09:30:00Z)",
                param_hint="--since",
            ) from None
    config = find_config(Path.cwd())
    echo_lines(variable_hints(os.environ))
    with (
        verbose_logging(verbose),
        showing_waits(),
        open_provider(
            "respan",
            config=config,
            base_url_flag=base_url,
            rate_limit_flag=rate_limit,
            verbose=verbose,
        ) as handle,
    ):
        echo_lines(connection_notes(handle))
        provider = handle.provider
        if not isinstance(provider, RespanProvider):  # pragma: no cover - open_provider's choice
            raise ConfigError("credit transactions need the Respan provider")
        raw = provider.client.list_credit_transactions()
    try:
        transactions = [parse_transaction(item) for item in raw]
    except InvalidTransaction as exc:
        raise ReconcilerError(f"the API returned an unreadable credit transaction: {exc}") from None
    now = datetime.now(UTC).replace(microsecond=0)
    summary = summarize(transactions, now=now, since=since_at)
    if output_format == "json":
        click.echo(json.dumps(summary_json(summary), indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(summary), nl=False)
    return 0


def render_text(summary: CreditSummary) -> str:
    """The table, totals by type, expired grants and the balance, as plain text."""
    lines: list[str] = []
    scope = f" created since {_instant(summary.since)}" if summary.since else ""
    if summary.transactions:
        rows = [_row(t, summary.as_of) for t in summary.transactions]
        lines.append(f"Credit transactions{scope} (newest first):")
        lines.append("")
        lines.extend(_table(rows))
    else:
        lines.append(f"No credit transactions{scope}.")
    lines.append("")
    if summary.totals_by_type:
        totals = ", ".join(f"{k} {format_money(v)}" for k, v in summary.totals_by_type.items())
        lines.append(f"Totals by type: {totals}")
    if summary.expired_count:
        lines.append(
            f"Expired grants (not in the balance): {format_money(summary.expired_total)} "
            f"({summary.expired_count})"
        )
    lines.append(f"Balance: {format_money(summary.balance)} as of {_instant(summary.as_of)}")
    return "\n".join(lines) + "\n"


def summary_json(summary: CreditSummary) -> dict[str, Any]:
    """The summary as JSON-ready data; amounts are decimal text (exact), times UTC ``Z``."""
    return {
        "format_version": JSON_FORMAT_VERSION,
        "as_of": _instant(summary.as_of),
        "since": _instant(summary.since) if summary.since else None,
        "balance": _amount(summary.balance),
        "expired": {"total": _amount(summary.expired_total), "count": summary.expired_count},
        "totals_by_type": {k: _amount(v) for k, v in summary.totals_by_type.items()},
        "listed_net": _amount(summary.listed_net),
        "transactions": [
            {
                "id": t.id,
                "created_at": _instant(t.created_at),
                "transaction_type": t.transaction_type,
                "amount": _amount(t.amount),
                "expires_at": _instant(t.expires_at) if t.expires_at else None,
                "expired": t.expired(summary.as_of),
                "description": t.description,
            }
            for t in summary.transactions
        ],
    }


def _row(transaction: CreditTransaction, now: datetime) -> tuple[str, ...]:
    expires = _day(transaction.expires_at) if transaction.expires_at else "-"
    if transaction.expired(now):
        expires += " (expired)"
    return (
        _day(transaction.created_at),
        transaction.transaction_type,
        format_money(transaction.amount),
        expires,
        " ".join(transaction.description.split()),  # one line per transaction
    )


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i == 2 else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    return [line(_COLUMNS), line(["-" * width for width in widths]), *map(line, rows)]


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _instant(moment: datetime) -> str:
    return utc_text(moment)


def _amount(value: Decimal) -> str:
    return format(value, "f")
