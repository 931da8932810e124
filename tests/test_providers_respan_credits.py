"""Credit transactions: both API shapes, expiry relative to the given clock, the balance."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from reconciler.providers.respan.credits import (
    CreditTransaction,
    InvalidTransaction,
    parse_since,
    parse_transaction,
    summarize,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

SEED_PAGE_SHAPE = {
    "id": "ct_1a2b3c4d5e6f7g8h",
    "organization_subscription": 42,
    "unique_organization_id": "d9b2d63d-a233-4123-847a-7a3a1f9b8f1c",
    "amount": Decimal("150.75"),
    "transaction_type": "grant",
    "created_at": "2024-01-15T09:30:00Z",
    "expires_at": "2024-07-15T09:30:00Z",
    "description": "Welcome bonus for new customer",
    "stripe_payment_intent_id": "pi_3JH4kL2eZvKYlo2C0X9a1b2c",
    "metadata": {"campaign": "new_user_promo"},
}
SDK_SHAPE = {
    "id": "ct_2",
    "unique_organization_id": "d9b2d63d",
    "amount": -20,
    "transaction_type": "adjustment",
    "billable_type": "organization",
    "source_id": "d9b2d63d",
    "credit_amount": 0,
    "debit_amount": 20,
    "description": "Usage correction",
    "created_at": "2026-02-01T00:00:00+00:00",
}


def tx(identifier: str, amount: str, created: str, expires: str | None = None) -> CreditTransaction:
    return CreditTransaction(
        id=identifier,
        transaction_type="grant" if Decimal(amount) > 0 else "adjustment",
        amount=Decimal(amount),
        created_at=datetime.fromisoformat(created),
        expires_at=datetime.fromisoformat(expires) if expires else None,
    )


def test_the_seed_page_shape_is_read() -> None:
    """The doc page's transaction: amount, expiry and description as Decimal/datetime/text."""
    parsed = parse_transaction(SEED_PAGE_SHAPE)
    assert parsed.amount == Decimal("150.75")
    assert parsed.expires_at == datetime(2024, 7, 15, 9, 30, tzinfo=UTC)
    assert parsed.description == "Welcome bonus for new customer"


def test_the_sdk_shape_is_read_and_never_expires() -> None:
    """The newest SDK's transaction has no expires_at: it never expires."""
    parsed = parse_transaction(SDK_SHAPE)
    assert (parsed.amount, parsed.expires_at) == (Decimal(-20), None)
    assert not parsed.expired(NOW)


def test_without_amount_credit_minus_debit_is_used() -> None:
    """A transaction carrying only credit_amount/debit_amount gets their difference."""
    shape = {k: v for k, v in SDK_SHAPE.items() if k != "amount"}
    shape.update(credit_amount=Decimal("5.5"), debit_amount=1)
    assert parse_transaction(shape).amount == Decimal("4.5")


@pytest.mark.parametrize(
    "broken",
    [
        {"id": "x", "amount": "lots", "created_at": "2026-01-01T00:00:00Z"},
        {"id": "x", "amount": 1},
        {"id": "x", "amount": 1, "created_at": "yesterday"},
        {"id": "x", "amount": 1, "created_at": "0001-01-01T00:00:00+01:00"},
        {
            "id": "x",
            "amount": 1,
            "created_at": "2026-01-01",
            "expires_at": "9999-12-31T23:00-02:00",
        },
    ],
)
def test_unreadable_transactions_are_refused(broken: dict[str, object]) -> None:
    """No amount, no creation time, or a time malformed or beyond UTC's years 1-9999:
    InvalidTransaction naming the id."""
    with pytest.raises(InvalidTransaction, match="'x'"):
        parse_transaction(broken)


def test_expiry_is_relative_to_the_given_clock() -> None:
    """The same grant counts before its expiry and not after it (inclusive at the instant)."""
    grant = tx("g", "10", "2026-01-01T00:00:00+00:00", "2026-06-01T12:00:00+00:00")
    assert not grant.expired(datetime(2026, 6, 1, 11, 59, tzinfo=UTC))
    assert grant.expired(NOW)


def test_deductions_never_expire() -> None:
    """A negative amount with an expiry date still counts."""
    assert not tx("d", "-5", "2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00").expired(NOW)


def test_balance_excludes_expired_grants_and_shows_them_apart() -> None:
    """Balance = live credit minus deductions; expired grants are totalled separately."""
    summary = summarize(
        [
            tx("old", "150.75", "2024-01-15T09:30:00+00:00", "2024-07-15T09:30:00+00:00"),
            tx("buy", "100", "2025-01-15T09:30:00+00:00"),
            tx("fix", "-20.50", "2025-02-15T09:30:00+00:00"),
        ],
        now=NOW,
    )
    assert summary.balance == Decimal("79.50")
    assert (summary.expired_total, summary.expired_count) == (Decimal("150.75"), 1)
    assert [t.id for t in summary.transactions] == ["fix", "buy", "old"]
    assert summary.totals_by_type == {"adjustment": Decimal("-20.50"), "grant": Decimal(100)}


def test_since_leaves_out_grants_that_expired_before_the_window() -> None:
    """With --since, expired grants count only when they lapsed within the window; the
    balance leaves every expired grant out as before."""
    summary = summarize(
        [
            tx("lapsed-long-ago", "150", "2024-01-15T09:30:00+00:00", "2024-07-15T09:30:00+00:00"),
            tx("lapsed-lately", "40", "2025-06-01T00:00:00+00:00", "2026-01-15T00:00:00+00:00"),
            tx("buy", "100", "2026-02-01T00:00:00+00:00"),
        ],
        now=NOW,
        since=parse_since("2026-01-01"),
    )
    assert (summary.expired_total, summary.expired_count) == (Decimal(40), 1)
    assert summary.balance == Decimal(100)
    assert [t.id for t in summary.transactions] == ["buy"]


def test_since_narrows_the_listing_but_not_the_balance() -> None:
    """Only newer transactions are listed and totalled; the balance covers them all."""
    summary = summarize(
        [tx("a", "100", "2025-01-01T00:00:00+00:00"), tx("b", "-30", "2026-03-01T00:00:00+00:00")],
        now=NOW,
        since=parse_since("2026-01-01"),
    )
    assert [t.id for t in summary.transactions] == ["b"]
    assert summary.listed_net == Decimal(-30)
    assert summary.balance == Decimal(70)


def test_since_accepts_dates_and_datetimes() -> None:
    """A date is midnight UTC; a date-time without offset is UTC; offsets are converted."""
    assert parse_since("2026-01-31") == datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_since("2026-01-31T09:30:00") == datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
    assert parse_since("2026-01-31T10:30:00+01:00") == datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_since("last week")
    with pytest.raises(ValueError, match="outside years 1 to 9999"):
        parse_since("0001-01-01T00:00:00+01:00")
