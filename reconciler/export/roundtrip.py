"""Round-trip YAML for ``export --update``: edit manifests in place, keeping what people wrote.

ruamel.yaml's round-trip mode keeps comments, key order, flow or block style, quoting and the
spelling of untouched numbers (``400.00`` stays ``400.00``). It re-indents everything to one
configured style, though, so the style is inferred per file: the candidate under which an
unedited dump reproduces the file best wins (for the usual layouts: exactly).

Values written into a file are made safe for the manifest loader, which reads YAML 1.1: text
that YAML 1.1 would take for something else (``yes``, ``on``, ``1:30``) is quoted; numbers are
written from their ``Decimal`` digits; timestamps are double-quoted; null is ``null``.
"""

from __future__ import annotations

import difflib
import io
import itertools
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from reconciler.errors import ManifestError
from reconciler.export.values import LINE_BREAKS, Timestamp
from reconciler.problems import Problem

# (mapping, sequence, offset) indentations tried after the guess, most common first:
# (2, 4, 2) is "customers:\n  - id: x".
INDENT_CANDIDATES: Final = (
    (2, 4, 2),
    (2, 2, 0),
    *(
        (mapping, offset + dash, offset)
        for mapping in (2, 4)
        for offset in (0, 2, 4)
        for dash in (2, 4)
        if (mapping, offset + dash, offset) not in ((2, 4, 2), (2, 2, 0))
    ),
)
# Up to this size the guessed style is checked by dumping the unedited file (and other styles
# tried if it does not reproduce it); larger files trust the guess, as each dump takes a while.
VERIFIED_INFERENCE_BYTES: Final = 256 * 1024
# A key whose value is a block below it ("customers:"), possibly as a list item ("- a:").
_BLOCK_KEY: Final = re.compile(r"^(?P<indent> *)(?P<dash>(?:- +)*)[^\s#'\"-][^:#]*:\s*(?:#.*)?$")
_DASH: Final = re.compile(r"^(?P<indent> *)(?P<dash>- +)\S")
_STR_TAG: Final = "tag:yaml.org,2002:str"
# Lines before a first "---" that make no document: blank, comments, directives (%YAML).
_PREAMBLE_LINE: Final = re.compile(r"^(?:\s*(?:#.*)?|%.*)$")
_RESOLVER: Final = yaml.resolver.Resolver()


class _Representer(RoundTripRepresenter):
    """Round-trip representer that writes ``Decimal`` as a number and ``None`` as ``null``."""


def _represent_decimal(representer: RoundTripRepresenter, value: Decimal) -> Any:
    text = format(value, "f")
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return representer.represent_scalar(tag, text)


