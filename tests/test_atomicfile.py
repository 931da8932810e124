"""The one atomic file writer: whole files or none, modes as asked, no temporary left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconciler.atomicfile import write_atomic
from reconciler.errors import OutputError


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_forced_mode_applies_to_new_and_existing_files(tmp_path: Path) -> None:
    """mode=0o600 makes even an existing world-readable file owner-only."""
    path = tmp_path / "plan.json"
    path.write_text("old", encoding="utf-8")
    os.chmod(path, 0o644)
    write_atomic(path, "new", mode=0o600)
    assert (path.read_text(encoding="utf-8"), mode_of(path)) == ("new", 0o600)
    fresh = tmp_path / "fresh.json"
    write_atomic(fresh, "x", mode=0o600)
    assert mode_of(fresh) == 0o600


def test_without_a_mode_an_existing_file_keeps_its_own(tmp_path: Path) -> None:
    """A manifest rewritten in place keeps the permissions its owner gave it."""
    path = tmp_path / "a.yaml"
    path.write_text("old", encoding="utf-8")
    os.chmod(path, 0o640)
    write_atomic(path, "new\n")
    assert (path.read_text(encoding="utf-8"), mode_of(path)) == ("new\n", 0o640)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    """Writing into a missing directory fails cleanly, naming what was written."""
    with pytest.raises(OutputError, match=r"cannot write saved plan .*no/plan\.json"):
        write_atomic(tmp_path / "no" / "plan.json", "x", what="saved plan")
    assert list(tmp_path.iterdir()) == []


def test_parents_are_made_on_request_and_a_directory_is_refused(tmp_path: Path) -> None:
    """make_parents creates the directories; a path that is a directory is an OutputError."""
    write_atomic(tmp_path / "a" / "b.yaml", "x", make_parents=True)
    assert (tmp_path / "a" / "b.yaml").read_text(encoding="utf-8") == "x"
    with pytest.raises(OutputError, match="it is a directory"):
        write_atomic(tmp_path / "a", "x")
