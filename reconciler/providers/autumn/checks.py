"""What a declared Autumn customer must satisfy beyond its schema fragment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from reconciler.providers.parts import CustomerProblem

# Billing-control lists that hold at most one entry per feature (Autumn keeps one).
ONE_PER_FEATURE: Final = ("spend_limits", "auto_topups", "overage_allowed")


def customer_problems(customer: Mapping[str, Any]) -> Iterator[CustomerProblem]:
    """A feature listed twice in one of the ``ONE_PER_FEATURE`` billing-control lists (the
    second entry is the one named)."""
    billing = customer.get("billing_controls")
    if not isinstance(billing, Mapping):
        return
    for list_name in ONE_PER_FEATURE:
        seen: set[str] = set()
        for index, entry in enumerate(billing.get(list_name, ())):
            feature = entry["feature_id"]
            if feature in seen:
                yield CustomerProblem(
                    ("billing_controls", list_name, index, "feature_id"),
                    f"'{list_name}' lists feature '{feature}' twice",
                    "keep one entry per feature",
                )
            seen.add(feature)
