"""The id of a customer in a list answer, checked before anything is planned from it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.errors import ServerError
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
