"""Pieces the commands share."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import pytest
from cli_helpers import run_cli

from reconciler.cli.common import manifest_paths, verbose_logging


def test_given_paths_win_over_the_config() -> None:
    """PATH arguments are used as given, whatever reconciler.yaml says."""
    assert manifest_paths((Path("x.yaml"),), None) == (Path("x.yaml"),)


def test_no_path_and_no_config_is_a_usage_error() -> None:
    """Without PATH and without reconciler.yaml the command says what to do."""
    with pytest.raises(click.UsageError, match=r"no PATH given and no reconciler\.yaml"):
        manifest_paths((), None)


@pytest.mark.parametrize("command", ["validate", "plan", "apply", "export"])
def test_an_empty_path_is_a_usage_error_not_the_current_directory(
    workdir: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """PATH "" (an unset variable in `plan "$DIR"`) exits 1 naming it, instead of reading
    every manifest below the working directory, as Path("") would."""
    (workdir / "stray.yaml").write_text("customers:\n  - customer_identifier: a\n")
    extra = ["--update"] if command == "export" else []
    run = run_cli(capsys, command, *extra, "")
    assert run.code == 1
    assert "an empty PATH names nothing" in run.err
    assert run.out == ""


def test_verbose_logging_is_scoped_to_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    """-v sends reconciler's debug lines to stderr, and only while the command runs."""
    logger = logging.getLogger("reconciler.test")
    with verbose_logging(True):
        logger.debug("inside")
    logger.debug("outside")
    err = capsys.readouterr().err
    assert "DEBUG reconciler.test: inside" in err
    assert "outside" not in err
