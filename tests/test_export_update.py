"""Adopting live values into manifest text: what changes, where, and what stays as written."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from reconciler.domain import CustomerKey, LiveCustomer
from reconciler.export.document import ManifestDocument
from reconciler.export.roundtrip import RoundTripFile, guess_indent, unified_diff
from reconciler.export.update import FileEdit, add_customers, adopt_live, places
from reconciler.manifests import load_manifests


def adopt(tmp_path: Path, text: str, *live: LiveCustomer) -> tuple[FileEdit, str]:
    """Load ``text`` as a manifest, adopt ``live`` into it, return the edit and new text."""
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    desired = {c.key: c for c in load_manifests([path]).customers}
    found: dict[CustomerKey, LiveCustomer] = {c.key: c for c in live}
    manifest = RoundTripFile(text)
    edit = adopt_live("m.yaml", manifest, desired, found)
    after = manifest.dump()
    path.write_text(after, encoding="utf-8")
    load_manifests([path])  # the result is still a valid manifest
    return edit, after


def respan(identifier: str, **fields: Any) -> LiveCustomer:
    return LiveCustomer("respan", "prod", identifier, fields)


def autumn(identifier: str, **fields: Any) -> LiveCustomer:
    return LiveCustomer("autumn", "sandbox", identifier, fields)


def test_unchanged_text_dumps_byte_for_byte(tmp_path: Path) -> None:
    """Four-space indentation, flow maps, quotes, blank lines and comments survive a dump."""
    text = (
        "# header\n"
        "customers:\n"
        "    -   customer_identifier: 'a'   # quoted\n"
        "        metadata: {k: v}\n"
        "\n"
        "    -   customer_identifier: b\n"
        "        period_budget: 1.50\n"
    )
    assert RoundTripFile(text).dump() == text


def test_money_equal_to_the_cent_is_left_alone(tmp_path: Path) -> None:
    """250.00 vs live 250.0000001 is no change: nothing adopted, text untouched."""
    text = "customers:\n  - customer_identifier: a\n    period_budget: 250.00\n"
    edit, after = adopt(tmp_path, text, respan("a", period_budget=Decimal("250.0000001")))
    assert edit.adopted == []
    assert after == text


def test_a_value_from_defaults_is_written_in_schema_order(tmp_path: Path) -> None:
    """The live budget lands on the customer after name, before metadata; defaults stay."""
    text = (
        "defaults:\n  period_budget: 10\n"
        "customers:\n  - customer_identifier: a\n    name: A\n    metadata: {k: v}\n"
    )
    edit, after = adopt(
        tmp_path, text, respan("a", name="A", period_budget=Decimal(12), metadata={"k": "v"})
    )
    assert [(a.key[2], a.field) for a in edit.adopted] == [("a", "period_budget")]
    assert after == (
        "defaults:\n  period_budget: 10\n"
        "customers:\n  - customer_identifier: a\n    name: A\n    period_budget: 12\n"
        "    metadata: {k: v}\n"
    )


def test_adopted_text_is_quoted_when_yaml_would_misread_it(tmp_path: Path) -> None:
    """A live name 'yes' is written quoted, so the loader reads text, not true."""
    text = "customers:\n  - customer_identifier: a\n    name: A\n"
    _, after = adopt(tmp_path, text, respan("a", name="yes"))
    assert 'name: "yes"' in after


def test_adopted_text_with_a_yaml_line_break_loads_back_unchanged(tmp_path: Path) -> None:
    """A live name holding NEL is written escaped: reading it back gives the same text."""
    text = "customers:\n  - customer_identifier: a\n    name: A\n"
    _, after = adopt(tmp_path, text, respan("a", name="x\x85y"))
    assert 'name: "x\\Ny"' in after
    path = tmp_path / "m.yaml"
    [loaded] = load_manifests([path]).customers
    assert loaded.fields["name"] == "x\x85y"


def test_respan_metadata_only_declared_keys_move(tmp_path: Path) -> None:
    """A drifted declared key is set, an undeclared live key is not added, a gone one removed."""
    text = "customers:\n  - customer_identifier: a\n    metadata: {tier: pro, gone: x}\n"
    _, after = adopt(tmp_path, text, respan("a", metadata={"tier": "gold", "extra": 1}))
    assert "metadata: {tier: gold}" in after


def test_respan_default_metadata_key_absent_live_is_noted(tmp_path: Path) -> None:
    """A default key cannot be undeclared for one customer: left, with a note saying why."""
    text = "defaults:\n  metadata: {team: x}\ncustomers:\n  - customer_identifier: a\n"
    edit, after = adopt(tmp_path, text, respan("a", metadata={}))
    assert after == text
    assert "declared in defaults but absent live" in edit.notes[0]


def test_autumn_metadata_becomes_the_live_truth(tmp_path: Path) -> None:
    """Authoritative metadata: live keys are added; a default key gone live is nulled."""
    text = (
        "provider: autumn\ndefaults:\n  metadata: {region: eu}\n"
        "customers:\n  - id: a\n    metadata: {tier: pro}\n"
    )
    _, after = adopt(tmp_path, text, autumn("a", metadata={"tier": "pro", "owner": "ops"}))
    assert "metadata: {tier: pro, owner: ops, region: null}" in after


def test_autumn_billing_from_defaults_moves_onto_the_customer(tmp_path: Path) -> None:
    """A drifted array declared in defaults: the customer gets its own copy, adopted."""
    text = (
        "provider: autumn\n"
        "defaults:\n"
        "  billing_controls:\n"
        "    spend_limits:\n"
        "      - {feature_id: m, enabled: true, overage_limit: 10}\n"
        "customers:\n  - id: a\n    name: A\n"
    )
    live = {"spend_limits": [{"feature_id": "m", "enabled": True, "overage_limit": 20}]}
    edit, after = adopt(tmp_path, text, autumn("a", name="A", billing_controls=live))
    assert [a.field for a in edit.adopted] == ["billing_controls"]
    assert after.startswith(text.split("customers:")[0])  # defaults untouched
    assert after.endswith(
        "  - id: a\n"
        "    name: A\n"
        "    billing_controls:\n"
        "      spend_limits:\n"
        "        - feature_id: m\n"
        "          enabled: true\n"
        "          overage_limit: 20\n"
    )


def test_ignored_and_unknown_fields_are_not_touched(tmp_path: Path) -> None:
    """ignore_changes fields stay; a field the API did not return is noted, not guessed."""
    text = (
        "customers:\n  - customer_identifier: a\n    period_budget: 5\n    markup_percentage: 1\n"
        "    lifecycle: {ignore_changes: [period_budget]}\n"
    )
    edit, after = adopt(tmp_path, text, respan("a", period_budget=Decimal(9)))
    assert after == text
    assert edit.notes == [
        "m.yaml: respan/prod/a: markup_percentage: the API did not return it; left as declared"
    ]


def test_add_customers_joins_the_matching_document_or_starts_one() -> None:
    """New customers go to their provider/environment's document, else a new document."""
    manifest = RoundTripFile("provider: respan\nenvironment: prod\ncustomers: []\n")
    assert places(manifest) == [("respan", "prod")]
    added = add_customers(
        manifest,
        [
            ManifestDocument(
                "respan", "prod", ({"customer_identifier": "b"},), {"budget_duration": "weekly"}
            ),
            ManifestDocument("respan", "test", ({"customer_identifier": "c"},)),
        ],
    )
    assert added == ["b", "c"]
    assert manifest.dump() == (
        "provider: respan\nenvironment: prod\ncustomers:\n"
        "  - customer_identifier: b\n    budget_duration: weekly\n"
        "---\nprovider: respan\nenvironment: test\ncustomers:\n  - customer_identifier: c\n"
    )


