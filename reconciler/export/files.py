"""Where exported manifests go, and writing them so that no reader ever sees half a file.

``write_atomic`` writes to a temporary file in the destination's directory, flushes and fsyncs
it, then renames it over the destination (``os.replace``, atomic on POSIX and Windows): after
a failure the destination is either the old file or the new one, never a torn one, and the
temporary file is removed.

Layouts (``plan_outputs``): one stream (a file, or stdout), one file per environment
(``<provider>-<environment>.yaml``), or one file per customer
(``<provider>-<environment>/<id>.yaml``, the id made safe as a file name).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from reconciler.errors import OutputError
from reconciler.export.document import ManifestDocument
from reconciler.providers.catalog import MODELS

SUFFIX: Final = ".yaml"
# Characters kept as they are in a file name made from a customer id; others are %-escaped.
_SAFE_NAME_CHARS: Final = "-_.@+=,"


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One file to write (``path`` ``None``: standard output) and the documents it holds."""

    path: Path | None
    documents: tuple[ManifestDocument, ...]


def is_directory_target(path: Path, raw: str, split: str) -> bool:
    """True when ``-o`` names a directory: an existing one, a trailing ``/``, or per-customer
    files (which always need one)."""
    return path.is_dir() or raw.endswith(("/", os.sep)) or split == "customer"


def plan_outputs(
    documents: Sequence[ManifestDocument], target: Path | None, *, directory: bool, split: str
) -> list[OutputFile]:
    """The files an export writes. ``target`` ``None`` is stdout (one stream)."""
    if target is None or not directory:
        return [OutputFile(target, tuple(documents))]
    if split == "customer":
        files: list[OutputFile] = []
        for document in documents:
            folder = target / f"{document.provider}-{document.environment}"
            names = customer_file_names([_id_of(document, c) for c in document.customers])
            for single, name in zip(document.split(), names, strict=True):
                files.append(OutputFile(folder / name, (single,)))
        return files
    return [
        OutputFile(target / f"{document.provider}-{document.environment}{SUFFIX}", (document,))
        for document in documents
    ]


def customer_file_names(ids: Sequence[str]) -> list[str]:
    """A file name per customer id: safe characters kept, others %-escaped, never hidden.

    Ids that would collide on a case-insensitive file system get a short hash suffix.
    """
    names = [quote(identifier, safe=_SAFE_NAME_CHARS) for identifier in ids]
    names = ["%2E" + name[1:] if name.startswith(".") else name for name in names]
    folded: dict[str, int] = {}
    for name in names:
        folded[name.casefold()] = folded.get(name.casefold(), 0) + 1
    result = []
    for identifier, name in zip(ids, names, strict=True):
        if folded[name.casefold()] > 1:
            digest = hashlib.sha256(identifier.encode()).hexdigest()[:8]
            name = f"{name}-{digest}"
        result.append(name + SUFFIX)
    return result


def _id_of(document: ManifestDocument, customer: Mapping[str, Any]) -> str:
    return str(customer[MODELS[document.provider].id_field])


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically; ``OutputError`` when it cannot.

    A new file gets the usual permissions (0666 less the umask); an existing one keeps its mode.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the directory {path.parent}: {_reason(exc)}") from None
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if mode != 0o666:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable where the platform allows it."""
    with contextlib.suppress(OSError, AttributeError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
