"""GitHub Actions integration for the CLI and the composite action in ``action.yml``.

Three things live here, all driven by the environment variables a GitHub runner sets:

* workflow commands (``::error file=...,line=...::message``) so that ``validate --format github``
  turns problems into inline annotations on the pull request;
* the job's step summary and step outputs (``GITHUB_STEP_SUMMARY``, ``GITHUB_OUTPUT``), where
  ``plan`` and ``apply`` append their Markdown;
* the sticky pull-request comment: ONE comment per pull request, found again by a hidden
  marker and edited in place, so a pull request pushed ten times shows one current plan.
  Only a comment the token's own account wrote is ever taken for it: anyone can post a
  comment that starts with the marker, and its author could edit it again after the run.

Library code: nothing here prints or exits. The REST client raises ``APIError`` subclasses and
never puts the token in a message or a repr.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import httpx

from reconciler.errors import APIError, ConfigError, TransportError
from reconciler.github.actions import (
    AnnotationLevel,
    append_step_summary,
    escape_data,
    escape_property,
    event_pull_request,
    in_github_actions,
    set_output,
    workflow_command,
)
from reconciler.render.markdown import GITHUB_COMMENT_LIMIT, MARKER
from reconciler.settings.urls import check_base_url

__all__ = [
    "MAX_COMMENT_CHARS",
    "PLAN_COMMENT_MARKER",
    "AnnotationLevel",
    "CommentResult",
    "PullRequest",
    "StickyComment",
    "append_step_summary",
    "escape_data",
    "escape_property",
    "fit_comment",
    "in_github_actions",
    "keyed_marker",
    "plan_failed_comment",
    "pull_request_from_event",
    "set_output",
    "workflow_command",
]

# One definition each, in the Markdown renderer that writes them.
PLAN_COMMENT_MARKER = MARKER
"""Hidden first line of the Markdown plan; the sticky comment is found again by it."""

MAX_COMMENT_CHARS = GITHUB_COMMENT_LIMIT
"""GitHub refuses issue and pull-request comment bodies longer than this."""

DEFAULT_API_URL = "https://api.github.com"
# REST's GET /user refuses a workflow's GITHUB_TOKEN (an app installation token); GraphQL's
# viewer answers for every kind of token.
_VIEWER_QUERY = "query { viewer { login } }"
_PAGE_SIZE = 100
_TRUNCATION_NOTE = (
    "\n\n> [!NOTE]\n> This plan was cut to fit GitHub's comment size limit. "
    "The full plan is in the job summary of this workflow run.\n"
)


def fit_comment(
    body: str, marker: str = PLAN_COMMENT_MARKER, limit: int = MAX_COMMENT_CHARS
) -> str:
    """The comment body to send: starts with ``marker`` and never exceeds ``limit`` characters.

    The Markdown renderer already folds long plans; this is the last guard. A body that is
    still too long is cut at a line boundary, open code fences and ``<details>`` blocks are
    closed so the rest of the page renders, and a note says where the full plan is.
    """
    if limit < len(marker) + len(_TRUNCATION_NOTE) + 100:
        raise ValueError(f"comment limit {limit} leaves no room for a plan")
    if not body.lstrip().startswith(marker):
        body = f"{marker}\n{body}"
    if len(body) <= limit:
        return body
    budget = limit - len(_TRUNCATION_NOTE)
    while True:
        if budget <= len(marker):
            return marker + _TRUNCATION_NOTE
        head = body[:budget]
        newline = head.rfind("\n")
        if newline > len(marker):
            head = head[:newline]
        closed = _close_open_blocks(head)
        if len(closed) + len(_TRUNCATION_NOTE) <= limit:
            return closed + _TRUNCATION_NOTE
        budget -= len(closed) - len(head) + 1


def keyed_marker(key: str) -> str:
    """The marker of the plan comment for one set of manifests (``key``: the action's
    working-directory and paths), so that two plans of one pull request keep a comment each.

    Whitespace is normalised and everything else percent-encoded: the key can neither end the
    HTML comment nor make one marker the start of another.
    """
    words = " ".join(key.split())
    return f"<!-- reconciler-plan: {quote(words, safe='/.:_~')} -->"


def plan_failed_comment(
    exit_code: int, environ: Mapping[str, str] | None = None, marker: str = PLAN_COMMENT_MARKER
) -> str:
    """The comment that replaces the plan when ``plan`` failed before producing one.

    Without it the pull request would keep showing the plan of an earlier push as if it were
    current. Links the workflow run whose log has the errors.
    """
    env = os.environ if environ is None else environ
    server = env.get("GITHUB_SERVER_URL", "https://github.com")
    repository, run_id = env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    where = (
        f"the [workflow run log]({server}/{repository}/actions/runs/{run_id})"
        if repository and run_id
        else "the workflow run log"
    )
    return (
        f"{marker}\n"
        f"### reconciler plan failed (exit code {exit_code})\n\n"
        f"No plan could be made for the latest commit of this pull request; the errors are in "
        f"{where}. Any plan shown here before no longer applies.\n"
    )


def _close_open_blocks(markdown: str) -> str:
    # A fence is closed only by a run of backticks at least as long as the one that opened it
    # (the plan uses four when an id holds three): close with the opening run itself.
    fence = ""
    for line in markdown.split("\n"):
        stripped = line.strip()
        run = len(stripped) - len(stripped.lstrip("`"))
        if not fence and run >= 3:
            fence = stripped[:run]
        elif fence and run >= len(fence) and stripped == "`" * run:
            fence = ""
    if fence:
        markdown += f"\n{fence}"
    unclosed = markdown.count("<details") - markdown.count("</details>")
    return markdown + "\n</details>" * max(unclosed, 0)


@dataclass(frozen=True, slots=True)
class PullRequest:
    """A pull request of a repository (``owner/name``): where the sticky comment lives.

    ``head``: the commit this run planned, when known; the comment is then written only while
    it is still the pull request's head."""

    repository: str
    number: int
    head: str | None = None


