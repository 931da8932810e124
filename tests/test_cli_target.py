"""What a run says about the API it talks to: the target line, notes and misspelling hints."""

from __future__ import annotations

from reconciler.cli.target import variable_hints
from reconciler.settings.connection import read_variables


def test_hints_come_from_the_variables_connection_reads() -> None:
    """Every documented provider variable is known, so none of them ever gets a hint."""
    environ = dict.fromkeys(read_variables(), "set")
    assert variable_hints(environ) == []
    assert {"RESPAN_BASE_URL", "RESPAN_API_KEY", "AUTUMN_BASE_URL", "AUTUMN_SECRET_KEY"} <= (
        read_variables()
    )


def test_hints_name_the_variable_meant() -> None:
    """RESPAN_URL, RESPAN_KEY and AUTUMN_API_KEY each get one line naming the variable meant."""
    hints = variable_hints({"RESPAN_URL": "u", "RESPAN_KEY": "k", "AUTUMN_API_KEY": "k"})
    assert hints == [
        "Hint: AUTUMN_API_KEY is set but reconciler does not read it; did you mean "
        "AUTUMN_SECRET_KEY?",
        "Hint: RESPAN_KEY is set but reconciler does not read it; did you mean RESPAN_API_KEY?",
        "Hint: RESPAN_URL is set but reconciler does not read it; did you mean RESPAN_BASE_URL?",
    ]


def test_unrelated_variables_get_no_hint() -> None:
    """Variables outside the providers' prefixes, or far from any read name, are left alone."""
    assert variable_hints({"HOME": "/root", "RESPAN_ORG_NAME_FOR_SCRIPTS": "x", "PATH": ""}) == []
