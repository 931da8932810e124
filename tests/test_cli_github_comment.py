"""Tests for ``reconciler github comment``, driven through the real CLI entry point."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from github_recorder import TOKEN, GitHubRecorder, serve_github_recorder

from reconciler.cli import main
from reconciler.cli.github_comment import github
from reconciler.github.comment import PLAN_COMMENT_MARKER


@pytest.fixture
def recorder() -> Iterator[GitHubRecorder]:
    with serve_github_recorder() as state:
        yield state


@pytest.fixture
def plan_markdown(tmp_path: Path) -> Path:
    path = tmp_path / "plan.md"
    path.write_text(f"{PLAN_COMMENT_MARKER}\n## Plan: 1 to update\n", encoding="utf-8")
    return path


@pytest.fixture
def empty_markdown(tmp_path: Path) -> Path:
    path = tmp_path / "empty.md"
    path.write_text("", encoding="utf-8")
    return path


def comment(markdown: Path, *args: str) -> int:
    """Run ``reconciler github comment`` on ``markdown``; its exit code."""
    return main(["github", "comment", "--plan-markdown", str(markdown), *args])


def refused(
    markdown: Path, message: str, recorder: GitHubRecorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command exits 1 saying ``message`` and sends GitHub nothing."""
    assert comment(markdown) == 1
    assert message in capsys.readouterr().err
    assert recorder.requests == []


@pytest.fixture
def pr_env(
    tmp_path: Path, recorder: GitHubRecorder, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12}}), encoding="utf-8")
    env = {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "acme/budgets",
        "GITHUB_API_URL": recorder.url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_OUTPUT": str(tmp_path / "output"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_comment_posts_then_updates(
    recorder: GitHubRecorder,
    plan_markdown: Path,
    pr_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run twice on one pull request: one POST, then one PATCH of the same comment."""
    assert comment(plan_markdown) == 0
    assert comment(plan_markdown) == 0
    assert [(r.method, r.path) for r in recorder.writes()] == [
        ("POST", "/repos/acme/budgets/issues/12/comments"),
        ("PATCH", "/repos/acme/budgets/issues/comments/1001"),
    ]
    out = capsys.readouterr().out
    assert "Created plan comment on #12" in out
    assert "Updated plan comment on #12" in out
    assert "comment-url<<" in Path(pr_env["GITHUB_OUTPUT"]).read_text(encoding="utf-8")


def test_explicit_pull_request_number(
    recorder: GitHubRecorder, plan_markdown: Path, pr_env: dict[str, str]
) -> None:
    """--pull-request overrides the event payload (for workflow_run and similar events)."""
    args = ["github", "comment", "--plan-markdown", str(plan_markdown), "--pull-request", "3"]
    assert main(args) == 0
    assert recorder.writes()[0].path == "/repos/acme/budgets/issues/3/comments"


def test_not_a_pull_request_is_a_clear_error(
    tmp_path: Path,
    plan_markdown: Path,
    pr_env: dict[str, str],
    recorder: GitHubRecorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On a push event the command says why it cannot comment and exits 1 without a request."""
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}), encoding="utf-8")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    refused(plan_markdown, "(push) is not about a pull request", recorder, capsys)


def test_empty_plan_is_not_posted(
    empty_markdown: Path,
    pr_env: dict[str, str],
    recorder: GitHubRecorder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An empty Markdown file (plan failed before rendering) posts nothing."""
    refused(empty_markdown, "no plan to post", recorder, capsys)


def test_unreadable_plan_is_a_clear_error(
    tmp_path: Path,
    pr_env: dict[str, str],
    recorder: GitHubRecorder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A Markdown file that is not UTF-8 text is a one-line error naming it, not a traceback."""
    markdown = tmp_path / "binary.md"
    markdown.write_bytes(b"\xff\xfe not text")
    refused(markdown, f"cannot read {markdown}: not UTF-8 text", recorder, capsys)


def test_missing_token_and_api_errors_exit_1_without_the_token(
    plan_markdown: Path,
    pr_env: dict[str, str],
    recorder: GitHubRecorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No token, or a token GitHub refuses, is one clear error line that never shows it."""
    monkeypatch.delenv("GITHUB_TOKEN")
    assert comment(plan_markdown) == 1
    assert "GITHUB_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    recorder.fail_with = 403
    assert comment(plan_markdown) == 1
    err = capsys.readouterr().err
    assert "returned 403" in err
    assert "Traceback" not in err
    assert TOKEN not in err


def test_the_github_group_is_hidden_but_documented(capsys: pytest.CaptureFixture[str]) -> None:
    """The helper is hidden from top-level help (it is for the action) yet has its own help."""
    assert github.hidden
    assert main(["github", "--help"]) == 0
    assert "comment" in capsys.readouterr().out


def test_failed_plan_replaces_the_old_plan_comment(
    empty_markdown: Path,
    pr_env: dict[str, str],
    recorder: GitHubRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When plan failed (empty Markdown, exit 1) the sticky comment says so and links the run."""
    old = recorder.add_comment("acme/budgets", 12, f"{PLAN_COMMENT_MARKER}\n## Plan: stale")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.test")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    assert comment(empty_markdown, "--exit-code", "1") == 0
    (patch,) = recorder.writes()
    assert patch.path == f"/repos/acme/budgets/issues/comments/{old}"
    body = patch.body["body"]
    assert body.startswith(PLAN_COMMENT_MARKER)
    assert "plan failed (exit code 1)" in body
    assert "https://github.test/acme/budgets/actions/runs/42" in body


def test_a_run_for_an_outdated_commit_leaves_the_newer_plan(
    tmp_path: Path,
    pr_env: dict[str, str],
    recorder: GitHubRecorder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A run that ends after the pull request moved on to a newer commit (two pushes in a row,
    runs finishing out of order) does not overwrite the newer run's plan with its own."""
    old, new = "a" * 40, "b" * 40
    event = Path(pr_env["GITHUB_EVENT_PATH"])
    event.write_text(json.dumps({"pull_request": {"number": 12, "head": {"sha": old}}}), "utf-8")
    current = f"{PLAN_COMMENT_MARKER}\n## Plan for the newer commit"
    comment_id = recorder.add_comment("acme/budgets", 12, current)
    recorder.heads[("acme/budgets", 12)] = new
    markdown = tmp_path / "outdated.md"
    markdown.write_text(f"{PLAN_COMMENT_MARKER}\n## Plan for the older commit\n", "utf-8")
    assert comment(markdown) == 0
    assert recorder.writes() == []
    assert recorder.comments[("acme/budgets", 12)][0]["body"] == current
    out = capsys.readouterr().out
    assert f"#12 is now at commit {new[:12]}, not {old[:12]}" in out
    # The run for the pull request's current head does update it.
    recorder.heads[("acme/budgets", 12)] = old
    assert comment(markdown) == 0
    (patch,) = recorder.writes()
    assert patch.path == f"/repos/acme/budgets/issues/comments/{comment_id}"
    # The comment names the commit, so one a later run could not replace reads as outdated.
    assert patch.body["body"].startswith(f"{PLAN_COMMENT_MARKER}\nPlan of commit {old}.\n")
