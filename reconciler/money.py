"""Money as the pipeline sees it: USD amounts as ``Decimal`` to the cent, and how to show them.

Used by the planner's normalization (so ``250``, ``250.0`` and a float's ``250.00000001`` are the
same amount) and by every plan renderer (``$1,250.00``, ``+$150.00, +60.0%``).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Final, TypeGuard

CENT: Final = Decimal("0.01")
# Amounts are below 10**26 in magnitude: with cents that is 28 digits, what Decimal's default
# context holds exactly. Anything larger is not an amount any billing API keeps.
AMOUNT_LIMIT: Final = Decimal(10) ** 26
_TENTH: Final = Decimal("0.1")
# Text that is a number the way JSON writes one (APIs that send decimals as strings do so):
# Python's Decimal would also read "1_000", "5." or digits of other scripts ("١٠٠").
_NUMBER_TEXT: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_HUNDRED: Final = Decimal(100)


def to_money(value: Any) -> Decimal | None:
    """``value`` as a USD amount quantized to the cent, ``None`` staying ``None``.

    Floats (API responses) go through ``repr`` so that ``0.1`` is ``0.10``, not the binary
    fraction behind it. Half-cents round to even (banker's rounding), the same on both sides
    of a comparison. Raises ``ValueError`` for booleans, text that is not a number,
    non-finite amounts and amounts of ``AMOUNT_LIMIT`` or more.
    """
    if value is None:
        return None
    amount = to_decimal(value)
    if abs(amount) >= AMOUNT_LIMIT:
        raise ValueError(f"expected an amount below 10^26, got {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def is_amount(value: object) -> TypeGuard[Decimal]:
    """True for a ``Decimal`` that is a readable amount: finite and below ``AMOUNT_LIMIT``.

    Anything else a live API may send for a money field (text, a boolean, NaN, 1e30) is not
    one; guardrails treat it as a value they cannot judge, never as a number (a negative one
    too: see ``is_budget_amount``).
    """
    return isinstance(value, Decimal) and value.is_finite() and abs(value) < AMOUNT_LIMIT


def is_budget_amount(value: object) -> TypeGuard[Decimal]:
    """A readable amount of 0 or more: what a budget, a limit or a usage can be.

    No manifest declares a negative one, and a percentage of one would turn a rise into a
    fall: a negative live value is one no guardrail can judge.
    """
    return is_amount(value) and value >= 0


def to_decimal(value: Any) -> Decimal:
    """``value`` (``int``, ``float``, ``Decimal`` or numeric ``str``) as a finite ``Decimal``.

    Numeric text is a JSON number, surrounding spaces allowed (``"250.00"``, ``" 1e3 "``).
    Raises ``ValueError`` for anything else, including ``bool`` (``True`` is not ``1`` here)
    and text only Python reads as a number (``"1_000"``, ``"5."``, ``"١٠٠"``).
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value))
    elif isinstance(value, str):
        if _NUMBER_TEXT.fullmatch(value.strip()) is None:
            raise ValueError(f"expected a number, got {value!r}")
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:  # an exponent beyond what Decimal holds
            raise ValueError(f"expected a number, got {value!r}") from None
    else:
        raise ValueError(f"expected a number, got {value!r}")
    if not amount.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return amount


def format_money(amount: Decimal) -> str:
    """``Decimal("-1250.5")`` -> ``"-$1,250.50"``: dollar sign, thousands separators, cents."""
    cents = amount.quantize(CENT, rounding=ROUND_HALF_EVEN)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def format_signed_money(amount: Decimal) -> str:
    """``Decimal(150)`` -> ``"+$150.00"``; a delta always shows its sign (zero counts as +)."""
    text = format_money(amount)
    return text if text.startswith("-") else f"+{text}"


def format_delta(before: Decimal | None, after: Decimal | None) -> str:
    """How an amount moves: ``"+$150.00, +60.0%"``; no percentage when ``before`` is 0, null
    or negative (a percentage of a negative amount would show a rise as a fall).

    A null side counts as zero for the amount (clearing a budget removes its whole value).
    """
    start = before if before is not None else Decimal(0)
    end = after if after is not None else Decimal(0)
    delta = end - start
    text = format_signed_money(delta)
    if before is None or before <= 0:
        return text
    percent = (delta * _HUNDRED / before).quantize(_TENTH, rounding=ROUND_HALF_EVEN)
    sign = "-" if percent < 0 else "+"
    return f"{text}, {sign}{abs(percent):,.1f}%"
