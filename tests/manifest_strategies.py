"""Hypothesis strategies for manifest documents: valid ones, and near-valid ones that mix the
manifest vocabulary with wrong types, so validators and the loader are exercised deeply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from reconciler.providers.autumn.fields import AUTUMN
from reconciler.providers.respan.fields import RESPAN, RESPAN_BUDGET_DURATIONS

# Text YAML round-trips exactly: no surrogates, and none of YAML 1.1's extra line breaks
# (NEL, LS, PS), which PyYAML's emitter writes raw and its reader then folds into spaces.
TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x85\u2028\u2029"),
    max_size=12,
)
NON_EMPTY_TEXT = TEXT.filter(lambda text: text != "")
NUMBER = st.integers(min_value=0, max_value=10**9) | st.floats(
    min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False
)
METADATA_VALUE = (
    TEXT
    | st.booleans()
    | st.none()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
)
METADATA = st.dictionaries(TEXT, METADATA_VALUE, max_size=4)


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    moment = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)))
    offset = draw(st.sampled_from([0, 60, -300, 330, 840]))
    return moment.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset)))


def timestamp_text(moment: datetime) -> str:
    if moment.utcoffset() == timedelta(0):
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat()


@st.composite
def respan_fields(draw: st.DrawFn, start: datetime) -> dict[str, Any]:
    """Respan fields; every period_end is after ``start``, the document's one period_start."""
    candidates: dict[str, Any] = {
        "name": draw(TEXT | st.none()),
        "email": draw(TEXT | st.none()),
        "period_budget": draw(NUMBER | st.none()),
        "total_budget": draw(NUMBER | st.none()),
        "budget_duration": draw(st.sampled_from(RESPAN_BUDGET_DURATIONS)),
        "period_start": timestamp_text(start),
        "period_end": draw(
            st.none()
            | st.integers(1, 10**6).map(lambda s: timestamp_text(start + timedelta(seconds=s)))
        ),
        "markup_percentage": draw(NUMBER),
        "metadata": draw(METADATA),
    }
    chosen = draw(st.sets(st.sampled_from(sorted(candidates))))
    if "period_end" in chosen:
        chosen.add("period_start")  # an end is only checked against a declared start
    return {name: candidates[name] for name in sorted(chosen)}


FEATURE = st.sampled_from(["messages", "seats", "tokens", "storage"])


@st.composite
def billing_controls(draw: st.DrawFn) -> dict[str, Any]:
    def unique(entry: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[list[Any]]:
        return st.lists(entry, max_size=3, unique_by=lambda item: item["feature_id"])

    spend = st.fixed_dictionaries(
        {"feature_id": FEATURE}, optional={"enabled": st.booleans(), "overage_limit": NUMBER}
    )
    alert = st.fixed_dictionaries(
        {
            "feature_id": FEATURE,
            "threshold": NUMBER,
            "threshold_type": st.sampled_from(
                ["usage", "usage_percentage", "remaining", "remaining_percentage"]
            ),
        },
        optional={"enabled": st.booleans(), "name": TEXT},
    )
    limit = st.fixed_dictionaries(
        {
            "interval": st.sampled_from(["hour", "day", "week", "month"]),
            "limit": st.integers(0, 100),
        },
        optional={"interval_count": st.integers(1, 12)},
    )
    topup = st.fixed_dictionaries(
        {"feature_id": FEATURE, "threshold": NUMBER, "quantity": NUMBER},
        optional={"enabled": st.booleans(), "purchase_limit": limit},
    )
    overage = st.fixed_dictionaries({"feature_id": FEATURE}, optional={"enabled": st.booleans()})
    return draw(
        st.fixed_dictionaries(
            {},
            optional={
                "spend_limits": unique(spend),
                "usage_alerts": st.lists(alert, max_size=3),
                "auto_topups": unique(topup),
                "overage_allowed": unique(overage),
            },
        )
    )


@st.composite
def autumn_fields(draw: st.DrawFn) -> dict[str, Any]:
    candidates: dict[str, Any] = {
        "name": draw(TEXT | st.none()),
        "email": draw(TEXT | st.none()),
        "fingerprint": draw(TEXT | st.none()),
        "metadata": draw(METADATA),
        "send_email_receipts": draw(st.booleans()),
        "billing_controls": draw(billing_controls()),
    }
    chosen = draw(st.sets(st.sampled_from(sorted(candidates))))
    return {name: candidates[name] for name in sorted(chosen)}


@st.composite
def lifecycles(draw: st.DrawFn, field_names: tuple[str, ...]) -> dict[str, Any]:
    return draw(
        st.fixed_dictionaries(
            {},
            optional={
                "prevent_destroy": st.booleans(),
                "ignore_changes": st.lists(st.sampled_from(field_names), max_size=3),
            },
        )
    )


@st.composite
def manifest_documents(draw: st.DrawFn, ids: st.SearchStrategy[str]) -> dict[str, Any]:
    """One valid manifest document; customer ids are drawn from ``ids`` (keep them unique)."""
    provider = draw(st.sampled_from(["respan", "autumn", None]))
    model = AUTUMN if provider == "autumn" else RESPAN
    start = draw(instants())
    fields = autumn_fields() if provider == "autumn" else respan_fields(start)
    document: dict[str, Any] = {}
    if provider is not None:
        document["provider"] = provider
    if draw(st.booleans()):
        document["environment"] = draw(st.sampled_from(model.environments))
    if draw(st.booleans()):
        defaults = draw(fields)
        if draw(st.booleans()):
            defaults["lifecycle"] = draw(lifecycles(model.field_names()))
        document["defaults"] = defaults
    customers = []
    for _ in range(draw(st.integers(0, 4))):
        customer = {model.id_field: draw(ids), **draw(fields)}
        if draw(st.booleans()):
            customer["lifecycle"] = draw(lifecycles(model.field_names()))
        customers.append(customer)
    document["customers"] = customers
    return document


VOCABULARY = sorted(
    {
        "provider",
        "environment",
        "defaults",
        "customers",
        "lifecycle",
        "prevent_destroy",
        "ignore_changes",
        "billing_controls",
        "spend_limits",
        "usage_alerts",
        "auto_topups",
        "overage_allowed",
        "feature_id",
        "threshold",
        "threshold_type",
        "purchase_limit",
        "interval",
        *RESPAN.fields,
        *AUTUMN.fields,
        RESPAN.id_field,
        AUTUMN.id_field,
    }
)
SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats(-10.0, 1e6, allow_nan=False)
    | st.sampled_from(
        ["respan", "autumn", "prod", "live", "monthly", "usage", "2026-11-01T00:00:00Z", "", "x"]
    )
    | TEXT
)
JSON_LIKE = st.recursive(
    SCALAR,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(VOCABULARY) | TEXT, children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def near_valid_documents(draw: st.DrawFn) -> Any:
    """A valid document with some values replaced by arbitrary JSON-like ones."""
    document = draw(manifest_documents(st.text(min_size=1, max_size=8)))
    for _ in range(draw(st.integers(0, 3))):
        target: Any = document
        for _ in range(draw(st.integers(0, 3))):
            if isinstance(target, dict) and target:
                child = target[draw(st.sampled_from(sorted(target)))]
            elif isinstance(target, list) and target:
                child = draw(st.sampled_from(target))
            else:
                break
            if not isinstance(child, dict | list):
                break
            target = child
        if isinstance(target, dict):
            target[draw(st.sampled_from(VOCABULARY) | TEXT)] = draw(JSON_LIKE)
        elif isinstance(target, list):
            target.append(draw(JSON_LIKE))
    return document
