"""Customer ids crossing the API boundary: checked as they come in from a list answer, and
as they go out in a request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.errors import InvalidRequestError, ServerError
from reconciler.printable import printable


def listed_id(item: Mapping[str, Any], field: str, route: str) -> str:
    """The id of one listed customer; ``ServerError`` when the API gave no text there.

    A list, number or null id cannot name a customer: turned into text it would be planned
    (and deleted, with ``--prune``) as a customer that does not exist, so the whole read is
    refused instead, before anything is planned.
    """
    identifier = item.get(field)
    if isinstance(identifier, str):
        return identifier
    method, _, path = route.partition(" ")
    shown = printable(repr(identifier))
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise ServerError(
        f"{route}: the API listed a customer whose {field} is not an id ({shown}); nothing "
        "was planned. Check the API (or --base-url) you are talking to.",
        method=method,
        path=path,
        status=200,
    )


def sent_id(identifier: str, route: str) -> str:
    """``identifier`` if a request can carry it; ``InvalidRequestError`` for an empty (or
    non-text) one, which the API would refuse anyway: nothing is sent. ``route`` is
    ``"METHOD /path"`` of the endpoints it was meant for, for the message."""
    if isinstance(identifier, str) and identifier:
        return identifier
    method, _, path = route.partition(" ")
    raise InvalidRequestError(
        f"the customer id {identifier!r} cannot be addressed through the API",
        method=method,
        path=path,
    )
