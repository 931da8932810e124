"""Checks beyond the schema: values taken together, and customers declared twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import ManifestError
from reconciler.manifests import check_manifests, load_manifests
from reconciler.providers import registry
from reconciler.providers.parts import FieldChecks, FieldProblem
from reconciler.providers.plugin import ProviderPlugin


def problems(tmp_path: Path, text: str, *, strict: bool = False) -> list[tuple[int, str, str]]:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    report = check_manifests([path], strict=strict)
    return [(p.line, p.severity, p.message) for p in report.problems]


def test_period_budget_above_total_budget_warns(tmp_path: Path) -> None:
    """A period budget above the total budget is a warning at period_budget."""
    text = "customers:\n  - customer_identifier: a\n    period_budget: 500\n    total_budget: 100\n"
    assert problems(tmp_path, text) == [
        (3, "warning", "'period_budget' (500) is larger than 'total_budget' (100)")
    ]


def test_defaults_take_part_in_checks(tmp_path: Path) -> None:
    """Checks see merged values: a customer's budget against the defaults' total."""
    text = (
        "defaults:\n  total_budget: 100\n"
        "customers:\n  - customer_identifier: a\n    period_budget: 500\n"
    )
    assert problems(tmp_path, text) == [
        (5, "warning", "'period_budget' (500) is larger than 'total_budget' (100)")
    ]


def test_sub_cent_amount_warns(tmp_path: Path) -> None:
    """An amount with fractions of a cent warns (amounts compare to the cent)."""
    text = "customers:\n  - customer_identifier: a\n    total_budget: 10.005\n"
    assert problems(tmp_path, text) == [
        (3, "warning", "'total_budget' (10.005) has fractions of a cent")
    ]


def test_every_providers_money_fields_are_checked_to_the_cent(tmp_path: Path) -> None:
    """Amount checks follow the model's money fields, not one provider's names: a LiteLLM
    budget with fractions of a cent warns like a Respan one."""
    text = "provider: litellm\ncustomers:\n  - user_id: a\n    max_budget: 10.005\n"
    assert problems(tmp_path, text) == [
        (4, "warning", "'max_budget' (10.005) has fractions of a cent")
    ]


def no_round_numbers(fields: Mapping[str, Any]) -> Iterator[FieldProblem]:
    """A provider's field check for the test below."""
    if fields.get("max_budget") == 100:
        yield FieldProblem("max_budget", "100 is too round", "pick another", "warning")


def test_a_providers_field_checks_are_shown_at_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ProviderPlugin.field_checks`` sees a customer's values with defaults merged in; its
    problems are shown where the field is written, with their severity."""
    checked = dataclasses.replace(
        registry.plugin("litellm"), field_checks="test_manifests_checks:no_round_numbers"
    )
    installed = {**registry.plugins(), "litellm": checked}
    monkeypatch.setattr(registry, "plugins", lambda: installed)
    text = (
        "provider: litellm\ndefaults:\n  max_budget: 100\n"
        "customers:\n  - user_id: a\n  - user_id: b\n    max_budget: 5\n"
    )
    assert problems(tmp_path, text) == [(3, "warning", "100 is too round")]


def test_a_providers_field_checks_are_looked_up_once_not_per_customer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checking many customers of one provider imports its field checks once at most."""
    looked_up: list[str] = []
    original = ProviderPlugin.field_checker

    def counted(self: ProviderPlugin) -> FieldChecks | None:
        looked_up.append(self.name)
        return original(self)

    monkeypatch.setattr(ProviderPlugin, "field_checker", counted)
    text = "customers:\n" + "".join(f"  - customer_identifier: c{i}\n" for i in range(5))
    assert problems(tmp_path, text) == []
    assert problems(tmp_path, text) == []
    assert len(looked_up) <= 1


def test_email_without_at_warns(tmp_path: Path) -> None:
    """An email without '@' warns; null and real addresses do not."""
    text = (
        "customers:\n  - customer_identifier: a\n    email: nobody\n"
        "  - customer_identifier: b\n    email: null\n"
        "  - customer_identifier: c\n    email: c@example.com\n"
    )
    assert problems(tmp_path, text) == [
        (3, "warning", "'email' does not look like an email address: 'nobody'")
    ]


def test_identifier_with_spaces_warns(tmp_path: Path) -> None:
    """An identifier with leading or trailing spaces warns at the customer."""
    text = "customers:\n  - customer_identifier: ' acme'\n"
    assert problems(tmp_path, text) == [
        (2, "warning", "customer id ' acme' starts or ends with spaces")
    ]


def test_period_end_equal_to_start_is_an_error(tmp_path: Path) -> None:
    """A period must end strictly after it starts, compared as instants across offsets."""
    text = (
        "customers:\n  - customer_identifier: a\n"
        '    period_start: "2026-11-01T02:00:00+02:00"\n'
        '    period_end: "2026-11-01T00:00:00Z"\n'
    )
    assert problems(tmp_path, text) == [
        (
            4,
            "error",
            "'period_end' (2026-11-01T00:00:00Z) is not after 'period_start' "
            "(2026-11-01T02:00:00+02:00)",
        )
    ]


