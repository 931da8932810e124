"""Tests for reconciler.problems: how a problem in an input file is printed."""

from __future__ import annotations

import pytest

from reconciler.problems import Problem


@pytest.mark.parametrize(
    "path", ["::add-mask::x.yaml", "::stop-commands::t/a.yaml", " \t::error title=OK::fine.yaml"]
)
def test_a_file_name_never_starts_a_workflow_command(path: str) -> None:
    """A manifest named like a workflow command (a pull request chooses its file names) is
    printed as ./NAME, so a runner reading the log never takes the line for a command."""
    (line,) = Problem(path, 3, 5, "unknown field 'x'").lines()
    assert line.startswith("./")
    assert not line.lstrip().startswith("::")
    assert Problem("customers/a.yaml", 3, 5, "m").lines() == ["customers/a.yaml:3:5: error: m"]
