"""Reading emulator seed files: JSON ``{"customers": [...], ...}`` in the provider's shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError


def load_seed_file(path: str | Path) -> Any:
    """The parsed seed file; ``ConfigError`` naming ``file:line:column`` when it is not JSON."""
    seed_path = Path(path)
    try:
        text = seed_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{seed_path}: cannot read seed file: {reason}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{seed_path}:{exc.lineno}:{exc.colno}: invalid JSON in seed file: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"{seed_path}: invalid JSON in seed file: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")
