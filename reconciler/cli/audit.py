"""``reconciler audit verify FILE``: check an audit log's hash chain."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.audit import verify_log
from reconciler.cli.audit_show import show


@click.group()
def audit() -> None:
    """Work with the audit log that apply writes."""


@audit.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def verify(file: Path) -> int:
    """Check FILE's hash chain: exit 0 when intact, 1 naming the first bad line."""
    result = verify_log(file)
    if result.chain_break is not None:
        click.echo(f"FAILED: {file}: {result.chain_break}", err=True)
        click.echo(
            f"{result.records} record(s) before it are intact (last good hash {result.last_hash})",
            err=True,
        )
        return 1
    if result.records == 0:
        click.echo(f"OK: 0 records, {file} is empty")
    else:
        click.echo(f"OK: {result.records} records, chain intact (last hash {result.last_hash})")
    return 0


# Its own module (one per command), registered here so `audit --help` lists it.
audit.add_command(show)
