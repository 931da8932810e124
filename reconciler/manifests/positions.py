"""Where each field of a customer is written, found again only for a file that has a problem.

Loading keeps one position per customer (its list item). Keeping every field's position too
cost 600,000 small objects for 100,000 customers, to word a few problems at most. A check that
finds a problem asks ``FieldPositions.source(customer, field)``; the customer's file is then
read and composed again, once, and the field's key is found under the customer's item (or
under the document's ``defaults`` when the value came from there), exactly where loading would
have found it.

A file that changed since it was loaded (its bytes no longer hash the same) is not trusted to
say where anything is: problems then point at the customer's item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

from yaml.nodes import MappingNode, Node, SequenceNode

from reconciler.domain import DesiredCustomer, ProviderModel, Source
from reconciler.manifests.yamlfile import locate, parse_yaml_nodes, position
from reconciler.providers.registry import MODELS, default_provider


def file_digest(data: bytes) -> str:
    """How a loaded file is recognised when it is read again."""
    return hashlib.sha256(data).hexdigest()


class FieldPositions:
    """Field positions of customers loaded from ``digests`` (display name -> ``file_digest``
    of the bytes loaded); ``reread(display)`` gives the bytes again (``OSError``, ``KeyError``:
    they cannot be had)."""

    def __init__(self, digests: Mapping[str, str], reread: Callable[[str], bytes]) -> None:
        self._digests = digests
        self._reread = reread
        self._indexed: set[str] = set()
        # The customer's item position -> its fields' key positions.
        self._fields: dict[Source, dict[str, Source]] = {}

    def source(self, customer: DesiredCustomer, field: str) -> Source:
        """Where ``field`` of ``customer`` is written, else where the customer is."""
        origin = customer.source
        if not field:
            return origin
        if origin.file not in self._indexed:
            self._indexed.add(origin.file)
            self._index(origin.file)
        return self._fields.get(origin, {}).get(field, origin)

    def _index(self, display: str) -> None:
        digest = self._digests.get(display)
        if digest is None:
            return
        try:
            data = self._reread(display)
        except (OSError, KeyError):
            return
        if file_digest(data) != digest:
            return
        for document in parse_yaml_nodes(data, display).documents:
            value = document.value
            if not isinstance(value, dict):
                continue
            model = MODELS.get(value.get("provider", default_provider()))
            items = locate(document.node, ["customers"])
            if model is None or "customers" not in value or not isinstance(items, SequenceNode):
                continue
            defaults = (
                field_sources(locate(document.node, ["defaults"]), model, display)
                if "defaults" in value
                else {}
            )
            for item in items.value:
                line, column = position(item)
                self._fields[Source(display, line, column)] = {
                    **defaults,
                    **field_sources(item, model, display),
                }


def field_sources(node: Node, model: ProviderModel, path: str) -> dict[str, Source]:
    """Where each declared field's key is written in one customer (or defaults) mapping."""
    sources: dict[str, Source] = {}
    if isinstance(node, MappingNode):
        for key_node, _ in node.value:
            name = key_node.value
            if name in model.fields and name not in sources:
                mark = key_node.start_mark
                sources[name] = Source(path, mark.line + 1, mark.column + 1)
    return sources
