"""Checks beyond the JSON Schema, on desired customers (after ``defaults`` were merged).

The schema judges each value alone; these judge values together (the provider's
``field_checks``: Respan's budget period that ends before it starts, for instance), amounts no
plan can compare exactly, and customers across files (one declared twice). Suspicious-but-
possible values are warnings, which ``--strict`` turns into errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

from reconciler.domain import CustomerKey, DesiredCustomer, FieldKind, Source, folded_id
from reconciler.money import AMOUNT_LIMIT
from reconciler.problems import Problem, Severity
from reconciler.providers.parts import CustomerChecks, FieldChecks
from reconciler.providers.plugin import ProviderPlugin
from reconciler.providers.registry import plugin

_CENT = Decimal("0.01")


FieldSource = Callable[[DesiredCustomer, str], Source]
"""Where a field of a customer is written (``FieldPositions.source``); ``""``: the customer."""


def customer_problems(
    customer: DesiredCustomer, where: FieldSource | None = None
) -> Iterator[Problem]:
    """Problems of one customer's declared values taken together, each at the field it is
    about when ``where`` can tell (asked only for a problem), else at the customer."""
    fields = customer.fields

    def at(name: str, message: str, hint: str, severity: Severity = "error") -> Problem:
        source = where(customer, name) if where is not None else customer.source
        return Problem(source.file, source.line, source.column, message, hint, severity)

    if customer.id != customer.id.strip():
        yield at(
            "",
            f"customer id '{customer.id}' starts or ends with spaces",
            "remove the spaces unless the live customer's id really has them",
            "warning",
        )
    _, checks, money_fields = _rules(customer.provider)
    for found in checks(fields) if checks is not None else ():
        yield at(found.field, found.message, found.hint, found.severity)
    for name in money_fields:
        amount = fields.get(name)
        if isinstance(amount, Decimal) and abs(amount) >= AMOUNT_LIMIT:
            # The schema's bound is a float; ints just above 10^26 reach here.
            yield at(
                name,
                f"'{name}' is too large (got {amount}): numbers must be below 10^26",
                "check the number of digits; amounts are USD",
            )
        elif isinstance(amount, Decimal) and amount != amount.quantize(_CENT):
            yield at(
                name,
                f"'{name}' ({amount}) has fractions of a cent",
                "amounts are compared to the cent; round it to two decimals",
                "warning",
            )
    email = fields.get("email")
    if isinstance(email, str) and "@" not in email:
        yield at(
            "email",
            f"'email' does not look like an email address: '{email}'",
            "write an address like billing@example.com, or null to clear it",
            "warning",
        )


_Rules = tuple[CustomerChecks | None, FieldChecks | None, tuple[str, ...]]
# Per provider name: its plug-in (as the registry gave it), its customer and field checks and
# its money fields.
# Looked up once, not once per customer (importing the checks by name for each of 10,000
# customers was a fifth of these checks' time); a different plug-in under the name is new.
_RULES: dict[str, tuple[ProviderPlugin, _Rules]] = {}


def _rules(provider_name: str) -> _Rules:
    provider = plugin(provider_name)
    known = _RULES.get(provider_name)
    if known is None or known[0] is not provider:
        money = tuple(
            name for name, spec in provider.model.fields.items() if spec.kind is FieldKind.MONEY
        )
        checks = (provider.customer_checker(), provider.field_checker(), money)
        known = _RULES[provider_name] = (provider, checks)
    return known[1]


def provider_checks(provider_name: str) -> tuple[CustomerChecks | None, FieldChecks | None]:
    """The provider's ``customer_checks`` and ``field_checks`` functions (``None``: none),
    looked up once per run, for whoever checks customers one by one."""
    customer_checks, field_checks, _ = _rules(provider_name)
    return customer_checks, field_checks


def duplicate_problems(customers: Iterable[DesiredCustomer]) -> Iterator[Problem]:
    """A customer (same provider, environment and id) declared more than once, anywhere.

    Ids compare as a reviewer reads them (``domain.folded_id``): ``café`` composed and
    decomposed, or ``acme`` with a zero-width space, look the same, so declaring both is a
    duplicate too (named with both spellings).
    """
    first: dict[CustomerKey, DesiredCustomer] = {}
    for customer in customers:
        provider, environment, identifier = customer.key
        earlier = first.setdefault((provider, environment, folded_id(identifier)), customer)
        if earlier is customer:
            continue
        seen, source = earlier.source, customer.source
        message = f"customer '{identifier}' ({provider}, {environment}) is declared twice"
        if earlier.id != identifier:
            message += (
                f" in two Unicode forms ({earlier.id!a} and {identifier!a}), which look the same"
            )
        yield Problem(
            source.file,
            source.line,
            source.column,
            f"{message}; first at {seen.file}:{seen.line}",
            "keep one declaration and remove the other",
        )
