"""Saved plans: what ``plan --out FILE`` writes and ``apply --plan FILE`` applies exactly.

A saved plan is a JSON plan (``reconciler.render.json``, valid against ``plan.schema.json``)
with what apply needs to refuse a plan that no longer fits:

- ``saved_plan_version``: the layout of this file (2; version 1 also stored a request body
  per change, and is refused);
- ``providers``: per provider in the plan, the ``base_url`` it was read from (without any
  user info, query or fragment) and the environments read; apply refuses another target;
- per change, ``before``: every managed top-level field as it was live, normalized, unknown
  marked. There is no request body: apply derives it from ``fields`` (and ``before`` for a
  field sent whole), so what a reviewer read is what is sent. Loading checks that every
  change's body can be derived and that each field's ``before`` is the one ``before`` holds;
- ``manifest_digest``: the loader's digest of the manifests the plan was made from;
- ``created_at``: when the plan was made (given by the caller: the planner has no clock);
- ``signature`` (only when made with a plan key): ``hmac-sha256:`` + the HMAC-SHA256, keyed
  with ``RECONCILER_PLAN_KEY``, of the canonical JSON of the document without ``checksum``
  and ``signature``. The checksum catches accidents; only the signature stops someone who can
  edit the file and recompute the checksum;
- ``checksum``: over all of the above, so an edited file is refused.

No secret is ever written: the plan holds no headers and no keys, and base URLs lose any
user info. Files are written atomically (temporary file, then rename), readable by the owner
only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from reconciler.atomicfile import write_atomic
from reconciler.clients.secret import public_url
from reconciler.domain import FieldKind, ProviderModel
from reconciler.errors import SavedPlanError
from reconciler.money import to_money
from reconciler.plan.model import FieldChange, Plan
from reconciler.planner.body import BodyError, kind_at, request_body, value_at
from reconciler.planner.normalize import same
from reconciler.providers.registry import MODELS
from reconciler.render.json import (
    FORMAT_VERSION,
    checksum,
    dumps,
    plan_document,
    plan_from_document,
    with_checksum,
)
from reconciler.timestamps import utc_text

SAVED_PLAN_VERSION: Final = 2
PLAN_KEY_VARIABLE: Final = "RECONCILER_PLAN_KEY"
SIGNATURE_PREFIX: Final = "hmac-sha256:"
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
    # True when the file carries a signature (checked only when a plan key is given).
    signed: bool = False

    def provider(self, name: str) -> ProviderTarget | None:
        """The target recorded for provider ``name``, if the plan involves it."""
        return next((target for target in self.providers if target.name == name), None)


def plan_key(environ: Mapping[str, str]) -> bytes | None:
    """The signing key from ``RECONCILER_PLAN_KEY``, or ``None`` when it is not set.

    Set but empty is an error, not "off": an unset CI secret expands to an empty string, and
    signing must not switch itself off because of it.
    """
    value = environ.get(PLAN_KEY_VARIABLE)
    if value is None:
        return None
    if not value.strip():
        raise SavedPlanError(
            f"{PLAN_KEY_VARIABLE} is set but empty; set it to the plan signing key, or unset it "
            "to work without signed plans"
        )
    return value.encode("utf-8")


def signature(content: Mapping[str, Any], key: bytes) -> str:
    """``hmac-sha256:<hex>`` over the canonical JSON of ``content`` (without checksum and
    signature)."""
    signed = {k: v for k, v in content.items() if k not in ("checksum", "signature")}
    mac = hmac.new(key, dumps(signed, canonical=True).encode("ascii"), hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def saved_plan_document(
    plan: Plan,
    *,
    providers: Sequence[ProviderTarget],
    manifest_digest: str,
    created_at: datetime,
    key: bytes | None = None,
) -> dict[str, Any]:
    """The saved plan as a JSON-ready dict, checksum included, signed when ``key`` is given."""
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    document = plan_document(plan, saved=True)
    del document["checksum"]
    content: dict[str, Any] = {
        "saved_plan_version": SAVED_PLAN_VERSION,
        "created_at": utc_text(created_at),
        "manifest_digest": manifest_digest,
        "providers": [
            {
                "name": target.name,
                "base_url": public_url(target.base_url),
                "environments": list(target.environments),
            }
            for target in sorted(providers, key=lambda target: target.name)
        ],
        **document,
    }
    if key is not None:
        # Beside the version, where a reader sees at once that the file is signed.
        version, *rest = content.items()
        content = dict([version, ("signature", signature(content, key)), *rest])
    return with_checksum(content)


def write_saved_plan(
    path: str | os.PathLike[str],
    plan: Plan,
    *,
    providers: Sequence[ProviderTarget],
    manifest_digest: str,
    created_at: datetime,
    key: bytes | None = None,
) -> str:
    """Write the saved plan to ``path`` atomically (signed with ``key`` when given); returns
    its checksum.

    Raises ``OutputError`` when the file cannot be written.
    """
    document = saved_plan_document(
        plan, providers=providers, manifest_digest=manifest_digest, created_at=created_at, key=key
    )
    text = dumps(document, indent=2) + "\n"
    write_atomic(Path(path), text, mode=0o600, what="saved plan")
    return str(document["checksum"])


# How write_saved_plan starts every file: the version first, indented by two.
_SAVED_PLAN_START: Final = b'{\n  "saved_plan_version":'


def replaceable_by_saved_plan(path: str | os.PathLike[str]) -> bool:
    """Whether ``plan --out`` may write ``path``: nothing is there, an empty file (``mktemp``),
    or an earlier saved plan. Anything else (a manifest, the settings) is someone's work.

    A path that cannot be read as a file (a directory) is left to the write to report.
    """
    try:
        with open(path, "rb") as stream:
            start = stream.read(len(_SAVED_PLAN_START))
    except OSError:
        return True
    return start in (b"", _SAVED_PLAN_START)


def load_saved_plan(path: str | os.PathLike[str], *, key: bytes | None = None) -> SavedPlan:
    """Read, verify and rebuild a saved plan; raises ``SavedPlanError`` saying what is wrong.

    With ``key``, a file without a signature, or whose signature ``key`` did not make, is
    refused. Without it, a signature is not checked (``SavedPlan.signed`` tells the caller).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SavedPlanError(f"cannot read saved plan {path}: {reason}") from exc
    try:
        return _verified(path, text, key)
    except RecursionError as exc:
        # Parsing, hashing and rebuilding all recurse; no plan nests anywhere near this deep.
        raise SavedPlanError(f"{path} is not a saved plan: it nests too deeply; {_REPLAN}") from exc


