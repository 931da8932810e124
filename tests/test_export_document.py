"""Building manifest documents from live customers: values, order, defaults, notes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from reconciler.domain import LiveCustomer
from reconciler.export.document import DocumentBuilder
from reconciler.export.values import Timestamp, Unrepresentable, manifest_value, money
from reconciler.providers.autumn.fields import AUTUMN
from reconciler.providers.respan.fields import RESPAN


def respan(identifier: str, **fields: Any) -> LiveCustomer:
    return LiveCustomer("respan", "prod", identifier, fields)


@pytest.mark.parametrize(
    ("live", "written"),
    [
        (Decimal("250.0000001"), "250"),
        (Decimal("99.5"), "99.5"),
        (250.0, "250"),
        (0.1, "0.1"),
        (Decimal("19.999"), "20"),
        (5000, "5000"),
    ],
)
def test_money_is_written_to_the_cent_without_noise(live: Any, written: str) -> None:
    """Float noise and trailing zeros disappear; cents stay."""
    assert format(money(live), "f") == written


def test_timestamps_become_canonical_quoted_text() -> None:
    """``+00:00`` becomes ``Z``; the value is marked for double quotes."""
    value = manifest_value(RESPAN.fields["period_start"], "2026-11-01T01:00:00+01:00")
    assert isinstance(value, Timestamp)
    assert value == "2026-11-01T00:00:00Z"


def test_values_no_manifest_can_hold_are_refused() -> None:
    """Text in a money field or an unknown enum value is Unrepresentable, not written."""
    with pytest.raises(Unrepresentable):
        manifest_value(RESPAN.fields["period_budget"], "lots")
    with pytest.raises(Unrepresentable):
        manifest_value(RESPAN.fields["budget_duration"], "fortnightly")


@pytest.mark.parametrize(
    ("field", "live"),
    [
        ("period_budget", -5),
        ("period_budget", 10**30),
        ("total_budget", Decimal("1E+30")),
        ("markup_percentage", Decimal("-0.5")),
        ("markup_percentage", Decimal("1E+40")),
        ("metadata", {"seats": Decimal("1E+30")}),
    ],
)
def test_amounts_outside_the_schemas_bounds_are_refused_not_written(field: str, live: Any) -> None:
    """A negative or 10^26+ amount (and a number too long to compare) is noted and left out."""
    builder = DocumentBuilder(RESPAN)
    customer = builder.customer(respan("acme", **{field: live}))
    assert customer == {"customer_identifier": "acme"}
    [note] = builder.notes
    assert note.field.split(".")[0] == field  # metadata: the key (metadata.seats)


@pytest.mark.parametrize(
    ("field", "live"),
    [
        ("total_budget", Decimal("1234567890123456.78")),
        ("metadata", {"ratio": Decimal("0.12345678901234567891")}),
    ],
)
def test_numbers_the_loader_would_read_back_as_others_are_refused(field: str, live: Any) -> None:
    """A fraction with more digits than a binary float keeps (the loader reads YAML numbers
    through one) is noted and left out, not written as a value plan reads differently."""
    builder = DocumentBuilder(RESPAN)
    assert builder.customer(respan("acme", **{field: live})) == {"customer_identifier": "acme"}
    [note] = builder.notes
    assert "more digits than a manifest number keeps" in note.reason


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"feature_id": "t", "overage_limit": -1}, "overage_limit: -1 is negative"),
        ({"feature_id": "t", "overage_limit": 10**30}, "is not below 10^26"),
    ],
)
def test_a_billing_amount_outside_the_bounds_drops_the_field(
    item: dict[str, Any], reason: str
) -> None:
    """An Autumn spend limit that no manifest can declare leaves billing_controls out."""
    builder = DocumentBuilder(AUTUMN)
    live = LiveCustomer("autumn", "sandbox", "acme", {"billing_controls": {"spend_limits": [item]}})
    assert builder.customer(live) == {"id": "acme"}
    assert reason in str(builder.notes[0])


def test_an_item_number_below_its_schema_minimum_drops_the_field() -> None:
    """A usage alert threshold or purchase limit interval below the schema's minimum is noted."""
    alert = {"feature_id": "t", "threshold": -1, "threshold_type": "usage"}
    topup = {
        "feature_id": "t",
        "threshold": 1,
        "quantity": 1,
        "purchase_limit": {"interval": "month", "interval_count": 0, "limit": 1},
    }
    for controls, reason in (
        ({"usage_alerts": [alert]}, "usage_alerts.threshold: -1 is below 0"),
        ({"auto_topups": [topup]}, "auto_topups.purchase_limit.interval_count: 0 is below 1"),
    ):
        builder = DocumentBuilder(AUTUMN)
        live = LiveCustomer("autumn", "sandbox", "acme", {"billing_controls": controls})
        assert builder.customer(live) == {"id": "acme"}
        assert reason in str(builder.notes[0])


