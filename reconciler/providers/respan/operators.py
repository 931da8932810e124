"""Respan's list-filter operators (the ``filters`` of ``POST /api/users/list/``), as the API
documents them: one vocabulary for the client's checks of ``export --filter`` and for the
emulator that answers them, so the two cannot disagree on what the API accepts.
"""

from __future__ import annotations

from typing import Final

OPERATORS: Final = (
    "",
    "not",
    "in",
    "not_in",
    "lt",
    "lte",
    "gt",
    "gte",
    "contains",
    "not_contains",
    "icontains",
    "startswith",
    "not_startswith",
    "endswith",
    "not_endswith",
    "empty",
    "not_empty",
    "iexact",
    "isnull",
)
"""Every operator, in the documentation's order (error messages list them so)."""

ANY_OF: Final = frozenset({"", "in", "not", "not_in"})
"""Operators matching any (or none) of several values."""
LIST: Final = frozenset({"in", "not_in"})
"""Operators whose values are a list."""
NO_VALUE: Final = frozenset({"empty", "not_empty"})
"""Operators that take no value."""
ORDERING: Final = frozenset({"lt", "lte", "gt", "gte"})
"""Operators that compare by order."""
ONE_VALUE: Final = frozenset(OPERATORS) - ANY_OF - NO_VALUE
"""Operators that take exactly one value."""
