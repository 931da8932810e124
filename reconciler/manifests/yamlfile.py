"""Safe YAML reading that keeps every node's position, for manifests and ``reconciler.yaml``.

A file is first built straight from libyaml's events (``yamlevents``), which is a third
cheaper; the node tree is then composed only if a later check needs a position. Whenever that
builder meets anything the rules below have a word for, the file is read the careful way:
libyaml's C parser (``yaml.CSafeLoader``, falling back to the pure-Python ``SafeLoader``)
*composes* the node tree, which carries line and column marks, and values are constructed here
from that tree, so that:

- a duplicate mapping key is an error naming both lines (PyYAML silently keeps the last one);
- YAML timestamps stay the original strings (no implicit ``datetime``), and only
  null/bool/int/float scalars become non-strings;
- NaN and infinities are errors (money must be finite);
- numbers in forms only YAML 1.1 knows (``1:30`` sexagesimal, ``0700`` octal, ``0x1F``,
  ``0b101``, ``1_000``) are errors asking to quote them or write the plain decimal: YAML 1.1
  tools read ``1:30`` as 90 and ``0700`` as 448, YAML 1.2 ones as text or 700, and a budget
  must not depend on which tool reads the file;
- only plain data is accepted: any other tag (``!!python/object``, ``!!binary``, ``!custom``) is
  an error, never constructed;
- input size, nesting depth and alias expansion are bounded, so a hostile file ("billion
  laughs") fails fast with a clear message instead of eating memory.

Nothing here raises on bad input: problems come back as ``Problem`` values, each positioned.
``locate`` finds the node at a JSON path again when a later check needs a position.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.manifests.yamlevents import (
    EventBuilder,
    ItemPositions,
    Unusual,
    top_level_item_positions,
)
from reconciler.manifests.yamlsyntax import reader_problem, syntax_problem
from reconciler.problems import Problem, Severity

MAX_FILE_BYTES = 10 * 1024 * 1024
"""Larger files are refused before parsing (split them: a directory of manifests is fine)."""

MAX_ALIAS_NODES = 100_000
"""How many values ``*alias`` references may expand to in one document, all aliases together."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted (a manifest needs fewer than ten levels)."""

# libyaml's composer recurses in C once per nesting level. PyYAML 6.0.4's libyaml refuses more
# than 1,000 levels itself ("exceeded maximum nesting depth", a syntax problem with a position),
# far below where that recursion could overflow, and the pure-Python composer's RecursionError
# is caught below; so no scan of our own runs before composing. Depths from MAX_DEPTH to 1,000
# are refused by the builder with the friendlier message.

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX only

try:
    _BaseLoader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_MAP = _TAG + "map"
_SEQ = _TAG + "seq"
_MERGE = _TAG + "merge"
_BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}
# What YAML 1.1 would make of a refused number form, to show it in the message.
_PYYAML = SafeConstructor()
# The number forms YAML 1.1 and YAML 1.2 (core schema) agree on: plain decimal integers and
# decimals with an optional exponent. Anything else the YAML 1.1 resolver tags as a number
# (sexagesimal, octal, hex, binary, digit separators) is refused.
_PLAIN_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_PLAIN_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_NON_FINITE = re.compile(r"[-+]?\.(?:inf|nan)", re.IGNORECASE)
_SHOWN_NUMBER = 40

# PyYAML's implicit resolvers (YAML 1.1 null/bool/int/float/timestamp/merge), by first character.
_IMPLICIT: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    first: tuple(resolvers)
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    if first is not None
}


def _plain_tag(value: str) -> str:
    """The tag of an untagged plain scalar: PyYAML's regular expressions, in its order."""
    for tag, regexp in _IMPLICIT.get(value[:1], ()):
        if regexp.match(value):
            return tag
    return _STR


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """The safe loader with a leaner tag resolver.

    The composer asks the resolver about every node; PyYAML's generic version (path resolvers,
    list concatenation per scalar) was a third of the whole load time. Results are identical:
    the same regular expressions, tried in the same order, and no path resolvers exist.
    """

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _plain_tag(value) if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