@pytest.mark.parametrize(
    ("controls", "reason"),
    [
        (
            {"spend_limits": [{"feature_id": "a", "enabled": "yes", "overage_limit": 5}]},
            "'yes' is not of type 'boolean'",
        ),
        (
            {"spend_limits": [{"feature_id": "a"}, {"feature_id": "a", "overage_limit": 5}]},
            "'spend_limits' lists feature 'a' twice",
        ),
        (
            {"usage_alerts": [{"feature_id": "a", "threshold": 1, "threshold_type": "soon"}]},
            "'soon' is not one of",
        ),
    ],
)
def test_live_controls_validate_would_refuse_are_left_out(
    controls: dict[str, Any], reason: str
) -> None:
    """Controls each of whose values is declarable, but which the schema or Autumn's own
    checks refuse as a whole (text for true/false, a feature twice), are noted, not written."""
    builder = DocumentBuilder(AUTUMN)
    live = LiveCustomer("autumn", "sandbox", "acme", {"name": "A", "billing_controls": controls})
    assert builder.customer(live) == {"id": "acme", "name": "A"}
    [note] = builder.notes
    assert note.field == "billing_controls"
    assert reason in note.reason


def test_a_live_period_ending_before_it_starts_leaves_the_end_out() -> None:
    """Respan's own check (period_end after period_start) holds for what export writes."""
    builder = DocumentBuilder(RESPAN)
    customer = builder.customer(
        respan("acme", period_start="2026-11-30T00:00:00Z", period_end="2026-11-01T00:00:00Z")
    )
    assert customer == {"customer_identifier": "acme", "period_start": "2026-11-30T00:00:00Z"}
    assert [note.field for note in builder.notes] == ["period_end"]


def test_customer_keys_follow_the_schema_and_nulls_are_left_out() -> None:
    """Id first, then the schema's order; null fields are omitted by default."""
    builder = DocumentBuilder(RESPAN)
    customer = builder.customer(
        respan(
            "acme",
            metadata={"b": 1, "a": "x"},
            total_budget=None,
            period_budget=Decimal("250.00"),
            name="Acme",
        )
    )
    assert list(customer) == ["customer_identifier", "name", "period_budget", "metadata"]
    assert list(customer["metadata"]) == ["a", "b"]


def test_include_nulls_writes_only_nullable_fields() -> None:
    """With include_nulls, a null budget is written; a non-nullable field never is."""
    builder = DocumentBuilder(RESPAN, include_nulls=True)
    customer = builder.customer(respan("acme", total_budget=None, budget_duration=None))
    assert customer == {"customer_identifier": "acme", "total_budget": None}


def test_shared_scalars_move_to_defaults_and_customers_are_sorted() -> None:
    """budget_duration shared by all goes to defaults; differing budgets stay put."""
    builder = DocumentBuilder(RESPAN)
    document = builder.document(
        "prod",
        [
            respan("zeta", budget_duration="monthly", period_budget=1),
            respan("alpha", budget_duration="monthly", period_budget=2),
        ],
    )
    assert document.defaults == {"budget_duration": "monthly"}
    assert [c["customer_identifier"] for c in document.customers] == ["alpha", "zeta"]
    assert all("budget_duration" not in c for c in document.customers)


