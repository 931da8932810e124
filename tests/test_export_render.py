"""Manifest documents as YAML text: header, quoting, numbers, and that it loads back."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from reconciler.export.document import ManifestDocument
from reconciler.export.render import Origin, render_documents
from reconciler.export.values import Timestamp
from reconciler.manifests import load_manifests

ORIGIN = Origin("respan", "http://127.0.0.1:8080", datetime(2026, 5, 1, 12, 0, tzinfo=UTC))


def test_header_starts_with_the_modeline_and_says_where_and_when() -> None:
    """Line 1 is the editor modeline; the header names provider, URL, environment and time."""
    text = render_documents([ManifestDocument("respan", "prod", ())], ORIGIN)
    lines = text.splitlines()
    assert lines[0] == "# yaml-language-server: $schema=schemas/manifest.schema.json"
    assert lines[1] == "# Exported by `reconciler export` on 2026-05-01T12:00:00Z"
    assert lines[2] == "# from respan at http://127.0.0.1:8080 (environment prod)."


def test_text_that_yaml_would_misread_is_quoted_and_loads_back(tmp_path: Path) -> None:
    """'yes', 'null', '1:30', numbers-as-text and timestamps stay strings after loading."""
    customer = {
        "customer_identifier": "123",
        "name": "yes",
        "email": "null",
        "period_budget": Decimal("99.5"),
        "total_budget": Decimal(5000),
        "period_start": Timestamp("2026-11-01T00:00:00Z"),
        "metadata": {"on": "1:30", "count": Decimal(3), "flag": True, "none": None},
    }
    text = render_documents([ManifestDocument("respan", "prod", (customer,))], ORIGIN)
    assert 'period_start: "2026-11-01T00:00:00Z"' in text
    assert "period_budget: 99.5\n" in text
    assert "total_budget: 5000\n" in text
    path = tmp_path / "out.yaml"
    path.write_text(text, encoding="utf-8")
    [loaded] = load_manifests([path]).customers
    assert loaded.id == "123"
    assert loaded.fields["name"] == "yes"
    assert loaded.fields["email"] == "null"
    assert loaded.fields["period_budget"] == Decimal("99.5")
    assert loaded.fields["metadata"] == {
        "on": "1:30",
        "count": Decimal(3),
        "flag": True,
        "none": None,
    }


def test_text_with_a_yaml_line_break_loads_back_unchanged(tmp_path: Path) -> None:
    """NEL, LS and PS inside a value or key are escaped, not folded into a space on loading."""
    odd = ["x\x85y", "\x85", "x\u2028y", "x\u2029y"]
    customer = {
        "customer_identifier": "a",
        "name": odd[0],
        "metadata": {text: text for text in odd},
    }
    path = tmp_path / "out.yaml"
    path.write_text(
        render_documents([ManifestDocument("respan", "prod", (customer,))], ORIGIN),
        encoding="utf-8",
    )
    [loaded] = load_manifests([path]).customers
    assert loaded.fields["name"] == odd[0]
    assert loaded.fields["metadata"] == {text: text for text in odd}


def test_several_documents_are_separated_and_lists_indented() -> None:
    """Two environments in one stream are two documents; lists sit under their key."""
    documents = [
        ManifestDocument("respan", "prod", ({"customer_identifier": "a"},)),
        ManifestDocument("respan", "test", ({"customer_identifier": "b"},)),
    ]
    text = render_documents(documents, ORIGIN)
    assert "(environments prod, test)" in text
    assert text.count("\n---\n") == 1
    assert "customers:\n  - customer_identifier: a\n" in text
