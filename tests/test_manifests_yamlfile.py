"""Safe YAML reading with positions: scalars, duplicates, tags, aliases, bounds, syntax errors."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.manifests import yamlfile
from reconciler.manifests.yamlfile import locate, parse_yaml, position, read_yaml_file


def parsed_value(text: str) -> object:
    result = parse_yaml(text.encode("utf-8"), "m.yaml")
    assert [p for p in result.problems if p.severity == "error"] == []
    (document,) = result.documents
    return document.value


def messages(text: str | bytes) -> list[tuple[int, int, str]]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return [(p.line, p.column, p.message) for p in parse_yaml(data, "m.yaml").problems]


def test_scalars_become_json_like_values() -> None:
    """Only null/bool/int/float scalars become non-strings; everything else stays text."""
    value = parsed_value(
        "a: ~\nb: true\nc: -7\nd: 1000\ne: 19.99\nf: '250'\ng: 2026-11-01\n"
        "h: 2026-11-01T00:00:00Z\ni: =\nj: !!str 12\nk: 1e3\n"
    )
    assert value == {
        "a": None,
        "b": True,
        "c": -7,
        "d": 1000,
        "e": 19.99,
        "f": "250",
        "g": "2026-11-01",
        "h": "2026-11-01T00:00:00Z",
        "i": "=",
        "j": "12",
        "k": "1e3",
    }


@pytest.mark.parametrize(
    ("text", "form", "hint"),
    [
        ("1:30", "a sexagesimal (base 60) number that YAML 1.1 reads as 90", "number (90)"),
        ("0700", "an octal number (leading zero) that YAML 1.1 reads as 448", "leading zeros"),
        ("-0700", "an octal number (leading zero) that YAML 1.1 reads as -448", "leading zeros"),
        ("00", "an octal number (leading zero)", "leading zeros"),
        ("0x1F", "a hexadecimal number that YAML 1.1 reads as 31", "number (31)"),
        ("0b101", "a binary number that YAML 1.1 reads as 5", "number (5)"),
        ("1_000", "a number with '_' separators that YAML 1.1 reads as 1000", "number (1000)"),
        ("1_000.5", "a number with '_' separators that YAML 1.1 reads as 1000.5", "(1000.5)"),
        ("1:30.5", "a sexagesimal (base 60) number that YAML 1.1 reads as 90.5", "(90.5)"),
    ],
)
def test_yaml11_only_number_forms_are_refused_with_their_position(
    text: str, form: str, hint: str
) -> None:
    """Number forms only YAML 1.1 reads as numbers are errors at file:line:column: quote it."""
    result = parse_yaml(f"customers:\n  - period_budget: {text}\n".encode(), "m.yaml")
    (problem,) = result.problems
    assert (problem.path, problem.line, problem.column) == ("m.yaml", 2, 20)
    assert problem.severity == "error"
    assert problem.message.startswith(f"'{text}' is {form}")
    assert problem.hint.startswith(f'quote it ("{text}") if it is text, or write ')
    assert hint in problem.hint
    assert result.documents[0].value == {"customers": [{"period_budget": None}]}


def test_quoted_yaml11_number_forms_stay_text() -> None:
    """Quoting a YAML 1.1 number form makes it the text it looks like."""
    assert parsed_value("a: '1:30'\nb: \"0700\"\nc: '0x1F'\n") == {
        "a": "1:30",
        "b": "0700",
        "c": "0x1F",
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250", 250),
        ("-0", 0),
        ("+5", 5),
        ("0", 0),
        ("250.50", 250.5),
        ("007.5", 7.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("1.5e+3", 1500.0),
        ("-2.5E-2", -0.025),
    ],
)
def test_numbers_both_yaml_versions_agree_on_stay_accepted(text: str, value: object) -> None:
    """Plain integers, decimals and exponent forms valid in YAML 1.2 are read as numbers."""
    assert parsed_value(f"a: {text}\n") == {"a": value}


def test_integer_too_long_to_read_is_a_problem_not_a_crash() -> None:
    """An integer beyond Python's digit limit for reading is a positioned error."""
    assert messages(f"a: {'1' * 5000}\n") == [(1, 4, "a number with 5,000 digits is too long")]


def test_keys_are_the_text_as_written() -> None:
    """Mapping keys keep their text (metadata '2024: x' has the key '2024', not 2024)."""
    assert parsed_value("2024: x\ntrue: y\nnull: z\n") == {"2024": "x", "true": "y", "null": "z"}


def test_yaml11_booleans_warn() -> None:
    """A plain yes/no/on/off is read as a boolean, with a warning to quote it."""
    result = parse_yaml(b"region: NO\nquoted: 'no'\n", "m.yaml")
    assert result.documents[0].value == {"region": False, "quoted": "no"}
    (warning,) = result.problems
    assert (warning.line, warning.column, warning.severity) == (1, 9, "warning")
    assert warning.message == "'NO' is read as false (a YAML 1.1 boolean)"


