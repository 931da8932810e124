"""Canonical field values by kind, and typed deep equality."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from reconciler.domain import UNKNOWN, FieldKind, FieldSpec
from reconciler.planner.normalize import (
    canonical_timestamp,
    normalize,
    same,
)

MONEY = FieldSpec("period_budget", FieldKind.MONEY)
DECIMAL = FieldSpec("markup_percentage", FieldKind.DECIMAL)
TIMESTAMP = FieldSpec("period_start", FieldKind.TIMESTAMP)
METADATA = FieldSpec("metadata", FieldKind.METADATA)
CONTROLS = FieldSpec("billing_controls", FieldKind.KEYED_LISTS)
TEXT = FieldSpec("name", FieldKind.TEXT)


@pytest.mark.parametrize("value", [250, 250.0, "250.00", Decimal("250.0000001"), 250.004])
def test_money_equal_to_the_cent(value: Any) -> None:
    """250, 250.0, 250.00 and float noise below a cent are one amount."""
    assert same(normalize(MONEY, value), normalize(MONEY, Decimal(250)))


def test_money_differs_by_a_cent() -> None:
    """A one-cent difference is real."""
    assert not same(normalize(MONEY, 250.01), normalize(MONEY, Decimal(250)))


def test_decimal_ignores_float_noise_and_trailing_zeros() -> None:
    """markup 20 == 20.0 == 20.0000000001 and is spelled 20."""
    assert str(normalize(DECIMAL, 20.0000000001)) == "20"
    assert same(normalize(DECIMAL, Decimal("20.0")), normalize(DECIMAL, 20))
    assert str(normalize(DECIMAL, 12.5)) == "12.5"


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-01T00:00:00Z",
        "2026-11-01T00:00:00+00:00",
        "2026-11-01T00:00:00.000Z",
        "2026-11-01T01:00:00+01:00",
        "2026-11-01T00:00:00",
    ],
)
def test_timestamps_compare_as_instants(value: str) -> None:
    """Z vs +00:00, .000 fractions, other offsets and naive (UTC) times are one instant."""
    assert normalize(TIMESTAMP, value) == "2026-11-01T00:00:00Z"


def test_timestamp_keeps_real_fractions() -> None:
    """Sub-second precision that is there is kept."""
    assert canonical_timestamp("2026-11-01T00:00:00.25+00:00") == "2026-11-01T00:00:00.250000Z"


def test_unparseable_values_are_kept_raw() -> None:
    """A live value that is not its kind stays as is, so it compares unequal."""
    assert normalize(TIMESTAMP, "soon") == "soon"
    assert normalize(MONEY, "lots") == "lots"
    assert not same(normalize(MONEY, "lots"), normalize(MONEY, 1))


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_timestamp_beyond_the_utc_calendar_is_kept_raw(value: str) -> None:
    """A live instant before year 1 or after 9999 in UTC is a value that differs, not a crash."""
    assert normalize(TIMESTAMP, value) == value
    assert not same(normalize(TIMESTAMP, value), normalize(TIMESTAMP, "2026-11-01T00:00:00Z"))


def test_null_and_unknown_pass_through() -> None:
    """None (clear) and UNKNOWN (not returned) are not normalized into values."""
    for spec in (MONEY, DECIMAL, TIMESTAMP, METADATA, CONTROLS, TEXT):
        assert normalize(spec, None) is None
        assert normalize(spec, UNKNOWN) is UNKNOWN


def test_metadata_key_order_is_irrelevant_and_numbers_are_decimals() -> None:
    """Metadata compares deeply regardless of key order; 1 == 1.0 but "1" != 1."""
    left = normalize(METADATA, {"b": 1, "a": "x"})
    right = normalize(METADATA, {"a": "x", "b": Decimal("1.0")})
    assert same(left, right)
    assert list(left) == ["a", "b"]
    assert not same(normalize(METADATA, {"a": "1"}), normalize(METADATA, {"a": 1}))


def test_same_does_not_confuse_booleans_with_numbers() -> None:
    """True is not 1 and False is not 0, even nested."""
    assert not same(True, Decimal(1))
    assert not same({"a": False}, {"a": Decimal(0)})
    assert not same([True], [Decimal(1)])
    assert same({"a": [True, None]}, {"a": [True, None]})
    assert not same({"a": 1}, [1])
    assert not same("x", {"x": 1})


def test_billing_controls_sorted_by_feature_and_amounts_decimal() -> None:
    """Arrays order by feature_id; overage_limit is money, other numbers plain decimals."""
    live = normalize(
        CONTROLS,
        {
            "spend_limits": [
                {"feature_id": "words", "overage_limit": 10.0, "enabled": True},
                {"feature_id": "messages", "overage_limit": 100, "enabled": False},
            ],
            "usage_alerts": [{"feature_id": "m", "threshold": 80.0}],
        },
    )
    assert live == {
        "spend_limits": [
            {"enabled": False, "feature_id": "messages", "overage_limit": Decimal("100.00")},
            {"enabled": True, "feature_id": "words", "overage_limit": Decimal("10.00")},
        ],
        "usage_alerts": [{"feature_id": "m", "threshold": Decimal(80)}],
    }


def test_keyed_item_arrays_follow_the_field_spec() -> None:
    """A keyed-items field is matched by its spec's item key and its spec's money keys are
    amounts: nothing about any provider's wire keys is built in."""
    from reconciler.domain import ProviderModel
    from reconciler.planner.diff import diff_field

    spec = FieldSpec("quotas", FieldKind.KEYED_LISTS, item_key="sku", money_keys=frozenset({"cap"}))
    model = ProviderModel("acme", ("prod",), "prod", "id", {"quotas": spec}, False, False)
    live = normalize(spec, {"q": [{"sku": "b", "cap": "5.0"}, {"sku": "a", "cap": 1, "n": 2.50}]})
    assert live == {"q": [{"cap": Decimal(1), "n": Decimal("2.5"), "sku": "a"},
                          {"cap": Decimal(5), "sku": "b"}]}  # fmt: skip
    wanted = normalize(spec, {"q": [{"sku": "a", "cap": 3}]})
    found = diff_field(model, spec, wanted, live)
    assert found is not None
    changed = {c.path: c for c in found.changes}
    assert changed["quotas.q[a].cap"].kind is FieldKind.MONEY
    assert (changed["quotas.q[a].cap"].before, changed["quotas.q[a].cap"].after) == (1, 3)