def _represent_none(representer: RoundTripRepresenter, value: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


_Representer.add_representer(Decimal, _represent_decimal)
_Representer.add_representer(type(None), _represent_none)


def _yaml(indent: tuple[int, int, int]) -> YAML:
    handler = YAML(typ="rt")
    handler.Representer = _Representer
    handler.preserve_quotes = True
    handler.width = 4096
    mapping, sequence, offset = indent
    handler.indent(mapping=mapping, sequence=sequence, offset=offset)
    return handler


class RoundTripFile:
    """The documents of one manifest file, editable in place, and the text they dump to.

    ruamel.yaml drops what is not part of a document's content: comments above a first
    ``---``, a document holding only comments (one commented out), directives. So the text
    is also kept document by document (split at its ``---`` lines), and a document that was
    not edited is written back as that text, exactly.
    """

    def __init__(self, text: str, display: str = "<manifest>") -> None:
        self.original = text
        try:
            self.documents: list[Any] = list(_yaml(INDENT_CANDIDATES[0]).load_all(text))
        except YAMLError as exc:
            raise _unreadable(display, exc) from exc
        # Loading does not depend on the indentation setting; only dumping does.
        guess = guess_indent(text)
        if len(text) <= VERIFIED_INFERENCE_BYTES:
            candidates = [guess, *(c for c in INDENT_CANDIDATES if c != guess)]
            self.indent = self._best_indent(candidates)
        else:
            self.indent = guess
        self._preamble, self._chunks = _document_texts(text, len(self.documents))
        # Each document as dumped before any edit: one that still dumps so is unedited.
        self._unedited = [self._dump_one(document) for document in self.documents]

    def _best_indent(self, candidates: Sequence[tuple[int, int, int]]) -> tuple[int, int, int]:
        """The candidate whose dump of the unedited file differs from it in the fewest lines."""
        best, fewest = candidates[0], None
        original = self.original.splitlines()
        for candidate in candidates:
            self.indent = candidate
            dumped = self._dump_all().splitlines()
            changed = sum(1 for a, b in itertools.zip_longest(original, dumped) if a != b)
            if fewest is None or changed < fewest:
                best, fewest = candidate, changed
            if changed == 0:
                break
        return best

    def dump(self) -> str:
        """The documents as text: unedited ones as the file wrote them, the others (and new
        ones) dumped in the file's own indentation style."""
        if self._chunks is None:
            return self._dump_all()
        parts = [self._preamble]
        for index, document in enumerate(self.documents):
            if index >= len(self._chunks):  # added since: a new document
                parts.append("---\n" + self._dump_one(document))
                continue
            chunk = self._chunks[index]
            if document is None or self._dump_one(document) == self._unedited[index]:
                parts.append(chunk)
            else:
                # A comment on the "---" line is in the document's dump already.
                marker = "---\n" if chunk.startswith("---") else ""
                parts.append(marker + self._dump_one(document))
        return "".join(parts)

    def _dump_one(self, document: Any) -> str:
        if document is None:
            return ""
        stream = io.StringIO()
        _yaml(self.indent).dump(document, stream)
        return stream.getvalue()

    def _dump_all(self) -> str:
        documents = [document for document in self.documents if document is not None]
        if not documents:
            return self.original
        stream = io.StringIO()
        _yaml(self.indent).dump_all(documents, stream)
        return stream.getvalue()


def _unreadable(display: str, exc: YAMLError) -> ManifestError:
    """The error for text the manifest loader read but ruamel.yaml's round trip does not (it
    is stricter in places: a tab before a comment)."""
    mark = getattr(exc, "problem_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    problem = Problem(
        display,
        line,
        column,
        f"export --update cannot edit this file: its round-trip YAML reader says: {reason}",
        "write this line the common way (e.g. spaces, not a tab, before a comment); "
        "nothing was written",
    )
    return ManifestError([problem])


def _document_texts(text: str, count: int) -> tuple[str, list[str] | None]:
    """``text`` as (comments and directives before the first ``---``, the text of each of
    ``count`` documents, from its ``---`` line on); ``None`` when the split does not give
    ``count`` documents (a ``---`` with content on its line, say)."""
    chunks = re.split(r"(?m)^(?=---[ \t]*(?:#.*)?$)", text)
    preamble = ""
    if len(chunks) > 1 and all(_PREAMBLE_LINE.match(line) for line in chunks[0].splitlines()):
        preamble = chunks.pop(0)
    if len(chunks) != count or any(not chunk.endswith("\n") for chunk in chunks[:-1]):
        return "", None
    return preamble, chunks


def guess_indent(text: str) -> tuple[int, int, int]:
    """``(mapping, sequence, offset)`` read from the first nested mapping and list in ``text``.

    ``offset`` is how far a list's dash sits right of its key, ``sequence`` how far the item's
    content does; ``mapping`` how far a nested key sits right of its parent. Styles the text
    does not show fall back to the most common one.
    """
    mapping: int | None = None
    sequence: tuple[int, int] | None = None
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    for parent, child in itertools.pairwise(lines):
        key = _BLOCK_KEY.match(parent)
        if key is None:
            continue
        column = len(key.group("indent")) + len(key.group("dash"))
        dash = _DASH.match(child)
        if dash is not None and sequence is None:
            offset = len(dash.group("indent")) - column
            content = len(dash.group("indent")) + len(dash.group("dash")) - column
            if offset >= 0:
                sequence = (content, offset)
        elif dash is None and mapping is None:
            nested = len(child) - len(child.lstrip(" ")) - column
            if nested > 0:
                mapping = nested
        if mapping is not None and sequence is not None:
            break
    default = INDENT_CANDIDATES[0]
    content, offset = sequence if sequence is not None else (default[1], default[2])
    return (mapping or default[0], content, offset)


def to_yaml(value: Any) -> Any:
    """Plain export data as round-trip nodes: maps and lists in block style, text made safe."""
    if isinstance(value, Timestamp):
        return DoubleQuotedScalarString(str(value))
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, Mapping):
        node = CommentedMap()
        for key, item in value.items():
            node[safe_text(str(key))] = to_yaml(item)
        return node
    if isinstance(value, list | tuple):
        return CommentedSeq([to_yaml(item) for item in value])
    return value


def safe_text(text: str) -> str:
    """``text``, double-quoted when YAML 1.1 would read it plain as anything but a string, or
    when it holds a line break other than ``\n``/``\r`` (written raw, it folds into a space)."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if tag != _STR_TAG or LINE_BREAKS.intersection(text):
        quoted: str = DoubleQuotedScalarString(text)
        return quoted
    return text


def insert_in_order(mapping: CommentedMap, key: str, value: Any, order: Sequence[str]) -> None:
    """Set ``mapping[key]``; a new key goes after the keys that precede it in ``order``."""
    if key in mapping:
        mapping[key] = value
        return
    rank = {name: index for index, name in enumerate(order)}
    mine = rank.get(key, len(order))
    position = 0
    for index, existing in enumerate(mapping):
        if rank.get(str(existing), len(order)) <= mine:
            position = index + 1
    mapping.insert(position, key, value)


def unified_diff(path: str, before: str, after: str, *, new_file: bool = False) -> str:
    """``before`` -> ``after`` as a unified diff with git-style ``a/``/``b/`` names."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile="/dev/null" if new_file else f"a/{path}",
        tofile=f"b/{path}",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
