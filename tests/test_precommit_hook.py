"""The ``reconciler-validate`` pre-commit hook, run the way pre-commit runs it.

pre-commit itself would build the hook's environment by pip-installing this repository from
the package index, which is slow and needs the network. Instead these tests read the hook
definition from ``.pre-commit-hooks.yaml`` and do what pre-commit does with it: take the
commit's staged files, keep those its ``files``/``exclude`` patterns match (``re.search`` on
the repository-relative path), and run ``entry`` + ``args`` + the file names in the
repository root, as a real process. One more test installs pre-commit itself as a test
repository's git hook (with the same definition, as a local hook) and commits through it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GOOD = """\
# yaml-language-server: $schema=../schemas/manifest.schema.json
provider: respan
customers:
  - customer_identifier: acme-corp
    period_budget: 250
"""
BAD = """\
provider: respan
customers:
  - customer_identifier: globex
    period_budjet: 100
"""
NOT_A_MANIFEST = "manifests: [customers/]\npolicy:\n  max_deletes: 0\n"
WORKFLOW = "on: push\njobs: {}\n"


def _hook() -> dict[str, Any]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [h for h in hooks if h["id"] == "reconciler-validate"]
    assert isinstance(hook, dict)
    return hook


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, timeout=30
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "--quiet")
    (tmp_path / "customers").mkdir()
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / "reconciler.yaml").write_text(NOT_A_MANIFEST, encoding="utf-8")
    (tmp_path / ".github" / "workflows" / "plan.yml").write_text(WORKFLOW, encoding="utf-8")
    (tmp_path / "customers" / "acme.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "README.md").write_text("# budgets\n", encoding="utf-8")
    return tmp_path


def _run_hook(repo: Path) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """Stage everything and run the hook on the staged files, as ``git commit`` would."""
    hook = _hook()
    _git(repo, "add", "--all")
    staged = _git(repo, "diff", "--cached", "--name-only", "-z").split("\0")
    include = re.compile(hook.get("files", ""))
    exclude = re.compile(hook.get("exclude", "^$"))
    files = sorted(f for f in staged if f and include.search(f) and not exclude.search(f))
    command = [*shlex.split(hook["entry"]), *hook.get("args", []), *files]
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return files, result


def test_hook_definition_is_offline_python_and_manifest_only() -> None:
    """The hook runs 'reconciler validate' from the package and only on manifest paths."""
    hook = _hook()
    assert hook["entry"] == "reconciler validate"
    assert hook["language"] == "python"
    assert hook["require_serial"] is True
    assert hook.get("pass_filenames", True) is True
    pattern = re.compile(hook["files"])
    assert pattern.search("customers/acme.yaml")
    assert pattern.search("customers/emea/globex.yml")
    for other in ("reconciler.yaml", ".github/workflows/plan.yml", "customers/notes.md"):
        assert not pattern.search(other), other


def test_a_good_manifest_passes(repo: Path) -> None:
    """A commit with a valid manifest passes, and non-manifest YAML is never handed over."""
    files, result = _run_hook(repo)
    assert files == ["customers/acme.yaml"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: 1 customer in 1 file" in result.stdout


def test_a_bad_manifest_fails_naming_path_line_and_column(repo: Path) -> None:
    """A misspelt field fails the commit with path:line:col of the offending key."""
    (repo / "customers" / "globex.yaml").write_text(BAD, encoding="utf-8")
    files, result = _run_hook(repo)
    assert files == ["customers/acme.yaml", "customers/globex.yaml"]
    assert result.returncode == 1
    assert "customers/globex.yaml:4:5: error: unknown field 'period_budjet'" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_customer_declared_in_two_files_of_one_commit_fails(repo: Path) -> None:
    """All files go to one process (require_serial), so a duplicate across files is found."""
    (repo / "customers" / "copy.yaml").write_text(GOOD, encoding="utf-8")
    _, result = _run_hook(repo)
    assert result.returncode == 1
    assert "customers/copy.yaml:4:5: error: customer 'acme-corp'" in result.stdout
    assert "declared twice" in result.stdout


def test_real_pre_commit_refuses_a_commit_with_a_bad_manifest(repo: Path, tmp_path: Path) -> None:
    """pre-commit itself, installed as the repository's git hook, blocks a bad manifest and lets
    the fixed one through. The hook is declared `repo: local` with this repository's own
    definition and `language: system`, so pre-commit runs the installed tool instead of
    building an environment from the package index."""
    hook = {**_hook(), "language": "system"}
    hook.pop("minimum_pre_commit_version", None)
    config = {"repos": [{"repo": "local", "hooks": [hook]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    environ = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=repo,
        env=environ,
        check=True,
        capture_output=True,
        timeout=60,
    )
    (repo / "customers" / "globex.yaml").write_text(BAD, encoding="utf-8")
    _git(repo, "add", "--all")

    def commit() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "commit", "--quiet", "-m", "budgets"],
            cwd=repo,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )

    refused = commit()
    assert refused.returncode != 0
    assert "customers/globex.yaml:4:5" in refused.stdout + refused.stderr
    (repo / "customers" / "globex.yaml").write_text(
        BAD.replace("period_budjet", "period_budget"), encoding="utf-8"
    )
    _git(repo, "add", "--all")
    accepted = commit()
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
