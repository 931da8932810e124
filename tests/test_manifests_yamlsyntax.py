"""Wording and positions of YAML syntax and encoding errors."""

from __future__ import annotations

from reconciler.manifests.yamlfile import parse_yaml
from reconciler.problems import Problem


def only_problem(data: bytes) -> Problem:
    (problem,) = parse_yaml(data, "m.yaml").problems
    return problem


def test_tab_indentation_says_use_spaces() -> None:
    """A tab in the indentation is named as such, with the fix."""
    problem = only_problem(b"customers:\n\t- customer_identifier: a\n")
    assert (problem.line, problem.column) == (2, 1)
    assert problem.hint == "YAML indentation must use spaces, not tabs"


def test_unclosed_quote_points_at_the_opening_quote() -> None:
    """An unclosed quote is reported where it opens, not at the end of the file."""
    problem = only_problem(b'a: "open\nb: 1\nc: 2\n')
    assert (problem.line, problem.column) == (1, 4)
    assert problem.message == "YAML syntax error: this quoted text is never closed"


def test_bad_indentation_hint() -> None:
    """A mis-indented line gets advice about indentation."""
    problem = only_problem(b"customers:\n  - a: 1\n b: 2\n")
    assert problem.message.startswith("YAML syntax error:")
    assert "indentation" in problem.hint


def test_invalid_utf8_names_the_byte() -> None:
    """Bytes that are not UTF-8 are reported at their line and column."""
    problem = only_problem(b"a: 1\nb: x\xffy\n")
    assert (problem.line, problem.column, problem.message) == (
        2,
        5,
        "the file is not valid UTF-8 text",
    )


def test_control_character_is_reported() -> None:
    """A control character YAML forbids is reported with what to do."""
    problem = only_problem(b"a: b\x07c\n")
    assert (problem.line, problem.column) == (1, 5)
    assert problem.hint == "remove control characters; save the file as UTF-8 text"


def test_encoding_problems_are_placed_in_characters_not_bytes() -> None:
    """After non-ASCII text on the same line, the column counts characters as editors do
    (libyaml reports a byte offset): "café" is four columns, not five."""
    control = only_problem("a: 1\nname: café \x07\n".encode())
    assert (control.line, control.column) == (2, 12)
    invalid = only_problem("a: 1\nname: 株式会社".encode() + b"\xff\n")
    assert (invalid.line, invalid.column, invalid.message) == (
        2,
        11,
        "the file is not valid UTF-8 text",
    )