class NodeTree:
    """A document's composed node tree, for positions; composed only when first asked for.

    A file without problems is built from libyaml's events and never composed unless a later
    check (the schema, a customer check) needs to say where something is.
    """

    __slots__ = ("_file", "_index", "_items", "_node")

    def __init__(
        self,
        node: Node | None,
        *,
        file: _ComposedFile | None = None,
        index: int = 0,
        items: ItemPositions | None = None,
    ) -> None:
        self._node = node
        self._file = file
        self._index = index
        self._items = items

    def node(self) -> Node:
        if self._node is None:
            assert self._file is not None, "a tree is given either its node or its file"
            self._node = self._file.nodes()[self._index]
        return self._node

    def item_positions(self, key: str) -> list[tuple[int, int]]:
        """The 1-based (line, column) of each item of the top-level list ``key``."""
        if self._items is not None:
            return self._items.get(key, [])
        root = self.node()
        # Only a mapping has keys: ``locate`` would give a list root back for any key.
        items = locate(root, [key]) if isinstance(root, MappingNode) else None
        return [position(item) for item in items.value] if isinstance(items, SequenceNode) else []


class _ComposedFile:
    """A file's documents' node trees, composed once, when first asked for."""

    __slots__ = ("_data", "_nodes")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._nodes: list[Node] | None = None

    def nodes(self) -> list[Node]:
        if self._nodes is None:
            self._nodes = _compose(self._data)[0]
        return self._nodes


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One ``---`` document: its plain value and its node tree (for positions).

    ``broken`` holds the ``id()`` of nodes whose value could not be built (a Problem already
    names each); later validation ignores complaints about them instead of repeating them.
    """

    path: str
    tree: NodeTree
    value: Any
    broken: frozenset[int]

    @property
    def node(self) -> Node:
        """The document's root node (composed from the file now if it was not yet)."""
        return self.tree.node()

    def item_positions(self, key: str) -> list[tuple[int, int]]:
        """The 1-based (line, column) of each item of the top-level list ``key``."""
        return self.tree.item_positions(key)


@dataclass(frozen=True, slots=True)
class YamlFile:
    """A parsed YAML file: the raw bytes (for digests), its documents and its problems."""

    path: str
    data: bytes
    documents: tuple[YamlDocument, ...]
    problems: tuple[Problem, ...]


def position(node: Node) -> tuple[int, int]:
    """The node's 1-based line and column, as editors show them."""
    mark = node.start_mark
    return mark.line + 1, mark.column + 1


def read_yaml_file(path: Path, display: str) -> YamlFile:
    """Read and parse ``path``; ``display`` is the name problems carry (e.g. a relative path)."""
    try:
        # Non-blocking, so that a pipe named like a manifest is refused below instead of
        # waiting for a writer; reads of a regular file are not affected by the flag.
        with open(os.open(path, os.O_RDONLY | _NONBLOCK), "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                problem = Problem(
                    display,
                    1,
                    1,
                    "not a regular file (a pipe, socket or device)",
                    "manifests are regular files: name one, or move this out of the directory",
                )
                return YamlFile(display, b"", (), (problem,))
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        problem = Problem(display, 1, 1, f"cannot read file: {reason}", "check the path")
        return YamlFile(display, b"", (), (problem,))
    if len(data) > MAX_FILE_BYTES:
        problem = Problem(
            display,
            1,
            1,
            f"file is larger than {_size_text(MAX_FILE_BYTES)}",
            "split the customers into several manifest files in one directory",
        )
        return YamlFile(display, b"", (), (problem,))
    return parse_yaml(data, display)


def _size_text(size: int) -> str:
    mebibyte = 1024 * 1024
    return f"{size // mebibyte} MiB" if size % mebibyte == 0 else f"{size:,} bytes"


