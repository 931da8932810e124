"""The ``reconciler`` command line: one thin module per subcommand, one outer error handler.

Only this package prints or exits. Each subcommand is a click command living in its own module,
imported on first use so that ``reconciler validate`` never pays for the HTTP stack.
"""

from __future__ import annotations

import codecs
import importlib
import io
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from reconciler.errors import ManifestError, ReconcilerError
from reconciler.printable import printable_lines

# name -> "module:attribute" of the click command; imported only when that command runs.
COMMANDS: dict[str, str] = {
    "apply": "reconciler.cli.apply:apply",
    "audit": "reconciler.cli.audit:audit",
    "emulator": "reconciler.cli.emulator:emulator",
    "export": "reconciler.cli.export:export",
    "github": "reconciler.cli.github_comment:github",
    "plan": "reconciler.cli.plan:plan",
    "validate": "reconciler.cli.validate:validate",
}

# name -> the first paragraph of the command's help, for ``reconciler --help``: listing the
# commands must not import them (a test keeps these equal to the commands' own help). A
# provider's commands bring theirs in ``ProviderPlugin.command_summaries``.
SUMMARIES: dict[str, str] = {
    "apply": "Make live state match the manifests, or apply a saved plan with --plan FILE.",
    "audit": "Work with the audit log that apply writes.",
    "emulator": "Run a local emulator of the provider's API, for trying plans and applies safely.",
    "export": "Write manifests from live state (`plan` of what it wrote shows no changes).",
    "github": "Helpers for the reconciler GitHub Action.",
    "plan": "Show what apply would change, without changing anything.",
    "validate": "Check manifests: YAML, schema, duplicates and values. Exits 1 on any error.",
}

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

BUG_REPORT_HINT = (
    "This is a bug in reconciler. Please report it with the traceback above and the command "
    "you ran (leave out any API key)."
)


def _commands() -> dict[str, str]:
    """The core's commands and those the installed providers bring (``reconciler credits``)."""
    from reconciler.providers.registry import plugins

    found = dict(COMMANDS)
    for plugin in plugins().values():
        for name, target in plugin.commands.items():
            found.setdefault(name, target)
    return found


def _summaries() -> dict[str, str]:
    """``SUMMARIES`` and those of the installed providers' commands."""
    from reconciler.providers.registry import plugins

    found = dict(SUMMARIES)
    for plugin in plugins().values():
        for name in plugin.commands:
            found.setdefault(name, plugin.command_summaries.get(name, ""))
    return found


EXAMPLES = """\b
Examples:
  reconciler validate customers/          check manifests offline
  reconciler plan                         what would change (manifests: of reconciler.yaml)
  reconciler plan --out plan.json         ... and save the plan for review
  reconciler apply --plan plan.json       apply exactly the reviewed plan
  reconciler apply --target acme-corp     apply one customer's changes, after a 'yes'
  reconciler export -o customers/         write manifests from live state
  reconciler emulator --reset             restore the seed of reconciler.yaml's emulator
"""


def help_width(max_width: int = 80) -> int:
    """The width click's help formatter picks when given none: ``COLUMNS``, else the
    terminal's columns, else 80 (as ``shutil.get_terminal_size`` finds them), at most
    ``max_width``, less 2, at least 50. click imports ``shutil`` to find it, and with it
    ``bz2`` and ``lzma``: some 2 ms of every ``--help``."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return max(min(columns or 80, max_width) - 2, 50)


class _LazyGroup(click.Group):
    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """The root context, with the help width set (the subcommands' contexts inherit it)."""
        if parent is None and "terminal_width" not in extra:
            extra["terminal_width"] = help_width(extra.get("max_content_width") or 80)
        return super().make_context(info_name, args, parent, **extra)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Examples, and the environment variables read: each provider's, from its plug-in
        (``reconciler.settings.connection.read_variables`` reads the same), and the plan signing
        key."""
        from reconciler.providers.registry import plugins

        variables = sorted(
            {"RECONCILER_PLAN_KEY"}
            | {p.connection.base_url_variable for p in plugins().values()}
            | {p.connection.key_variable for p in plugins().values()}
        )
        formatter.write_paragraph()
        formatter.write_text(EXAMPLES)
        formatter.write_paragraph()
        formatter.write_text(
            "Environment: "
            + ", ".join(variables)
            + " (the API keys are read only from the environment or a key file, never from a "
            "flag); NO_COLOR turns colour off; GITHUB_STEP_SUMMARY receives plan and apply "
            "summaries. Connection settings: flags, then the environment, then reconciler.yaml."
        )

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_commands())

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The "Commands" section, as click writes it, from ``SUMMARIES`` (nothing imported)."""
        names = self.list_commands(ctx)
        summaries = _summaries()
        limit = formatter.width - 6 - max(len(name) for name in names)
        # A stand-in command shortens each summary exactly as the real one would its help.
        rows = [
            (name, click.Command(name, help=summaries[name]).get_short_help_str(limit))
            for name in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name) or _commands().get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reconciler")
def cli() -> None:
    """Declarative reconciler for customer budgets and metadata, one billing API per provider.

    Manifests in git are the desired state: validate them offline, plan against the live
    billing API, apply what was reviewed, and keep an audit log of every change.
    """


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (callable from tests)."""
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="reconciler",
            standalone_mode=False,
        )
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C (outside a run's own handling, e.g. at a prompt) into Abort.
        if isinstance(exc.__context__, KeyboardInterrupt):
            click.echo("Interrupted.", err=True)
            return EXIT_INTERRUPTED
        click.echo("Aborted.", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        # Usage errors exit 1, never 2: 2 means "changes pending" under --detailed-exitcode.
        exc.show()
        return 1
    except ReconcilerError as exc:
        if isinstance(exc, ManifestError):  # every problem of the run, each with its place
            for problem in exc.problems:
                click.echo("\n".join(problem.lines()), err=True)
        # Messages may quote the API (ids, details): no control character reaches the terminal.
        click.echo(f"Error: {printable_lines(str(exc))}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except Exception:
        import traceback  # only for a bug: it is not needed on any other path

        traceback.print_exc()
        click.echo(BUG_REPORT_HINT, err=True)
        return 1
    return result if isinstance(result, int) else 0


# What output shows for a character the terminal's encoding lacks (cp1252 consoles, output
# redirected on Windows): the ASCII spelling of the few the output uses, else an escape.
_ASCII_SPELLINGS: dict[str, str] = {"→": "->", "✗": "x", "…": "...", "—": "-", "±": "+/-"}


def _spell_unencodable(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return (
        "".join(_ASCII_SPELLINGS.get(c, c.encode("unicode_escape").decode("ascii")) for c in text),
        error.end,
    )


def _tolerant_output() -> None:
    """Output never fails on a terminal that cannot encode a character: set up once, here."""
    codecs.register_error("reconciler-output", _spell_unencodable)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="reconciler-output")


def run() -> NoReturn:
    """The console script: ``main`` and exit with its code.

    After an interrupt, requests abandoned in flight (see ``reconciler.interrupts``) may still
    hold worker threads; the process leaves without waiting for them, its output flushed.
    """
    _tolerant_output()
    code = main()
    interrupts = sys.modules.get("reconciler.interrupts")  # loaded only by commands that send
    if interrupts is not None and interrupts.STOP.requested:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
