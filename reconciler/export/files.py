"""Where exported manifests go (each is written whole by ``reconciler.atomicfile``).

Layouts (``plan_outputs``): one stream (a file, or stdout), one file per environment
(``<provider>-<environment>.yaml``), or one file per customer
(``<provider>-<environment>/<id>.yaml``, the id made safe as a file name).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from reconciler import atomicfile
from reconciler.export.document import ManifestDocument
from reconciler.providers.registry import MODELS

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


def write_atomic(path: Path, text: str | bytes) -> None:
    """Replace the manifest file ``path`` with ``text`` (bytes as they are), creating its
    directories; an existing file keeps its mode. Raises ``OutputError`` when it cannot."""
    atomicfile.write_atomic(path, text, make_parents=True)
