"""``reconciler audit verify [FILE] [--expect-head HASH]``: check an audit log's hash chain."""

from __future__ import annotations

import re
from pathlib import Path

import click

from reconciler.audit import GENESIS_HASH, Verification, verify_log
from reconciler.cli.audit_show import show
from reconciler.errors import ConfigError
from reconciler.printable import printable
from reconciler.settings.config import find_config, project_audit_log

EXIT_FAILED = 1
_HASH = re.compile(r"^[0-9a-f]{64}$")


def _head_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    head = value.strip().lower()
    if not _HASH.match(head):
        raise click.BadParameter("a head is 64 hex digits, as `audit verify` and `apply` print")
    return head


@click.group()
def audit() -> None:
    """Work with the audit log that apply writes."""


@audit.command()
@click.argument("file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--expect-head",
    metavar="HASH",
    callback=_head_option,
    help=(
        "Fail unless the chain ends exactly at HASH: the head printed by the previous apply "
        "or verify, kept outside the log. Catches records cut off the end."
    ),
)
def verify(file: Path | None, expect_head: str | None) -> int:
    """Check FILE's hash chain: exit 0 when intact, 1 naming the first bad line.

    FILE defaults to the audit_log of reconciler.yaml. On success the head (the last record's
    hash) is printed; keep it outside the log and pass it to --expect-head next time.
    """
    path = file if file is not None else _project_log()
    result = verify_log(path, expect_head=expect_head)
    if result.chain_break is not None:
        click.echo(f"FAILED: {path}: {result.chain_break}", err=True)
        click.echo(
            f"{result.records} record(s) before it are intact (last good hash {result.last_hash})",
            err=True,
        )
        return EXIT_FAILED
    if expect_head is not None and result.head != expect_head:
        click.echo(f"FAILED: {path}: {_head_mismatch(result, expect_head)}", err=True)
        return EXIT_FAILED
    if result.records == 0:
        click.echo(f"OK: 0 records, {path} is empty")
    else:
        click.echo(f"OK: {result.records} records, chain intact")
    for pending in result.unresolved:
        # Its customer id came from the live API: shown inert, never as a line of its own.
        click.echo(f"Pending: {printable(str(pending))}")
    if result.missing_newline:
        click.echo("Note: the last record has no trailing newline; the next apply adds it.")
    click.echo(f"head: {result.head}")
    return 0


def _head_mismatch(result: Verification, expected: str) -> str:
    ends = f"the chain ends at {result.head} (seq {result.records}), not at the expected head"
    if result.expected_head_seq is None:
        return (
            f"{ends} {expected}, which is nowhere in it: records were cut off its end, or it "
            "is not the log that head came from"
        )
    added = result.records - result.expected_head_seq
    where = "the start" if expected == GENESIS_HASH else f"seq {result.expected_head_seq}"
    return (
        f"{ends}, found at {where}: {added} record(s) were added after it; if those are "
        "expected, pass the new head"
    )


def _project_log() -> Path:
    cwd = Path.cwd()
    config = find_config(cwd)
    path = project_audit_log(config, cwd)
    if path is None:
        raise ConfigError(
            "the audit log is off (audit_log: null in reconciler.yaml): give the FILE to verify"
        )
    return path


# Its own module (one per command), registered here so `audit --help` lists it.
audit.add_command(show)
