"""Canonical values of LiteLLM fields, by ``Kind``, so equal settings compare equal.

Pure functions for the kinds the core does not have yet (whole numbers, durations, model lists,
per-model budgets) and the ones it has; the provider uses them to compare a live customer with
a declared one, and a planner can use them once kinds come from providers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.money import to_decimal, to_money
from reconciler.providers.litellm.fields import FIELDS, Kind

_MODEL_BUDGET_MONEY = frozenset({"max_budget"})


def canonical(name: str, value: Any) -> Any:
    """``value`` of field ``name`` in one spelling; ``None`` stays ``None``.

    Money to the cent, whole numbers as ``int``, model lists sorted without repeats,
    per-model budgets with their amounts to the cent. A value that does not parse as its kind
    is returned as it is, so it never equals a proper one.
    """
    if value is None:
        return None
    kind = FIELDS[name].kind
    try:
        if kind is Kind.MONEY:
            return to_money(value)
        if kind is Kind.INTEGER:
            number = to_decimal(value)
            return int(number) if number == number.to_integral_value() else number
        if kind is Kind.MODEL_LIST and isinstance(value, list):
            return sorted(set(value))
        if kind is Kind.MODEL_BUDGETS and isinstance(value, Mapping):
            return {model: _model_budget(limits) for model, limits in sorted(value.items())}
    except (TypeError, ValueError, ArithmeticError):
        return value
    return value


def _model_budget(limits: Any) -> Any:
    if not isinstance(limits, Mapping):
        return limits
    return {
        key: to_money(item) if key in _MODEL_BUDGET_MONEY and item is not None else item
        for key, item in sorted(limits.items())
        if item is not None
    }


def same(name: str, live: Any, desired: Any) -> bool:
    """Whether the live and desired values of field ``name`` are the same setting."""
    left, right = canonical(name, live), canonical(name, desired)
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return bool(left == right)
