"""The audit log as an auditor reads it: who changed which field of which customer, when, through
which commit and pull request, from what to what.

A change is written twice: a ``pending`` record before its request, then its result naming
the pending one (``pending_seq``). The report shows the result in place of the pair, and a
pending record only while no result answers it: its outcome is unknown.

For ``reconciler audit show``. One pass over the log: every line is checked against the hash
chain (``verify.check_line``, the rules ``audit verify`` applies) and dropped at once unless the
``Query`` selects it, so memory follows what is selected, not the size of the log. A report
from a log whose chain breaks keeps what was read before the break and says where it broke;
nothing after a break is trusted or shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.audit.chain import GENESIS_HASH, next_link
from reconciler.audit.verify import ChainBreak, Verification, check_line, open_log
from reconciler.domain import FieldKind
from reconciler.planner.body import BodyError, kind_at
from reconciler.providers.registry import MODELS
from reconciler.timestamps import utc_text

PENDING = "pending"
RESULT_OUTCOMES = ("applied", "failed", "stale")


@dataclass(frozen=True, slots=True)
class Query:
    """Which records to keep; an empty criterion keeps everything.

    ``since`` is inclusive and ``until`` exclusive, both as the log writes times (UTC ISO 8601
    with milliseconds and ``Z``), so comparing the text compares the instants.
    """

    customers: frozenset[str] = frozenset()
    actor: str | None = None
    since: str | None = None
    until: str | None = None
    pull_request: int | None = None
    outcomes: frozenset[str] = frozenset()

    def text_markers(self) -> tuple[tuple[bytes, ...], ...]:
        """What a line must contain to be selectable, judged without parsing it: for each of
        the customer, actor and outcome criteria, one of its values as the exact JSON member
        the writer's canonical JSON holds. A line lacking one cannot be selected; a line with
        all may be, and is parsed and judged by ``matches``."""
        found: list[tuple[bytes, ...]] = []
        if self.customers:
            found.append(tuple(_member("customer_id", c) for c in sorted(self.customers)))
        if self.actor is not None:
            found.append((_member("actor", self.actor),))
        if self.outcomes:
            found.append(tuple(_member("outcome", o) for o in sorted(self.outcomes)))
        return tuple(found)

    def matches(self, record: dict[str, Any]) -> bool:
        if self.customers and record.get("customer_id") not in self.customers:
            return False
        if self.actor is not None and record.get("actor") != self.actor:
            return False
        time = record.get("time")
        if not isinstance(time, str):
            return self.since is None and self.until is None
        if self.since is not None and time < self.since:
            return False
        if self.until is not None and time >= self.until:
            return False
        if self.pull_request is not None and record.get("pull_request") != self.pull_request:
            return False
        return not self.outcomes or record.get("outcome") in self.outcomes


def _member(key: str, value: str) -> bytes:
    return f'"{key}":{json.dumps(value, ensure_ascii=False)}'.encode()


def time_bound(text: str, *, end_of_day: bool) -> str:
    """``--since``/``--until`` text as the log's time format.

    A date (``2026-10-01``) means its midnight UTC, or with ``end_of_day`` the next midnight
    (so ``--until 2026-12-31`` includes that day). A timestamp without an offset is UTC.
    Raises ``ValueError`` for anything else, and for an instant outside the years 1 to 9999
    in UTC (``9999-12-31T23:59:59-23:59``; ``--until 9999-12-31``).
    """
    try:
        day = date.fromisoformat(text)
    except ValueError:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        next_day = False
    else:
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        next_day = end_of_day
    try:
        if next_day:
            moment += timedelta(days=1)
        return utc_text(moment, "milliseconds")
    except OverflowError:
        raise ValueError(f"{text!r} is outside the years 1 to 9999 in UTC") from None


@dataclass(frozen=True, slots=True)
class FieldEvent:
    """One field of one selected record; ``path`` is empty for a record with no fields."""

    seq: int
    time: str
    provider: str
    environment: str
    customer_id: str
    action: str
    path: str
    before: Any
    after: Any
    money: bool
    outcome: str
    actor: str
    git_commit: str | None
    pull_request: int | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class RunSummary:
    """Counts over the selected changes: each result, and each write-ahead record that has
    none (its outcome unknown: the process stopped between sending and recording)."""

    changes: int = 0
    applied: int = 0
    failed: int = 0
    stale: int = 0
    pending_without_result: int = 0


@dataclass(frozen=True, slots=True)
class History:
    """What ``show`` reports: the chain's state, the selected field events, their summary."""

    path: Path
    verification: Verification
    events: tuple[FieldEvent, ...]
    summary: RunSummary

    @property
    def chain_break(self) -> ChainBreak | None:
        return self.verification.chain_break

    def customers(self) -> list[tuple[str, str, str]]:
        """(provider, environment, id) of every customer with an event, sorted."""
        return sorted({(e.provider, e.environment, e.customer_id) for e in self.events})

    def fields_of(self, customer: tuple[str, str, str]) -> dict[str, list[FieldEvent]]:
        """The customer's events by field path (money fields first, then by name)."""
        found: dict[str, list[FieldEvent]] = {}
        for event in self.events:
            if (event.provider, event.environment, event.customer_id) == customer:
                found.setdefault(event.path, []).append(event)
        return dict(sorted(found.items(), key=lambda item: (not item[1][0].money, item[0])))


