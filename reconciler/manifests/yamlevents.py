"""Plain values straight from libyaml's event stream, for files with nothing unusual in them.

Composing a node tree and then walking it costs a Python object per value and a second pass;
most manifests need neither, since positions are wanted only for problems. This builder reads
the parser's events once and builds the values directly, recording one position per item of
each top-level list (where a customer is written). It accepts only what it can build exactly
as ``yamlfile``'s node builder would without a word to say: plain mappings, lists and
scalars, with no anchor, alias, tag, merge key, duplicate key, YAML 1.1-only number or
boolean spelling, non-finite number, or nesting near ``MAX_DEPTH``. For anything else, and
for any syntax error, it gives up (``Unusual``) and the file is read again the careful way,
which finds and words the problems; so it never decides what is wrong, only that nothing is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from yaml.error import YAMLError
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

ItemPositions = dict[str, list[tuple[int, int]]]
"""Top-level key -> the 1-based (line, column) of each item of the list it holds."""


def top_level_item_positions(next_event: Callable[[], Event]) -> list[ItemPositions]:
    """Per document, where each item of each top-level list is written, an alias (``*name``)
    at the alias: a composed node tree knows only where the anchored value is. Stops at a
    syntax error, with what was read until then."""
    documents: list[ItemPositions] = []
    positions: ItemPositions = {}
    # Open mappings and lists: (is a mapping, events seen in it, the list's top-level key).
    stack: list[list[Any]] = []
    key = ""
    try:
        while True:
            event: Any = next_event()
            kind = event.__class__
            if kind is StreamEndEvent:
                return documents
            if kind is DocumentStartEvent:
                positions, stack = {}, []
            elif kind is DocumentEndEvent:
                documents.append(positions)
            elif kind in (MappingEndEvent, SequenceEndEvent):
                stack.pop()
            elif kind in (ScalarEvent, AliasEvent, MappingStartEvent, SequenceStartEvent):
                parent = stack[-1] if stack else None
                if parent is not None:
                    is_mapping, seen, list_key = parent
                    parent[1] = seen + 1
                    if is_mapping and len(stack) == 1 and seen % 2 == 0:
                        key = event.value if kind is ScalarEvent else ""
                    if not is_mapping and len(stack) == 2 and list_key:
                        mark = event.start_mark
                        positions.setdefault(list_key, []).append((mark.line + 1, mark.column + 1))
                if kind is MappingStartEvent:
                    stack.append([True, 0, ""])
                elif kind is SequenceStartEvent:
                    # A value of the root mapping: counted, its count is even again.
                    at_top = len(stack) == 1 and stack[0][0] and stack[0][1] % 2 == 0
                    stack.append([False, 0, key if at_top else ""])
    except YAMLError:  # a syntax error: its problem is worded where the file is composed
        return documents


class Unusual(Exception):
    """The file needs the careful node builder (it has something to check or to word)."""


ImplicitTags = Mapping[str, Sequence[tuple[str, re.Pattern[str]]]]
"""A plain scalar's first character -> the (tag, pattern) pairs to try, in order."""

PlainTag = Callable[[str], str]
"""The tag the node builder's resolver gives an untagged plain scalar."""


