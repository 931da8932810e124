"""The ``reconciler`` command group: listing commands without importing them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click

from reconciler.cli import _commands, _summaries, cli

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


def test_validate_loads_no_http_stack(tmp_path: Path) -> None:
    """``reconciler validate`` of a good file loads neither HTTP, rich, the emulator, deepdiff
    nor the slow full schema validator."""
    manifest = "provider: respan\nenvironment: prod\ncustomers:\n  - customer_identifier: acme\n"
    (tmp_path / "one.yaml").write_text(manifest, encoding="utf-8")
    loaded = modules_loaded_by("validate", "one.yaml", cwd=tmp_path)
    assert "reconciler.cli.validate" in loaded
    assert not {module for module in loaded if module.split(".")[0] in HEAVY}
