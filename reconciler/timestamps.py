"""UTC instants as text, the one way reconciler writes them: ISO 8601 with a ``Z``.

For audit records (milliseconds), saved plans, exports and reports. A naive ``datetime`` is
taken as UTC, as everywhere in reconciler.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Precision = Literal["seconds", "milliseconds", "microseconds", "auto"]


def utc_text(moment: datetime, precision: Precision = "auto") -> str:
    """``2026-11-01T12:30:00.123Z``: ``moment`` in UTC to ``precision`` ("auto": seconds, or
    microseconds when it has a fraction)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=precision)
    return text + "Z"
