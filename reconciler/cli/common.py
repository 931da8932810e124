"""What several commands share: where manifests come from, verbose logging, terminal output.

``validate`` imports this module too, so it stays light: logging and rich load on first use.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from reconciler.settings.config import Config

F = TypeVar("F", bound=Callable[..., Any])

ProgressUpdate = Callable[[int, int | None], None]
"""Report ``(done, total)`` to a progress bar; ``total`` None while unknown."""


class ManifestPath(click.Path):
    """A PATH argument (a manifest file or directory), as a ``Path``. An empty one is a usage
    error: ``Path("")`` is the working directory, so ``plan "$DIR"`` with ``DIR`` unset would
    plan (and ``apply`` apply) every manifest below it instead of failing."""

    def __init__(self) -> None:
        super().__init__(path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "":
            self.fail(
                "an empty PATH names nothing (an unset variable?); name a manifest file or "
                "directory, or give none to use the manifests: of reconciler.yaml",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


def manifest_paths(paths: Sequence[Path], config: Config | None) -> Sequence[Path]:
    """PATHs as given, else the ``manifests:`` of ``./reconciler.yaml`` (a usage error if none)."""
    if paths:
        return paths
    if config is None:
        raise click.UsageError("no PATH given and no reconciler.yaml in this directory")
    if not config.manifests:
        raise click.UsageError("no PATH given and reconciler.yaml lists no 'manifests:'")
    return config.manifests


def use_color(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Colour only when ``stream`` is a terminal, and never when ``NO_COLOR`` is set at all."""
    return "NO_COLOR" not in environ and stream.isatty()


def stderr_is_terminal() -> bool:
    """Whether progress bars can be drawn (stderr is a terminal)."""
    return sys.stderr.isatty()


@contextlib.contextmanager
def verbose_logging(verbose: bool) -> Iterator[None]:
    """With ``-v``, debug logging of reconciler's own loggers to stderr for this run."""
    if not verbose:
        yield
        return
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("reconciler")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


CONNECTION_HELP = (
    "The API's address and key come from the flags, then the environment variables "
    "`reconciler --help` lists, then reconciler.yaml."
)
"""The end of the help of every command that talks to an API."""


def connection_options(
    base_url_help: str = "API address (of --provider, or the only one).",
) -> Callable[[F], F]:
    """``--base-url``, ``--rate-limit`` and ``-v``: the options of every command that talks to
    an API (``plan``, ``apply``, ``export``, ``credits``)."""

    def decorate(command: F) -> F:
        command = click.option(
            "-v", "--verbose", is_flag=True, help="Debug logging to stderr (never secrets)."
        )(command)
        command = click.option(
            "--rate-limit", metavar="N/s|N/min", help="Client-side request pacing."
        )(command)
        return click.option("--base-url", metavar="URL", help=base_url_help)(command)

    return decorate
