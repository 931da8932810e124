"""The ``reconciler`` command group: listing commands without importing them."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

import reconciler
from reconciler.cli import _commands, _summaries, cli, help_width
from reconciler.providers.discovery import SETTLING_NS

# What a run must not load unless it uses it (measured in a fresh interpreter).
HEAVY = ("httpx", "rich", "starlette", "uvicorn", "deepdiff", "jsonschema", "ruamel")


def modules_loaded_by(*args: str, cwd: Path | None = None) -> set[str]:
    """The modules a fresh interpreter holds after ``reconciler ARGS`` (run in ``cwd``)."""
    script = (
        "import contextlib, io, json, sys\n"
        "from reconciler.cli import main\n"
        "quiet = io.StringIO()\n"
        "with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):\n"
        f"    main({list(args)!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=cwd
    )
    return set(json.loads(completed.stdout))


def test_summaries_are_the_commands_own_help() -> None:
    """Each listed summary, the core's and the providers' commands' (``credits``), shortens to
    what the command itself would show, at any width."""
    ctx = click.Context(cli)
    summaries = _summaries()
    assert set(summaries) == set(_commands())
    assert {"audit", "credits"} <= set(summaries)
    for name in _commands():
        command = cli.get_command(ctx, name)
        assert command is not None
        stand_in = click.Command(name, help=summaries[name])
        for limit in (20, 45, 60, 74, 200):
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit)


def test_help_lists_every_command_without_importing_any() -> None:
    """``reconciler --help`` names all commands but loads no command module or HTTP stack."""
    loaded = modules_loaded_by("--help")
    commands = {target.partition(":")[0] for target in _commands().values()}
    assert not commands & loaded
    assert not {module for module in loaded if module.split(".")[0] in HEAVY}
    # Listing the providers' commands loads their plug-ins, which are pure data: no
    # configuration reader and no YAML.
    assert not {"reconciler.settings.config", "yaml"} & loaded
    output = cli.get_help(click.Context(cli, info_name="reconciler"))
    for name in _commands():
        assert f"  {name} " in output


@pytest.mark.parametrize("columns", [None, "", "x", "-3", "0", "40", "60", "79", "80", "81", "200"])
@pytest.mark.parametrize("max_width", [80, 120])
def test_the_help_width_is_the_one_click_would_pick(
    monkeypatch: pytest.MonkeyPatch, columns: str | None, max_width: int
) -> None:
    """The width the CLI gives click's help formatter is the one it works out itself when
    given none, for any ``COLUMNS``, and subcommands' help inherits it."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert help_width(max_width) == click.HelpFormatter(max_width=max_width).width
    root = cli.make_context("reconciler", ["validate"], resilient_parsing=True)
    validate = cli.get_command(root, "validate")
    assert validate is not None
    child = validate.make_context("validate", [], parent=root, resilient_parsing=True)
    assert root.terminal_width == child.terminal_width == help_width()


def test_validate_loads_no_http_stack(tmp_path: Path) -> None:
    """``reconciler validate`` of a good file loads neither HTTP, rich, the emulator, deepdiff
    nor the slow full schema validator."""
    manifest = "provider: respan\nenvironment: prod\ncustomers:\n  - customer_identifier: acme\n"
    (tmp_path / "one.yaml").write_text(manifest, encoding="utf-8")
    loaded = modules_loaded_by("validate", "one.yaml", cwd=tmp_path)
    assert "reconciler.cli.validate" in loaded
    assert not {module for module in loaded if module.split(".")[0] in HEAVY}
    # "Did you mean" hints are for problems: a good file needs no difflib.
    assert "difflib" not in loaded