def test_unified_diff_names_files_like_git() -> None:
    """a/ and b/ prefixes; a new file diffs against /dev/null."""
    assert unified_diff("m.yaml", "x\n", "y\n").startswith("--- a/m.yaml\n+++ b/m.yaml\n")
    assert unified_diff("n.yaml", "", "y\n", new_file=True).startswith("--- /dev/null\n")


def test_indentation_is_guessed_from_the_text() -> None:
    """Nested keys and list dashes give (mapping, sequence, offset); a plain file the default."""
    assert guess_indent("customers:\n  - a: 1\n    m:\n      k: v\n") == (2, 4, 2)
    assert guess_indent("customers:\n- a: 1\n  m:\n    k: v\n") == (2, 2, 0)
    assert guess_indent("defaults:\n    x: 1\ncustomers:\n    -   a: 1\n") == (4, 8, 4)
    assert guess_indent("provider: respan\n") == (2, 4, 2)


def test_an_anchored_node_is_copied_before_one_customer_adopts_into_it(tmp_path: Path) -> None:
    """Metadata or billing controls shared through a YAML alias change only for the customer
    whose live value differs; the other customer keeps what it declared."""
    text = (
        "provider: autumn\n"
        "customers:\n"
        "  - id: a\n"
        "    metadata: &meta {tier: silver}\n"
        "    billing_controls: &controls\n"
        "      spend_limits:\n"
        "        - feature_id: messages\n"
        "          overage_limit: 10\n"
        "  - id: b\n"
        "    metadata: *meta\n"
        "    billing_controls: *controls\n"
    )
    limits = {"spend_limits": [{"feature_id": "messages", "overage_limit": 10}]}
    edit, after = adopt(
        tmp_path,
        text,
        autumn(
            "a",
            metadata={"tier": "gold"},
            billing_controls={"spend_limits": [{"feature_id": "messages", "overage_limit": 20}]},
        ),
        autumn("b", metadata={"tier": "silver"}, billing_controls=limits),
    )
    assert [(a.key[2], a.field) for a in edit.adopted] == [
        ("a", "metadata"),
        ("a", "billing_controls"),
    ]
    b = load_manifests([tmp_path / "m.yaml"]).customers[1]
    assert b.fields["metadata"] == {"tier": "silver"}
    assert b.fields["billing_controls"]["spend_limits"][0]["overage_limit"] == Decimal(10)
    assert "tier: gold" in after