def parse_yaml(data: bytes, display: str) -> YamlFile:
    """Parse every document of ``data``; problems of one document never hide another's."""
    built = _built_from_events(data)
    if built is not None:
        file = _ComposedFile(data)
        documents = tuple(
            YamlDocument(display, NodeTree(None, file=file, index=index, items=items), value, _NONE)
            for index, (value, items) in enumerate(built)
        )
        return YamlFile(display, data, documents, ())
    return parse_yaml_nodes(data, display)


_NONE: frozenset[int] = frozenset()


def _built_from_events(data: bytes) -> list[tuple[Any, ItemPositions]] | None:
    """Every document's value from the event stream, or ``None``: the careful way is needed."""
    loader = _Loader(data)
    try:
        builder = EventBuilder(
            loader.get_event,
            _IMPLICIT,
            _plain_tag,
            max_depth=MAX_DEPTH,
            plain_int=_PLAIN_INT,
            plain_float=_PLAIN_FLOAT,
        )
        return builder.documents()
    except (Unusual, yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()


def _compose(data: bytes) -> tuple[list[Node], Exception | None]:
    """The node trees of ``data``'s documents, up to the first error (returned too)."""
    nodes: list[Node] = []
    loader = _Loader(data)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
    except (yaml.YAMLError, RecursionError) as exc:
        return nodes, exc
    finally:
        loader.dispose()
    return nodes, None


def parse_yaml_nodes(data: bytes, display: str) -> YamlFile:
    """``parse_yaml`` the careful way: compose every document's node tree, then build values
    from it, wording each problem at its node. What ``parse_yaml`` falls back to."""
    problems: list[Problem] = []
    documents: list[YamlDocument] = []
    nodes, error = _compose(data)
    if isinstance(error, yaml.MarkedYAMLError):
        problems.append(syntax_problem(error, data, display))
    elif isinstance(error, yaml.YAMLError):
        problems.append(reader_problem(error, data, display))
    elif error is not None:  # pragma: no cover - only the pure-Python composer recurses
        problems.append(_too_deep(display, 1, 1))
    placed = _item_positions(data)
    for index, node in enumerate(nodes):
        builder = _Builder(display)
        try:
            value = builder.build(node, 0)
        except _Abandon:
            value = None
        problems.extend(builder.problems)
        if not builder.abandoned:
            items = placed[index] if index < len(placed) else None
            tree = NodeTree(node, items=items if _agree(node, items) else None)
            documents.append(YamlDocument(display, tree, value, frozenset(builder.broken)))
    return YamlFile(display, data, tuple(documents), tuple(problems))


def _item_positions(data: bytes) -> list[ItemPositions]:
    """Where the items of each document's top-level lists are written, aliases included."""
    loader = _Loader(data)
    try:
        return top_level_item_positions(loader.get_event)
    finally:
        loader.dispose()


def _agree(root: Node, items: ItemPositions | None) -> bool:
    """Whether ``items`` has the top-level lists of ``root`` item for item (else the node
    tree's own positions are used)."""
    if items is None or not isinstance(root, MappingNode):
        return False
    return all(
        len(items.get(key_node.value, [])) == len(value_node.value)
        for key_node, value_node in root.value
        if isinstance(value_node, SequenceNode) and isinstance(key_node, ScalarNode)
    )


def locate(node: Node, path: Sequence[str | int], *, key: bool = False) -> Node:
    """The node at JSON ``path`` below ``node`` (the deepest existing one if the path ends early).

    With ``key=True`` the last step returns the mapping *key* node instead of its value, so that
    an unknown field is reported where its name is written.
    """
    last = len(path) - 1
    for index, step in enumerate(path):
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == step:
                    node = key_node if key and index == last else value_node
                    break
            else:
                return node
        elif isinstance(node, SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            return node
    return node


class _Abandon(Exception):
    """Stop building a document that cannot be built safely (a Problem says why)."""


class _Builder:
    """Constructs plain values from one document's node tree, collecting problems."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.broken: set[int] = set()
        self.abandoned = False
        # Collections already built, by node id: a second visit is an alias and reuses the value.
        self._built: dict[int, Any] = {}
        self._building: set[int] = set()
        self._alias_nodes = 0
        self._sizes: dict[int, int] = {}

    def problem(
        self, node: Node, message: str, hint: str = "", severity: Severity = "error"
    ) -> None:
        line, column = position(node)
        self.problems.append(Problem(self.path, line, column, message, hint, severity))

    def fail(self, node: Node, message: str, hint: str = "") -> None:
        self.problem(node, message, hint)
        self.broken.add(id(node))

    def abandon(self, node: Node, message: str, hint: str) -> _Abandon:
        self.problem(node, message, hint)
        self.abandoned = True
        return _Abandon()

    def build(self, node: Node, depth: int) -> Any:
        if node.__class__ is ScalarNode:
            if node.tag == _STR:
                return node.value
            return self.scalar(node)
        node_id = id(node)
        if node_id in self._built:
            self._count_alias(node)
            return self._built[node_id]
        if node_id in self._building:
            raise self.abandon(
                node,
                "an alias refers to the mapping or list that contains it",
                "recursive YAML aliases cannot be loaded; write the values out",
            )
        if depth >= MAX_DEPTH:
            line, column = position(node)
            self.problems.append(_too_deep(self.path, line, column))
            self.abandoned = True
            raise _Abandon
        self._building.add(node_id)
        if isinstance(node, MappingNode) and node.tag == _MAP:
            value: Any = self.mapping(node, depth + 1)
        elif isinstance(node, SequenceNode) and node.tag == _SEQ:
            value = [self.build(item, depth + 1) for item in node.value]
        else:
            self.fail(node, *_tag_problem(node.tag))
            value = None
        self._building.discard(node_id)
        self._built[node_id] = value
        return value

    def mapping(self, node: MappingNode, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode:
                self.fail(
                    key_node,
                    "a key must be plain text, not a mapping or list",
                    "write the key as text",
                )
                continue
            if key_node.tag == _MERGE:
                self.fail(
                    key_node,
                    "YAML merge keys ('<<') are not supported",
                    "use the file's 'defaults:' for values shared by several customers",
                )
                continue
            # Keys are the text as written, whatever it resolves to: metadata `2024: x` means
            # the key "2024", and JSON objects only have text keys anyway.
            key = key_node.value
            if key in result:
                first = _first_key_line(node, key)
                self.problem(
                    key_node,
                    f"duplicate key '{key}' (first defined on line {first})",
                    "remove one of the two; YAML keeps only one value per key",
                )
                continue
            if value_node.__class__ is ScalarNode and value_node.tag == _STR:
                result[key] = value_node.value
            else:
                result[key] = self.build(value_node, depth)
        return result

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        text = node.value
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "int":
            if not _PLAIN_INT.fullmatch(text):
                self.fail(node, *_yaml11_number_problem(node))
                return None
            try:
                return int(text)
            except ValueError:  # beyond Python's 4,300-digit limit for reading integers
                self.fail(
                    node,
                    f"a number with {len(text):,} digits is too long",
                    "amounts must be ordinary numbers such as 250 or 19.99",
                )
                return None
        if tag == _TAG + "float":
            if _NON_FINITE.fullmatch(text):
                number = math.nan
            elif _PLAIN_FLOAT.fullmatch(text):
                number = float(text)
            else:
                self.fail(node, *_yaml11_number_problem(node))
                return None
            if not math.isfinite(number):
                self.fail(
                    node,
                    f"'{text}' is not a finite number",
                    "amounts must be ordinary numbers such as 250 or 19.99",
                )
                return None
            return number
        if tag == _TAG + "bool":
            flag = _BOOLEANS.get(text.lower())
            if flag is None:  # pragma: no cover - the resolver only tags the spellings above
                return text
            if text.lower() not in ("true", "false") and not node.style:
                self.problem(
                    node,
                    f"'{text}' is read as {str(flag).lower()} (a YAML 1.1 boolean)",
                    f'write {str(flag).lower()}, or quote it ("{text}") if you meant text',
                    "warning",
                )
            return flag
        if tag == _TAG + "timestamp":
            # Dates stay the text as written; timestamps are compared as instants later.
            return text
        if tag == _TAG + "value":
            return text
        self.fail(node, *_tag_problem(tag))
        return None

    def _count_alias(self, node: Node) -> None:
        self._alias_nodes += self._size(node)
        if self._alias_nodes > MAX_ALIAS_NODES:
            raise self.abandon(
                node,
                f"aliases (*name) repeat this anchored value beyond the limit of "
                f"{MAX_ALIAS_NODES:,} values in one document",
                "aliases are bounded to stop 'billion laughs' files; write the values out, or "
                "use 'defaults:' for shared values",
            )

    def _size(self, root: Node) -> int:
        """How many values ``root`` stands for once every alias inside it is expanded."""
        stack: list[tuple[Node, bool]] = [(root, False)]
        sizes = self._sizes
        while stack:
            node, children_done = stack.pop()
            node_id = id(node)
            if node_id in sizes:
                continue
            if isinstance(node, ScalarNode):
                sizes[node_id] = 1
                continue
            children = _children(node)
            if children_done:
                sizes[node_id] = 1 + sum(sizes.get(id(child), 1) for child in children)
            else:
                stack.append((node, True))
                stack.extend((child, False) for child in children if id(child) not in sizes)
        return sizes[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _first_key_line(node: MappingNode, key: str) -> int:
    for key_node, _ in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return position(key_node)[0]
    return position(node)[0]  # pragma: no cover - the key was seen in this mapping


def _yaml11_number_problem(node: ScalarNode) -> tuple[str, str]:
    """The message and hint for a number written in a form only YAML 1.1 reads as one."""
    text = node.value
    lowered = text.lower().lstrip("+-")
    decimal_hint = "write the plain decimal number"
    if ":" in text:
        form = "a sexagesimal (base 60) number"
    elif lowered.startswith("0x"):
        form = "a hexadecimal number"
    elif lowered.startswith("0b"):
        form = "a binary number"
    elif "_" in text:
        form = "a number with '_' separators"
    else:
        form = "an octal number (leading zero)"
        decimal_hint = "write the number without leading zeros"
    shown = text if len(text) <= _SHOWN_NUMBER else text[: _SHOWN_NUMBER - 1] + "…"
    value = _yaml11_value(node) if len(text) <= _SHOWN_NUMBER else None
    read_as = f" that YAML 1.1 reads as {value}" if value is not None else ""
    if value is not None and "without leading zeros" not in decimal_hint:
        decimal_hint += f" ({value})"
    return (
        f"'{shown}' is {form}{read_as}; other YAML readers take it as text or another number",
        f'quote it ("{shown}") if it is text, or {decimal_hint}',
    )


def _yaml11_value(node: ScalarNode) -> str | None:
    try:
        if node.tag == _TAG + "int":
            return str(_PYYAML.construct_yaml_int(node))
        number = _PYYAML.construct_yaml_float(node)
    except (ValueError, ArithmeticError):
        return None
    return f"{number:g}" if math.isfinite(number) else None


def _tag_problem(tag: str) -> tuple[str, str]:
    shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
    if tag.startswith(_TAG + "python/"):
        return (
            f"unsafe YAML tag '{shown}' is not allowed",
            "manifests hold plain data only; remove the tag",
        )
    return (
        f"unsupported YAML tag '{shown}'",
        "manifests hold plain text, numbers, true/false, null, mappings and lists; remove the tag",
    )


def _too_deep(path: str, line: int, column: int) -> Problem:
    return Problem(
        path,
        line,
        column,
        f"mappings and lists are nested more than {MAX_DEPTH} levels deep",
        "a manifest needs only a few levels; check the brackets and indentation",
    )
