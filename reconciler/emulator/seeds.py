"""Reading emulator seed files: JSON ``{"customers": [...], ...}`` in the provider's shapes.

Every provider's seed is an object of lists; ``seed_lists`` checks that shape and
``add_entries`` adds each entry, so a bad one is named the same way for every provider
(``seed.json: customers[3]: ...``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError


def load_seed_file(path: str | Path) -> Any:
    """The parsed seed file; ``ConfigError`` naming ``file:line:column`` when it is not JSON."""
    seed_path = Path(path)
    try:
        # utf-8-sig: a byte order mark (as Windows editors save JSON) is not part of the JSON.
        text = seed_path.read_text(encoding="utf-8-sig")
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


def seed_lists(seed: Any, keys: Sequence[str], source: str) -> dict[str, list[Any]]:
    """The lists of a seed document under ``keys``, each ``[]`` when left out; ``ConfigError``
    naming ``source`` for a document that is not an object, an unknown key, or a value that
    is not a list."""
    if not isinstance(seed, Mapping):
        raise ConfigError(f"{source}: expected an object with {' and '.join(keys)}")
    unknown = sorted(set(seed) - set(keys))
    if unknown:
        raise ConfigError(f"{source}: unknown key {unknown[0]!r} (expected {', '.join(keys)})")
    lists: dict[str, list[Any]] = {}
    for key in keys:
        entries = seed.get(key, [])
        if not isinstance(entries, list):
            raise ConfigError(f"{source}: {key} must be a list")
        lists[key] = entries
    return lists


def add_entries(
    source: str,
    key: str,
    entries: Sequence[Any],
    add: Callable[[Any], object],
    errors: tuple[type[Exception], ...] = (ValueError,),
) -> None:
    """``add(entry)`` for each entry in order; one of ``errors`` becomes a ``ConfigError``
    naming the entry (``seed.json: customers[3]: ...``)."""
    for index, entry in enumerate(entries):
        try:
            add(entry)
        except errors as exc:
            raise ConfigError(f"{source}: {key}[{index}]: {exc}") from None
