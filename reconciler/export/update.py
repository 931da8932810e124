"""``export --update``: adopt live values into the manifests that already declare them.

For every declared customer found live, each field its manifest declares (in the customer or
through ``defaults``) is compared with the live value the way the planner compares them; only
a field that a plan would change is rewritten, with the live value. So money equal to the cent
(``250`` vs ``250.00``) is left as written, and after an update ``plan`` shows no changes
(except fields the API does not return, and ``lifecycle.ignore_changes`` fields, which are not
touched).

Where a value is written: always on the customer, never in ``defaults`` (other customers share
them). Per kind:

- scalars: the customer's key is set (inserted in the schema's order if it came from defaults);
- metadata (not authoritative, only declared keys managed): each declared key whose live value
  differs is set on the customer; a declared key absent live is removed from the customer (when
  declared in ``defaults``, it is left and noted);
- metadata (authoritative, the whole truth): the customer's keys are set so that the merged
  metadata equals the live one (a key from defaults absent live is set to ``null`` on the
  customer);
- billing controls: each declared array that differs is replaced by the live array, on the
  customer (starting from the defaults' arrays when the customer declared none).

``add_customers`` appends undeclared live customers to a file, into the document of their
provider and environment, or a new document.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from reconciler.domain import (
    UNKNOWN,
    CustomerKey,
    DesiredCustomer,
    FieldKind,
    FieldSpec,
    LiveCustomer,
    ProviderModel,
)
from reconciler.export.document import ManifestDocument
from reconciler.export.roundtrip import RoundTripFile, insert_in_order, safe_text, to_yaml
from reconciler.export.textform import TextForm
from reconciler.export.values import (
    Unrepresentable,
    keyed_lists,
    manifest_value,
    metadata,
    schema_keys,
    undeclarable_metadata,
)
from reconciler.planner.diff import diff_field
from reconciler.planner.normalize import normalize, same
from reconciler.providers.registry import MODELS, default_provider


@dataclass(frozen=True, slots=True)
class Adoption:
    """One field of one customer rewritten with its live value."""

    key: CustomerKey
    field: str


@dataclass
class FileEdit:
    """What updating one manifest file did (``after`` is the text to write)."""

    display: str
    before: str
    after: str = ""
    adopted: list[Adoption] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    new_file: bool = False
    path: Path | None = None  # where to write it
    # How to spell it there: the file's own byte order mark, encoding and line ends.
    form: TextForm = field(default_factory=TextForm)

    @property
    def changed(self) -> bool:
        return self.after != self.before


def adopt_live(
    display: str,
    manifest: RoundTripFile,
    desired: Mapping[CustomerKey, DesiredCustomer],
    live: Mapping[CustomerKey, LiveCustomer],
) -> FileEdit:
    """Rewrite the fields of ``manifest``'s customers whose live values differ (in place).

    ``desired`` holds the loaded customers (defaults merged) by key, ``live`` the live
    customers read for them. Customers missing live are left as they are (and noted).
    ``FileEdit.after`` is left for the caller to fill once every edit is made.
    """
    edit = FileEdit(display, manifest.original)
    # The loader reads YAML 1.1 and ruamel.yaml 1.2: an unquoted id such as 1e3 or 0o17 is
    # text to one and a number to the other. Where a customer starts identifies it for both.
    by_position = {
        (c.source.line, c.source.column): c for c in desired.values() if c.source.file == display
    }
    for document in manifest.documents:
        for key, customer, defaults in _customers(document):
            declared = by_position.get(_position(customer)) or desired.get(key)
            if declared is None:
                continue
            key = declared.key
            found = live.get(key)
            if found is None:
                edit.notes.append(f"{display}: {'/'.join(key)}: not found live; left as declared")
                continue
            model = MODELS[key[0]]
            for name in declared.fields:
                if name in declared.lifecycle.ignore_changes:
                    continue
                if _adopt_field(model, name, declared, found, customer, defaults, edit):
                    edit.adopted.append(Adoption(key, name))
    return edit


def add_customers(manifest: RoundTripFile, documents: Sequence[ManifestDocument]) -> list[str]:
    """Append the customers of ``documents`` to ``manifest``; returns their ids.

    Each goes into a document of its provider and environment whose ``defaults`` would not
    change what it declares, else into a new document: merged under a customer that leaves a
    field out (its live value is null, or was not read), a default would declare a value the
    customer does not have live, and ``plan`` would set it.
    """
    added: list[str] = []
    for document in documents:
        if not document.customers:
            continue
        model = MODELS[document.provider]
        # Each customer declaring what its document's defaults gave it, in the schema's order.
        declared = [single.customers[0] for single in document.split()]
        target = next(
            (
                existing
                for existing in manifest.documents
                if isinstance(existing, CommentedMap)
                and _place(existing) == (document.provider, document.environment)
                and not _defaults_add_to(model, existing.get("defaults"), declared)
            ),
            None,
        )
        if target is None:
            manifest.documents.append(to_yaml(document.as_dict()))
        else:
            customers = target.get("customers")
            if not isinstance(customers, CommentedSeq) or not customers:
                customers = CommentedSeq()  # also turns an empty flow list into a block list
                target["customers"] = customers
            for customer in declared:
                customers.append(to_yaml(customer))
        added.extend(str(customer[model.id_field]) for customer in document.customers)
    return added


def _defaults_add_to(
    model: ProviderModel, defaults: Any, customers: Sequence[Mapping[str, Any]]
) -> bool:
    """Whether ``defaults`` merged under one of ``customers`` would declare a field (or a
    metadata key) that the customer does not declare itself. ``lifecycle`` is a rule, not a
    live value: it declares nothing ``plan`` compares."""
    if not isinstance(defaults, Mapping):
        return False
    for name, value in defaults.items():
        if name not in model.fields:
            continue
        for customer in customers:
            if name not in customer:
                return True
            own = customer[name]
            metadata = model.fields[name].kind is FieldKind.METADATA and isinstance(value, Mapping)
            if metadata and (not isinstance(own, Mapping) or any(key not in own for key in value)):
                return True
    return False


def places(manifest: RoundTripFile) -> list[tuple[str, str]]:
    """``(provider, environment)`` of each document of ``manifest``."""
    return [_place(d) for d in manifest.documents if isinstance(d, CommentedMap)]


# -- reading the documents ---------------------------------------------------------------------


def _place(document: Mapping[str, Any]) -> tuple[str, str]:
    provider = str(document.get("provider") or default_provider())
    model = MODELS[provider]
    return provider, str(document.get("environment") or model.default_environment)


def _position(node: CommentedMap) -> tuple[int, int]:
    """Where ``node`` starts in the file, 1-based, as the manifest loader counts."""
    return node.lc.line + 1, node.lc.col + 1


def _customers(document: Any) -> Iterator[tuple[CustomerKey, CommentedMap, Mapping[str, Any]]]:
    if not isinstance(document, CommentedMap):
        return
    provider, environment = _place(document)
    model = MODELS[provider]
    defaults = document.get("defaults")
    for customer in document.get("customers") or ():
        if isinstance(customer, CommentedMap) and model.id_field in customer:
            key = (provider, environment, str(customer[model.id_field]))
            yield key, customer, defaults if isinstance(defaults, Mapping) else {}


# -- adopting one field ------------------------------------------------------------------------


def _adopt_field(
    model: ProviderModel,
    name: str,
    declared: DesiredCustomer,
    found: LiveCustomer,
    customer: CommentedMap,
    defaults: Mapping[str, Any],
    edit: FileEdit,
) -> bool:
    """Rewrite ``name`` on ``customer`` if a plan would change it; True when it did."""
    spec = model.fields[name]
    where = f"{edit.display}: {'/'.join(found.key)}: {name}"
    live_value = found.get(name)
    if live_value is UNKNOWN:
        edit.notes.append(f"{where}: the API did not return it; left as declared")
        return False
    wanted = normalize(spec, declared.fields[name])
    current = normalize(spec, live_value)
    if diff_field(model, spec, wanted, current) is None:
        return False
    order = schema_keys(f"{model.name}Customer")
    try:
        if spec.kind is FieldKind.METADATA and isinstance(live_value, Mapping):
            unquoted = [key for key in _keys(customer, defaults, name) if not isinstance(key, str)]
            if unquoted:
                edit.notes.append(
                    f"{where}: a key is text to the manifest loader (YAML 1.1) but "
                    f"{unquoted[0]!r} to the editor of --update (YAML 1.2); quote the keys so "
                    "that this metadata can be adopted; left"
                )
                return False
            kept: dict[str, str] = {}
            changed = _adopt_metadata(
                model, declared.fields[name], live_value, customer, defaults, kept
            )
            for key, reason in kept.items():
                edit.notes.append(f"{where}.{key}: {reason}")
            return changed
        if spec.kind is FieldKind.KEYED_LISTS and isinstance(live_value, Mapping):
            return _adopt_billing(model, spec, declared.fields[name], live_value, customer)
        if live_value is None and not spec.nullable:
            edit.notes.append(f"{where}: live is empty, which no manifest can declare; left")
            return False
        insert_in_order(customer, name, to_yaml(manifest_value(spec, live_value)), order)
    except Unrepresentable as exc:
        edit.notes.append(f"{where}: the live value cannot be declared ({exc}); left")
        return False
    return True


def _keys(customer: CommentedMap, defaults: Mapping[str, Any], name: str) -> list[Any]:
    """The keys of the mappings under ``name`` on the customer and in ``defaults``, as read."""
    return [
        key
        for owner in (customer, defaults)
        if isinstance(owner.get(name), Mapping)
        for key in owner[name]
    ]


def _unshared(customer: CommentedMap, name: str) -> Any:
    """``customer[name]``, made the customer's own copy first when it carries a YAML anchor:
    an alias elsewhere (another customer, ``defaults``) is the same node, which an edit made
    for this customer must not change."""
    node = customer.get(name)
    if isinstance(node, CommentedMap | CommentedSeq) and node.anchor.value is not None:
        node = copy.deepcopy(node)
        node.anchor.value = None
        customer[name] = node
    return node


def _own_map(customer: CommentedMap, name: str, order: Sequence[str]) -> CommentedMap:
    """The customer's own mapping under ``name``, created (block style) when absent."""
    own = _unshared(customer, name)
    if not isinstance(own, CommentedMap):
        own = CommentedMap()
        insert_in_order(customer, name, own, order)
    return own


