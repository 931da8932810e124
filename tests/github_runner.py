"""Run the ``run:`` steps of an action or workflow file locally, the way a GitHub runner would.

Enough of the runner for tests: ``${{ a.b.c }}`` expressions that are plain context lookups
(anything richer fails loudly, so the files keep their expressions simple), a fresh
``GITHUB_OUTPUT`` file per step parsed into ``steps.<id>.outputs``, ``working-directory``,
and ``shell: bash`` run as ``bash --noprofile --norc -eo pipefail FILE`` exactly like GitHub.
``uses:`` steps are not run; the caller decides what stands in for them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_LOOKUP = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$")


def load(path: Path) -> dict[str, Any]:
    """An action or workflow file as data, its top-level keys strings as GitHub reads them.

    PyYAML follows YAML 1.1, where a bare ``on`` is the boolean true; a workflow's trigger key is
    put back under ``"on"``.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    if True in data:
        data["on"] = data.pop(True)
    assert all(isinstance(key, str) for key in data), path
    return data


def substitute(text: str, context: Mapping[str, Any]) -> str:
    """Replace every ``${{ dotted.lookup }}`` in ``text``; a missing value becomes ''."""

    def lookup(match: re.Match[str]) -> str:
        expression = match.group(1)
        assert _LOOKUP.match(expression), f"unsupported expression: {expression}"
        value: Any = context
        for part in expression.split("."):
            value = value.get(part, "") if isinstance(value, Mapping) else ""
        return str(value)

    return _EXPRESSION.sub(lookup, text)


def parse_outputs(path: Path) -> dict[str, str]:
    """Read a ``GITHUB_OUTPUT`` file: ``name=value`` lines and ``name<<DELIMITER`` blocks."""
    outputs: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            outputs[name] = "\n".join(lines[index + 1 : end])
            index = end + 1
        else:
            name, _, value = line.partition("=")
            outputs[name] = value
            index += 1
    return outputs


@dataclass
class StepResult:
    """What one step did."""

    name: str
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)


def run_step(
    step: Mapping[str, Any],
    context: dict[str, Any],
    env: Mapping[str, str],
    workspace: Path,
    runner_temp: Path,
) -> StepResult:
    """Run one ``run:`` step with bash; record its outputs under ``context['steps']``."""
    assert step.get("shell") == "bash", f"step {step.get('name')!r} must say shell: bash"
    script = substitute(step["run"], context)
    step_env = dict(env)
    step_env.update({k: substitute(str(v), context) for k, v in step.get("env", {}).items()})
    output_file = runner_temp / f"output-{len(context.setdefault('steps', {}))}"
    output_file.write_text("", encoding="utf-8")
    step_env["GITHUB_OUTPUT"] = str(output_file)
    script_file = runner_temp / f"step-{len(context['steps'])}.sh"
    script_file.write_text(script, encoding="utf-8")
    cwd = workspace / substitute(str(step.get("working-directory", ".")), context)
    completed = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
        cwd=cwd,
        env=step_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outputs = parse_outputs(output_file)
    if "id" in step:
        context["steps"][step["id"]] = {"outputs": outputs}
    return StepResult(
        str(step.get("name", "")), completed.returncode, completed.stdout, completed.stderr, outputs
    )


def base_env(runner_temp: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment plus what every runner sets, with this venv's tools first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_SERVER_URL": "https://github.test",
            "GITHUB_REPOSITORY": "acme/budgets",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_SHA": "0" * 40,
            "GITHUB_REF_NAME": "main",
        }
    )
    env.update(extra or {})
    return env