def pull_request_from_event(environ: Mapping[str, str] | None = None) -> PullRequest | None:
    """The pull request the current workflow event is about, or None (push, schedule, ...).

    Reads ``GITHUB_REPOSITORY`` and the event payload at ``GITHUB_EVENT_PATH``
    (``pull_request.number``, or ``issue.number`` for comments on a pull request).
    """
    env = os.environ if environ is None else environ
    repository = env.get("GITHUB_REPOSITORY", "")
    event_path = env.get("GITHUB_EVENT_PATH", "")
    if not repository or not event_path:
        return None
    try:
        number, head = event_pull_request(Path(event_path))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the workflow event payload {event_path}: {exc}") from exc
    return PullRequest(repository, number, head) if number is not None else None


@dataclass(frozen=True, slots=True)
class CommentResult:
    """What ``StickyComment.publish`` did: created a new comment, updated the existing one, or
    wrote nothing because the pull request has moved on to ``head`` (a newer commit)."""

    action: Literal["created", "updated", "outdated"]
    comment_id: int
    url: str
    head: str | None = None


class StickyComment:
    """Creates or updates the ONE comment on a pull request that starts with a marker.

    Talks to GitHub's REST API at ``api_url`` (``GITHUB_API_URL`` on a runner; GitHub
    Enterprise has its own) with the job's token. Not retried: a failed comment never changes
    what the plan says, and the action reports it as a warning.
    """

    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        marker: str = PLAN_COMMENT_MARKER,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token:
            raise ConfigError("no GitHub token: set GITHUB_TOKEN to the job's token")
        # Same rule as provider base URLs: the token never crosses a network in clear text.
        self.api_url = check_base_url(api_url)
        self.graphql_url = graphql_url_for(self.api_url)
        self.marker = marker
        self._login: str | None = None
        self._client = httpx.Client(
            base_url=self.api_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "reconciler",
            },
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"StickyComment(api_url={self.api_url!r}, marker={self.marker!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def find(self, pull: PullRequest) -> int | None:
        """The id of the existing comment that starts with the marker, if there is one."""
        path = f"/repos/{pull.repository}/issues/{pull.number}/comments"
        url: str | None = path
        params: dict[str, int] | None = {"per_page": _PAGE_SIZE}
        while url is not None:
            response = self._send("GET", url, params=params)
            comments = _json(response, "GET", path)
            if not isinstance(comments, list):
                raise APIError(
                    f"GitHub API: GET {path} returned {type(comments).__name__}, not a list",
                    method="GET",
                    path=path,
                    status=response.status_code,
                )
            for comment in comments:
                body = comment.get("body") if isinstance(comment, dict) else None
                if isinstance(body, str) and body.lstrip().startswith(self.marker):
                    comment_id = comment.get("id")
                    if isinstance(comment_id, int) and _written_by(comment, self._viewer()):
                        return comment_id
            url, params = self._next_page(response), None
        return None

    def publish(self, pull: PullRequest, body: str) -> CommentResult:
        """Update the marked comment with ``body``, or create it; the body is fitted first."""
        text = fit_comment(body, self.marker)
        existing = self.find(pull)
        # Runs of two pushes can end in either order: the older one must not overwrite the
        # newer one's plan. Asked just before writing, which leaves the smallest window.
        head = self.head(pull) if pull.head is not None else None
        if head is not None and head != pull.head:
            return CommentResult(action="outdated", comment_id=existing or 0, url="", head=head)
        if existing is None:
            path = f"/repos/{pull.repository}/issues/{pull.number}/comments"
            response = self._send("POST", path, json={"body": text})
            action: Literal["created", "updated", "outdated"] = "created"
        else:
            path = f"/repos/{pull.repository}/issues/comments/{existing}"
            response = self._send("PATCH", path, json={"body": text})
            action = "updated"
        answer = _json(response, response.request.method, path)
        comment_id = answer.get("id") if isinstance(answer, dict) else None
        url = answer.get("html_url") if isinstance(answer, dict) else None
        return CommentResult(
            action=action,
            comment_id=comment_id if isinstance(comment_id, int) else existing or 0,
            url=url if isinstance(url, str) else "",
        )

    def head(self, pull: PullRequest) -> str | None:
        """The pull request's current head commit, as GitHub reports it."""
        path = f"/repos/{pull.repository}/pulls/{pull.number}"
        answer = _json(self._send("GET", path), "GET", path)
        head = answer.get("head") if isinstance(answer, dict) else None
        sha = head.get("sha") if isinstance(head, dict) else None
        return sha if isinstance(sha, str) and sha else None

    def _viewer(self) -> str:
        """The login of the token's account, asked once (only when a marked comment exists)."""
        if self._login is None:
            path = httpx.URL(self.graphql_url).path
            response = self._send("POST", self.graphql_url, json={"query": _VIEWER_QUERY})
            answer = _json(response, "POST", path)
            data = answer.get("data") if isinstance(answer, dict) else None
            viewer = data.get("viewer") if isinstance(data, dict) else None
            login = viewer.get("login") if isinstance(viewer, dict) else None
            if not isinstance(login, str) or not login:
                raise APIError(
                    f"GitHub API: POST {path} did not name the token's account (viewer login)",
                    method="POST",
                    path=path,
                    status=response.status_code,
                )
            self._login = login
        return self._login

    def _next_page(self, response: httpx.Response) -> str | None:
        # Follow the Link header only while it stays on the same API host: the token is sent
        # with every request and must never travel anywhere else.
        link = response.links.get("next", {}).get("url")
        if link and link.startswith(self.api_url + "/"):
            return link
        return None

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        path = httpx.URL(url).path if "://" in url else url
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise TransportError(
                f"GitHub API: {method} {path} failed: {type(exc).__name__}",
                method=method,
                path=path,
            ) from exc
        if response.is_success:
            return response
        detail = _error_detail(response)
        hint = ""
        # GitHub answers an exhausted (or secondary) rate limit with 403 as well as 429.
        limited = response.status_code == 429 or (
            response.status_code == 403
            and (
                response.headers.get("x-ratelimit-remaining") == "0"
                or "retry-after" in response.headers
            )
        )
        if limited:
            hint = " (GitHub's API rate limit: try again later)"
        elif response.status_code in (401, 403):
            hint = " (the job's token needs 'pull-requests: write' permission)"
        raise APIError(
            f"GitHub API: {method} {path} returned {response.status_code}: {detail}{hint}",
            method=method,
            path=path,
            status=response.status_code,
            detail=detail,
        )


def graphql_url_for(api_url: str) -> str:
    """GitHub's GraphQL endpoint beside a REST API URL: ``https://api.github.com/graphql``, and
    ``https://HOST/api/graphql`` for GitHub Enterprise Server's ``https://HOST/api/v3``."""
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base.removesuffix("/v3") + "/graphql"
    return base + "/graphql"


def _written_by(comment: Mapping[str, Any], login: str) -> bool:
    # GraphQL names an app's account "github-actions" where REST says "github-actions[bot]"
    # (with type Bot); user logins cannot contain brackets, so neither form is ambiguous.
    user = comment.get("user")
    if not isinstance(user, dict):
        return False
    author = user.get("login")
    if author == login:
        return True
    return user.get("type") == "Bot" and author == f"{login.removesuffix('[bot]')}[bot]"


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no detail"
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else response.reason_phrase or "no detail"


def _json(response: httpx.Response, method: str, path: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise APIError(
            f"GitHub API: {method} {path} returned a body that is not JSON",
            method=method,
            path=path,
            status=response.status_code,
        ) from exc
