"""``validate --format github``: every problem becomes one workflow command, line by line.

The workflow commands are what GitHub turns into inline annotations on a pull request's diff,
so their exact syntax matters: one line per problem, properties and message escaped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.github.comment import workflow_command

MANIFEST = """\
provider: respan
customers:
  - customer_identifier: acme-corp
    period_budjet: 250
    budget_duration: fortnightly
  - customer_identifier: globex
    total_budget: -5
"""


@pytest.fixture
def manifests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # A comma and a colon in the directory name exercise property escaping.
    directory = tmp_path / "team:a,b"
    directory.mkdir()
    (directory / "customers.yaml").write_text(MANIFEST, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return directory


def test_github_format_is_one_workflow_command_per_problem(
    manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each problem is '::error file=...,line=...,col=...::message', then a summary line."""
    assert main(["validate", "--format", "github", "team:a,b"]) == 1
    lines = capsys.readouterr().out.splitlines()
    *commands, summary = lines
    assert summary == "3 errors, 0 warnings in 1 file"
    assert len(commands) == 3
    locations = [command.split("::")[1] for command in commands]
    assert locations == [
        "error file=team%3Aa%2Cb/customers.yaml,line=4,col=5",
        "error file=team%3Aa%2Cb/customers.yaml,line=5,col=22",
        "error file=team%3Aa%2Cb/customers.yaml,line=7,col=19",
    ]
    for command in commands:
        assert "\n" not in command
        message = command.split("::", 2)[2]
        assert "%0Ahint: " in message  # the hint travels inside the one annotation


def test_github_format_matches_the_shared_workflow_command_helper(
    manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """validate's annotations are byte-identical to reconciler.github.comment.workflow_command's."""
    assert main(["validate", "--format", "json", "team:a,b"]) == 1
    problems = json.loads(capsys.readouterr().out)["errors"]
    assert main(["validate", "--format", "github", "team:a,b"]) == 1
    commands = capsys.readouterr().out.splitlines()[:-1]
    expected = [
        workflow_command(
            "error",
            p["message"] + (f"\nhint: {p['hint']}" if p["hint"] else ""),
            p["path"],
            p["line"],
            p["column"],
        )
        for p in problems
    ]
    assert commands == expected


def test_github_format_for_valid_manifests_is_only_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No problems: no workflow commands, just the OK line, exit 0."""
    good = tmp_path / "ok.yaml"
    good.write_text("customers:\n  - customer_identifier: acme-corp\n", encoding="utf-8")
    assert main(["validate", "--format", "github", str(good)]) == 0
    assert capsys.readouterr().out.splitlines() == ["OK: 1 customer in 1 file"]


def test_control_characters_in_messages_are_escaped_in_annotations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An id quoting ESC and a bidi override reaches the annotation only as escapes."""
    (tmp_path / "c.yaml").write_text(
        'customers:\n  - customer_identifier: " a\\e[31m\\u202e"\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--format", "github", "c.yaml"]) == 0
    (command, _) = capsys.readouterr().out.splitlines()
    assert command.startswith("::warning file=c.yaml,line=2")
    assert "\x1b" not in command
    assert "\u202e" not in command
    assert "a\\x1b[31m\\u202e" in command
