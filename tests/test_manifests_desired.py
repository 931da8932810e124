"""Desired state built from valid documents: Decimal numbers, Autumn customers, lifecycle."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from reconciler.domain import Lifecycle
from reconciler.manifests import load_manifests
from reconciler.manifests.desired import desired_value

AUTUMN = """\
provider: autumn
environment: live
defaults:
  send_email_receipts: true
  metadata: {plan: pro}
customers:
  - id: cus_123
    name: Acme
    metadata: {seats: 12, ratio: 0.5}
    billing_controls:
      spend_limits:
        - {feature_id: messages, enabled: true, overage_limit: 19.99}
      auto_topups:
        - feature_id: messages
          threshold: 10
          quantity: 100
          purchase_limit: {interval: month, interval_count: 1, limit: 3}
    lifecycle: {ignore_changes: [fingerprint]}
"""


def test_numbers_become_decimals_everywhere() -> None:
    """Every number, nested or not, becomes a Decimal from its shortest text."""
    assert desired_value({"a": [1, 19.99, True, None, "2"]}) == {
        "a": [Decimal(1), Decimal("19.99"), True, None, "2"]
    }
    assert str(desired_value(0.1)) == "0.1"


def test_float_noise_is_kept_exactly() -> None:
    """Float noise stays visible to the planner, which compares to the cent."""
    assert desired_value(250.0000001) == Decimal("250.0000001")


def test_autumn_customer(tmp_path: Path) -> None:
    """An Autumn customer is keyed by id with its billing controls as decimals."""
    (tmp_path / "a.yaml").write_text(AUTUMN, encoding="utf-8")
    (customer,) = load_manifests([tmp_path]).customers
    assert customer.key == ("autumn", "live", "cus_123")
    assert customer.fields == {
        "name": "Acme",
        "metadata": {"plan": "pro", "seats": Decimal(12), "ratio": Decimal("0.5")},
        "send_email_receipts": True,
        "billing_controls": {
            "spend_limits": [
                {"feature_id": "messages", "enabled": True, "overage_limit": Decimal("19.99")}
            ],
            "auto_topups": [
                {
                    "feature_id": "messages",
                    "threshold": Decimal(10),
                    "quantity": Decimal(100),
                    "purchase_limit": {
                        "interval": "month",
                        "interval_count": Decimal(1),
                        "limit": Decimal(3),
                    },
                }
            ],
        },
    }
    assert customer.lifecycle == Lifecycle(False, frozenset({"fingerprint"}))


def test_explicit_null_is_kept(tmp_path: Path) -> None:
    """An explicit null is declared (clear it), unlike an absent field (unmanaged)."""
    (tmp_path / "a.yaml").write_text(
        "customers:\n  - customer_identifier: a\n    period_budget: null\n", encoding="utf-8"
    )
    (customer,) = load_manifests([tmp_path]).customers
    assert customer.fields == {"period_budget": None}


def test_customer_prevent_destroy_overrides_defaults(tmp_path: Path) -> None:
    """A customer's own prevent_destroy wins over the defaults'."""
    (tmp_path / "a.yaml").write_text(
        "defaults:\n  lifecycle: {prevent_destroy: true}\n"
        "customers:\n  - customer_identifier: a\n    lifecycle: {prevent_destroy: false}\n"
        "  - customer_identifier: b\n",
        encoding="utf-8",
    )
    first, second = load_manifests([tmp_path]).customers
    assert first.lifecycle.prevent_destroy is False
    assert second.lifecycle.prevent_destroy is True
