"""Properties: desired state rendered the way an API would return it plans to nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.domain import DesiredCustomer, LiveCustomer, Source
from reconciler.planner import PlanOptions, build_plan
from reconciler.providers.registry import MODELS
from reconciler.providers.respan.fields import RESPAN_BUDGET_DURATIONS

amounts = st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False)
percents = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda instant: instant.replace(microsecond=instant.microsecond // 1000 * 1000))
scalars = st.one_of(
    st.text(max_size=8),
    st.booleans(),
    st.none(),
    st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False),
)
metadata = st.dictionaries(st.text(min_size=1, max_size=6), scalars, max_size=5)
noise = st.floats(min_value=-1e-6, max_value=1e-6)
PLUS_TWO = timezone(timedelta(hours=2))


@st.composite
def respan_pair(draw: st.DrawFn, customer_id: str) -> tuple[DesiredCustomer, LiveCustomer]:
    """A desired Respan customer and the same state as the API's JSON would carry it."""
    budget = draw(st.none() | amounts)
    total = draw(st.none() | amounts)
    markup = draw(percents)
    start = draw(instants)
    meta = draw(metadata)
    fields: dict[str, Any] = {
        "name": draw(st.text(max_size=10)),
        "period_budget": budget,
        "total_budget": total,
        "budget_duration": draw(st.sampled_from(RESPAN_BUDGET_DURATIONS)),
        "markup_percentage": markup,
        "period_start": start.isoformat().replace("+00:00", "Z"),
        "metadata": meta,
    }
    shown = {
        **fields,
        "period_budget": None if budget is None else float(budget) + draw(noise),
        "total_budget": None if total is None else float(total),
        "markup_percentage": float(markup) + draw(noise) / 1000,
        "period_start": start.astimezone(PLUS_TWO).isoformat(timespec="milliseconds"),
        "metadata": {
            key: float(value) if isinstance(value, Decimal) else value
            for key, value in reversed(meta.items())
        },
    }
    source = Source("c.yaml", 1)
    return (
        DesiredCustomer("respan", "prod", customer_id, fields, source),
        LiveCustomer("respan", "prod", customer_id, shown),
    )


@st.composite
def autumn_pair(draw: st.DrawFn, customer_id: str) -> tuple[DesiredCustomer, LiveCustomer]:
    """A desired Autumn customer and the API's shape: reordered arrays, float amounts."""
    features = draw(st.lists(st.text(min_size=1, max_size=5), unique=True, max_size=4))
    limits: list[dict[str, Any]] = [
        {"feature_id": f, "enabled": draw(st.booleans()), "overage_limit": draw(amounts)}
        for f in features
    ]
    meta = draw(metadata)
    fields: dict[str, Any] = {
        "name": draw(st.none() | st.text(max_size=10)),
        "metadata": {key: value for key, value in meta.items() if value is not None},
        "send_email_receipts": draw(st.booleans()),
        "billing_controls": {"spend_limits": limits},
    }
    shown = {
        **fields,
        "metadata": {
            key: float(value) if isinstance(value, Decimal) else value
            for key, value in reversed(fields["metadata"].items())
        },
        "billing_controls": {
            "spend_limits": [
                {**item, "overage_limit": float(item["overage_limit"]) + draw(noise)}
                for item in reversed(limits)
            ],
            "usage_alerts": [],
        },
    }
    source = Source("c.yaml", 1)
    return (
        DesiredCustomer("autumn", "live", customer_id, fields, source),
        LiveCustomer("autumn", "live", customer_id, shown),
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=6).flatmap(
        lambda kinds: st.tuples(
            *(
                respan_pair(f"r{index}") if kind < 2 else autumn_pair(f"a{index}")
                for index, kind in enumerate(kinds)
            )
        )
    )
)
def test_state_rendered_as_live_plans_to_nothing(pairs: tuple[Any, ...]) -> None:
    """Float noise, offsets, fractions, key and array order never make a change."""
    wanted = [pair[0] for pair in pairs]
    found = {pair[1].key: pair[1] for pair in pairs}
    result = build_plan(wanted, found, MODELS, PlanOptions(prune=True))
    assert result.changes == ()
    assert result.unchanged == len(pairs)
