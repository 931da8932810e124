"""``reconciler audit show`` end to end: options, formats, the configured log, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_samples import write_quarter
from cli_helpers import isolate, run_cli


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path)
    (tmp_path / "reconciler.yaml").write_text("audit_log: logs/audit.jsonl\n", encoding="utf-8")
    (tmp_path / "logs").mkdir()
    write_quarter(tmp_path / "logs" / "audit.jsonl")
    return tmp_path


def test_without_file_the_configured_log_is_shown(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No FILE: audit_log of ./reconciler.yaml; an intact chain exits 0."""
    run = run_cli(capsys, "audit", "show", "--customer", "globex")
    assert run.code == 0, run.err
    assert "Chain intact: 14 records" in run.out
    assert "globex (respan/prod)" in run.out
    assert "acme-corp" not in run.out


def test_filters_combine_in_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--customer, --since/--until, --actor, --pull-request and --outcome narrow together."""
    run = run_cli(
        capsys,
        "audit",
        "show",
        "logs/audit.jsonl",
        "--customer",
        "acme-corp",
        "--since",
        "2026-10-01",
        "--until",
        "2026-12-31",
        "--actor",
        "github:alice",
        "--outcome",
        "applied",
        "--pull-request",
        "43",
        "--format",
        "json",
    )
    assert run.code == 0, run.err
    changes = json.loads(run.out)["changes"]
    assert [(c["seq"], c["environment"], c["after"]) for c in changes] == [
        (11, "prod", "300.00"),
        (13, "test", "300.50"),
    ]


def test_a_broken_chain_prints_the_marked_report_and_exits_1(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The report up to the break is printed, marked; stderr names the break; exit 1."""
    log = project / "logs" / "audit.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    log.write_text("".join(lines[1:]), encoding="utf-8")
    run = run_cli(capsys, "audit", "show", "--format", "markdown")
    assert run.code == 1
    assert "> [!CAUTION]" in run.out
    assert "the hash chain breaks at line 1" in run.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "is not a date"),
        (("--since", "9999-12-31T23:59:59-23:59"), "is not a date"),
        (("--until", "9999-12-31"), "is not a date"),
        (("--outcome", "done"), "'done' is not one of"),
        (("--pull-request", "0"), "0 is not in the range"),
        (("--format", "xml"), "'xml' is not one of"),
    ],
)
def test_bad_options_are_usage_errors(
    project: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    """A malformed option is one usage message and exit 1 (never 2), before reading the log."""
    run = run_cli(capsys, "audit", "show", *args)
    assert run.code == 1
    assert message in run.err


def test_a_log_turned_off_needs_a_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With audit_log: null and no FILE there is nothing to show: a usage error."""
    (project / "reconciler.yaml").write_text("audit_log: null\n", encoding="utf-8")
    run = run_cli(capsys, "audit", "show")
    assert run.code == 1
    assert "give FILE" in run.err


def test_a_missing_log_is_a_clean_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A FILE that does not exist: one error line, exit 1, no traceback."""
    run = run_cli(capsys, "audit", "show", "missing.jsonl")
    assert run.code == 1
    assert run.err.strip() == "Error: audit log missing.jsonl does not exist"
