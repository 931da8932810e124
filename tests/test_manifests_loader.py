"""Loading manifests into desired customers: defaults, decimals, sources, digests, problems."""

from __future__ import annotations

import gc
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.domain import Lifecycle, Source
from reconciler.errors import ManifestError
from reconciler.manifests import MAX_FILE_BYTES, check_manifests, load_manifests
from reconciler.manifests.loader import check_manifest_data, load_manifest_data
from reconciler.manifests.positions import FieldPositions, file_digest

ACME = """\
provider: respan
environment: test
defaults:
  budget_duration: monthly
  metadata: {owner: sales, tier: smb}
  lifecycle: {ignore_changes: [name]}
customers:
  - customer_identifier: acme-corp
    name: Acme Corp
    period_budget: 250.10
    total_budget: 5000
    period_start: 2026-11-01T00:00:00Z
    metadata: {tier: enterprise}
    lifecycle:
      prevent_destroy: true
      ignore_changes: [metadata]
  - customer_identifier: beta
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_customers_with_defaults_merged(tmp_path: Path) -> None:
    """Defaults fill undeclared fields; metadata merges by key; ignore_changes is a union."""
    write(tmp_path, "acme.yaml", ACME)
    result = load_manifests([tmp_path])
    acme, beta = result.customers
    assert acme.key == ("respan", "test", "acme-corp")
    assert acme.fields == {
        "name": "Acme Corp",
        "period_budget": Decimal("250.1"),
        "total_budget": Decimal("5000"),
        "budget_duration": "monthly",
        "period_start": "2026-11-01T00:00:00Z",
        "metadata": {"owner": "sales", "tier": "enterprise"},
    }
    assert acme.lifecycle == Lifecycle(True, frozenset({"metadata", "name"}))
    assert beta.fields == {
        "budget_duration": "monthly",
        "metadata": {"owner": "sales", "tier": "smb"},
    }
    assert beta.lifecycle == Lifecycle(False, frozenset({"name"}))


def test_sources_point_at_customer_and_field_keys(tmp_path: Path) -> None:
    """A customer's source is its list item; each field's source is where its key is written."""
    file = write(tmp_path, "acme.yaml", ACME)
    acme = load_manifests([file]).customers[0]
    name = str(file)
    assert acme.source == Source(name, 8, 5)
    positions = FieldPositions({name: file_digest(file.read_bytes())}, lambda _: file.read_bytes())
    assert positions.source(acme, "period_budget") == Source(name, 10, 5)
    assert positions.source(acme, "budget_duration") == Source(name, 4, 3)


def test_problems_are_all_reported_sorted(tmp_path: Path) -> None:
    """Every problem of every file is reported, sorted by file and line."""
    write(tmp_path, "b.yaml", "customers:\n  - customer_identifier: x\n    perod_budget: 1\n")
    write(tmp_path, "a.yaml", "customers:\n  - customer_identifier: y\n    total_budget: -1\n")
    with pytest.raises(ManifestError) as caught:
        load_manifests([tmp_path])
    assert [(p.path.rsplit("/", 1)[-1], p.line, p.column) for p in caught.value.problems] == [
        ("a.yaml", 3, 19),
        ("b.yaml", 3, 5),
    ]


def test_digest_changes_with_content(tmp_path: Path) -> None:
    """The digest is stable for the same bytes and changes when a file changes."""
    file = write(tmp_path, "acme.yaml", ACME)
    first = check_manifests([file]).digest
    assert check_manifests([file]).digest == first
    file.write_text(ACME.replace("250.10", "250.11"), encoding="utf-8")
    assert check_manifests([file]).digest != first


def test_garbage_collector_is_restored(tmp_path: Path) -> None:
    """Loading pauses the cyclic GC and always turns it back on, errors or not."""
    write(tmp_path, "bad.yaml", "customers: 3\n")
    assert gc.isenabled()
    with pytest.raises(ManifestError):
        load_manifests([tmp_path])
    assert gc.isenabled()
    gc.disable()
    try:
        check_manifests([tmp_path])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_empty_customers_key_says_what_to_write(tmp_path: Path) -> None:
    """'customers:' with nothing under it is an error that suggests 'customers: []'."""
    write(tmp_path, "new.yaml", "provider: respan\ncustomers:\n")
    (problem,) = check_manifests([tmp_path]).problems
    assert (problem.line, problem.column, problem.message) == (2, 11, "'customers' is empty")
    assert problem.hint == "list customers under it, or write 'customers: []'"


def test_directory_scan_skips_the_project_settings_file(tmp_path: Path) -> None:
    """``reconciler.yaml`` beside the manifests is settings, not a manifest, in a scan."""
    (tmp_path / "reconciler.yaml").write_text("manifests: [customers/]\n", encoding="utf-8")
    (tmp_path / "customers").mkdir()
    (tmp_path / "customers" / "a.yaml").write_text(
        "customers:\n  - customer_identifier: a\n", encoding="utf-8"
    )
    loaded = load_manifests([tmp_path])
    assert [customer.id for customer in loaded.customers] == ["a"]
    assert [path.name for path in loaded.files] == ["a.yaml"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_pipe_named_like_a_manifest_is_a_problem_not_a_wait(tmp_path: Path) -> None:
    """A FIFO ending in .yaml, found in a directory or named, is reported as no regular file
    instead of blocking the run until something writes to it; the real manifest still loads."""
    write(tmp_path, "a.yaml", "customers:\n  - customer_identifier: a\n")
    os.mkfifo(tmp_path / "pipe.yaml")
    for given in (tmp_path, tmp_path / "pipe.yaml"):
        report = check_manifests([given])
        (problem,) = report.errors
        assert (problem.path, problem.line, problem.column) == (str(tmp_path / "pipe.yaml"), 1, 1)
        assert problem.message == "not a regular file (a pipe, socket or device)"
        assert problem.hint.startswith("manifests are regular files")
    assert [customer.id for customer in check_manifests([tmp_path]).customers] == ["a"]


def test_a_linked_directory_below_a_path_is_an_error_not_skipped_in_silence(
    tmp_path: Path,
) -> None:
    """A symbolic link to a directory (shared manifests, or a loop back up) is named as not
    followed: skipped without a word, its customers would be undeclared, and --prune would
    plan them for delete. Manifests beside it still load; a linked file is read."""
    write(tmp_path, "shared/a.yaml", "customers:\n  - customer_identifier: a\n")
    write(tmp_path, "customers/b.yaml", "customers:\n  - customer_identifier: b\n")
    write(tmp_path, "more/c.yaml", "customers:\n  - customer_identifier: c\n")
    try:
        (tmp_path / "customers" / "shared").symlink_to(tmp_path / "shared", True)
        (tmp_path / "customers" / "loop").symlink_to(tmp_path / "customers", True)
        (tmp_path / "customers" / "c.yaml").symlink_to(tmp_path / "more" / "c.yaml")
    except OSError:  # pragma: no cover - Windows without the right to make links
        pytest.skip("symbolic links are not available")
    report = check_manifests([tmp_path / "customers"])
    assert [(problem.path, problem.message) for problem in report.errors] == [
        (str(tmp_path / "customers" / name), "a symbolic link to a directory is not followed")
        for name in ("loop", "shared")
    ]
    assert "name the directory it points to" in report.errors[0].hint
    assert sorted(customer.id for customer in report.customers) == ["b", "c"]


def test_a_file_name_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    """A manifest named in another encoding (Latin-1 "café.yaml") is refused by name: plans,
    saved plans and audit records name files as UTF-8 text, which it cannot be."""
    name = os.fsdecode(b"caf\xe9.yaml")
    try:
        write(tmp_path, name, "customers:\n  - customer_identifier: a\n")
    except (OSError, UnicodeError):  # pragma: no cover - file systems that require UTF-8 names
        pytest.skip("the file system refuses names that are not UTF-8")
    write(tmp_path, "b.yaml", "customers:\n  - customer_identifier: b\n")
    for given in (tmp_path, tmp_path / name):
        report = check_manifests([given])
        (problem,) = report.errors
        assert (problem.path, problem.message) == (
            str(tmp_path / name),
            "the file name is not valid UTF-8",
        )
        assert problem.hint.startswith("rename the file")
    assert [customer.id for customer in check_manifests([tmp_path]).customers] == ["b"]


def test_a_directory_that_cannot_be_listed_is_an_error_not_skipped_in_silence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subdirectory the scan cannot read (no permission) is named with the reason: skipped
    without a word, its customers would be undeclared, and --prune would plan them for delete.
    (Root reads any directory, so the refusal is the operating system's, played here.)"""
    write(tmp_path, "customers/a.yaml", "customers:\n  - customer_identifier: a\n")
    write(tmp_path, "customers/locked/b.yaml", "customers:\n  - customer_identifier: b\n")
    locked = tmp_path / "customers" / "locked"
    listing = os.scandir

    def scandir(path: Any) -> Any:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = check_manifests([tmp_path / "customers"])
    assert [(problem.path, problem.message) for problem in report.errors] == [
        (str(locked), "cannot read directory: Permission denied")
    ]
    assert [customer.id for customer in report.customers] == ["a"]


