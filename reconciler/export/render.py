"""Manifest documents -> YAML text: modeline, a header saying where and when, then documents.

Written with PyYAML's safe emitter, which quotes every string that YAML 1.1 (what the manifest
loader reads) would take for something else (``yes``, ``null``, ``1:30``, ``0x1F``), so text
stays text. Numbers are written from their ``Decimal`` digits, never through a float;
timestamps are double-quoted; lists are indented under their key, as the docs write them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import yaml

from reconciler.export.document import ManifestDocument
from reconciler.export.values import LINE_BREAKS, Timestamp
from reconciler.timestamps import utc_text

MODELINE: Final = "# yaml-language-server: $schema={schema}"
DEFAULT_SCHEMA: Final = "schemas/manifest.schema.json"
_INT_TAG: Final = "tag:yaml.org,2002:int"
_FLOAT_TAG: Final = "tag:yaml.org,2002:float"
_STR_TAG: Final = "tag:yaml.org,2002:str"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where and when an export read live state (the header of every file it writes)."""

    provider: str
    address: str  # ``ProviderHandle.address``: a public base URL, or "the built-in emulator"
    exported_at: datetime
    schema: str = DEFAULT_SCHEMA

    def header(self, environments: Sequence[str]) -> str:
        """Modeline plus comment lines."""
        moment = utc_text(self.exported_at, "seconds")
        places = ", ".join(environments)
        noun = "environment" if len(environments) == 1 else "environments"
        return (
            f"{MODELINE.format(schema=self.schema)}\n"
            f"# Exported by `reconciler export` on {moment}\n"
            f"# from {self.provider} at {self.address} ({noun} {places}).\n"
            "# Live state at that moment: `reconciler plan` of this file shows no changes.\n"
        )


def render_documents(documents: Sequence[ManifestDocument], origin: Origin) -> str:
    """One YAML stream: the header, then each document (``---`` between documents)."""
    environments = list(dict.fromkeys(document.environment for document in documents))
    bodies = [dump_yaml(document.as_dict()) for document in documents]
    return origin.header(environments) + "---\n".join(bodies)


def dump_yaml(value: Any) -> str:
    """Block-style YAML of plain data, keys in the order given."""
    text: str = yaml.dump(
        value,
        Dumper=_ManifestDumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=4096,
    )
    return text


class _ManifestDumper(yaml.SafeDumper):
    """Safe dumper with indented lists and ``Decimal``/``Timestamp`` representers."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # PyYAML writes a list under a key without indenting it; manifests indent it.
        super().increase_indent(flow, False)


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = format(value, "f")
    tag = _FLOAT_TAG if "." in text else _INT_TAG
    return dumper.represent_scalar(tag, text)


def _timestamp(dumper: yaml.SafeDumper, value: Timestamp) -> yaml.ScalarNode:
    return dumper.represent_scalar(_STR_TAG, str(value), style='"')


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Written raw (allow_unicode), a YAML 1.1 line break inside quotes folds into a space
    # when read back: double quotes escape it (\N, \L, \P).
    style = '"' if LINE_BREAKS.intersection(value) else None
    return dumper.represent_scalar(_STR_TAG, value, style=style)


_ManifestDumper.add_representer(Decimal, _decimal)
_ManifestDumper.add_representer(Timestamp, _timestamp)
_ManifestDumper.add_representer(str, _text)