def test_duplicate_keys_name_both_lines() -> None:
    """A duplicate key is an error at the second occurrence naming the first line."""
    assert messages("a: 1\nb: 2\na: 3\n") == [(3, 1, "duplicate key 'a' (first defined on line 1)")]


def test_several_documents_and_empty_ones() -> None:
    """Every '---' document is read; an empty document is kept as None."""
    result = parse_yaml(b"a: 1\n---\n---\nb: 2\n", "m.yaml")
    assert [d.value for d in result.documents] == [{"a": 1}, None, {"b": 2}]


def test_syntax_error_keeps_earlier_documents() -> None:
    """A syntax error in one document still reports and keeps the documents before it."""
    result = parse_yaml(b"a: 1\n---\nb: [1\n", "m.yaml")
    assert [d.value for d in result.documents] == [{"a": 1}]
    assert len(result.problems) == 1


def test_aliases_within_bounds_are_expanded() -> None:
    """Ordinary anchors and aliases work and share nothing unexpected."""
    value = parsed_value("x: &m {tier: gold}\ny: *m\nz: [*m, *m]\n")
    assert value == {"x": {"tier": "gold"}, "y": {"tier": "gold"}, "z": [{"tier": "gold"}] * 2}


def test_billion_laughs_fails_fast_without_memory_blowup() -> None:
    """Exponential alias expansion is refused before it is built, using little memory."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 10) + "]")
    tracemalloc.start()
    try:
        found = messages("\n".join(lines) + "\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(found) == 1
    assert "beyond the limit of 100,000 values" in found[0][2]
    assert peak < 20 * 1024 * 1024


def test_deep_flow_nesting_is_refused_without_crashing() -> None:
    """100,000 nested brackets are one positioned problem on line 1, whoever words it.

    PyYAML 6.0.4's libyaml refuses the nesting itself; the behaviour pinned is the user's: one
    problem, on the right line, nothing composed.
    """
    data = b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n"
    result = parse_yaml(data, "m.yaml")
    assert [(p.path, p.line) for p in result.problems] == [("m.yaml", 1)]
    assert 3 < result.problems[0].column <= 3 + 1_000
    assert result.documents == ()


def test_deep_block_nesting_is_refused() -> None:
    """Deep nesting by indentation is refused like deep brackets."""
    text = "".join(" " * depth + f"k{depth}:\n" for depth in range(200)) + " " * 200 + "v\n"
    assert messages(text)[0][2] == "mappings and lists are nested more than 64 levels deep"


def test_file_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file larger than MAX_FILE_BYTES is refused before parsing."""
    monkeypatch.setattr(yamlfile, "MAX_FILE_BYTES", 1024)
    path = tmp_path / "big.yaml"
    path.write_text("customers: []\n" + "#" * 2000 + "\n", encoding="utf-8")
    result = read_yaml_file(path, "big.yaml")
    assert [(p.line, p.message) for p in result.problems] == [
        (1, "file is larger than 1,024 bytes")
    ]
    assert result.documents == ()
    assert yamlfile._size_text(10 * 1024 * 1024) == "10 MiB"


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    """A path that cannot be read becomes a problem, not an exception."""
    result = read_yaml_file(tmp_path / "missing.yaml", "missing.yaml")
    assert result.problems[0].message.startswith("cannot read file")


def test_control_characters_are_reported() -> None:
    """A control character is reported at its position with advice."""
    assert messages(b"a: b\x07c\n")[0][:2] == (1, 5)


def test_locate_finds_keys_values_and_items() -> None:
    """locate walks mappings and lists and can return the key node itself."""
    result = parse_yaml(b"customers:\n  - id: x\n    tags: [a, b]\n", "m.yaml")
    root = result.documents[0].node
    assert position(locate(root, ["customers", 0, "tags", 1])) == (3, 15)
    assert position(locate(root, ["customers", 0, "tags"], key=True)) == (3, 5)
    assert position(locate(root, ["customers", 0, "nope"])) == (2, 5)


PLAIN_SCALAR = st.text(
    alphabet=st.sampled_from("0123456789abcdefxyn+-._:eEoOTtrufalsYNL~=<"), min_size=1, max_size=12
)


@settings(deadline=None)
@given(PLAIN_SCALAR)
def test_lean_resolver_matches_pyyaml(text: str) -> None:
    """The lean resolver tags every plain scalar exactly as PyYAML's own resolver does."""
    source = f"k: {text}\n"
    try:
        expected = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return
    ours = yaml.compose(source, Loader=yamlfile._Loader)
    assert expected is not None
    assert ours is not None
    assert ours.value[0][1].tag == expected.value[0][1].tag
