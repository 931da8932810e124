"""Canonical LiteLLM values: each kind's spellings of one setting compare equal, and only those."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reconciler.providers.litellm.values import canonical, same


@pytest.mark.parametrize(
    ("name", "live", "desired"),
    [
        ("max_budget", 100.0, Decimal("100.00")),
        ("soft_budget", 0.1, "0.10"),
        ("tpm_limit", 1000.0, 1000),
        ("models", ["b", "a"], ["a", "b", "a"]),
        (
            "model_max_budget",
            {"m": {"max_budget": 5.0, "tpm_limit": None}},
            {"m": {"max_budget": 5}},
        ),
        ("blocked", False, False),
        ("budget_duration", "30d", "30d"),
    ],
)
def test_spellings_of_one_setting_are_the_same(name: str, live: object, desired: object) -> None:
    """Float vs decimal money, float whole numbers, model order and null limits do not differ."""
    assert same(name, live, desired)


@pytest.mark.parametrize(
    ("name", "live", "desired"),
    [
        ("max_budget", 100.0, Decimal("100.01")),
        ("max_budget", None, 0),
        ("blocked", 0, False),
        ("models", ["a"], []),
        ("budget_duration", "monthly", "30d"),
        ("tpm_limit", "lots", 5),
    ],
)
def test_different_settings_differ(name: str, live: object, desired: object) -> None:
    """A cent, null vs 0, 0 vs false, a model, a duration's spelling, or junk all differ."""
    assert not same(name, live, desired)


def test_canonical_keeps_what_it_cannot_parse() -> None:
    """A value that is not of its kind is returned unchanged (and equals nothing proper)."""
    assert canonical("max_budget", "a lot") == "a lot"
    assert canonical("models", "gpt-4o") == "gpt-4o"
    assert canonical("tpm_limit", 2.5) == Decimal("2.5")