def warm_modules_loaded_by(tmp_path: Path, *args: str) -> tuple[set[str], str]:
    """The modules ``reconciler ARGS`` loads once the entry-point cache holds this installation,
    and its output: run twice, in fresh interpreters whose ``sys.path`` holds only directories
    settled for an hour (the checkout itself changes all the time under a test run)."""
    package_root = tmp_path / "package-root"
    package_root.mkdir()
    (package_root / "reconciler").symlink_to(Path(reconciler.__file__).parent)
    work = tmp_path / "work"
    work.mkdir()
    (work / "one.yaml").write_text(
        "provider: respan\nenvironment: prod\ncustomers:\n  - customer_identifier: acme\n",
        encoding="utf-8",
    )
    an_hour_ago = time.time() - 3600
    for directory in (package_root, work):
        os.utime(directory, (an_hour_ago, an_hour_ago))
    script = (
        "import contextlib, io, sys\n"
        f"sys.path[1:1] = {[str(package_root), *site.getsitepackages()]!r}\n"
        "from reconciler.cli import main\n"
        "output = io.StringIO()\n"
        "with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):\n"
        f"    main({list(args)!r})\n"
        # Not json: the script must load nothing the run itself does not.
        "print(' '.join(sorted(sys.modules)))\n"
        "print(output.getvalue(), end='')\n"
    )
    cache = tmp_path / "cache"
    env = {**os.environ, "RECONCILER_CACHE_DIR": str(cache)}
    wait_until_settled(site.getsitepackages())
    # -S: no site-packages processing, so no .pth file puts the checkout on the path.
    command = [sys.executable, "-S", "-c", script]
    first = subprocess.run(command, capture_output=True, text=True, check=True, cwd=work, env=env)
    assert list((cache / "entry-points").iterdir()), "the first run wrote no entry-point cache"
    second = subprocess.run(command, capture_output=True, text=True, check=True, cwd=work, env=env)
    loaded, _, output = second.stdout.partition("\n")
    assert output == first.stdout.partition("\n")[2]
    return set(loaded.split()), output


def wait_until_settled(directories: list[str]) -> None:
    """Wait until nothing in ``directories`` (nor any distribution's ``entry_points.txt`` in
    them) changed within the last ``SETTLING_NS``: an installation changing that recently is
    not cached, as right after the ``pip install`` that precedes a test run."""
    newest = 0
    for directory in directories:
        found = [Path(directory), *Path(directory).glob("*/entry_points.txt")]
        newest = max([newest, *(path.stat().st_mtime_ns for path in found if path.exists())])
    wait = (newest + SETTLING_NS - time.time_ns()) / 1e9 + 0.1
    if wait > 0:
        time.sleep(wait)


# What finding the installed providers cost before their entry points were cached.
DISCOVERY = {"importlib.metadata", "email", "importlib.resources", "zipfile"}


def test_help_from_a_warm_cache_reads_no_package_metadata(tmp_path: Path) -> None:
    """Once the entry points are cached, ``reconciler --help`` loads neither
    importlib.metadata (and its email parser) nor importlib.resources, json, pathlib or any
    part of the domain model, and still lists every provider's variables."""
    loaded, output = warm_modules_loaded_by(tmp_path, "--help")
    assert not (DISCOVERY | {"json", "pathlib"}) & loaded
    # The plug-ins only: no provider's field table (its model), no manifests' or live
    # customers' classes, nor what opening a provider or checking a manifest takes.
    assert "reconciler.domain" not in loaded
    assert "reconciler.providers.model" not in loaded
    assert not {module for module in loaded if module.endswith(".fields")}
    assert "reconciler.providers.parts" not in loaded
    # click's formatter imports shutil (and bz2, lzma) for the terminal width it is not given.
    assert "shutil" not in loaded
    for variable in ("RESPAN_API_KEY", "AUTUMN_SECRET_KEY", "LITELLM_PROXY_API_KEY"):
        assert variable in output


def test_validate_from_a_warm_cache_reads_no_package_metadata(tmp_path: Path) -> None:
    """Once the entry points are cached, ``reconciler validate`` of a good file loads neither
    importlib.metadata nor importlib.resources (schema fragments are read as plain files)."""
    loaded, output = warm_modules_loaded_by(tmp_path, "validate", "one.yaml")
    assert "OK: 1 customer in 1 file" in output
    assert not DISCOVERY & loaded
