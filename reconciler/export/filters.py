"""``--filter FIELD:OPERATOR:VALUE`` terms, checked by the provider that turns them into the
server-side filter body of its list request.

Export narrows what it reads with the API's own filters, so a filtered export costs a few list
requests instead of reading every customer. The syntax is the same for every provider; which
fields and operators are accepted is the provider's (``ProviderPlugin.filters``, documented
on each provider's page under docs/providers/).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from reconciler.errors import ConfigError

SYNTAX: Final = "FIELD:OPERATOR:VALUE (e.g. email:endswith:@acme.example, total_cost:gte:10)"


@dataclass(frozen=True, slots=True)
class FilterTerm:
    """One ``--filter``: ``field``, ``operator`` (``""`` is equality) and the raw ``value``."""

    field: str
    operator: str
    value: str
    text: str  # as the user wrote it, for messages

    def __str__(self) -> str:
        return self.text


def parse_filter(text: str) -> FilterTerm:
    """Split ``FIELD:OPERATOR:VALUE`` (the value may hold more ``:``); ``ConfigError`` if not."""
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[0].strip():
        raise ConfigError(f"invalid --filter {text!r}: write {SYNTAX}")
    field, operator, value = parts
    return FilterTerm(field.strip(), operator.strip(), value, text)


def parse_filters(texts: Sequence[str]) -> tuple[FilterTerm, ...]:
    """Every ``--filter`` in order; the first malformed one raises ``ConfigError``."""
    return tuple(parse_filter(text) for text in texts)


def check_filters(provider: str, terms: Sequence[FilterTerm]) -> None:
    """Raise ``ConfigError`` for terms ``provider``'s list endpoint cannot apply."""
    from reconciler.providers.registry import plugin

    plugin(provider).filter_body(terms)


def invalid_filter(term: FilterTerm, reason: str) -> ConfigError:
    return ConfigError(f"invalid --filter {term.text!r}: {reason} (syntax: {SYNTAX})")