def read_history(path: Path | str, query: Query) -> History:
    """Verify ``path``'s chain and collect the events ``query`` selects, in one pass.

    Raises ``AuditError`` when the file cannot be read at all.
    """
    path = Path(path)
    with open_log(path) as lines:
        return _collect(path, lines, query)


@dataclass
class _Tally:
    outcomes: dict[str, int] = field(default_factory=dict)
    # Selected write-ahead records whose result has not been seen yet, by their seq. A result
    # names its pending record (``pending_seq``) and takes its place in the report.
    open_pending: dict[int, list[FieldEvent]] = field(default_factory=dict)


def _collect(path: Path, lines: Iterable[bytes], query: Query) -> History:
    events: list[FieldEvent] = []
    tally = _Tally()
    cannot_select = _line_test(query.text_markers())
    records, last_hash, chain_break = 0, GENESIS_HASH, None
    for line_number, raw in enumerate(lines, start=1):
        if cannot_select is not None and not tally.open_pending and cannot_select(raw):
            # The query cannot select this line and no pending record waits for its result:
            # it is read for the chain alone, without parsing it (``chain.next_link``).
            link = next_link(raw, line_number, last_hash.encode("ascii"))
            if link is not None:
                last_hash = link.decode("ascii")
                records += 1
                continue
        checked = check_line(raw, line_number, last_hash)
        if isinstance(checked, ChainBreak):
            chain_break = checked
            break
        record, last_hash = checked
        records += 1
        outcome = record.get("outcome")
        if outcome != PENDING and tally.open_pending:
            answered = record.get("pending_seq")
            if isinstance(answered, int):  # answered, whether or not the result is selected
                tally.open_pending.pop(answered, None)
        if not query.matches(record):
            continue
        if outcome == PENDING:
            tally.open_pending[int(record["seq"])] = list(_events(record))
            continue
        tally.outcomes[str(outcome)] = tally.outcomes.get(str(outcome), 0) + 1
        events.extend(_events(record))
    unanswered = [event for found in tally.open_pending.values() for event in found]
    verification = Verification(records, last_hash, chain_break)
    summary = RunSummary(
        changes=sum(tally.outcomes.values()) + len(tally.open_pending),
        applied=tally.outcomes.get("applied", 0),
        failed=tally.outcomes.get("failed", 0),
        stale=tally.outcomes.get("stale", 0),
        pending_without_result=len(tally.open_pending),
    )
    ordered = tuple(sorted(events + unanswered, key=lambda event: event.seq))
    return History(path, verification, ordered, summary)


def _line_test(markers: tuple[tuple[bytes, ...], ...]) -> Callable[[bytes], bool] | None:
    """A test telling, from a raw line, that it lacks one of ``markers`` and so cannot be
    selected; ``None`` when the query has no such criteria. The one-marker case, by far the
    commonest (``--customer ID``), is a bare substring test: it runs on every line."""
    if not markers:
        return None
    if len(markers) == 1 and len(markers[0]) == 1:
        (marker,) = markers[0]
        return lambda raw: marker not in raw
    return lambda raw: not all(any(m in raw for m in group) for group in markers)


def _events(record: dict[str, Any]) -> Iterator[FieldEvent]:
    fields = record.get("fields")
    items = fields if isinstance(fields, list) and fields else [{}]
    for item in items:
        if not isinstance(item, dict):
            continue
        path = str(item.get("path", ""))
        yield FieldEvent(
            seq=int(record["seq"]),
            time=str(record.get("time", "")),
            provider=str(record.get("provider", "")),
            environment=str(record.get("environment", "")),
            customer_id=str(record.get("customer_id", "")),
            action=str(record.get("action", "")),
            path=path,
            before=item.get("before"),
            after=item.get("after"),
            money=_is_money(str(record.get("provider", "")), path),
            outcome=str(record.get("outcome", "")),
            actor=str(record.get("actor", "")),
            git_commit=_text_or_none(record.get("git_commit")),
            pull_request=_int_or_none(record.get("pull_request")),
            reason=_text_or_none(record.get("reason")),
        )


def _is_money(provider: str, path: str) -> bool:
    """Whether ``path`` holds an amount, as plans decide it (``planner.body.kind_at``: money
    fields, and amounts inside keyed items such as a spend limit's ``overage_limit``)."""
    model = MODELS.get(provider)
    if model is None:
        return False
    try:
        return kind_at(model, path) is FieldKind.MONEY
    except BodyError:  # a path no plan of this provider writes
        return False


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