def test_strict_makes_warnings_errors(tmp_path: Path) -> None:
    """strict=True reports warnings as errors, and load_manifests then raises."""
    text = "customers:\n  - customer_identifier: a\n    email: nobody\n"
    assert problems(tmp_path, text, strict=True)[0][1] == "error"
    with pytest.raises(ManifestError):
        load_manifests([tmp_path / "m.yaml"], strict=True)
    assert len(load_manifests([tmp_path / "m.yaml"]).warnings) == 1


def test_same_id_in_different_environments_is_fine(tmp_path: Path) -> None:
    """The same identifier in prod and test (or another provider) is two customers."""
    (tmp_path / "prod.yaml").write_text(
        "customers:\n  - customer_identifier: a\n", encoding="utf-8"
    )
    (tmp_path / "test.yaml").write_text(
        "environment: test\ncustomers:\n  - customer_identifier: a\n", encoding="utf-8"
    )
    (tmp_path / "autumn.yaml").write_text(
        "provider: autumn\ncustomers:\n  - id: a\n", encoding="utf-8"
    )
    keys = [customer.key for customer in load_manifests([tmp_path]).customers]
    assert keys == [("autumn", "sandbox", "a"), ("respan", "prod", "a"), ("respan", "test", "a")]


@pytest.mark.parametrize("text", ["# nothing here yet\n", "---\n", "# soon\n---\n...\n---\n"])
def test_empty_file_warns(tmp_path: Path, text: str) -> None:
    """A manifest file with no documents, or only empty ones, is a warning, not an error."""
    assert problems(tmp_path, text) == [(1, "warning", "the file declares no customers")]


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    """A directory without manifest files is an error naming it."""
    (tmp_path / "empty").mkdir()
    report = check_manifests([tmp_path / "empty"])
    assert [p.message for p in report.errors] == [
        "no manifest files (*.yaml, *.yml) in this directory"
    ]


def test_directories_are_searched_sorted_skipping_hidden(tmp_path: Path) -> None:
    """Directories yield *.yaml/*.yml below them, sorted, without hidden directories."""
    for name in ("b/z.yml", "a.yaml", "b/a.yaml", ".git/x.yaml", "notes.txt"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("customers: []\n", encoding="utf-8")
    report = check_manifests([tmp_path, tmp_path / "a.yaml"])
    assert [path.relative_to(tmp_path).as_posix() for path in report.files] == [
        "a.yaml",
        "b/a.yaml",
        "b/z.yml",
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1.0e+26", "1e+26"),
        ("100000000000000000000000000", "100000000000000000000000000"),
        ("1000000000000000000000000000000", "1000000000000000000000000000000"),
    ],
)
def test_an_amount_of_10_to_the_26_or_more_is_an_error_at_its_position(
    tmp_path: Path, value: str, shown: str
) -> None:
    """Amounts >= 1e26 are refused naming line and column, without a traceback."""
    text = f"customers:\n  - customer_identifier: a\n    total_budget: {value}\n"
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    (problem,) = check_manifests([path]).problems
    assert (problem.line, problem.severity) == (3, "error")
    assert problem.column in (5, 19)
    assert (
        problem.message == f"'total_budget' is too large (got {shown}): numbers must be below 10^26"
    )


def test_validate_reports_a_huge_amount_cleanly(tmp_path: Path, cli: Any) -> None:
    """reconciler validate exits 1 with file:line:column for an amount of 1e30."""
    path = tmp_path / "m.yaml"
    path.write_text(
        "customers:\n  - customer_identifier: a\n    period_budget: 1.0e+30\n", encoding="utf-8"
    )
    run = cli("validate", str(path))
    assert run.code == 1
    assert f"{path}:3:20: error: 'period_budget' is too large" in run.err + run.out
    assert "Traceback" not in run.err


def test_one_id_declared_in_two_unicode_forms_is_a_duplicate(tmp_path: Path) -> None:
    """café composed and decomposed are the same customer: declared twice, both named."""
    text = (
        "customers:\n"
        '  - customer_identifier: "caf\\u00e9"\n'
        '  - customer_identifier: "cafe\\u0301"\n'
    )
    (line, severity, message) = problems(tmp_path, text)[0]
    assert (line, severity) == (3, "error")
    assert "is declared twice in two Unicode forms ('caf\\xe9' and 'cafe\\u0301')" in message


def test_one_id_declared_with_an_invisible_character_is_a_duplicate(tmp_path: Path) -> None:
    """acme and acme with a zero-width space print alike: declared twice, both named."""
    text = 'customers:\n  - customer_identifier: acme\n  - customer_identifier: "acme\\u200b"\n'
    (line, severity, message) = problems(tmp_path, text)[0]
    assert (line, severity) == (3, "error")
    assert "is declared twice in two Unicode forms ('acme' and 'acme\\u200b')" in message
