"""The interface every provider implements; the planner never sees it, only its data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from reconciler.domain import DesiredCustomer, LiveCustomer, ProviderModel, Source
from reconciler.plan.model import Change


@dataclass(frozen=True, slots=True)
class Declared:
    """A customer a run declares, as a live read needs it: its id, the names of the fields
    declared for it (a field the bulk list lacks is read only for the customers declaring it),
    and where it is declared, for messages. From manifests (``of``) or a saved plan's change."""

    id: str
    fields: frozenset[str]
    source: Source

    @classmethod
    def of(cls, customer: DesiredCustomer) -> Declared:
        """A manifest's customer, by the fields it declares."""
        return cls(customer.id, frozenset(customer.fields), customer.source)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What one applied change did: the final HTTP status and whether it took effect."""

    ok: bool
    status: int | None
    reason: str = ""


class Provider(Protocol):
    """Reads live customers from one billing API and applies planned changes to it.

    Implementations translate between the API's wire shapes and the pipeline's values, and
    spend as few requests as the API allows (bulk list first, detail reads only when needed).
    """

    model: ProviderModel
    base_url: str

    def read_live(
        self, environment: str, declared: Sequence[Declared]
    ) -> Mapping[str, LiveCustomer]:
        """Every live customer of ``environment`` by id, with its managed fields.

        ``declared`` are the run's customers of this provider and environment: a field the
        bulk list does not return is read for those declaring it only. A field the API does
        not return stays absent from ``LiveCustomer.fields`` (unknown), never guessed.
        """
        ...

    def read_usage(self, environment: str, ids: Iterable[str]) -> Mapping[str, Decimal]:
        """Current-period usage in USD for ``ids`` (only providers with usage-guarded fields)."""
        ...

    def refusal(self, change: Change) -> str | None:
        """Why the API cannot make ``change`` as planned, judged on what ``read_live`` read
        (e.g. an update it would silently skip), or ``None``. A plan shows it as a violation
        of the ``provider`` rule, so nothing is sent."""
        ...

    def apply(self, change: Change) -> ApplyResult:
        """Send one create/update/delete; raise ``APIError`` when it cannot be done."""
        ...

    def request_counts(self) -> Mapping[str, int]:
        """Request attempts sent so far, by HTTP method (shown by ``-v``)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
