"""The LiteLLM field specs and schema fragment agree with each other and with the core schema:
assembled into the manifest schema, the fragment accepts what LiteLLM accepts and no more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.domain import FieldKind
from reconciler.manifests.resources import MANIFEST_SCHEMA, load_schema
from reconciler.providers.litellm.fields import (
    BUDGET_FIELDS,
    CREATE_ONLY_FIELDS,
    CUSTOMER_FIELDS,
    FIELDS,
    MODEL,
    Kind,
)

ROOT = Path(__file__).resolve().parent.parent
FRAGMENT = json.loads(
    (ROOT / "reconciler" / "providers" / "litellm" / "schema.json").read_text(encoding="utf-8")
)


def assembled_schema() -> dict[str, Any]:
    """The manifest schema assembled from the installed providers, LiteLLM's fragment in it."""
    return load_schema(MANIFEST_SCHEMA)


def errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(assembled_schema())
    return [error.message for error in validator.iter_errors(document)]


def manifest(**customer: Any) -> dict[str, Any]:
    return {"provider": "litellm", "customers": [{"user_id": "acme", **customer}]}


def test_fragment_is_a_valid_schema() -> None:
    """The fragment, and the core schema with it plugged in, are valid 2020-12 schemas."""
    jsonschema.Draft202012Validator.check_schema(FRAGMENT)
    jsonschema.Draft202012Validator.check_schema(assembled_schema())


def test_fragment_declares_exactly_the_field_specs() -> None:
    """Customers and defaults in the fragment name every field spec, plus id and lifecycle."""
    customer = set(FRAGMENT["$defs"]["litellmCustomer"]["properties"])
    defaults = set(FRAGMENT["$defs"]["litellmDefaults"]["properties"])
    assert customer == {*FIELDS, "user_id", "lifecycle"}
    assert defaults == {*FIELDS, "lifecycle"}


def test_every_field_lives_in_one_place() -> None:
    """Each field is a top-level or a budget-table key; create-only ones are budget fields."""
    assert set(CUSTOMER_FIELDS) | set(BUDGET_FIELDS) == set(FIELDS)
    assert not set(CUSTOMER_FIELDS) & set(BUDGET_FIELDS)
    assert set(CREATE_ONLY_FIELDS) <= set(BUDGET_FIELDS)


def test_model_holds_every_field_with_its_core_kind() -> None:
    """The ProviderModel has every field, model lists as sets and per-model budgets as
    mappings, and only the fields LiteLLM's update takes are updatable."""
    assert set(MODEL.fields) == set(FIELDS)
    assert MODEL.fields["models"].kind is FieldKind.LIST
    assert MODEL.fields["model_max_budget"].kind is FieldKind.MAPPING
    assert MODEL.fields["tpm_limit"].kind is FieldKind.INTEGER
    assert {n for n, spec in MODEL.fields.items() if not spec.updatable} == set(CREATE_ONLY_FIELDS)
    assert MODEL.fields["max_budget"].kind is FieldKind.MONEY
    assert FIELDS["tpm_limit"].kind is Kind.INTEGER
    assert not any(spec.nullable for spec in MODEL.fields.values())
    assert MODEL.creates_missing


def test_a_full_customer_is_valid() -> None:
    """Every field at once, with LiteLLM's own spellings, validates."""
    assert (
        errors(
            manifest(
                alias="Acme",
                blocked=False,
                max_budget=250,
                soft_budget=200.5,
                budget_duration="1mo",
                tpm_limit=1000,
                rpm_limit=60,
                max_parallel_requests=4,
                allowed_model_region="eu",
                default_model="gpt-4o-mini",
                models=["gpt-4o-mini"],
                model_max_budget={"gpt-4o": {"max_budget": 10, "budget_duration": "1d"}},
                lifecycle={"prevent_destroy": True},
            )
        )
        == []
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"max_budget": None},
        {"max_budget": -1},
        {"budget_duration": "soon"},
        {"budget_duration": "0d"},
        {"tpm_limit": 1.5},
        {"allowed_model_region": "mars"},
        {"models": ["a", "a"]},
        {"model_max_budget": {"gpt-4o": {"budget": 1}}},
        {"email": "x@example.com"},
    ],
)
def test_values_litellm_refuses_are_invalid(bad: dict[str, Any]) -> None:
    """Null or negative money, bad durations, fractions, regions, repeats, unknown keys fail."""
    assert errors(manifest(**bad)) != []


def test_environment_is_only_the_default() -> None:
    """LiteLLM has no environments: a manifest may name only "default"."""
    assert errors({**manifest(), "environment": "default"}) == []
    assert errors({**manifest(), "environment": "prod"}) != []