def _adopt_metadata(
    model: ProviderModel,
    declared: Mapping[str, Any],
    live: Mapping[str, Any],
    customer: CommentedMap,
    defaults: Mapping[str, Any],
    kept: dict[str, str],
) -> bool:
    """Adopt live metadata keys; ``kept`` receives keys that had to stay, and why.

    A live key whose value no manifest can declare (nested, a number the loader would read as
    another) is never taken for one absent live: where metadata is the whole truth, the field
    is left as it is (``Unrepresentable``); elsewhere a declared key with such a value is left
    and noted.
    """
    spec = model.fields["metadata"]
    order = schema_keys(f"{model.name}Customer")
    labels = metadata(live)
    refused = undeclarable_metadata(live)
    if refused and model.metadata_authoritative:
        raise Unrepresentable(f"the values under {', '.join(refused)} cannot be declared")
    inherited = defaults.get("metadata")
    inherited_keys = set(inherited) if isinstance(inherited, Mapping) else set()
    own = customer.get("metadata")
    own_keys = set(own) if isinstance(own, Mapping) else set()
    if model.metadata_authoritative:
        # The whole truth: null means "absent", and live keys not declared are adopted too.
        effective = {key: value for key, value in declared.items() if value is not None}
        keys = set(effective) | set(labels)
    else:
        effective = dict(declared)
        keys = set(effective)
    changed = False
    for key in sorted(keys):
        if key in refused:
            kept[key] = f"the live value cannot be declared ({refused[key]}); left"
            continue
        if key in labels:
            same_value = key in effective and same(
                normalize(spec, {key: effective[key]}), normalize(spec, {key: labels[key]})
            )
            if same_value:
                continue
            _own_map(customer, "metadata", order)[safe_text(key)] = to_yaml(labels[key])
        elif key in own_keys and key not in inherited_keys:
            del _unshared(customer, "metadata")[key]
        elif model.metadata_authoritative:
            _own_map(customer, "metadata", order)[safe_text(key)] = None
        else:  # declared in defaults for every customer of the file
            kept[key] = (
                "declared in defaults but absent live; a customer cannot undeclare a default "
                "key, so it is left (move it out of defaults to adopt)"
            )
            continue
        changed = True
    own = customer.get("metadata")
    if not model.metadata_authoritative and isinstance(own, Mapping) and not own:
        del customer["metadata"]
    return changed


def _adopt_billing(
    model: ProviderModel,
    spec: FieldSpec,
    declared: Mapping[str, Any],
    live: Mapping[str, Any],
    customer: CommentedMap,
) -> bool:
    current = keyed_lists(live, spec)
    own = _unshared(customer, spec.name)
    if not isinstance(own, CommentedMap):
        # Declared through defaults: the customer now declares them all, one array adopted.
        own = to_yaml(keyed_lists(declared, spec))
        insert_in_order(customer, spec.name, own, schema_keys(f"{model.name}Customer"))
    changed = False
    for array, items in declared.items():
        stored = live.get(array)
        wanted = normalize(spec, {array: items})
        found = normalize(spec, {array: [] if stored is None else stored})
        if diff_field(model, spec, wanted, found) is None:
            continue
        insert_in_order(own, array, to_yaml(current.get(array, [])), schema_keys(spec.definition))
        changed = True
    return changed