def test_a_single_customer_or_metadata_is_never_factored() -> None:
    """One customer keeps its fields; equal metadata stays on each customer."""
    builder = DocumentBuilder(RESPAN)
    alone = builder.document("prod", [respan("a", budget_duration="weekly")])
    assert alone.defaults == {}
    pair = builder.document(
        "prod", [respan("a", metadata={"t": "x"}), respan("b", metadata={"t": "x"})]
    )
    assert pair.defaults == {}


def test_empty_respan_metadata_is_not_written_but_autumn_metadata_is() -> None:
    """Respan metadata {} declares nothing; Autumn's {} means 'no keys' and is kept."""
    assert "metadata" not in DocumentBuilder(RESPAN).customer(respan("a", metadata={}))
    autumn = LiveCustomer("autumn", "sandbox", "a", {"metadata": {}})
    assert DocumentBuilder(AUTUMN).customer(autumn)["metadata"] == {}


def test_nested_metadata_is_noted() -> None:
    """A nested Respan metadata value is left out with a note; Autumn drops the field."""
    builder = DocumentBuilder(RESPAN)
    customer = builder.customer(respan("a", metadata={"tier": "x", "deep": {"k": 1}}))
    assert customer["metadata"] == {"tier": "x"}
    assert [str(note) for note in builder.notes] == [
        "a: metadata.deep left out: a nested value cannot be declared "
        "(the provider leaves it alone)"
    ]
    autumn_builder = DocumentBuilder(AUTUMN)
    live = LiveCustomer("autumn", "sandbox", "a", {"metadata": {"deep": [1]}})
    assert "metadata" not in autumn_builder.customer(live)
    assert autumn_builder.notes


def test_unknown_fields_are_not_guessed_and_selection_is_respected() -> None:
    """A field the API did not return is absent; ``fields`` limits what is written."""
    builder = DocumentBuilder(RESPAN, fields=("period_budget",))
    customer = builder.customer(respan("a", name="A", period_budget=3))
    assert customer == {"customer_identifier": "a", "period_budget": Decimal(3)}


def test_billing_controls_keep_schema_arrays_and_keys() -> None:
    """Unknown arrays and keys are dropped; overage_limit is money; order is the schema's."""
    live = LiveCustomer(
        "autumn",
        "sandbox",
        "a",
        {
            "billing_controls": {
                "usage_limits": [{"feature_id": "x"}],
                "spend_limits": [
                    {"overage_limit": Decimal("10.000001"), "feature_id": "m", "extra": 1}
                ],
            }
        },
    )
    customer = DocumentBuilder(AUTUMN).customer(live)
    assert customer["billing_controls"] == {
        "spend_limits": [{"feature_id": "m", "overage_limit": Decimal(10)}]
    }
    assert list(customer["billing_controls"]["spend_limits"][0]) == ["feature_id", "overage_limit"]


def test_billing_entry_missing_a_required_key_drops_the_field() -> None:
    """A usage alert without threshold cannot be declared: the field is left out, noted."""
    live = LiveCustomer(
        "autumn",
        "sandbox",
        "a",
        {"billing_controls": {"usage_alerts": [{"feature_id": "m", "threshold_type": "usage"}]}},
    )
    builder = DocumentBuilder(AUTUMN)
    assert "billing_controls" not in builder.customer(live)
    assert "has no threshold" in str(builder.notes[0])


def test_split_gives_each_customer_its_defaults_in_schema_order() -> None:
    """A per-customer document declares what the shared defaults gave it, in order."""
    builder = DocumentBuilder(RESPAN)
    document = builder.document(
        "prod",
        [
            respan("a", budget_duration="monthly", name="A"),
            respan("b", budget_duration="monthly", name="B"),
        ],
    )
    first, second = document.split()
    assert first.defaults == {}
    assert list(first.customers[0].items()) == [
        ("customer_identifier", "a"),
        ("name", "A"),
        ("budget_duration", "monthly"),
    ]
    assert second.customers[0]["customer_identifier"] == "b"
