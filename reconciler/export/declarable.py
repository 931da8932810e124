"""What the manifest loader would refuse in an exported customer, found before it is written.

Each value is made declarable on its own (``reconciler.export.values``); some live states are
not, taken as a whole: a spend limit whose ``enabled`` is text, one feature listed twice where
Autumn keeps one entry per feature, a budget period that ends before it starts. The customer
is checked the way ``validate`` checks a manifest (the schema, then the provider's own
checks), and the fields at fault are left out, so an export never writes a file that fails
validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from reconciler.domain import ProviderModel
from reconciler.manifests.checks import provider_checks
from reconciler.manifests.resources import MANIFEST_SCHEMA
from reconciler.manifests.schema import is_valid, schema_errors


def refused_fields(
    model: ProviderModel, environment: str, customer: Mapping[str, Any]
) -> dict[str, str]:
    """Field name -> why ``validate`` would refuse it in ``customer`` (as an export declares
    it, numbers as ``Decimal``); ``{}`` when the customer would load. Only the first refusal
    of each field is given, and the schema's first: the provider's checks assume a customer
    the schema accepts."""
    as_json = _json_numbers(customer)
    document = {"provider": model.name, "environment": environment, "customers": [as_json]}
    if not is_valid(document, MANIFEST_SCHEMA):
        refused: dict[str, str] = {}
        for error in schema_errors(document, MANIFEST_SCHEMA):
            path = list(error.absolute_path)
            if len(path) > 2:
                refused.setdefault(str(path[2]), error.message)
        return refused
    refused = {}
    customer_checks, field_checks = provider_checks(model.name)
    for problem in customer_checks(as_json) if customer_checks is not None else ():
        refused.setdefault(str(problem.path[0]), problem.message)
    for found in field_checks(customer) if field_checks is not None else ():
        if found.severity == "error":
            refused.setdefault(found.field, found.message)
    return refused


def _json_numbers(value: Any) -> Any:
    """``value`` with its ``Decimal`` numbers as the ``int``/``float`` the YAML loader gives."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {key: _json_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_numbers(item) for item in value]
    return value
