"""``reconciler github comment``: post the Markdown plan as the pull request's sticky comment.

Hidden from ``--help``: the composite action in ``action.yml`` calls it after ``plan``. It reads
the job's environment (``GITHUB_TOKEN``, ``GITHUB_REPOSITORY``, ``GITHUB_EVENT_PATH``,
``GITHUB_API_URL``); the token is never accepted as a flag, so it never lands in a process list.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.errors import ConfigError
from reconciler.github.comment import (
    DEFAULT_API_URL,
    PLAN_COMMENT_MARKER,
    PullRequest,
    StickyComment,
    keyed_marker,
    plan_failed_comment,
    pull_request_from_event,
    set_output,
)
from reconciler.render.markdown import code_span


@click.group(name="github", hidden=True)
def github() -> None:
    """Helpers for the reconciler GitHub Action."""


@github.command(name="comment")
@click.option(
    "--plan-markdown",
    "plan_markdown",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The Markdown plan (plan --format markdown) to post.",
)
@click.option(
    "--pull-request",
    "number",
    type=click.IntRange(min=1),
    default=None,
    help="Pull request number (default: from the workflow event payload).",
)
@click.option(
    "--exit-code",
    "exit_code",
    type=int,
    default=None,
    help="plan's exit code: with an empty Markdown file, post that the plan failed.",
)
@click.option(
    "--marker",
    default=PLAN_COMMENT_MARKER,
    show_default=True,
    help="Hidden first line that identifies the comment to update.",
)
@click.option(
    "--key",
    default="",
    help="Which manifests the plan is of (the action: working-directory and paths); each key "
    "gets its own comment, named in it. Empty: the one comment of --marker.",
)
def comment(
    plan_markdown: Path, number: int | None, exit_code: int | None, marker: str, key: str
) -> int:
    """Create or update the ONE plan comment on the current pull request."""
    env = os.environ
    if key.strip():
        marker = keyed_marker(key)
    if number is not None:
        repository = env.get("GITHUB_REPOSITORY", "")
        if not repository:
            raise ConfigError("GITHUB_REPOSITORY is not set (expected owner/name)")
        pull: PullRequest | None = PullRequest(repository, number)
    else:
        pull = pull_request_from_event(env)
    if pull is None:
        event = env.get("GITHUB_EVENT_NAME", "unknown")
        raise ConfigError(
            f"this workflow event ({event}) is not about a pull request: "
            "run on pull_request events or pass --pull-request N"
        )
    try:
        body = plan_markdown.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ConfigError(
            f"cannot read {plan_markdown}: {reason}; pass the file plan --format markdown wrote"
        ) from None
    if not body.strip():
        if exit_code in (None, 0, 2):
            raise ConfigError(f"{plan_markdown} is empty: there is no plan to post")
        body = plan_failed_comment(exit_code or 1, env, marker)
    heading = _heading(key, pull.head)
    if heading:
        body = f"{marker}\n{heading}\n\n{body}"
    api_url = env.get("GITHUB_API_URL") or DEFAULT_API_URL
    with StickyComment(env.get("GITHUB_TOKEN", ""), api_url, marker=marker) as sticky:
        result = sticky.publish(pull, body)
    if result.action == "outdated":
        click.echo(
            f"Not commenting: pull request #{pull.number} is now at commit "
            f"{(result.head or '')[:12]}, not {(pull.head or '')[:12]} planned here; "
            "the run for the newer commit posts its plan."
        )
        return 0
    click.echo(f"{result.action.capitalize()} plan comment on #{pull.number}: {result.url}")
    set_output("comment-url", result.url, env)
    return 0


def _heading(key: str, head: str | None) -> str:
    """The line above the plan: which manifests it is of, when a pull request has two plans,
    and which commit it was made for, so that a comment a later run failed to replace reads
    as the plan of an older commit rather than of the current one."""
    heading = "Plan"
    if key.strip():
        heading += f" for {code_span(key, redact=False, table=False)}"
    if head is not None:
        heading += f" of commit {head}"  # GitHub links a commit id written out in full
    return f"{heading}." if heading != "Plan" else ""
