"""What a GitHub Actions job offers a command-line tool, with nothing but the standard library.

Workflow commands (``::error file=...,line=...::message``) become inline annotations on a pull
request; ``GITHUB_STEP_SUMMARY`` and ``GITHUB_OUTPUT`` are files a step appends to; the event
payload at ``GITHUB_EVENT_PATH`` tells which pull request a run is about. Kept free of HTTP so
that ``reconciler validate`` and the audit log can use it without loading a client.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from reconciler.printable import printable

AnnotationLevel = Literal["debug", "notice", "warning", "error"]
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def in_github_actions(environ: Mapping[str, str] | None = None) -> bool:
    """True when running inside a GitHub Actions job (the runner sets ``GITHUB_ACTIONS=true``)."""
    env = os.environ if environ is None else environ
    return env.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """Escape the message part of a workflow command, as the runner's toolkit does; other
    control characters (ESC, bidirectional overrides) are shown as backslash escapes."""
    parts = re.split(r"([\r\n])", text)  # line breaks are the toolkit's to encode
    text = "".join(part if part in ("\r", "\n") else printable(part) for part in parts)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (``file=``, ``title=``) of a workflow command."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(
    level: AnnotationLevel,
    message: str,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
    *,
    title: str | None = None,
) -> str:
    """One workflow-command line, e.g. ``::error file=a.yaml,line=3,col=5::bad value``.

    GitHub shows ``notice``/``warning``/``error`` as annotations on the file and line (in the
    pull request's diff when the file is part of it); ``debug`` appears only in debug logs.
    """
    properties: list[str] = []
    if file is not None:
        properties.append(f"file={escape_property(file)}")
    if line is not None:
        properties.append(f"line={line}")
    if col is not None:
        properties.append(f"col={col}")
    if title is not None:
        properties.append(f"title={escape_property(title)}")
    head = f"::{level} {','.join(properties)}" if properties else f"::{level}"
    return f"{head}::{escape_data(message)}"


def append_step_summary(markdown: str, environ: Mapping[str, str] | None = None) -> bool:
    """Append ``markdown`` to the job's step summary; False (and nothing written) outside Actions.

    The runner renders the summary file on the workflow run's page after the step ends. A blank
    line separates this Markdown from what is already there, so a heading written after an
    earlier command's HTML block (``</details>``) still renders as a heading.
    """
    env = os.environ if environ is None else environ
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with open(target, "a", encoding="utf-8") as summary:
        if summary.tell() > 0:
            summary.write("\n")
        summary.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return True


def set_output(name: str, value: str, environ: Mapping[str, str] | None = None) -> bool:
    """Set a step output through ``GITHUB_OUTPUT``; False when not running in a step.

    Uses the ``name<<DELIMITER`` form with a random delimiter, so values may span lines.
    """
    env = os.environ if environ is None else environ
    target = env.get("GITHUB_OUTPUT")
    if not target:
        return False
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    with open(target, "a", encoding="utf-8") as outputs:
        outputs.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return True


def event_pull_request_number(event_path: Path) -> int | None:
    """The pull request number in a workflow event payload, or None for other events.

    ``pull_request`` / ``pull_request_target`` events carry the pull request itself; comments
    on a pull request carry an ``issue`` marked with a ``pull_request`` key; plain issues are
    not pull requests. Raises ``OSError`` / ``ValueError`` when the payload cannot be read.
    """
    return event_pull_request(event_path)[0]


def event_pull_request(event_path: Path) -> tuple[int | None, str | None]:
    """The pull request number (see ``event_pull_request_number``) and the commit a
    ``pull_request`` event was made for (``pull_request.head.sha``, else None), from one read
    of the payload. Raises ``OSError`` / ``ValueError`` when the payload cannot be read.
    """
    payload: Any = json.loads(event_path.read_text(encoding="utf-8"))
    return _number(payload), _head(payload)


def _number(payload: Any) -> int | None:
    number: Any = None
    if isinstance(payload, dict):
        pull = payload.get("pull_request")
        issue = payload.get("issue")
        if isinstance(pull, dict):
            number = pull.get("number")
        elif isinstance(issue, dict) and isinstance(issue.get("pull_request"), dict):
            number = issue.get("number")
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        return number
    return None


def _head(payload: Any) -> str | None:
    pull = payload.get("pull_request") if isinstance(payload, dict) else None
    head = pull.get("head") if isinstance(pull, dict) else None
    sha = head.get("sha") if isinstance(head, dict) else None
    return sha if isinstance(sha, str) and _COMMIT.fullmatch(sha) else None