def test_a_customer_repeated_by_an_alias_is_placed_where_the_alias_is(tmp_path: Path) -> None:
    """`- *acme` declares acme a second time: the error names the alias's line, not the
    anchor's line twice."""
    write(
        tmp_path,
        "m.yaml",
        "customers:\n  - &acme {customer_identifier: acme}\n  - customer_identifier: b\n"
        "  - *acme\n",
    )
    (problem,) = check_manifests([tmp_path / "m.yaml"]).errors
    assert (problem.line, problem.column) == (4, 5)
    assert problem.message.endswith(f"is declared twice; first at {tmp_path / 'm.yaml'}:2")


def test_manifests_given_as_bytes_load_like_files(tmp_path: Path) -> None:
    """Bytes give the customers, problems and positions files give, under the names given."""
    (tmp_path / "acme.yaml").write_text(ACME, encoding="utf-8")
    broken = ACME.replace("period_budget: 250.10", "period_budget: -1")
    (tmp_path / "broken.yaml").write_text(broken, encoding="utf-8")
    from_files = check_manifests([tmp_path / "acme.yaml", tmp_path / "broken.yaml"])
    from_data = check_manifest_data(
        [("REF:acme.yaml", ACME.encode()), ("REF:broken.yaml", broken.encode())]
    )
    assert [c.fields for c in from_data.customers] == [c.fields for c in from_files.customers]
    assert from_data.customers[0].source == Source("REF:acme.yaml", 8, 5)
    assert [(p.line, p.column, p.message) for p in from_data.problems] == [
        (p.line, p.column, p.message) for p in from_files.problems
    ]
    assert {p.path for p in from_data.problems} == {"REF:broken.yaml"}
    assert from_data.digest == from_files.digest
    with pytest.raises(ManifestError):
        load_manifest_data([("REF:broken.yaml", broken.encode())])


