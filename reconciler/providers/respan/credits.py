"""Respan credit transactions and the balance they add up to. Pure: the caller passes the clock.

Two shapes of transaction exist (API-FACTS): the API reference page's (``amount``,
``expires_at``, ``stripe_payment_intent_id``, ...) and the newest SDK's (``amount``,
``credit_amount``, ``debit_amount``, ``billable_type``, ``source_id``, no ``expires_at``).
``parse_transaction`` reads either: the amount is ``amount`` when present, else
``credit_amount - debit_amount``; a missing ``expires_at`` means the credit never expires.

The balance is the sum of every amount except expired grants: a positive amount whose
``expires_at`` is at or before ``now``. Expired credit is totalled separately, so a reader sees
both what is left and what lapsed. Deductions never expire.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from reconciler.money import to_decimal


class InvalidTransaction(ValueError):
    """A transaction object that cannot be read (no amount, no creation time)."""


@dataclass(frozen=True, slots=True)
class CreditTransaction:
    """One credit transaction, shape-independent. ``amount`` is USD, negative for deductions."""

    id: str
    transaction_type: str
    amount: Decimal
    created_at: datetime
    expires_at: datetime | None = None
    description: str = ""

    def expired(self, now: datetime) -> bool:
        """True for credit (a positive amount) whose expiry is at or before ``now``."""
        return self.amount > 0 and self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class CreditSummary:
    """What the transactions add up to at ``as_of``.

    ``transactions`` are the listed ones (newest first, after any ``since`` filter);
    ``totals_by_type`` and ``listed_net`` cover the listed ones that count (not expired).
    ``balance`` always covers every transaction: a balance of a subset would not be the
    balance. ``expired_total`` covers the grants that expired within the window (from
    ``since`` on; all of them without ``since``): one that lapsed before it is not news.
    """

    as_of: datetime
    transactions: tuple[CreditTransaction, ...]
    totals_by_type: Mapping[str, Decimal]
    listed_net: Decimal
    balance: Decimal
    expired_total: Decimal
    expired_count: int
    since: datetime | None = None


def parse_transaction(raw: Mapping[str, Any]) -> CreditTransaction:
    """A transaction from either API shape; ``InvalidTransaction`` when it cannot be read."""
    identifier = str(raw.get("id", ""))
    try:
        if raw.get("amount") is not None:
            amount = to_decimal(raw["amount"])
        else:
            amount = to_decimal(raw.get("credit_amount") or 0) - to_decimal(
                raw.get("debit_amount") or 0
            )
    except ValueError as exc:
        raise InvalidTransaction(f"credit transaction {identifier!r}: {exc}") from None
    created = parse_instant(raw.get("created_at"), identifier, "created_at")
    if created is None:
        raise InvalidTransaction(f"credit transaction {identifier!r} has no created_at")
    return CreditTransaction(
        id=identifier,
        transaction_type=str(raw.get("transaction_type") or "unknown"),
        amount=amount,
        created_at=created,
        expires_at=parse_instant(raw.get("expires_at"), identifier, "expires_at"),
        description=str(raw.get("description") or ""),
    )


def parse_instant(value: Any, identifier: str = "", name: str = "time") -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (no offset means UTC); ``None`` stays."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidTransaction(f"credit transaction {identifier!r}: {name} is not text")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidTransaction(
            f"credit transaction {identifier!r}: {name} {value!r} is not ISO 8601"
        ) from None
    try:
        return _utc(moment)
    except ValueError:
        raise InvalidTransaction(
            f"credit transaction {identifier!r}: {name} {value!r} is outside years 1 to 9999 in UTC"
        ) from None


def parse_since(text: str) -> datetime:
    """``--since``: a date (midnight UTC) or an ISO 8601 date-time (no offset: UTC).

    Raises ``ValueError`` for anything else.
    """
    return _utc(datetime.fromisoformat(text.strip()))


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC (naive: taken as UTC); ``ValueError`` when UTC has no such instant
    (``0001-01-01T00:00:00+01:00``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{moment.isoformat()} is outside years 1 to 9999 in UTC") from None


def summarize(
    transactions: Iterable[CreditTransaction], *, now: datetime, since: datetime | None = None
) -> CreditSummary:
    """Balance, expired credit and totals by type as of ``now`` (listed: ``since`` onwards)."""
    everything = sorted(transactions, key=lambda t: (t.created_at, t.id), reverse=True)
    balance = Decimal(0)
    expired_total = Decimal(0)
    expired_count = 0
    for transaction in everything:
        if not transaction.expired(now):
            balance += transaction.amount
        elif since is None or (
            transaction.expires_at is not None and transaction.expires_at >= since
        ):
            expired_total += transaction.amount
            expired_count += 1
    listed = tuple(t for t in everything if since is None or t.created_at >= since)
    totals: dict[str, Decimal] = {}
    for transaction in listed:
        if not transaction.expired(now):
            kind = transaction.transaction_type
            totals[kind] = totals.get(kind, Decimal(0)) + transaction.amount
    return CreditSummary(
        as_of=now,
        transactions=listed,
        totals_by_type=dict(sorted(totals.items())),
        listed_net=sum(totals.values(), Decimal(0)),
        balance=balance,
        expired_total=expired_total,
        expired_count=expired_count,
        since=since,
    )
