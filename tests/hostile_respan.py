"""A Respan API that answers with what the emulator never would: rows of another environment,
unreadable amounts, ids that are not text or hold control characters.

``respan_rows(rows, details)`` is a ``scripted_http`` handler: ``POST /api/users/list/`` answers
one page of ``rows`` as given; ``GET /api/users/{id}/`` answers ``details[id]`` (404 when
absent); ``PATCH`` and ``DELETE`` succeed without changing anything (``writes`` lists them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from scripted_http import Answer, Handler, Seen

RESPAN_KEY = "rsp_hostile_key_0123456789"


def respan_rows(rows: list[Any], details: Mapping[str, Mapping[str, Any]] | None = None) -> Handler:
    """A handler serving ``rows`` as the whole customer list and ``details`` as retrieves."""
    found = dict(details or {})

    def handle(seen: Seen) -> Answer:
        if seen.method == "POST" and seen.raw_path == "/api/users/list/":
            return Answer(200, {"count": len(rows), "next": None, "results": rows})
        if seen.method == "GET" and seen.raw_path.startswith("/api/users/"):
            identifier = unquote(seen.raw_path.removeprefix("/api/users/").rstrip("/"))
            if identifier in found:
                return Answer(200, dict(found[identifier]))
            return Answer(404, {"detail": "Not found."})
        if seen.method == "DELETE":
            return Answer(204)
        return Answer(200, {"detail": "accepted"})

    return handle


def writes(seen: list[Seen]) -> list[Seen]:
    """The requests that would have changed something."""
    return [s for s in seen if s.method in {"PATCH", "DELETE", "PUT"}]
