"""Output layout and atomic writes of exported manifests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.errors import OutputError
from reconciler.export.document import ManifestDocument
from reconciler.export.files import (
    customer_file_names,
    is_directory_target,
    plan_outputs,
    write_atomic,
)

PROD = ManifestDocument(
    "respan", "prod", ({"customer_identifier": "a"}, {"customer_identifier": "b/c"})
)
TEST = ManifestDocument("respan", "test", ({"customer_identifier": "d"},))


def test_one_stream_holds_every_document(tmp_path: Path) -> None:
    """A file target (or stdout) gets all documents in one output."""
    [single] = plan_outputs([PROD, TEST], tmp_path / "all.yaml", directory=False, split="none")
    assert single.path == tmp_path / "all.yaml"
    assert single.documents == (PROD, TEST)
    [stdout] = plan_outputs([PROD], None, directory=False, split="none")
    assert stdout.path is None


def test_directory_gets_a_file_per_environment_or_per_customer(tmp_path: Path) -> None:
    """split none: provider-environment.yaml; split customer: one file per id, made safe."""
    per_env = plan_outputs([PROD, TEST], tmp_path, directory=True, split="none")
    assert [o.path for o in per_env] == [
        tmp_path / "respan-prod.yaml",
        tmp_path / "respan-test.yaml",
    ]
    per_customer = plan_outputs([PROD, TEST], tmp_path, directory=True, split="customer")
    assert [o.path for o in per_customer] == [
        tmp_path / "respan-prod" / "a.yaml",
        tmp_path / "respan-prod" / "b%2Fc.yaml",
        tmp_path / "respan-test" / "d.yaml",
    ]
    assert all(len(o.documents[0].customers) == 1 for o in per_customer)


def test_customer_file_names_are_never_hidden_and_never_collide() -> None:
    """A leading dot is escaped; ids equal but for case get distinct names."""
    names = customer_file_names([".hidden", "Acme", "acme", "ok"])
    assert names[0] == "%2Ehidden.yaml"
    assert names[1] != names[2]
    assert names[1].casefold() != names[2].casefold()
    assert names[3] == "ok.yaml"


def test_directory_target_detection(tmp_path: Path) -> None:
    """An existing directory, a trailing slash or per-customer split means a directory."""
    assert is_directory_target(tmp_path, str(tmp_path), "none")
    assert is_directory_target(tmp_path / "new", "new/", "none")
    assert is_directory_target(tmp_path / "new", "new", "customer")
    assert not is_directory_target(tmp_path / "x.yaml", "x.yaml", "none")


def test_write_atomic_replaces_and_keeps_the_mode(tmp_path: Path) -> None:
    """The new text replaces the old; an existing file keeps its permissions; no temp left."""
    path = tmp_path / "m.yaml"
    path.write_text("old\n", encoding="utf-8")
    path.chmod(0o640)
    write_atomic(path, "new\n")
    assert path.read_text(encoding="utf-8") == "new\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    """Text that cannot be encoded fails mid-write: the destination is untouched."""
    path = tmp_path / "m.yaml"
    path.write_text("old\n", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, "bad \udcff surrogate")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_directory_is_an_output_error(tmp_path: Path) -> None:
    """No permission to create the temporary file: OutputError naming the path."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match=r"cannot write .*m\.yaml: Permission denied"):
            write_atomic(locked / "m.yaml", "x\n")
    finally:
        locked.chmod(0o700)


def test_writing_onto_a_directory_is_refused(tmp_path: Path) -> None:
    """A destination that is a directory is an OutputError, not a traceback."""
    with pytest.raises(OutputError, match="it is a directory"):
        write_atomic(tmp_path, "x\n")


def test_a_parent_that_is_a_file_is_an_output_error(tmp_path: Path) -> None:
    """The directory cannot be created because a file is in the way: OutputError."""
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="cannot create the directory"):
        write_atomic(tmp_path / "plain" / "m.yaml", "x\n")
