"""Tests for reconciler.github.comment: workflow commands, step summary and outputs, sticky
comment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from github_recorder import TOKEN, GitHubRecorder, serve_github_recorder
from hypothesis import given
from hypothesis import strategies as st
from scripted_http import Answer, ScriptedApp, script, serve

from reconciler.errors import APIError, ConfigError, TransportError
from reconciler.github.comment import (
    MAX_COMMENT_CHARS,
    PLAN_COMMENT_MARKER,
    PullRequest,
    StickyComment,
    append_step_summary,
    escape_data,
    escape_property,
    fit_comment,
    in_github_actions,
    keyed_marker,
    pull_request_from_event,
    set_output,
    workflow_command,
)

PULL = PullRequest("acme/budgets", 7)


@pytest.fixture
def recorder() -> Iterator[GitHubRecorder]:
    with serve_github_recorder() as state:
        yield state


def test_in_github_actions_reads_the_runner_flag() -> None:
    """Only GITHUB_ACTIONS=true counts as running inside a workflow."""
    assert in_github_actions({"GITHUB_ACTIONS": "true"})
    assert not in_github_actions({"GITHUB_ACTIONS": "false"})
    assert not in_github_actions({})


def test_escape_data_encodes_percent_first_then_line_breaks() -> None:
    """Message data escapes %, CR and LF, and % first so escapes are not double-encoded."""
    assert escape_data("100%\r\nnext: a,b") == "100%25%0D%0Anext: a,b"


def test_escape_property_also_encodes_colon_and_comma() -> None:
    """Property values additionally escape ':' and ','."""
    assert escape_property("C:\\a,b%\n") == "C%3A\\a%2Cb%25%0A"


def test_workflow_command_with_location() -> None:
    """An annotation names file, line and column, in GitHub's property syntax."""
    line = workflow_command("error", "unknown field 'budjet'", "customers/a,b.yaml", 3, 5)
    assert line == "::error file=customers/a%2Cb.yaml,line=3,col=5::unknown field 'budjet'"


def test_workflow_command_without_properties_and_with_title() -> None:
    """Without properties the command is bare; a title is escaped like other properties."""
    assert workflow_command("notice", "50% done\n") == "::notice::50%25 done%0A"
    assert workflow_command("warning", "m", title="a:b") == "::warning title=a%3Ab::m"


@given(st.text())
def test_workflow_command_is_always_one_line(message: str) -> None:
    """No message can break out of its line and inject another workflow command."""
    line = workflow_command("error", message, file=message, line=1, col=1)
    assert "\n" not in line
    assert "\r" not in line