def test_a_nested_live_metadata_value_is_never_taken_for_an_absent_key(tmp_path: Path) -> None:
    """A live metadata key holding a nested value is left as declared and noted: Autumn's
    metadata stays whole (dropping the key would plan its removal), Respan's other keys move.
    So does a number no manifest keeps."""
    text = "provider: autumn\ncustomers:\n  - id: a\n    metadata: {n: x, k: v}\n"
    edit, after = adopt(tmp_path, text, autumn("a", metadata={"n": {"deep": 1}, "k": "w"}))
    assert after == text
    assert edit.notes == [
        "m.yaml: autumn/sandbox/a: metadata: the live value cannot be declared (the values "
        "under n cannot be declared); left"
    ]
    text = "customers:\n  - customer_identifier: a\n    metadata: {n: x, k: v}\n"
    edit, after = adopt(tmp_path, text, respan("a", metadata={"n": {"deep": 1}, "k": "w"}))
    assert after == "customers:\n  - customer_identifier: a\n    metadata: {n: x, k: w}\n"
    assert edit.notes == [
        "m.yaml: respan/prod/a: metadata.n: the live value cannot be declared (a nested value "
        "cannot be declared); left"
    ]
    big = respan("a", metadata={"n": Decimal("1E+30"), "k": "w"})
    edit, after = adopt(tmp_path, text, big)
    assert after == "customers:\n  - customer_identifier: a\n    metadata: {n: x, k: w}\n"
    [note] = edit.notes
    assert "metadata.n: the live value cannot be declared" in note


def test_text_outside_the_edited_document_is_kept_as_written(tmp_path: Path) -> None:
    """Comments above a first ---, a commented-out document and an unedited document keep
    their text (and indentation) when another document is edited."""
    text = (
        "# Customers of the EMEA team\n"
        "---\n"
        "provider: respan\n"
        "customers:\n"
        "  - customer_identifier: a\n"
        "    period_budget: 1\n"
        "---\n"
        "# provider: respan\n"
        "# environment: test\n"
        "---\n"
        "provider: respan\n"
        "environment: test\n"
        "customers:\n"
        "    -   customer_identifier: t\n"
        "        period_budget: 2\n"
    )
    edit, after = adopt(tmp_path, text, respan("a", period_budget=Decimal(5)))
    assert [a.field for a in edit.adopted] == ["period_budget"]
    assert after == text.replace("period_budget: 1\n", "period_budget: 5\n")
