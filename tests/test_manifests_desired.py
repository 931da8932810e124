"""Desired state built from valid documents: Decimal numbers, Autumn customers, lifecycle."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.domain import Lifecycle
from reconciler.manifests import load_manifests
from reconciler.manifests.desired import build_customers, desired_value
from reconciler.manifests.yamlfile import parse_yaml
from reconciler.providers import registry
from reconciler.providers.autumn.plugin import PLUGIN as AUTUMN_PLUGIN
from reconciler.providers.parts import CustomerProblem

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


def no_acme_names(customer: Mapping[str, Any]) -> Iterator[CustomerProblem]:
    """A provider check for the test below: a customer may not be named Acme."""
    if customer.get("name") == "Acme":
        yield CustomerProblem(("name",), "Acme is taken", "choose another name")


def test_a_providers_customer_checks_point_at_the_node_they_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``ProviderPlugin.customer_checks`` runs on each declared customer; its problems carry
    the position of the node at their path, and the customer keeps its own position."""
    checked = dataclasses.replace(
        AUTUMN_PLUGIN, customer_checks="test_manifests_desired:no_acme_names"
    )
    installed = {**registry.plugins(), "autumn": checked}
    monkeypatch.setattr(registry, "plugins", lambda: installed)
    (document,) = parse_yaml(AUTUMN.encode(), "a.yaml").documents

    customers, problems = build_customers(document)

    assert [(p.line, p.column, p.message, p.hint) for p in problems] == [
        (8, 11, "Acme is taken", "choose another name")
    ]
    assert (customers[0].source.line, customers[0].source.column) == (7, 5)
