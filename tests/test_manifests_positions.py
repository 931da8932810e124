"""Field positions are found again from the file, only for a file that has a problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.domain import Source
from reconciler.manifests import check_manifests, load_manifests, positions
from reconciler.manifests.loader import check_manifest_data
from reconciler.manifests.positions import FieldPositions, file_digest

AUTUMN = """\
provider: autumn
environment: live
defaults:
  send_email_receipts: true
customers:
  - id: cus_1
    name: One
  - id: cus_2
    name: Two
    billing_controls:
      spend_limits: []
"""


def known(*files: Path) -> FieldPositions:
    digests = {str(file): file_digest(file.read_bytes()) for file in files}
    return FieldPositions(digests, lambda display: Path(display).read_bytes())


def test_a_field_is_found_in_its_customer_or_in_defaults(tmp_path: Path) -> None:
    """A declared field points at its key; one from defaults at the defaults' key."""
    file = tmp_path / "a.yaml"
    file.write_text(AUTUMN, encoding="utf-8")
    one, two = load_manifests([file]).customers
    where = known(file)
    assert where.source(one, "name") == Source(str(file), 7, 5)
    assert where.source(two, "billing_controls") == Source(str(file), 10, 5)
    assert where.source(two, "send_email_receipts") == Source(str(file), 4, 3)
    # Undeclared fields and the customer itself: the customer's item.
    assert where.source(one, "metadata") == one.source
    assert where.source(one, "") == one.source


def test_a_file_changed_since_loading_is_not_trusted(tmp_path: Path) -> None:
    """When the bytes differ from what was loaded, problems point at the customer's item."""
    file = tmp_path / "a.yaml"
    file.write_text(AUTUMN, encoding="utf-8")
    one, _ = load_manifests([file]).customers
    where = known(file)
    file.write_text("# edited\n" + AUTUMN, encoding="utf-8")
    assert where.source(one, "name") == one.source


def test_files_without_problems_are_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading valid manifests never parses a file a second time for positions."""
    (tmp_path / "a.yaml").write_text(AUTUMN, encoding="utf-8")

    def refuse(*args: object) -> None:
        raise AssertionError("a valid file was parsed again")

    monkeypatch.setattr(positions, "parse_yaml_nodes", refuse)
    assert len(load_manifests([tmp_path]).customers) == 2


def test_a_problem_about_a_field_names_its_key(tmp_path: Path) -> None:
    """A check on one field reports the line and column of that field's key."""
    text = (
        "customers:\n"
        "  - customer_identifier: a\n"
        "    total_budget: 10\n"
        "    period_budget: 20\n"
        "  - customer_identifier: b\n"
        "    email: nobody\n"
    )
    file = tmp_path / "a.yaml"
    file.write_text(text, encoding="utf-8")
    places = {(p.line, p.column) for p in check_manifests([file]).problems}
    assert places == {(4, 5), (6, 5)}


def test_manifests_given_as_bytes_get_field_positions_too() -> None:
    """A field problem in a manifest read elsewhere (e.g. from git) names its key's place."""
    text = b"customers:\n  - customer_identifier: a\n    email: nobody\n"
    report = check_manifest_data([("base:a.yaml", text)])
    assert [(p.path, p.line, p.column) for p in report.problems] == [("base:a.yaml", 3, 5)]