def _verified(path: str | os.PathLike[str], text: str, key: bytes | None) -> SavedPlan:
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
    if version == 1:
        raise SavedPlanError(
            f"{path} is saved plan version 1, written by an older reconciler: it carries a "
            "request body beside the reviewed fields, which this reconciler no longer trusts; "
            f"{_REPLAN}"
        )
    if version != SAVED_PLAN_VERSION or document.get("format_version") != FORMAT_VERSION:
        raise SavedPlanError(
            f"{path} is saved plan version {version!r}, format {document.get('format_version')!r}; "
            f"this reconciler reads version {SAVED_PLAN_VERSION}, format {FORMAT_VERSION}; "
            f"{_REPLAN}"
        )
    claimed_signature = document.get("signature")
    if key is not None:
        # Checked before the checksum: whoever can edit the file can recompute that one.
        if claimed_signature is None:
            raise SavedPlanError(
                f"{path} is not signed, but {PLAN_KEY_VARIABLE} is set: only plans signed "
                f"with that key are applied; {_REPLAN} with {PLAN_KEY_VARIABLE} set"
            )
        expected = signature(document, key).encode("ascii")
        if not isinstance(claimed_signature, str) or not hmac.compare_digest(
            claimed_signature.encode("utf-8"), expected
        ):
            raise SavedPlanError(
                f"{path} does not carry a valid signature for {PLAN_KEY_VARIABLE}: it was "
                f"changed after it was signed, or signed with another key; {_REPLAN}"
            )
    claimed = document.get("checksum")
    content = {name: value for name, value in document.items() if name != "checksum"}
    if claimed != checksum(content):
        raise SavedPlanError(
            f"{path} was modified after it was written (checksum mismatch); {_REPLAN}"
        )
    try:
        saved = _saved_plan(document)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SavedPlanError(f"{path} is not a valid saved plan ({exc!r}); {_REPLAN}") from exc
    _check_changes(path, saved.plan)
    return saved


def _check_changes(path: str | os.PathLike[str], plan: Plan) -> None:
    """Refuse a change the plan could not have made: one whose request body cannot be derived
    from its fields, a field of another kind than its path has (the policy reads amounts by
    kind), a value of the wrong type for its kind, or a ``before`` other than the one the stale
    check compares with live state."""
    for change in plan.changes:
        where = f"{path}: {change.provider}/{change.environment}/{change.id}"
        model = MODELS.get(change.provider)
        if model is None:
            raise SavedPlanError(f"{where}: unknown provider {change.provider!r}; {_REPLAN}")
        try:
            if change.fields and change.action not in ("create", "update"):
                raise BodyError(f"a {change.action} changes no fields")
            request_body(change, model)
            for field in change.fields:
                _check_field(model, change.action, change.before, field)
        except BodyError as exc:
            raise SavedPlanError(f"{where}: {exc}; {_REPLAN}") from exc


_SCALAR_TYPES: Final[Mapping[FieldKind, tuple[type, ...]]] = {
    FieldKind.MONEY: (Decimal, type(None)),
    FieldKind.DECIMAL: (Decimal, type(None)),
    FieldKind.BOOL: (bool,),
    FieldKind.TEXT: (str, type(None)),
    FieldKind.ENUM: (str, type(None)),
    FieldKind.TIMESTAMP: (str, type(None)),
}


def _whole_cents(amount: Decimal) -> bool:
    try:
        return amount >= 0 and to_money(amount) == amount
    except (ArithmeticError, ValueError):  # too large to hold in cents
        return False


def _check_field(
    model: ProviderModel, action: str, before: Mapping[str, Any], field: FieldChange
) -> None:
    if field.kind is not kind_at(model, field.path):
        raise BodyError(f"{field.path} is not of kind {field.kind.value}")
    types = _SCALAR_TYPES.get(field.kind)
    after = field.after
    if types is not None and not isinstance(after, types):
        raise BodyError(f"{field.path}: {after!r} is not a {field.kind.value} value")
    if isinstance(after, Decimal) and not after.is_finite():
        raise BodyError(f"{field.path}: {after} is not a number")
    if field.kind is FieldKind.MONEY and after is not None and not _whole_cents(after):
        raise BodyError(f"{field.path}: {after} is not an amount in whole cents of 0 or more")
    recorded = None if action == "create" else value_at(model, before, field.path)
    if not same(field.before, recorded):
        raise BodyError(f"{field.path} shows a before value the plan did not record")


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
        signed="signature" in document,
    )
