"""``reconciler validate``: output formats line by line, exit codes, --strict, config lookup."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import main

VALID = """\
customers:
  - customer_identifier: acme-corp
    period_budget: 250
  - customer_identifier: globex
"""
WARNS = """\
customers:
  - customer_identifier: initech
    email: ap-at-initech
"""
BROKEN = """\
customers:
  - customer_identifier: acme
    perod_budget: 250
    total_budget: -1
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "customers").mkdir()
    (tmp_path / "customers" / "a.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "customers" / "b.yml").write_text(WARNS, encoding="utf-8")
    return tmp_path


def test_text_ok_summary(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid run prints warnings with hints, then the OK summary, and exits 0."""
    code, lines, _ = run(capsys, "customers")
    assert code == 0
    assert lines == [
        "customers/b.yml:3:5: warning: 'email' does not look like an email address: "
        "'ap-at-initech'",
        "  hint: write an address like billing@example.com, or null to clear it",
        "OK: 3 customers in 2 files, 1 warning",
    ]


def test_text_errors_and_summary(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Errors print as path:line:col: error: message with a hint line; exit 1."""
    (project / "customers" / "c.yaml").write_text(BROKEN, encoding="utf-8")
    code, lines, _ = run(capsys, "customers")
    assert code == 1
    assert lines == [
        "customers/b.yml:3:5: warning: 'email' does not look like an email address: "
        "'ap-at-initech'",
        "  hint: write an address like billing@example.com, or null to clear it",
        "customers/c.yaml:3:5: error: unknown field 'perod_budget' (did you mean 'period_budget'?)",
        "  hint: fix the spelling, or remove the field",
        "customers/c.yaml:4:19: error: 'total_budget' must not be negative (got -1)",
        "  hint: use 0 or a positive amount",
        "2 errors, 1 warning in 3 files",
    ]


def test_strict_turns_warnings_into_errors(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --strict a warning is reported as an error and the exit code is 1."""
    code, lines, _ = run(capsys, "--strict", "customers/b.yml")
    assert code == 1
    assert lines[0].startswith("customers/b.yml:3:5: error: 'email' does not look like")
    assert lines[-1] == "1 error, 0 warnings in 1 file"


def test_json_format(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format json prints one document with valid, errors, warnings, customers, files."""
    (project / "customers" / "c.yaml").write_text(BROKEN, encoding="utf-8")
    code, lines, _ = run(capsys, "--format", "json", "customers")
    document = json.loads("\n".join(lines))
    assert code == 1
    assert document["valid"] is False
    assert document["customers"] == 3
    assert document["files"] == 3
    assert document["errors"][0] == {
        "path": "customers/c.yaml",
        "line": 3,
        "column": 5,
        "severity": "error",
        "message": "unknown field 'perod_budget' (did you mean 'period_budget'?)",
        "hint": "fix the spelling, or remove the field",
    }
    assert [w["line"] for w in document["warnings"]] == [3]


def test_json_format_valid(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid run in JSON says valid: true and exits 0."""
    code, lines, _ = run(capsys, "--format", "json", "customers/a.yaml")
    assert code == 0
    assert json.loads("\n".join(lines)) == {
        "valid": True,
        "errors": [],
        "warnings": [],
        "customers": 2,
        "files": 1,
    }


def test_github_format(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format github prints ::error/::warning workflow commands, hints on an escaped line."""
    (project / "customers" / "c.yaml").write_text(BROKEN, encoding="utf-8")
    code, lines, _ = run(capsys, "--format", "github", "customers")
    assert code == 1
    assert lines == [
        "::warning file=customers/b.yml,line=3,col=5::'email' does not look like an email "
        "address: 'ap-at-initech'%0Ahint: write an address like billing@example.com, or null "
        "to clear it",
        "::error file=customers/c.yaml,line=3,col=5::unknown field 'perod_budget' (did you mean "
        "'period_budget'?)%0Ahint: fix the spelling, or remove the field",
        "::error file=customers/c.yaml,line=4,col=19::'total_budget' must not be negative "
        "(got -1)%0Ahint: use 0 or a positive amount",
        "2 errors, 1 warning in 3 files",
    ]


def test_github_format_escapes_properties_and_data(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'%', CR and LF are escaped in messages; ':' and ',' too in the file property."""
    odd = project / "odd,name:100%.yaml"
    odd.write_text("customers:\n  - customer_identifier: a\n    name: [x]\n", encoding="utf-8")
    (project / "pct.yaml").write_text(
        'customers:\n  - customer_identifier: b\n    email: "50%\\r\\nx"\n', encoding="utf-8"
    )
    code, lines, _ = run(capsys, "--format", "github", odd.name, "pct.yaml")
    assert code == 1
    assert lines[0].startswith("::error file=odd%2Cname%3A100%25.yaml,line=3,col=11::'name'")
    assert lines[1].startswith(
        "::warning file=pct.yaml,line=3,col=5::'email' does not look like an email address: "
        "'50%25%0D%0Ax'%0Ahint:"
    )


def test_without_paths_uses_the_config(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With no PATH, the manifests: of ./reconciler.yaml are validated."""
    (project / "reconciler.yaml").write_text("manifests: [customers/a.yaml]\n", encoding="utf-8")
    code, lines, _ = run(capsys)
    assert code == 0
    assert lines == ["OK: 2 customers in 1 file"]


def test_without_paths_or_config_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No PATH and no reconciler.yaml: a clear usage error, exit 1 (never 2)."""
    code, _, err = run(capsys)
    assert code == 1
    assert "no PATH given and no reconciler.yaml in this directory" in err


def test_config_without_manifests_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reconciler.yaml that lists no manifests cannot stand in for PATH."""
    (project / "reconciler.yaml").write_text("policy: {max_deletes: 1}\n", encoding="utf-8")
    code, _, err = run(capsys)
    assert code == 1
    assert "lists no 'manifests:'" in err


def test_invalid_config_is_reported_with_position(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken reconciler.yaml is one clean message naming file:line:col, exit 1."""
    (project / "reconciler.yaml").write_text("manifest: [customers/]\n", encoding="utf-8")
    code, _, err = run(capsys)
    assert code == 1
    assert "reconciler.yaml:1:1: error: unknown field 'manifest' (did you mean 'manifests'?)" in err
    assert "Traceback" not in err


def test_missing_path(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A PATH that does not exist is an error naming it."""
    code, lines, _ = run(capsys, "nowhere")
    assert code == 1
    assert lines[0] == "nowhere:1:1: error: no such file or directory"


def test_bad_format_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --format is a usage error with exit 1."""
    code, _, err = run(capsys, "--format", "xml", "customers")
    assert code == 1
    assert "Invalid value for '--format'" in err


def test_validate_never_opens_a_connection(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate works with all network connections refused."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("validate tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    code, lines, _ = run(capsys, "customers")
    assert code == 0
    assert lines[-1] == "OK: 3 customers in 2 files, 1 warning"


def test_deeply_nested_brackets_exit_1_with_a_position_and_no_traceback(tmp_path: Path) -> None:
    """A hostile 100,000-deep file is a one-line error at file:1:col from the real command."""
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "deep.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.startswith("deep.yaml:1:"), done.stdout
    assert "nest" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