class EventBuilder:
    """Builds every document of one parser's stream; ``plain_tag`` resolves plain scalars as
    the node builder's loader does (``implicit``, its table, tells at the first character
    which ones could be anything but text), ``max_depth`` is the nesting it would refuse."""

    def __init__(
        self,
        next_event: Callable[[], Event],
        implicit: ImplicitTags,
        plain_tag: PlainTag,
        *,
        max_depth: int,
        plain_int: re.Pattern[str],
        plain_float: re.Pattern[str],
    ) -> None:
        self._next = next_event
        self._implicit = implicit
        self._plain_tag = plain_tag
        # Well inside the node builder's bound, so that its exact wording is never needed here.
        self._max_depth = max_depth - 2
        self._plain_int = plain_int
        self._plain_float = plain_float

    def documents(self) -> list[tuple[Any, ItemPositions]]:
        """Each document's value and the positions of its top-level lists' items."""
        if self._next().__class__ is not StreamStartEvent:  # pragma: no cover - libyaml's order
            raise Unusual
        documents: list[tuple[Any, ItemPositions]] = []
        while True:
            event = self._next()
            if event.__class__ is StreamEndEvent:
                return documents
            if event.__class__ is not DocumentStartEvent:  # pragma: no cover - libyaml's order
                raise Unusual
            positions: ItemPositions = {}
            root = self._next()
            if root.__class__ is MappingStartEvent:
                value: Any = self._mapping(root, 0, positions)
            else:
                value = self._value(root, 0)
            if self._next().__class__ is not DocumentEndEvent:  # pragma: no cover
                raise Unusual
            documents.append((value, positions))

    def _value(self, event: Event, depth: int) -> Any:
        kind = event.__class__
        if kind is ScalarEvent:
            return self._scalar(event)
        if kind is MappingStartEvent:
            return self._mapping(event, depth, None)
        if kind is SequenceStartEvent:
            return self._sequence(event, depth, None)
        raise Unusual  # an alias

    def _scalar(self, event: Any) -> Any:
        if event.anchor is not None or event.tag is not None:
            raise Unusual
        text: str = event.value
        if not event.implicit[0]:
            return text  # quoted or a block scalar: text, as the resolver would say
        tag = self._plain_tag(text)
        if tag in _AS_TEXT:
            return text
        if tag == _INT and self._plain_int.fullmatch(text) and len(text) < _LONGEST_INT:
            return int(text)
        if tag == _FLOAT and self._plain_float.fullmatch(text):
            number = float(text)
            if math.isfinite(number):
                return number
        if tag == _NULL:
            return None
        if tag == _BOOL and text.lower() in _BOOLEANS:
            return _BOOLEANS[text.lower()]
        raise Unusual

    def _mapping(self, event: Any, depth: int, positions: ItemPositions | None) -> dict[str, Any]:
        if event.anchor is not None or event.tag is not None or depth >= self._max_depth:
            raise Unusual
        result: dict[str, Any] = {}
        next_event, implicit = self._next, self._implicit
        while True:
            key_event: Any = next_event()
            if key_event.__class__ is MappingEndEvent:
                return result
            if (
                key_event.__class__ is not ScalarEvent
                or key_event.anchor is not None
                or key_event.tag is not None
            ):
                raise Unusual
            key: str = key_event.value
            if key in result or (key == "<<" and key_event.implicit[0]):
                raise Unusual  # a duplicate or a merge key: the node builder words it
            value_event: Any = next_event()
            kind = value_event.__class__
            if kind is ScalarEvent:
                text = value_event.value
                if (
                    text[:1] not in implicit
                    and value_event.tag is None
                    and value_event.anchor is None
                ):
                    result[key] = text  # no tag could apply: text (most values, e.g. names)
                else:
                    result[key] = self._scalar(value_event)
            elif kind is SequenceStartEvent and positions is not None:
                items = positions[key] = []
                result[key] = self._sequence(value_event, depth + 1, items)
            else:
                result[key] = self._value(value_event, depth + 1)

    def _sequence(
        self, event: Any, depth: int, positions: list[tuple[int, int]] | None
    ) -> list[Any]:
        if event.anchor is not None or event.tag is not None or depth >= self._max_depth:
            raise Unusual
        result: list[Any] = []
        next_event = self._next
        while True:
            item: Any = next_event()
            if item.__class__ is SequenceEndEvent:
                return result
            if positions is not None:
                mark = item.start_mark
                positions.append((mark.line + 1, mark.column + 1))
            result.append(self._value(item, depth + 1))


_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_INT = _TAG + "int"
_FLOAT = _TAG + "float"
_NULL = _TAG + "null"
_BOOL = _TAG + "bool"
_TIMESTAMP = _TAG + "timestamp"
_VALUE = _TAG + "value"
_AS_TEXT = frozenset({_STR, _TIMESTAMP, _VALUE})  # dates stay the text as written
# Only the spellings YAML 1.2 agrees on: yes/no/on/off earn the node builder's warning.
_BOOLEANS = {"true": True, "false": False}
# Far below Python's 4,300-digit limit for reading integers (the node builder words that).
_LONGEST_INT = 4000
