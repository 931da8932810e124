"""Seed files and seed objects: the provider's shapes in, clear errors for bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import RunningEmulator
from reconciler.emulator.seeds import add_entries, load_seed_file, seed_lists
from reconciler.errors import ConfigError
from reconciler.providers.respan.emulator import RespanState

Factory = Callable[..., RunningEmulator[RespanState]]


def test_seed_file_is_loaded(respan_emulator: Factory, tmp_path: Path) -> None:
    """A JSON seed file path works like the object it holds."""
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"customers": [{"customer_identifier": "acme", "cost": 3.5}]}))
    emu = respan_emulator(seed=seed)
    stored = emu.state.get_customer("acme")
    assert stored is not None
    assert stored["total_cost"] == 3.5  # the alias "cost" fills total_cost


def test_a_seed_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """A seed saved with a UTF-8 byte order mark (as Windows editors write JSON) reads as the
    same document."""
    seed = tmp_path / "seed.json"
    seed.write_bytes(b"\xef\xbb\xbf" + json.dumps({"customers": []}).encode())
    assert load_seed_file(seed) == {"customers": []}


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    """A seed that is not JSON is a ConfigError naming file:line:column."""
    seed = tmp_path / "broken.json"
    seed.write_text('{\n  "customers": [\n    {"customer_identifier": "a",}\n  ]\n}\n')
    with pytest.raises(ConfigError, match=r"broken\.json:3:\d+: invalid JSON"):
        load_seed_file(seed)


def test_missing_seed_file_is_a_clear_error(tmp_path: Path) -> None:
    """A seed path that does not exist is a ConfigError, not a traceback."""
    with pytest.raises(ConfigError, match="cannot read seed file"):
        load_seed_file(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"customers": [{"name": "no id"}]}, r"customers\[0\]: customer_identifier"),
        ({"customers": [{"customer_identifier": "a", "period_budget": -5}]}, "period_budget"),
        ({"customers": [{"customer_identifier": "a", "bogus": 1}]}, "bogus: Unknown field"),
        ({"customers": [{"customer_identifier": "a", "environment": "dev"}]}, "environment"),
        (
            {"customers": [{"customer_identifier": "a"}, {"customer_identifier": "a"}]},
            r"customers\[1\]: customer 'a' already exists",
        ),
        ({"customers": {"customer_identifier": "a"}}, "customers must be a list"),
        ({"users": []}, "unknown key 'users'"),
        ({"credit_transactions": [{"amount": 1}]}, r"credit_transactions\[0\]: transaction_type"),
        (
            {"credit_transactions": [{"amount": "1", "transaction_type": "grant"}]},
            "amount",
        ),
    ],
)
def test_bad_seed_entries_name_the_entry_and_field(seed: Any, message: str) -> None:
    """Each bad seed entry raises ConfigError naming its index and field."""
    with pytest.raises(ConfigError, match=message):
        RespanState.from_seed(seed)


def test_seed_fills_missing_analytics_with_defaults() -> None:
    """A seed customer with only an identifier gets zeroed analytics and default dates."""
    state = RespanState.from_seed({"customers": [{"customer_identifier": "a"}]})
    stored = state.get_customer("a")
    assert stored is not None
    assert stored["number_of_requests"] == 0
    assert stored["budget_duration"] == "monthly"
    assert stored["metadata"] == {}
    assert stored["first_seen"] == stored["updated_at"]


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ([], r"^seed\.json: expected an object with customers and plans$"),
        ({"users": []}, r"^seed\.json: unknown key 'users' \(expected customers, plans\)$"),
        ({"plans": {}}, r"^seed\.json: plans must be a list$"),
    ],
)
def test_a_seed_is_an_object_of_the_providers_lists(seed: Any, message: str) -> None:
    """Any provider's seed document: an object whose known keys hold lists, named if not."""
    with pytest.raises(ConfigError, match=message):
        seed_lists(seed, ("customers", "plans"), "seed.json")
    assert seed_lists({"plans": [1]}, ("customers", "plans"), "s") == {
        "customers": [],
        "plans": [1],
    }


def test_each_entry_is_added_and_a_bad_one_is_named_by_its_index() -> None:
    """Entries are added in order; the first refused one stops with its list and index."""
    added: list[int] = []

    def add(entry: int) -> None:
        if entry < 0:
            raise ValueError("a count cannot be negative")
        added.append(entry)

    with pytest.raises(ConfigError, match=r"^s\.json: plans\[2\]: a count cannot be negative$"):
        add_entries("s.json", "plans", [1, 2, -3, 4], add)
    assert added == [1, 2]
