"""Respan list filters over real HTTP: every documented operator, ranges, metadata keys,
several fields ANDed, and 400s for what the API refuses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.emulator import RunningEmulator
from reconciler.providers.respan.emulator import RespanState
from reconciler.providers.respan.emulator_query import OPERATORS

Factory = Callable[..., RunningEmulator[RespanState]]

SEED = {
    "customers": [
        {
            "customer_identifier": "acme",
            "name": "Acme Corp",
            "email": "billing@acme.example",
            "total_cost": 523.45,
            "number_of_requests": 15420,
            "total_tokens": 170000,
            "active_days": 75,
            "metadata": {"tier": "enterprise", "seats": 40},
        },
        {
            "customer_identifier": "globex",
            "name": "Globex",
            "email": "ops@globex.test",
            "total_cost": 10,
            "number_of_requests": 10,
            "total_tokens": 900,
            "active_days": 3,
            "metadata": {"tier": "free"},
        },
        {
            "customer_identifier": "initech",
            "name": "",
            "email": None,
            "total_cost": 0,
            "number_of_requests": 0,
            "total_tokens": 0,
            "active_days": 0,
        },
        {
            "customer_identifier": "umbrella",
            "name": "UMBRELLA corp",
            "email": "Admin@Umbrella.example",
            "total_cost": 99.99,
            "number_of_requests": 500,
            "total_tokens": 12000,
            "active_days": 30,
            "metadata": {"tier": "Enterprise", "seats": 5},
        },
    ]
}


def matching(emu: RunningEmulator[Any], filters: Any, **params: Any) -> httpx.Response:
    with emu.client() as api:
        return api.post(
            "/api/users/list/",
            params={"sort_by": "customer_identifier", **params},
            json={"filters": filters},
        )


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [c["customer_identifier"] for c in response.json()["results"]]


CASES: list[tuple[str, Any, list[str]]] = [
    ("", {"name": {"operator": "", "value": ["Globex", "Acme Corp"]}}, ["acme", "globex"]),
    ("", {"total_cost": {"value": [10]}}, ["globex"]),  # operator defaults to equals
    (
        "not",
        {"name": {"operator": "not", "value": ["Globex", "Acme Corp"]}},
        ["initech", "umbrella"],
    ),
    ("in", {"customer_identifier": {"operator": "in", "value": ["acme", "nobody"]}}, ["acme"]),
    ("not_in", {"active_days": {"operator": "not_in", "value": [0, 3]}}, ["acme", "umbrella"]),
    ("lt", {"total_cost": {"operator": "lt", "value": [99.99]}}, ["globex", "initech"]),
    (
        "lte",
        {"total_cost": {"operator": "lte", "value": [99.99]}},
        ["globex", "initech", "umbrella"],
    ),
    ("gt", {"number_of_requests": {"operator": "gt", "value": [500]}}, ["acme"]),
    ("gte", {"number_of_requests": {"operator": "gte", "value": ["500"]}}, ["acme", "umbrella"]),
    ("contains", {"email": {"operator": "contains", "value": ["example"]}}, ["acme", "umbrella"]),
    ("contains", {"name": {"operator": "contains", "value": ["corp"]}}, ["umbrella"]),
    (
        "not_contains",
        {"name": {"operator": "not_contains", "value": ["corp"]}},
        ["acme", "globex", "initech"],
    ),
    ("icontains", {"name": {"operator": "icontains", "value": ["CORP"]}}, ["acme", "umbrella"]),
    ("startswith", {"email": {"operator": "startswith", "value": ["ops@"]}}, ["globex"]),
    (
        "not_startswith",
        {"email": {"operator": "not_startswith", "value": ["ops@"]}},
        ["acme", "initech", "umbrella"],
    ),
    ("endswith", {"email": {"operator": "endswith", "value": [".example"]}}, ["acme", "umbrella"]),
    (
        "not_endswith",
        {"email": {"operator": "not_endswith", "value": [".example"]}},
        ["globex", "initech"],
    ),
    ("empty", {"name": {"operator": "empty", "value": [""]}}, ["initech"]),
    ("empty", {"email": {"operator": "empty", "value": [""]}}, ["initech"]),
    (
        "not_empty",
        {"email": {"operator": "not_empty", "value": [""]}},
        ["acme", "globex", "umbrella"],
    ),
    (
        "iexact",
        {"email": {"operator": "iexact", "value": ["admin@umbrella.EXAMPLE"]}},
        ["umbrella"],
    ),
    ("isnull", {"email": {"operator": "isnull", "value": [True]}}, ["initech"]),
    ("isnull", {"email": {"operator": "isnull", "value": [False]}}, ["acme", "globex", "umbrella"]),
]


@pytest.mark.parametrize(("operator", "filters", "expected"), CASES)
def test_operator(
    respan_emulator: Factory, operator: str, filters: Any, expected: list[str]
) -> None:
    """Each documented operator selects exactly the customers it describes."""
    emu = respan_emulator(seed=SEED)
    assert ids(matching(emu, filters)) == expected


def test_every_operator_is_covered() -> None:
    """The operator cases above exercise every operator the emulator accepts."""
    assert {case[0] for case in CASES} == OPERATORS


def test_range_as_a_list_of_conditions(respan_emulator: Factory) -> None:
    """A list of conditions on one field is a range: all of them must hold."""
    emu = respan_emulator(seed=SEED)
    filters = {
        "total_cost": [{"operator": "gte", "value": [10]}, {"operator": "lt", "value": [500]}]
    }
    assert ids(matching(emu, filters)) == ["globex", "umbrella"]


def test_several_fields_are_anded(respan_emulator: Factory) -> None:
    """Conditions on different fields must all hold."""
    emu = respan_emulator(seed=SEED)
    filters = {
        "total_cost": {"operator": "gte", "value": [10]},
        "email": {"operator": "contains", "value": ["example"]},
    }
    assert ids(matching(emu, filters)) == ["acme", "umbrella"]


def test_metadata_keys_filter(respan_emulator: Factory) -> None:
    """metadata__<key> filters on a metadata value; a missing key is empty."""
    emu = respan_emulator(seed=SEED)
    assert ids(matching(emu, {"metadata__tier": {"value": ["enterprise"]}})) == ["acme"]
    iexact = {"metadata__tier": {"operator": "iexact", "value": ["ENTERPRISE"]}}
    assert ids(matching(emu, iexact)) == ["acme", "umbrella"]
    seats = {"metadata__seats": {"operator": "gt", "value": [10]}}
    assert ids(matching(emu, seats)) == ["acme"]
    missing = {"metadata__tier": {"operator": "empty", "value": [""]}}
    assert ids(matching(emu, missing)) == ["initech"]


def test_filters_combine_with_paging_and_count(respan_emulator: Factory) -> None:
    """count is the number of matches; pages slice the filtered, sorted list."""
    emu = respan_emulator(seed=SEED)
    filters = {"total_cost": {"operator": "gt", "value": [0]}}
    response = matching(emu, filters, page=2, page_size=2)
    assert response.json()["count"] == 3
    assert ids(response) == ["umbrella"]


def test_no_filters_and_null_filters_list_everyone(respan_emulator: Factory) -> None:
    """An empty or null filters object filters nothing out."""
    emu = respan_emulator(seed=SEED)
    assert len(ids(matching(emu, {}))) == 4
    assert len(ids(matching(emu, None))) == 4


@pytest.mark.parametrize(
    "filters",
    [
        {"metadata": {"value": ["x"]}},  # not a filterable field
        {"first_seen": {"operator": "gte", "value": ["2025-01-01"]}},
        {"metadata__": {"value": ["x"]}},
        {"name": {"operator": "regex", "value": ["^A"]}},
        {"name": {"operator": "gte", "value": ["a", "b"]}},  # one-value operator with two
        {"name": {"operator": "contains", "value": []}},
        {"email": {"operator": "isnull", "value": ["maybe"]}},
        {"total_cost": {"operator": "gt", "value": ["cheap"]}},
        {"name": "Acme"},
        {"name": []},
        ["name"],
        {"name": {"operator": "", "value": [{"nested": 1}]}},
    ],
)
def test_bad_filters_are_400(respan_emulator: Factory, filters: Any) -> None:
    """Unknown fields or operators, wrong value counts and shapes are 400 with a detail."""
    emu = respan_emulator(seed=SEED)
    response = matching(emu, filters)
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)
