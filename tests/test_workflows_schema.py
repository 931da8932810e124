"""The action and every workflow validate against GitHub's published schemas (offline).

``check-jsonschema`` vendors SchemaStore's schemas for workflows and actions, so these checks
need no network and catch typos in keys, bad ``on:`` triggers and malformed steps.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted(
    [
        *ROOT.glob(".github/workflows/*.y*ml"),
        *ROOT.glob("examples/gitops/.github/workflows/*.y*ml"),
    ]
)


def _check(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_example_workflows_exist() -> None:
    """The template repository ships the plan, apply and drift workflows."""
    names = {path.name for path in WORKFLOWS if "examples" in path.parts}
    assert {"plan.yml", "apply.yml", "drift.yml"} <= names


def test_action_matches_the_github_actions_schema() -> None:
    """action.yml is a valid action definition."""
    result = _check("vendor.github-actions", ROOT / "action.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_match_the_github_workflows_schema() -> None:
    """Every workflow file (ours and the template's) is a valid GitHub Actions workflow."""
    result = _check("vendor.github-workflows", *WORKFLOWS)  # one process: the error names the file
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """The check is not vacuous: a job without runs-on and a misspelt key fail it."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  build:\n    step:\n      - run: echo hi\n", encoding="utf-8"
    )
    assert _check("vendor.github-workflows", broken).returncode == 1
