"""What the parts a provider plug-in names receive and return: the ``OpenRequest`` its provider
is opened with, the ``EmulatorParts`` it serves its emulator from, and the problems its
manifest checks report.

Apart from ``reconciler.providers.plugin`` (what listing the providers loads), so that
``reconciler --help`` defines none of these classes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.errors import ConfigError

if TYPE_CHECKING:
    from reconciler.clients.http import ApiClient
    from reconciler.clients.retry import RetryPolicy
    from reconciler.clients.secret import Secret
    from reconciler.problems import Severity
    from reconciler.settings.ratelimit import RateLimit


ClientT = TypeVar("ClientT", bound="ApiClient")


@dataclass(frozen=True, slots=True)
class OpenRequest:
    """Everything ``ProviderPlugin.open`` needs, already resolved by the connection layer."""

    base_url: str
    api_key: Secret
    rate_limits: Mapping[str, RateLimit]
    # Where the key came from (its variable, a key file), for messages about it.
    key_source: str
    # ``providers.<name>.api_version`` from reconciler.yaml; ``None`` when not set.
    api_version: str | None
    # True against the built-in emulator started in-process for this run.
    emulated: bool
    # ``providers.<name>.burst``: requests let go back to back within one rate-limit window
    # (``None``: the window's whole count). Applies only where a rate limit is set.
    burst: int | None = None
    retry: RetryPolicy | None = None
    max_concurrency: int = 8

    def refuse_api_version(self, provider: str) -> None:
        """``ConfigError`` when an API version was configured for an API that has none:
        refused rather than ignored, since a setting that does nothing would mislead."""
        if self.api_version is not None:
            raise ConfigError(
                f"providers.{provider}.api_version: the {provider} API has no versions to "
                "choose; remove the setting"
            )

    def pace(self) -> tuple[int, float] | None:
        """The single ``default`` rate limit as ``(count, seconds)``; ``None``: unpaced."""
        limit = self.rate_limits.get("default")
        return (limit.count, limit.per_seconds) if limit is not None else None

    def single_limit_client(self, client_class: type[ClientT]) -> ClientT:
        """``client_class.create`` as requested: address, key, one pacer at ``pace()`` shaped
        by ``burst``, retries and concurrency (for an API with one limit for every call)."""
        return client_class.create(
            self.base_url,
            self.api_key,
            rate_limit=self.pace(),
            burst=self.burst,
            retry=self.retry,
            max_concurrency=self.max_concurrency,
        )


@dataclass(frozen=True, slots=True)
class CustomerProblem:
    """A mistake in one declared customer that the provider's schema fragment cannot express
    (e.g. one feature listed twice where the API keeps one entry per feature)."""

    # Where in the customer's mapping, e.g. ("billing_controls", "spend_limits", 2, "feature_id").
    path: tuple[str | int, ...]
    message: str
    hint: str


CustomerChecks = Callable[[Mapping[str, Any]], Iterable[CustomerProblem]]
"""``checks(customer)``: the problems of one schema-valid declared customer, as written."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """A mistake (or, as a ``warning``, a likely one) in a customer's declared values taken
    together, e.g. a budget period that ends before it starts."""

    # The field it is about: the problem is shown where that field is written (the
    # customer's own value or its file's ``defaults``).
    field: str
    message: str
    hint: str
    severity: Severity = "error"


FieldChecks = Callable[[Mapping[str, Any]], Iterable[FieldProblem]]
"""``checks(fields)``: the problems of one desired customer's fields (defaults merged in,
numbers as ``Decimal``)."""


@dataclass(frozen=True, slots=True)
class EmulatorParts:
    """How to serve the provider's API locally (``reconciler emulator --provider NAME``).

    ``state_from_seed(document, source=...)`` builds the emulator's state from a seed document
    (``None``: empty); ``create_app(state, settings, stats=...)`` returns the ASGI app serving
    it. The key and rate limit are what ``reconciler emulator`` uses when none is given.
    ``omittable_fields`` are the names ``--omit-fields`` may leave out of its answers (none:
    the emulator has no such option), so that a misspelt name is an error, not a no-op.
    """

    state_from_seed: Callable[..., Any]
    create_app: Callable[..., Any]
    default_api_key: str
    default_rate_limit: tuple[int, float] | None
    omittable_fields: frozenset[str] = frozenset()
