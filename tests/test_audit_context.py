"""Run provenance: actor, commit and pull request from GitHub's environment or the machine."""

from __future__ import annotations

import getpass
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.audit import discover_context

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_github_environment_wins(tmp_path: Path) -> None:
    """In GitHub Actions the actor, commit and PR number come from GitHub's variables."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 42}}), encoding="utf-8")
    context = discover_context(
        {"GITHUB_ACTOR": "octocat", "GITHUB_SHA": SHA, "GITHUB_EVENT_PATH": str(event)},
        manifest_dir=tmp_path,
        plan_checksum="abc",
    )
    assert (context.actor, context.git_commit, context.pull_request, context.plan_checksum) == (
        "octocat",
        SHA,
        42,
        "abc",
    )


def test_outside_github_the_os_user_acts_and_nothing_else_is_known(tmp_path: Path) -> None:
    """With no GitHub variables and no git checkout, actor is the OS user and the rest null."""
    context = discover_context({}, manifest_dir=tmp_path)
    assert context.actor == getpass.getuser()
    assert (context.git_commit, context.pull_request, context.plan_checksum) == (None, None, None)


def test_os_user_without_passwd_entry_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """A uid with no name (common in containers) is recorded as "unknown", not a crash."""

    def no_user() -> str:
        raise OSError("no such user")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert discover_context({}).actor == "unknown"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_commit_comes_from_the_manifests_checkout(tmp_path: Path) -> None:
    """Outside GitHub, git_commit is HEAD of the repository holding the manifests."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.yaml").write_text("customers: []\n", encoding="utf-8")
    subprocess.run([*git, "-C", str(tmp_path), "add", "a.yaml"], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-q", "-m", "m"], check=True)
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert discover_context({}, manifest_dir=tmp_path).git_commit == head


def test_missing_manifest_dir_gives_no_commit(tmp_path: Path) -> None:
    """A manifest directory that does not exist yields a null commit, not an error."""
    assert discover_context({}, manifest_dir=tmp_path / "gone").git_commit is None


def test_malformed_github_sha_is_ignored(tmp_path: Path) -> None:
    """A GITHUB_SHA that is not a hex commit id is not trusted."""
    assert discover_context({"GITHUB_SHA": "not-a-sha"}, manifest_dir=tmp_path).git_commit is None


def test_pull_request_from_the_merge_ref() -> None:
    """Without an event payload, refs/pull/N/merge names the pull request."""
    assert discover_context({"GITHUB_REF": "refs/pull/17/merge"}).pull_request == 17
    assert discover_context({"GITHUB_REF": "refs/heads/main"}).pull_request is None


def test_pull_request_from_a_comment_on_a_pull_request(tmp_path: Path) -> None:
    """An issue_comment event on a pull request gives that pull request's number."""
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"issue": {"number": 5, "pull_request": {"url": "u"}}}), encoding="utf-8"
    )
    assert discover_context({"GITHUB_EVENT_PATH": str(event)}).pull_request == 5


@pytest.mark.parametrize(
    "payload",
    [
        "{not json",
        json.dumps(["a list"]),
        json.dumps({"issue": {"number": 5}}),  # a plain issue is not a pull request
        json.dumps({"pull_request": {"number": "7"}}),
        json.dumps({"pull_request": {"number": True}}),
    ],
)
def test_unusable_event_payloads_give_no_pull_request(tmp_path: Path, payload: str) -> None:
    """An event file that is unreadable or names no pull request gives a null number."""
    event = tmp_path / "event.json"
    event.write_text(payload, encoding="utf-8")
    assert discover_context({"GITHUB_EVENT_PATH": str(event)}).pull_request is None


def test_missing_event_file_falls_back_to_the_ref(tmp_path: Path) -> None:
    """An event path that does not exist falls back to GITHUB_REF."""
    environ = {"GITHUB_EVENT_PATH": str(tmp_path / "gone.json"), "GITHUB_REF": "refs/pull/3/merge"}
    assert discover_context(environ).pull_request == 3
