"""What validate would refuse in a customer as export declares it, field by field."""

from __future__ import annotations

from decimal import Decimal

from reconciler.export.declarable import refused_fields
from reconciler.providers.autumn.fields import AUTUMN
from reconciler.providers.litellm.fields import MODEL as LITELLM
from reconciler.providers.respan.fields import RESPAN


def test_a_customer_validate_accepts_has_nothing_refused() -> None:
    """Decimal amounts and text as export writes them pass, for every provider."""
    assert (
        refused_fields(
            RESPAN, "prod", {"customer_identifier": "a", "period_budget": Decimal("2.5")}
        )
        == {}
    )
    assert refused_fields(AUTUMN, "sandbox", {"id": "a", "name": "A"}) == {}
    assert refused_fields(LITELLM, "default", {"user_id": "a", "max_budget": Decimal(10)}) == {}


def test_each_refused_field_is_named_with_the_reason() -> None:
    """The schema's refusal names its top-level field; the provider's checks name theirs."""
    spend = [{"feature_id": "a"}, {"feature_id": "a"}]
    refused = refused_fields(
        AUTUMN, "sandbox", {"id": "a", "billing_controls": {"spend_limits": spend}}
    )
    assert refused == {"billing_controls": "'spend_limits' lists feature 'a' twice"}
    refused = refused_fields(RESPAN, "prod", {"customer_identifier": "a", "budget_duration": 5})
    assert list(refused) == ["budget_duration"]
