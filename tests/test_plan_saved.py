"""Saved plans: exact round trip, verification, targets, atomic writes, no secrets."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from cli_helpers import load_schema
from plan_samples import every_action_plan

from reconciler.domain import Policy
from reconciler.errors import OutputError, SavedPlanError
from reconciler.plan.model import Plan
from reconciler.plan.saved import (
    ProviderTarget,
    load_saved_plan,
    plan_key,
    saved_plan_document,
    write_saved_plan,
)
from reconciler.render.json import dumps, with_checksum

SCHEMA = load_schema("plan.schema.json")
CREATED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PROVIDERS = (
    ProviderTarget("respan", "http://127.0.0.1:8080", ("prod",)),
    ProviderTarget("autumn", "http://127.0.0.1:9090/", ("sandbox",)),
)


def write(path: Path, plan: Plan | None = None) -> str:
    return write_saved_plan(
        path,
        plan or every_action_plan(policy=Policy(max_increase_pct=Decimal(1))),
        providers=PROVIDERS,
        manifest_digest="d" * 64,
        created_at=CREATED,
    )


def test_write_then_load_gives_the_same_plan(tmp_path: Path) -> None:
    """Money, UNKNOWN, payloads, befores, sources and violations come back exactly."""
    plan = every_action_plan(policy=Policy(max_increase_pct=Decimal(1)))
    path = tmp_path / "plan.json"
    written = write(path, plan)
    saved = load_saved_plan(path)
    assert saved.plan == plan
    assert saved.checksum == written
    assert saved.manifest_digest == "d" * 64
    assert saved.created_at == CREATED
    assert saved.providers == (
        ProviderTarget("autumn", "http://127.0.0.1:9090", ("sandbox",)),
        ProviderTarget("respan", "http://127.0.0.1:8080", ("prod",)),
    )
    assert saved.provider("respan") == ProviderTarget("respan", "http://127.0.0.1:8080", ("prod",))
    assert saved.provider("nope") is None


def test_saved_plan_is_a_schema_valid_json_plan_with_apply_data(tmp_path: Path) -> None:
    """The file validates against plan.schema.json and carries before, and no body, per change."""
    path = tmp_path / "plan.json"
    write(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(document, SCHEMA)
    assert document["saved_plan_version"] == 2
    assert document["created_at"] == "2026-11-01T12:00:00Z"
    acme = next(change for change in document["changes"] if change["id"] == "acme-corp")
    assert "payload" not in acme
    assert "signature" not in document
    assert acme["before"]["markup_percentage"] == {"unknown": True}


def test_created_at_is_stored_in_utc() -> None:
    """A non-UTC created_at is converted; a naive one is refused."""
    plan = Plan((), 0)
    east = datetime(2026, 11, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    document = saved_plan_document(plan, providers=(), manifest_digest="x", created_at=east)
    assert document["created_at"] == "2026-11-01T12:00:00Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        saved_plan_document(
            plan, providers=(), manifest_digest="x", created_at=datetime(2026, 1, 1)
        )


def test_tampered_plan_is_refused(tmp_path: Path) -> None:
    """Changing any value after writing fails the checksum with a clear message."""
    path = tmp_path / "plan.json"
    write(path)
    path.write_text(path.read_text(encoding="utf-8").replace("400.00", "4000.00"), "utf-8")
    with pytest.raises(
        SavedPlanError, match=r"was modified after it was written \(checksum mismatch\)"
    ):
        load_saved_plan(path)


def test_reformatted_plan_still_loads(tmp_path: Path) -> None:
    """Whitespace does not matter: the checksum covers the canonical content."""
    path = tmp_path / "plan.json"
    write(path)
    compact = "".join(line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    path.write_text(compact, encoding="utf-8")
    expected = every_action_plan(policy=Policy(max_increase_pct=Decimal(1)))
    assert load_saved_plan(path).plan == expected


def test_amount_turned_into_a_string_is_refused(tmp_path: Path) -> None:
    """A tool that rewrites 400.00 as "400.00" changes the content and fails the checksum."""
    path = tmp_path / "plan.json"
    write(path)
    path.write_text(path.read_text(encoding="utf-8").replace(" 400.00", ' "400.00"'), "utf-8")
    with pytest.raises(SavedPlanError, match="checksum mismatch"):
        load_saved_plan(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"is not a saved plan: invalid JSON at line 1, column 2"),
        ("[1, 2]", r"is not a saved plan \(no saved_plan_version\)"),
        ('{"format_version": 1}', r"is not a saved plan \(no saved_plan_version\)"),
        ('{"saved_plan_version": 3, "format_version": 1}', r"is saved plan version 3"),
        ('{"saved_plan_version": 1, "format_version": 1}', r"version 1, written by an older"),
        pytest.param(
            '{"saved_plan_version": 2, "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "too deeply",
            id="nested-beyond-the-parser",
        ),
        pytest.param(
            '{"saved_plan_version": 2, "format_version": 1, "x": ' + "[" * 990 + "]" * 990 + "}",
            "too deeply",
            id="nested-beyond-the-checksum",
        ),
    ],
)
def test_not_a_saved_plan_is_refused(tmp_path: Path, content: str, message: str) -> None:
    """Garbage, a plain JSON plan, another version, or deep nesting: SavedPlanError naming it."""
    path = tmp_path / "plan.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SavedPlanError, match=message) as raised:
        load_saved_plan(path)
    assert str(path) in str(raised.value)


def test_structurally_broken_but_checksummed_plan_is_refused(tmp_path: Path) -> None:
    """A document with a valid checksum but a broken change is a SavedPlanError, not a crash."""
    path = tmp_path / "plan.json"
    write(path)
    document = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    document["changes"][0]["action"] = "explode"
    del document["checksum"]
    path.write_text(dumps(with_checksum(document), indent=2), encoding="utf-8")
    with pytest.raises(SavedPlanError, match="is not a valid saved plan"):
        load_saved_plan(path)


def test_missing_file_is_a_saved_plan_error(tmp_path: Path) -> None:
    """A plan file that does not exist is reported, not a traceback."""
    with pytest.raises(SavedPlanError, match="cannot read saved plan"):
        load_saved_plan(tmp_path / "nope.json")


def test_base_url_credentials_never_reach_the_file(tmp_path: Path) -> None:
    """User info, query and fragment are stripped from base URLs before writing."""
    path = tmp_path / "plan.json"
    secret_target = ProviderTarget("respan", "https://user:s3cret@api.example:8443/v1/?key=k#x", ())
    write_saved_plan(
        path, Plan((), 0), providers=(secret_target,), manifest_digest="x", created_at=CREATED
    )
    text = path.read_text(encoding="utf-8")
    assert "s3cret" not in text
    assert "key=k" not in text
    assert load_saved_plan(path).providers[0].base_url == "https://api.example:8443/v1"


def test_write_is_atomic_and_owner_only(tmp_path: Path) -> None:
    """The file appears complete via rename, leaves no temporary files, mode 0600."""
    path = tmp_path / "plan.json"
    path.write_text("old", encoding="utf-8")
    write(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]
    assert load_saved_plan(path).manifest_digest == "d" * 64
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600


def test_unwritable_destination_is_a_saved_plan_error(tmp_path: Path) -> None:
    """Writing into a directory that does not exist fails cleanly."""
    with pytest.raises(OutputError, match="cannot write saved plan"):
        write(tmp_path / "no" / "such" / "plan.json")


def test_a_signed_plan_verifies_only_with_its_key(tmp_path: Path) -> None:
    """The signature covers every key but the checksum: any re-checksummed edit is refused."""
    path = tmp_path / "plan.json"
    plan = every_action_plan()
    write_saved_plan(
        path,
        plan,
        providers=(),
        manifest_digest="d",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        key=b"k1",
    )
    assert load_saved_plan(path, key=b"k1").signed
    assert load_saved_plan(path).signed
    document = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    document["manifest_digest"] = "other"
    del document["checksum"]
    path.write_text(dumps(with_checksum(document), indent=2), encoding="utf-8")
    load_saved_plan(path)  # the checksum alone cannot tell
    with pytest.raises(SavedPlanError, match="does not carry a valid signature"):
        load_saved_plan(path, key=b"k1")
    for forged in ("hmac-sha256:é", 7):
        document["signature"] = forged
        document.pop("checksum", None)
        path.write_text(dumps(with_checksum(document), indent=2), encoding="utf-8")
        with pytest.raises(SavedPlanError, match="does not carry a valid signature"):
            load_saved_plan(path, key=b"k1")


@pytest.mark.parametrize(("environ", "key"), [({}, None), ({"RECONCILER_PLAN_KEY": "s"}, b"s")])
def test_plan_key_comes_from_the_environment(environ: dict[str, str], key: bytes | None) -> None:
    """RECONCILER_PLAN_KEY is the key; unset means unsigned plans."""
    assert plan_key(environ) == key


def test_an_empty_plan_key_is_refused() -> None:
    """Set but blank is an error: an unset CI secret must not switch signing off."""
    with pytest.raises(SavedPlanError, match="set but empty"):
        plan_key({"RECONCILER_PLAN_KEY": " "})
