"""What a declared Respan customer's values must satisfy together (defaults merged in)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from reconciler.providers.parts import FieldProblem


def field_problems(fields: Mapping[str, Any]) -> Iterator[FieldProblem]:
    """A period bound that is no real date (or none in UTC), a period that ends before it
    starts, and (a warning) a period budget the total budget would cut short."""
    instants: dict[str, datetime] = {}
    for name in ("period_start", "period_end"):
        text = fields.get(name)
        if isinstance(text, str):
            try:
                instant = datetime.fromisoformat(text)
            except ValueError:
                yield FieldProblem(
                    name,
                    f"'{name}' is not a real date and time: '{text}'",
                    'check the day and month, e.g. "2026-11-01T00:00:00Z"',
                )
                continue
            try:
                # Plans compare instants in UTC: one that leaves the calendar there cannot be.
                instants[name] = instant.astimezone(UTC)
            except OverflowError:
                yield FieldProblem(
                    name,
                    f"'{name}' falls outside the years 1 to 9999 in UTC: '{text}'",
                    "check the year and the offset",
                )
    start, end = instants.get("period_start"), instants.get("period_end")
    if start is not None and end is not None and end <= start:
        yield FieldProblem(
            "period_end",
            f"'period_end' ({fields['period_end']}) is not after "
            f"'period_start' ({fields['period_start']})",
            "a budget period must end after it starts",
        )
    period, total = fields.get("period_budget"), fields.get("total_budget")
    if isinstance(period, Decimal) and isinstance(total, Decimal) and period > total:
        yield FieldProblem(
            "period_budget",
            f"'period_budget' ({period}) is larger than 'total_budget' ({total})",
            "the total budget will stop the customer before the period budget is reached",
            "warning",
        )
