"""UTC instants as text: one format, a Z, the precision asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from reconciler.timestamps import utc_text


def test_offsets_become_utc_with_a_z() -> None:
    """An aware instant in another zone is written as the same instant in UTC."""
    moment = datetime(2026, 11, 1, 14, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert utc_text(moment, "milliseconds") == "2026-11-01T12:30:00.123Z"
    assert utc_text(moment, "seconds") == "2026-11-01T12:30:00Z"
    assert utc_text(moment) == "2026-11-01T12:30:00.123456Z"


def test_auto_precision_drops_a_zero_fraction_and_naive_means_utc() -> None:
    """ "auto" writes whole seconds when there is no fraction; a naive datetime is UTC."""
    assert utc_text(datetime(2026, 11, 1, 12, 30)) == "2026-11-01T12:30:00Z"
    assert utc_text(datetime(2026, 11, 1, 12, 30, tzinfo=UTC)) == "2026-11-01T12:30:00Z"
