"""Live values as a manifest writes them: keyed item arrays follow their field's schema."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reconciler.domain import FieldKind, FieldSpec
from reconciler.export.values import Unrepresentable, keyed_lists

# Autumn's controls under another field name: what the core knows comes from the spec alone.
LIMITS = FieldSpec(
    "limits",
    FieldKind.KEYED_LISTS,
    item_key="feature_id",
    money_keys=frozenset({"overage_limit"}),
    definition="billingControls",
)


def test_item_arrays_keep_the_arrays_and_keys_of_the_specs_schema_definition() -> None:
    """Arrays and item keys the field's ``$defs`` entry lacks are dropped, the rest are in
    its order, and amounts of ``money_keys`` are written to the cent."""
    live = {
        "unknown_array": [{"feature_id": "x"}],
        "spend_limits": [
            {"overage_limit": 250.5000001, "surprise": 1, "enabled": True, "feature_id": "tokens"}
        ],
    }

    written = keyed_lists(live, LIMITS)

    assert written == {
        "spend_limits": [
            {"feature_id": "tokens", "enabled": True, "overage_limit": Decimal("250.5")}
        ]
    }
    assert list(written["spend_limits"][0]) == ["feature_id", "enabled", "overage_limit"]


def test_an_array_that_is_not_a_list_is_named_by_the_field() -> None:
    """What cannot be declared is refused with the spec's own field name in the reason."""
    with pytest.raises(Unrepresentable, match=r"^limits\.spend_limits is not a list$"):
        keyed_lists({"spend_limits": {"feature_id": "tokens"}}, LIMITS)
