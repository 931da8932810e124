"""The JSON plan: schema-valid, versioned, checksummed, exact decimals, unknown marked."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from cli_helpers import load_schema
from plan_samples import BASE, based_plan, every_action_plan, many_changes_plan

from reconciler.domain import UNKNOWN, FieldKind, Policy
from reconciler.plan.model import Change, FieldChange, Plan
from reconciler.render import render_json
from reconciler.render.json import (
    checksum,
    decode_value,
    dumps,
    encode_value,
    plan_document,
    plan_from_document,
)

SCHEMA = load_schema("plan.schema.json")


def parse(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def test_real_plans_validate_against_the_schema() -> None:
    """Plans with every action, violations, unknowns and many changes match plan.schema.json."""
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    for plan in (
        every_action_plan(policy=Policy(max_increase_pct=Decimal(1))),
        many_changes_plan(50),
        Plan((), 0),
    ):
        jsonschema.validate(json.loads(render_json(plan)), SCHEMA)


def test_document_has_the_contract_keys() -> None:
    """format_version, checksum, changes with fields/source, summary, violations, impact."""
    document = parse(render_json(every_action_plan(policy=Policy())))
    assert document["format_version"] == 1
    assert document["summary"] == {
        "create": 1,
        "update": 2,
        "delete": 1,
        "missing": 1,
        "unchanged": 1,
    }
    assert document["budget_impact"] == {
        "deltas": {"period_budget": Decimal("150.00"), "total_budget": Decimal("-500.00")},
        "unknown": 0,
    }
    assert document["policy_violations"][0]["rule"] == "max_deletes"
    assert document["policy_violations"][0]["id"] is None
    acme = document["changes"][1]
    assert acme["source"] == "customers/acme.yaml:12"
    assert acme["location"] == {"file": "customers/acme.yaml", "line": 12, "column": 5}
    assert acme["fields"][1] == {
        "path": "period_budget",
        "kind": "money",
        "before": Decimal("250.00"),
        "after": Decimal("400.00"),
    }
    assert acme["fields"][2]["before"] == {"unknown": True}
    assert "payload" not in acme


def test_money_is_written_with_exact_cents() -> None:
    """Amounts are JSON numbers with two decimals, never float-rounded."""
    text = render_json(every_action_plan())
    assert '"before": 250.00,' in text
    assert '"after": 400.00' in text


def test_checksum_is_sha256_of_canonical_content() -> None:
    """The checksum covers the document without it: sorted keys, no spaces, ASCII."""
    document = parse(render_json(every_action_plan()))
    claimed = document.pop("checksum")
    canonical = dumps(document, canonical=True)
    assert claimed == "sha256:" + hashlib.sha256(canonical.encode("ascii")).hexdigest()
    assert claimed == checksum(document)
    assert canonical.startswith('{"budget_impact":{"deltas":{"period_budget":150.00,')


def test_checksum_changes_with_any_value() -> None:
    """Editing one value gives another checksum."""
    document = parse(render_json(every_action_plan()))
    claimed = document.pop("checksum")
    document["changes"][1]["fields"][1]["after"] = Decimal("400.01")
    assert checksum(document) != claimed


def test_output_is_deterministic() -> None:
    """The same plan renders to the same bytes."""
    assert render_json(every_action_plan()) == render_json(every_action_plan())


def test_non_ascii_text_is_kept_readable() -> None:
    """Names with accents are written as UTF-8, not \\u escapes, in the displayed plan."""
    change = Change(
        "create", "autumn", "live", "c", (FieldChange("name", None, "Zoë", FieldKind.TEXT),)
    )
    assert '"after": "Zoë"' in render_json(Plan((change,), 0))


@pytest.mark.parametrize(
    "value",
    [
        UNKNOWN,
        {"unknown": True},
        {"$literal": 1},
        {"unknown": False},
        {"a": {"unknown": True}},
        [UNKNOWN, {"unknown": True}],
        Decimal("250.00"),
        Decimal("-0.5"),
        Decimal(20),
        "1",
        True,
        None,
        {"n": Decimal("1.5"), "s": "1.5", "b": False},
    ],
)
def test_value_codec_round_trips_exactly(value: Any) -> None:
    """UNKNOWN, marker-shaped real objects, decimals and strings survive encode -> decode."""
    text = dumps(encode_value(value), canonical=True)
    decoded = decode_value(json.loads(text, parse_float=Decimal))
    assert decoded == value or (decoded is UNKNOWN and value is UNKNOWN)
    assert type(decoded) is type(value)


def test_real_object_shaped_like_the_unknown_marker_is_escaped() -> None:
    """A metadata value {"unknown": true} is wrapped so it is never read as UNKNOWN."""
    assert encode_value({"unknown": True}) == {"$literal": {"unknown": True}}
    assert encode_value(UNKNOWN) == {"unknown": True}


def test_plan_round_trips_through_the_document() -> None:
    """plan_from_document(plan_document(plan, saved=True)) rebuilds the same Plan."""
    plan = every_action_plan(policy=Policy(max_increase_pct=Decimal(1)))
    text = dumps(plan_document(plan, saved=True), indent=2)
    assert plan_from_document(parse(text)) == plan


def test_negative_zero_does_not_break_the_checksum() -> None:
    """-0 is written as 0 so that reading it back gives the same canonical text."""
    assert dumps(Decimal("-0"), canonical=True) == "0"
    assert dumps(Decimal("-0.00"), canonical=True) == "0.00"


def test_a_plan_against_a_base_names_it_and_each_cause() -> None:
    """--base plans: a top-level base, a cause per change and per field; schema-valid."""
    document = parse(render_json(based_plan()))
    jsonschema.validate(document, SCHEMA)
    assert document["format_version"] == 1
    assert document["base"] == {"ref": BASE.ref, "commit": BASE.commit}
    acme = next(change for change in document["changes"] if change["id"] == "acme-corp")
    assert acme["cause"] == "manifest"
    assert [(f["path"], f["cause"]) for f in acme["fields"]] == [
        ("email", "manifest"),
        ("period_budget", "manifest"),
        ("markup_percentage", "drift"),
        ("metadata.tier", "drift"),
    ]


def test_causes_round_trip_through_a_saved_document() -> None:
    """A saved plan made against a base reads back with its base and every cause."""
    plan = based_plan()
    text = dumps(plan_document(plan, saved=True), indent=2)
    assert plan_from_document(parse(text)) == plan


@pytest.mark.parametrize(
    ("where", "key", "value", "message"),
    [
        ("change", "cause", "review", "unknown cause 'review'"),
        ("field", "cause", "both", "unknown cause 'both'"),
        ("field", "body", {"x": 1}, "unexpected key 'body' in a field change"),
    ],
)
def test_a_document_with_an_unknown_cause_or_field_key_is_refused(
    where: str, key: str, value: Any, message: str
) -> None:
    """What a file holds must be what the plan shows: no unknown cause, no extra field key."""
    document = parse(dumps(plan_document(based_plan(), saved=True)))
    change = document["changes"][1]
    (change if where == "change" else change["fields"][0])[key] = value
    with pytest.raises(ValueError, match=message):
        plan_from_document(document)
