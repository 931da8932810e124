"""Saved plans: what ``plan --out FILE`` writes and ``apply --plan FILE`` applies exactly.

A saved plan is a JSON plan (``reconciler.render.json``, valid against ``plan.schema.json``)
with what apply needs to refuse a plan that no longer fits:

- ``saved_plan_version``: the layout of this file (1);
- ``providers``: per provider in the plan, the ``base_url`` it was read from (without any
  user info, query or fragment) and the environments read; apply refuses another target;
- per change, ``before`` (every managed top-level field as it was live, normalized, unknown
  marked) and ``payload`` (exactly what will be sent);
- ``manifest_digest``: the loader's digest of the manifests the plan was made from;
- ``created_at``: when the plan was made (given by the caller: the planner has no clock);
- ``checksum``: over all of the above, so an edited file is refused.

No secret is ever written: the plan holds no headers and no keys, and base URLs lose any
user info. Files are written atomically (temporary file, then rename), readable by the owner
only.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from reconciler.errors import OutputError, SavedPlanError
from reconciler.plan import Plan
from reconciler.render.json import (
    FORMAT_VERSION,
    checksum,
    dumps,
    plan_document,
    plan_from_document,
    with_checksum,
)

SAVED_PLAN_VERSION: Final = 1
_REPLAN = "make a new one with `reconciler plan --out FILE`"


@dataclass(frozen=True, slots=True)
class ProviderTarget:
    """Where a provider's live state was read: base URL and the environments involved."""

    name: str
    base_url: str
    environments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """A saved plan as loaded and verified: the plan and what it was made against."""

    plan: Plan
    providers: tuple[ProviderTarget, ...]
    manifest_digest: str
    created_at: datetime
    checksum: str

    def provider(self, name: str) -> ProviderTarget | None:
        """The target recorded for provider ``name``, if the plan involves it."""
        return next((target for target in self.providers if target.name == name), None)


def public_base_url(url: str) -> str:
    """``url`` without user info, query or fragment: what may be written down and compared."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def saved_plan_document(
    plan: Plan,
    *,
    providers: Sequence[ProviderTarget],
    manifest_digest: str,
    created_at: datetime,
) -> dict[str, Any]:
    """The saved plan as a JSON-ready dict, checksum included."""
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    document = plan_document(plan, saved=True)
    del document["checksum"]
    content: dict[str, Any] = {
        "saved_plan_version": SAVED_PLAN_VERSION,
        "created_at": created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "manifest_digest": manifest_digest,
        "providers": [
            {
                "name": target.name,
                "base_url": public_base_url(target.base_url),
                "environments": list(target.environments),
            }
            for target in sorted(providers, key=lambda target: target.name)
        ],
        **document,
    }
    return with_checksum(content)


def write_saved_plan(
    path: str | os.PathLike[str],
    plan: Plan,
    *,
    providers: Sequence[ProviderTarget],
    manifest_digest: str,
    created_at: datetime,
) -> str:
    """Write the saved plan to ``path`` atomically; returns its checksum.

    Raises ``OutputError`` when the file cannot be written.
    """
    document = saved_plan_document(
        plan, providers=providers, manifest_digest=manifest_digest, created_at=created_at
    )
    text = dumps(document, indent=2) + "\n"
    target = Path(path)
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OutputError(f"cannot write saved plan {path}: {exc.strerror or exc}") from exc
    return str(document["checksum"])


def load_saved_plan(path: str | os.PathLike[str]) -> SavedPlan:
    """Read, verify and rebuild a saved plan; raises ``SavedPlanError`` saying what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SavedPlanError(f"cannot read saved plan {path}: {reason}") from exc
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise SavedPlanError(
            f"{path} is not a saved plan: invalid JSON at line {exc.lineno}, column "
            f"{exc.colno}; {_REPLAN}"
        ) from exc
    if not isinstance(document, dict) or "saved_plan_version" not in document:
        raise SavedPlanError(f"{path} is not a saved plan (no saved_plan_version); {_REPLAN}")
    version = document["saved_plan_version"]
    if version != SAVED_PLAN_VERSION or document.get("format_version") != FORMAT_VERSION:
        raise SavedPlanError(
            f"{path} is saved plan version {version!r}, format {document.get('format_version')!r}; "
            f"this reconciler reads version {SAVED_PLAN_VERSION}, format {FORMAT_VERSION}; "
            f"{_REPLAN}"
        )
    claimed = document.get("checksum")
    content = {key: value for key, value in document.items() if key != "checksum"}
    if claimed != checksum(content):
        raise SavedPlanError(
            f"{path} was modified after it was written (checksum mismatch); {_REPLAN}"
        )
    try:
        return _saved_plan(document)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SavedPlanError(f"{path} is not a valid saved plan ({exc!r}); {_REPLAN}") from exc


def _saved_plan(document: Mapping[str, Any]) -> SavedPlan:
    providers = tuple(
        ProviderTarget(
            name=str(item["name"]),
            base_url=str(item["base_url"]),
            environments=tuple(str(env) for env in item["environments"]),
        )
        for item in document["providers"]
    )
    created_at = datetime.fromisoformat(str(document["created_at"]))
    if created_at.tzinfo is None:
        raise ValueError("created_at has no timezone")
    return SavedPlan(
        plan=plan_from_document(document),
        providers=providers,
        manifest_digest=str(document["manifest_digest"]),
        created_at=created_at,
        checksum=str(document["checksum"]),
    )
