"""Values built from libyaml's events agree with the node builder on every document, and
anything the node builder has something to say about is left to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from manifest_strategies import JSON_LIKE, NON_EMPTY_TEXT, manifest_documents, near_valid_documents
from yaml.nodes import MappingNode, Node, SequenceNode

from reconciler.manifests import load_manifests, yamlfile
from reconciler.manifests.yamlfile import YamlFile, parse_yaml, parse_yaml_nodes, position

MANY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters that turn a dumped document into one with anchors, aliases, tags, merge keys,
# flow collections, comments, quotes, YAML 1.1 spellings and syntax errors.
JUNK = st.text(alphabet="-:[]{}&*!|>'\"#%@` \t\n?,x1o0_<=.~yYnN", max_size=6)


def typed(value: Any) -> Any:
    """``value`` with every scalar's type spelled out (1, 1.0 and True compare equal)."""
    if isinstance(value, dict):
        return ("dict", [(key, typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    return (type(value).__name__, value)


def broken_at(root: Node, broken: frozenset[int]) -> list[tuple[int, int]]:
    """Where the nodes are whose value could not be built (their ids differ from tree to tree)."""
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        if id(node) in broken:
            found.append(position(node))
        if isinstance(node, MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return sorted(found)


def summary(parsed: YamlFile) -> tuple[Any, ...]:
    """What a reader of ``parse_yaml`` can see: values, item positions, problems."""
    documents = []
    for document in parsed.documents:
        value = document.value
        keys = [*value, "customers", "missing"] if isinstance(value, dict) else ["customers"]
        positions = {key: document.item_positions(key) for key in keys}
        documents.append((typed(value), positions, broken_at(document.node, document.broken)))
    return parsed.path, parsed.data, documents, parsed.problems


def assert_same(data: bytes) -> None:
    fast = parse_yaml(data, "m.yaml")
    careful = parse_yaml_nodes(data, "m.yaml")
    assert summary(fast) == summary(careful)
    for ours, theirs in zip(fast.documents, careful.documents, strict=True):
        # The lazily composed tree is the one the careful reading composes.
        assert yaml.serialize(ours.node) == yaml.serialize(theirs.node)


def dumped(document: Any, flow_style: bool | None, allow_unicode: bool) -> str:
    return yaml.safe_dump(
        document, default_flow_style=flow_style, allow_unicode=allow_unicode, sort_keys=False
    )


@MANY
@given(
    JSON_LIKE | near_valid_documents() | manifest_documents(NON_EMPTY_TEXT),
    st.sampled_from([False, True, None]),
    st.booleans(),
    st.data(),
)
def test_event_builder_agrees_with_the_node_builder(
    document: Any, flow_style: bool | None, allow_unicode: bool, data: st.DataObject
) -> None:
    """On generated documents, with or without junk edits, both builders give the same file."""
    text = dumped(document, flow_style, allow_unicode)
    for _ in range(data.draw(st.integers(0, 3))):
        position = data.draw(st.integers(0, len(text)))
        text = text[:position] + data.draw(JUNK) + text[position:]
    if data.draw(st.booleans()):
        text = text + "---\n" + dumped(data.draw(JSON_LIKE), flow_style, allow_unicode)
    assert_same(text.encode("utf-8"))


UNUSUAL = [
    "a: &x 1\nb: *x\n",
    "a: &x [1]\n",
    "a: !!str 1\n",
    "a: !custom 1\n",
    "? [1]\n: x\n",
    "!!map {a: 1}\n",
    "a: !!python/object:os.system x\n",
    "<<: {a: 1}\n",
    "a: <<\n",
    "a: 1\na: 2\n",
    "a: yes\n",
    "a: Off\n",
    "a: 0x1F\n",
    "a: 1:30\n",
    "a: 0700\n",
    "a: 1_000\n",
    "a: .nan\n",
    "a: -.inf\n",
    "a: 1.0e+999\n",
    "a: " + "9" * 5000 + "\n",
    "a: [" * 70 + "]" * 70 + "\n",
    "a: 'unclosed\n",
    "a:\n\t- b\n",
    "a: b: c\n",
    "ok: 1\n---\nbad: [\n",
]


@pytest.mark.parametrize("text", UNUSUAL)
def test_anything_worth_a_word_is_left_to_the_node_builder(text: str) -> None:
    """Aliases, tags, merge keys, duplicates, YAML 1.1 forms, non-finite or huge numbers,
    deep nesting and syntax errors are read the careful way, with its exact problems."""
    data = text.encode("utf-8")
    assert yamlfile._built_from_events(data) is None
    assert_same(data)


@pytest.mark.parametrize(
    "text",
    [
        "a: ~\nb: true\nc: -7\nd: 19.99\ne: '250'\nf: 2026-11-01\ng: =\nh: 1e3\ni: FALSE\n",
        "customers:\n  - id: a\n  -   id: b\n  - [x]\n  - plain\nother: [1, 2]\n",
        "",
        "---\n...\n---\n- 1\n",
        "k: |\n  block\n  text\n",
        "'<<': quoted merge is a key\n",
    ],
)
def test_ordinary_files_are_built_from_events(text: str) -> None:
    """Plain data of every kind is built from the events, the same as the node builder."""
    data = text.encode("utf-8")
    assert yamlfile._built_from_events(data) is not None
    assert_same(data)


def test_valid_manifests_are_never_composed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading valid manifests builds no node tree at all; only a problem needs positions."""
    (tmp_path / "a.yaml").write_text(
        "provider: respan\ncustomers:\n  - customer_identifier: a\n    period_budget: 10\n"
        "  - customer_identifier: b\n    lifecycle: {ignore_changes: [name]}\n",
        encoding="utf-8",
    )

    def refuse(data: bytes) -> None:
        raise AssertionError("a valid file was composed")

    monkeypatch.setattr(yamlfile, "_compose", refuse)
    loaded = load_manifests([tmp_path])
    assert [(c.id, c.source.line, c.source.column) for c in loaded.customers] == [
        ("a", 3, 5),
        ("b", 5, 5),
    ]