def test_manifest_data_over_the_size_limit_is_refused_unread() -> None:
    """Bytes larger than a manifest file may be are refused as a file would be."""
    report = check_manifest_data([("REF:huge.yaml", b"#" * (MAX_FILE_BYTES + 1))])
    (problem,) = report.problems
    assert (problem.path, problem.message) == ("REF:huge.yaml", "file is larger than 10 MiB")


def test_warnings_of_valid_customers_show_while_another_customer_has_an_error(
    tmp_path: Path,
) -> None:
    """An error in one customer's entry does not hide the warnings of the others in the file;
    the erroneous entry itself gets only its error, and nothing is loaded."""
    path = write(
        tmp_path,
        "m.yaml",
        "provider: respan\n"
        "customers:\n"
        "  - customer_identifier: good\n"
        "    email: not-an-address\n"
        "  - customer_identifier: bad\n"
        "    period_budget: lots\n"
        "    email: also-not-an-address\n",
    )
    report = check_manifests([path])
    assert [p.severity for p in report.problems] == ["warning", "error"]
    assert "does not look like an email address: 'not-an-address'" in report.problems[0].message
    assert report.customers == ()


def test_an_error_outside_the_customers_hides_nothing_it_cannot_check(tmp_path: Path) -> None:
    """With the error in the document's header, no customer can be checked: the error alone."""
    path = write(
        tmp_path,
        "m.yaml",
        "provider: nobody\ncustomers:\n  - customer_identifier: good\n    email: nope\n",
    )
    assert [p.severity for p in check_manifests([path]).problems] == ["error"]
