"""Money: parsing to the cent, formatting amounts and deltas."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from reconciler.money import format_delta, format_money, format_signed_money, to_money


@pytest.mark.parametrize(
    "value", [250, 250.0, "250.00", Decimal("250.000"), 250.004, " 250 ", "2.5e2", "25000E-2"]
)
def test_spellings_of_one_amount_are_equal(value: Any) -> None:
    """Ints, floats, strings and decimals of the same amount normalize to the same cents."""
    assert to_money(value) == Decimal("250.00")
    assert str(to_money(value)) == "250.00"


def test_float_goes_through_repr_not_its_binary_fraction() -> None:
    """0.1 as a float is 0.10, not 0.1000000000000000055511151231257827."""
    assert str(to_money(0.1)) == "0.10"


def test_half_cents_round_to_even() -> None:
    """Banker's rounding: 0.005 -> 0.00 and 0.015 -> 0.02, the same on both sides."""
    assert to_money(Decimal("0.005")) == Decimal("0.00")
    assert to_money(Decimal("0.015")) == Decimal("0.02")


def test_none_stays_none() -> None:
    """A null amount (no budget) is not zero."""
    assert to_money(None) is None


@pytest.mark.parametrize(
    "value",
    [True, "abc", float("nan"), Decimal("Infinity"), [1], "NaN", "0x10", "1_000", "5.", "١٠٠"],
)
def test_non_amounts_are_refused(value: Any) -> None:
    """Booleans, text, non-finite numbers and containers are not money; nor is text that only
    Python's Decimal reads as a number (underscores, a trailing dot, digits of other scripts)."""
    with pytest.raises(ValueError, match="expected a"):
        to_money(value)


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("1250"), "$1,250.00"),
        (Decimal("0.5"), "$0.50"),
        (Decimal("-1250.5"), "-$1,250.50"),
        (Decimal("1234567.891"), "$1,234,567.89"),
        (Decimal("-0.001"), "$0.00"),
    ],
)
def test_format_money(amount: Decimal, text: str) -> None:
    """Dollar sign, thousands separators, exactly two decimals, minus before the sign."""
    assert format_money(amount) == text


def test_signed_money_always_shows_a_sign() -> None:
    """Deltas carry + or -; zero shows as +$0.00."""
    assert format_signed_money(Decimal(150)) == "+$150.00"
    assert format_signed_money(Decimal(-5)) == "-$5.00"
    assert format_signed_money(Decimal(0)) == "+$0.00"


@pytest.mark.parametrize(
    ("before", "after", "text"),
    [
        (Decimal(250), Decimal(400), "+$150.00, +60.0%"),
        (Decimal(400), Decimal(250), "-$150.00, -37.5%"),
        (Decimal(3), Decimal(4), "+$1.00, +33.3%"),
        (None, Decimal(400), "+$400.00"),
        (Decimal(0), Decimal(400), "+$400.00"),
        (Decimal(250), None, "-$250.00, -100.0%"),
        (Decimal(1), Decimal(100000), "+$99,999.00, +9,999,900.0%"),
        (Decimal(-1), Decimal(100), "+$101.00"),
    ],
)
def test_format_delta(before: Decimal | None, after: Decimal | None, text: str) -> None:
    """Delta with sign and percentage; from null, zero or a negative amount there is no
    percentage (a rise would show as a fall)."""
    assert format_delta(before, after) == text
