"""A documented or configured request rate, on its own so that a provider plug-in can state
its limits without loading the configuration reader (and YAML) just to be listed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` requests every ``per_seconds`` seconds."""

    count: int
    per_seconds: float

    def __str__(self) -> str:
        unit = "s" if self.per_seconds == 1.0 else "min"
        if self.per_seconds not in (1.0, 60.0):
            return f"{self.count}/{self.per_seconds:g}s"
        return f"{self.count}/{unit}"

    @property
    def per_second(self) -> float:
        """Requests per second (for pacers that want a single rate)."""
        return self.count / self.per_seconds
