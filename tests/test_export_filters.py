"""``--filter FIELD:OPERATOR:VALUE`` parsing and Respan filter bodies."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from reconciler.errors import ConfigError
from reconciler.export.filters import check_filters, parse_filter, parse_filters
from reconciler.providers import registry
from reconciler.providers.respan.export import filter_body as respan_filter_body


def test_three_parts_and_the_value_keeps_its_colons() -> None:
    """Only the first two colons split: a value may contain more of them."""
    term = parse_filter("name:startswith:a:b")
    assert (term.field, term.operator, term.value) == ("name", "startswith", "a:b")


def test_empty_operator_means_equality_on_metadata() -> None:
    """``metadata__tier::enterprise`` is an equality condition on a metadata key."""
    body = respan_filter_body(parse_filters(["metadata__tier::enterprise"]))
    assert body == {"metadata__tier": {"operator": "", "value": ["enterprise"]}}


def test_two_conditions_on_one_field_form_a_list() -> None:
    """A range on one field becomes a list of conditions; numbers become Decimals."""
    body = respan_filter_body(parse_filters(["total_cost:gte:10", "total_cost:lt:99.5"]))
    assert body == {
        "total_cost": [
            {"operator": "gte", "value": [Decimal(10)]},
            {"operator": "lt", "value": [Decimal("99.5")]},
        ]
    }


def test_in_splits_values_and_empty_takes_none() -> None:
    """``in`` takes comma-separated values, ``empty`` the documented ``[""]``, isnull a bool."""
    body = respan_filter_body(
        parse_filters(["customer_identifier:in:a, b", "email:empty:", "name:isnull:true"])
    )
    assert body["customer_identifier"] == {"operator": "in", "value": ["a", "b"]}
    assert body["email"] == {"operator": "empty", "value": [""]}
    assert body["name"] == {"operator": "isnull", "value": [True]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("email", "write FIELD:OPERATOR:VALUE"),
        ("email:endswith", "write FIELD:OPERATOR:VALUE"),
        (":eq:x", "write FIELD:OPERATOR:VALUE"),
        ("period_budget:gte:10", "cannot filter customers by 'period_budget'"),
        ("email:like:x", "unknown operator 'like'"),
        ("total_cost:gte:ten", "total_cost is a number; 'ten' is not"),
        ("email:empty:x", "empty takes no value"),
        ("name:isnull:maybe", "isnull takes true or false"),
        ("total_cost:gte:", "gte needs a value"),
    ],
)
def test_bad_filters_name_the_filter_and_the_syntax(text: str, message: str) -> None:
    """Every malformed filter is a ConfigError quoting it and the accepted syntax."""
    with pytest.raises(ConfigError) as caught:
        check_filters("respan", parse_filters([text]))
    assert message in str(caught.value)
    assert repr(text) in str(caught.value)
    assert "FIELD:OPERATOR:VALUE" in str(caught.value)


def test_a_provider_without_filter_support_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider with no filter translation says so instead of ignoring filters."""
    installed = dict(registry.plugins())
    installed["respan"] = dataclasses.replace(installed["respan"], filters=None)
    monkeypatch.setattr(registry, "plugins", lambda: installed)
    with pytest.raises(ConfigError, match="the respan provider cannot filter an export"):
        check_filters("respan", parse_filters(["a:b:c"]))


def test_an_unknown_provider_is_refused_with_the_installed_ones() -> None:
    """Filters for a provider that is not installed name the installed providers."""
    with pytest.raises(ConfigError, match=r"unknown provider 'nowhere': use one of .*respan"):
        check_filters("nowhere", parse_filters(["a:b:c"]))
