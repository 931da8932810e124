"""A stand-in for GitHub's issue-comments REST API, served on 127.0.0.1 for tests.

It records every request (method, path, query, headers, JSON body) and keeps comments in
memory, so a test can point ``GITHUB_API_URL`` at it and check what the action would send.
Pages the list endpoint with a ``Link`` header like GitHub does. Comments carry their author
(``user.login``, ``user.type``) as GitHub's REST API shows them; ``POST /graphql`` answers the
``viewer { login }`` query with the token's account, which GraphQL names without ``[bot]``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghs_recorder-test-token"
# The account of a workflow's GITHUB_TOKEN: "github-actions" in GraphQL, this in REST.
BOT = "github-actions[bot]"
_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_ONE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
_PULL = re.compile(r"^/repos/([^/]+/[^/]+)/pulls/(\d+)$")


@dataclass
class Recorded:
    """One request the recorder received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class GitHubRecorder:
    """State shared with the handler: comments by pull request, requests, injected failures."""

    url: str = ""
    # Where next-page Link headers point (default: the recorder itself).
    link_base: str | None = None
    requests: list[Recorded] = field(default_factory=list)
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    # The head commit of each pull request, as GET /repos/R/pulls/N reports it.
    heads: dict[tuple[str, int], str] = field(default_factory=dict)
    fail_with: int | None = None
    viewer: str = "github-actions"
    _next_id: int = 1000

    def add_comment(self, repository: str, number: int, body: str, author: str = BOT) -> int:
        """Seed a comment as if ``author`` had posted it (default: the token's own account, as
        an earlier run would have); returns its id."""
        self._next_id += 1
        self.comments.setdefault((repository, number), []).append(
            {
                "id": self._next_id,
                "body": body,
                "user": {"login": author, "type": "Bot" if author.endswith("[bot]") else "User"},
                "html_url": f"https://github.test/{repository}/pull/{number}"
                f"#issuecomment-{self._next_id}",
            }
        )
        return self._next_id

    def writes(self) -> list[Recorded]:
        """The requests that would change something on GitHub (POST, PATCH; GraphQL's viewer
        query is a read)."""
        return [r for r in self.requests if r.method in ("POST", "PATCH") and r.path != "/graphql"]


def _handler(state: GitHubRecorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body: Any = json.loads(raw) if raw else None
            state.requests.append(
                Recorded(
                    method=self.command,
                    path=split.path,
                    query=parse_qs(split.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
            )
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"message": "Bad credentials"})
                return
            if state.fail_with is not None:
                self._reply(state.fail_with, {"message": "Resource not accessible by integration"})
                return
            if split.path == "/graphql" and self.command == "POST":
                self._reply(200, {"data": {"viewer": {"login": state.viewer}}})
                return
            pull = _PULL.match(split.path)
            if pull is not None and self.command == "GET":
                head = state.heads.get((pull.group(1), int(pull.group(2))))
                if head is not None:
                    self._reply(200, {"number": int(pull.group(2)), "head": {"sha": head}})
                    return
            if (match := _LIST.match(split.path)) is not None:
                key = (match.group(1), int(match.group(2)))
                if self.command == "GET":
                    self._list(key, parse_qs(split.query), split.path)
                    return
                if self.command == "POST":
                    state.add_comment(key[0], key[1], body["body"])
                    self._reply(201, state.comments[key][-1])
                    return
            if (match := _ONE.match(split.path)) is not None and self.command == "PATCH":
                for comments in state.comments.values():
                    for comment in comments:
                        if comment["id"] == int(match.group(2)):
                            comment["body"] = body["body"]
                            self._reply(200, comment)
                            return
            self._reply(404, {"message": "Not Found"})

        def _list(self, key: tuple[str, int], query: dict[str, list[str]], path: str) -> None:
            per_page = int(query.get("per_page", ["30"])[0])
            page = int(query.get("page", ["1"])[0])
            comments = state.comments.get(key, [])
            chunk = comments[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(comments):
                base = state.link_base or state.url
                next_page = f"{base}{path}?per_page={per_page}&page={page + 1}"
                headers["Link"] = f'<{next_page}>; rel="next"'
            self._reply(200, chunk, headers)

        do_GET = do_POST = do_PATCH = _handle

    return Handler


@contextmanager
def serve_github_recorder() -> Iterator[GitHubRecorder]:
    """Run the recorder on an ephemeral loopback port for the duration of the block."""
    state = GitHubRecorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