def test_append_step_summary_appends_with_a_final_newline(tmp_path: Path) -> None:
    """Markdown is appended, never overwriting what earlier steps wrote."""
    summary = tmp_path / "summary.md"
    summary.write_text("earlier\n", encoding="utf-8")
    assert append_step_summary("## Plan", {"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text(encoding="utf-8") == "earlier\n\n## Plan\n"


def test_append_step_summary_outside_actions_writes_nothing() -> None:
    """Without GITHUB_STEP_SUMMARY nothing is written."""
    assert not append_step_summary("## Plan", {})


def test_set_output_is_multiline_safe(tmp_path: Path) -> None:
    """Outputs use the heredoc form, so a value spanning lines stays one output."""
    outputs = tmp_path / "out"
    assert set_output("comment-url", "a\nb", {"GITHUB_OUTPUT": str(outputs)})
    first, *middle, last = outputs.read_text(encoding="utf-8").splitlines()
    name, _, delimiter = first.partition("<<")
    assert name == "comment-url"
    assert middle == ["a", "b"]
    assert last == delimiter
    assert not set_output("x", "y", {})


def test_fit_comment_prepends_the_marker_when_missing() -> None:
    """A body without the marker gets it as its first line; one that has it is unchanged."""
    assert fit_comment("## Plan").startswith(PLAN_COMMENT_MARKER + "\n")
    body = f"{PLAN_COMMENT_MARKER}\n## Plan"
    assert fit_comment(body) == body


def test_fit_comment_cuts_long_bodies_and_closes_open_blocks() -> None:
    """An oversized plan is cut at a line, its fence and details closed, and a note added."""
    rows = "\n".join(f"| cust-{i} | 100 → 200 |" for i in range(10_000))
    body = f"{PLAN_COMMENT_MARKER}\n<details>\n\n```diff\n{rows}\n```\n</details>\n"
    fitted = fit_comment(body)
    assert len(fitted) <= MAX_COMMENT_CHARS
    assert fitted.startswith(PLAN_COMMENT_MARKER)
    assert fitted.count("```") % 2 == 0
    assert fitted.count("<details>") == fitted.count("</details>")
    assert "comment size limit" in fitted


def test_fit_comment_closes_a_longer_fence_with_its_own_length() -> None:
    """Details fenced with four backticks (a live id holds three) are closed with four, so the
    note saying the plan was cut is not swallowed by the code block."""
    rows = "\n".join(f"~ respan/prod/```evil-{i}" for i in range(10_000))
    body = f"{PLAN_COMMENT_MARKER}\n<details>\n\n````diff\n{rows}\n````\n</details>\n"
    fitted = fit_comment(body)
    assert len(fitted) <= MAX_COMMENT_CHARS
    closing = fitted.rindex("\n````\n")
    assert closing < fitted.rindex("</details>") < fitted.index("comment size limit")


@given(st.text(alphabet=st.sampled_from("ab`\n<details>é€😀")), st.integers(300, 3000))
def test_fit_comment_never_exceeds_the_limit(body: str, limit: int) -> None:
    """Whatever the body, the fitted comment fits and starts with the marker."""
    fitted = fit_comment(body, limit=limit)
    assert len(fitted) <= limit
    assert fitted.startswith(PLAN_COMMENT_MARKER)


def test_fit_comment_refuses_a_limit_with_no_room() -> None:
    """A limit too small to hold the marker and the note is a programming error."""
    with pytest.raises(ValueError, match="no room"):
        fit_comment("x", limit=50)


def _event(tmp_path: Path, payload: object) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return {"GITHUB_REPOSITORY": "acme/budgets", "GITHUB_EVENT_PATH": str(path)}


def test_a_keyed_marker_stays_one_hidden_line_of_its_own() -> None:
    """A key cannot end the HTML comment or break its line, and no key's marker is the start of
    another's (or of the default marker), so each set of manifests finds only its comment."""
    marker = keyed_marker(" prod\n customers/a.yaml --> <b>x</b>")
    assert marker == "<!-- reconciler-plan: prod%20customers/a.yaml%20--%3E%20%3Cb%3Ex%3C/b%3E -->"
    assert (
        keyed_marker("prod  customers/a.yaml")
        == "<!-- reconciler-plan: prod%20customers/a.yaml -->"
    )
    markers = [PLAN_COMMENT_MARKER, keyed_marker("a"), keyed_marker("a b"), keyed_marker("ab")]
    assert not any(m.startswith(o) for m in markers for o in markers if o != m)


def test_pull_request_from_a_pull_request_event(tmp_path: Path) -> None:
    """pull_request events name the pull request in pull_request.number."""
    env = _event(tmp_path, {"pull_request": {"number": 7}})
    assert pull_request_from_event(env) == PULL


def test_pull_request_from_a_comment_on_a_pull_request(tmp_path: Path) -> None:
    """issue_comment events on a pull request carry issue.number and issue.pull_request."""
    env = _event(tmp_path, {"issue": {"number": 7, "pull_request": {"url": "x"}}})
    assert pull_request_from_event(env) == PULL


@pytest.mark.parametrize(
    "payload",
    [{"ref": "refs/heads/main"}, {"issue": {"number": 3}}, {"pull_request": {"number": "7"}}, []],
)
def test_no_pull_request_in_other_events(tmp_path: Path, payload: object) -> None:
    """Push events, plain issues and malformed numbers are not pull requests."""
    assert pull_request_from_event(_event(tmp_path, payload)) is None
    assert pull_request_from_event({}) is None


def test_unreadable_event_payload_is_a_config_error(tmp_path: Path) -> None:
    """A broken event file is reported as configuration, with its path."""
    path = tmp_path / "event.json"
    path.write_text("{not json", encoding="utf-8")
    env = {"GITHUB_REPOSITORY": "acme/budgets", "GITHUB_EVENT_PATH": str(path)}
    with pytest.raises(ConfigError, match=r"event\.json"):
        pull_request_from_event(env)


def test_publish_creates_then_updates_one_comment(recorder: GitHubRecorder) -> None:
    """The first publish POSTs a comment; the next PATCHes that same comment."""
    recorder.add_comment(PULL.repository, PULL.number, "LGTM")
    with StickyComment(TOKEN, recorder.url) as sticky:
        first = sticky.publish(PULL, "## Plan: 1 to update")
        second = sticky.publish(PULL, "## Plan: 2 to update")
    assert (first.action, second.action) == ("created", "updated")
    assert first.comment_id == second.comment_id
    post, patch = recorder.writes()
    assert (post.method, post.path) == ("POST", "/repos/acme/budgets/issues/7/comments")
    assert (patch.method, patch.path) == (
        "PATCH",
        f"/repos/acme/budgets/issues/comments/{first.comment_id}",
    )
    assert patch.body == {"body": f"{PLAN_COMMENT_MARKER}\n## Plan: 2 to update"}
    assert patch.headers["authorization"] == f"Bearer {TOKEN}"
    assert patch.headers["x-github-api-version"] == "2022-11-28"
    assert [c["body"] for c in recorder.comments[("acme/budgets", 7)]] == [
        "LGTM",
        patch.body["body"],
    ]


def test_find_follows_pagination_to_the_marked_comment(recorder: GitHubRecorder) -> None:
    """The marked comment is found even when it is past the first page of comments."""
    for i in range(150):
        recorder.add_comment(PULL.repository, PULL.number, f"comment {i}")
    marked = recorder.add_comment(PULL.repository, PULL.number, f"{PLAN_COMMENT_MARKER}\nold")
    with StickyComment(TOKEN, recorder.url) as sticky:
        assert sticky.find(PULL) == marked
    pages = [r.query.get("page", ["1"]) for r in recorder.requests if r.method == "GET"]
    assert pages == [["1"], ["2"]]


def test_a_comment_quoting_the_marker_is_not_taken_over(recorder: GitHubRecorder) -> None:
    """Only a comment that starts with the marker is the sticky one, not a quote of it."""
    recorder.add_comment(PULL.repository, PULL.number, f"> {PLAN_COMMENT_MARKER}\n> old plan")
    with StickyComment(TOKEN, recorder.url) as sticky:
        assert sticky.find(PULL) is None


def test_a_marked_comment_by_someone_else_is_never_taken_over(recorder: GitHubRecorder) -> None:
    """A comment another account starts with the marker (say, a fake plan the pull request's
    author posted before the first run) is left alone: the plan is posted as a new comment
    by the token's account, and that comment is the one updated on the next run."""
    fake = f"{PLAN_COMMENT_MARKER}\n**Plan: 0 to create, 0 to update**"
    forged = recorder.add_comment(PULL.repository, PULL.number, fake, author="mallory")
    with StickyComment(TOKEN, recorder.url) as sticky:
        first = sticky.publish(PULL, "## Plan: 1 to update")
        second = sticky.publish(PULL, "## Plan: 2 to update")
    assert (first.action, second.action) == ("created", "updated")
    assert first.comment_id != forged
    assert second.comment_id == first.comment_id
    assert recorder.comments[(PULL.repository, PULL.number)][0]["body"] == fake
    assert [r.path for r in recorder.writes()] == [
        "/repos/acme/budgets/issues/7/comments",
        f"/repos/acme/budgets/issues/comments/{first.comment_id}",
    ]


def test_the_token_account_is_asked_on_the_same_host(recorder: GitHubRecorder) -> None:
    """Who the token is comes from GraphQL's viewer next to the REST API (GitHub Enterprise:
    /api/graphql beside /api/v3), with the same token; an answer without a login is refused."""
    recorder.add_comment(PULL.repository, PULL.number, f"{PLAN_COMMENT_MARKER}\nold")
    with StickyComment(TOKEN, recorder.url) as sticky:
        assert sticky.graphql_url == f"{recorder.url}/graphql"
        assert sticky.find(PULL) is not None
    assert recorder.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    with StickyComment(TOKEN, "https://ghe.example.com/api/v3") as sticky:
        assert sticky.graphql_url == "https://ghe.example.com/api/graphql"
    recorder.viewer = ""
    with StickyComment(TOKEN, recorder.url) as sticky, pytest.raises(APIError, match="viewer"):
        sticky.find(PULL)


def test_pagination_never_leaves_the_api_host(recorder: GitHubRecorder) -> None:
    """A Link header pointing at another host is not followed, so the token stays home."""
    for i in range(150):
        recorder.add_comment(PULL.repository, PULL.number, f"comment {i}")
    recorder.link_base = "http://203.0.113.1:9"
    with StickyComment(TOKEN, recorder.url) as sticky:
        assert sticky.find(PULL) is None
    assert len(recorder.requests) == 1


def test_api_errors_name_the_request_and_hint_at_permissions(recorder: GitHubRecorder) -> None:
    """A 403 becomes an APIError naming method, path and the permission to grant."""
    recorder.fail_with = 403
    with StickyComment(TOKEN, recorder.url) as sticky, pytest.raises(APIError) as caught:
        sticky.publish(PULL, "## Plan")
    assert caught.value.status == 403
    assert "GET /repos/acme/budgets/issues/7/comments" in str(caught.value)
    assert "pull-requests: write" in str(caught.value)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "headers"),
    [(403, {"x-ratelimit-remaining": "0"}), (403, {"retry-after": "60"}), (429, {})],
)
def test_a_rate_limit_is_named_as_such_not_as_a_permission(
    status: int, headers: dict[str, str]
) -> None:
    """GitHub answers an exhausted rate limit with 403 (or 429): the error says to wait, not to
    grant a permission the token already has."""
    answer = Answer(status, {"message": "API rate limit exceeded for installation"}, headers)
    with (
        serve(ScriptedApp(script(answer))) as url,
        StickyComment(TOKEN, url) as sticky,
        pytest.raises(APIError) as caught,
    ):
        sticky.find(PULL)
    assert "rate limit" in str(caught.value)
    assert "try again later" in str(caught.value)
    assert "pull-requests: write" not in str(caught.value)


def test_connection_failures_are_transport_errors() -> None:
    """A refused connection is a TransportError, without the token in it."""
    with serve_github_recorder() as gone:
        url = gone.url
    with StickyComment(TOKEN, url) as sticky, pytest.raises(TransportError) as caught:
        sticky.find(PULL)
    assert TOKEN not in str(caught.value)


def test_the_token_is_required_and_never_in_the_repr(recorder: GitHubRecorder) -> None:
    """An empty token is a config error; the client's repr shows no secret."""
    with pytest.raises(ConfigError, match="GITHUB_TOKEN"):
        StickyComment("", recorder.url)
    with StickyComment(TOKEN, recorder.url) as sticky:
        assert TOKEN not in repr(sticky)


def test_the_token_never_goes_over_plain_http_to_another_host() -> None:
    """A non-loopback http:// API URL (a misconfigured GITHUB_API_URL) is refused."""
    with pytest.raises(ConfigError, match="plain http"):
        StickyComment(TOKEN, "http://github.example.com/api/v3")
