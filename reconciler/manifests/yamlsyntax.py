"""YAML syntax and encoding errors, worded for the people who edit manifests.

PyYAML's messages name the parser's state ("while scanning a quoted scalar"); these add where
to look and what usually fixes it (tabs, unclosed quotes, indentation).
"""

from __future__ import annotations

import yaml

from reconciler.problems import Problem

_SYNTAX_HINTS: tuple[tuple[str, str], ...] = (
    ("cannot start any token", "check for a tab or a stray character; indent with spaces only"),
    ("found undefined alias", "define the anchor (&name) before using the alias (*name)"),
    ("mapping values are not allowed", "quote values that contain ': ' or check the indentation"),
    ("expected <block end>", "check the indentation of this line and the lines above it"),
    ("did not find expected key", "check the indentation of this line and the lines above it"),
    ("found unexpected end of stream", "a quote or bracket is not closed"),
    ("while scanning a quoted scalar", "a quote is not closed"),
    (
        "exceeded maximum nesting depth",
        "a manifest needs only a few levels; check the brackets and indentation",
    ),
)


def syntax_problem(exc: yaml.MarkedYAMLError, data: bytes, display: str) -> Problem:
    """A parser or composer error, at its position, with advice for the usual causes."""
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark is not None and "end of stream" in (exc.problem or ""):
        # An unclosed quote or bracket: where it opens is more useful than the end of the file.
        mark = exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    what = exc.problem or exc.context or "invalid YAML"
    message = f"YAML syntax error: {what}"
    if mark is exc.context_mark and "quoted scalar" in (exc.context or ""):
        message = "YAML syntax error: this quoted text is never closed"
    hint = "fix the YAML syntax here"
    text = f"{exc.problem or ''} {exc.context or ''}"
    for needle, advice in _SYNTAX_HINTS:
        if needle in text:
            hint = advice
            break
    if mark is not None and _has_tab(data, mark.line):
        hint = "YAML indentation must use spaces, not tabs"
    return Problem(display, line, column, message, hint)


def _has_tab(data: bytes, line_index: int) -> bool:
    lines = data.split(b"\n", line_index + 1)
    if line_index >= len(lines):
        return False
    line = lines[line_index]
    return b"\t" in line[: len(line) - len(line.lstrip(b" \t")) + 1]


def reader_problem(exc: yaml.YAMLError, data: bytes, display: str) -> Problem:
    """An error reading the bytes (bad UTF-8, a forbidden character), at its position."""
    offset = getattr(exc, "position", 0) or 0  # in bytes (libyaml's reader)
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    # Editors count characters: the bytes before the problem on its line are UTF-8 text.
    column = len(data[start:offset].decode("utf-8", "replace")) + 1
    reason = getattr(exc, "reason", "") or str(exc)
    if "decode" in reason or "UTF-8" in reason or "utf-8" in reason.lower():
        return Problem(
            display, line, column, "the file is not valid UTF-8 text", "save it as UTF-8"
        )
    return Problem(
        display,
        line,
        column,
        f"the file contains a character YAML does not allow ({reason})",
        "remove control characters; save the file as UTF-8 text",
    )
