"""Helpers for end-to-end tests that drive the real CLI in-process against the emulators.

The fixtures built on these (``cli``, ``workdir``, ``no_backoff``) live in ``conftest.py``;
this module holds the plain values and functions the test modules import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.audit import verify_log
from reconciler.cli import main
from reconciler.emulator import RunningEmulator
from reconciler.providers.registry import plugins

ROOT = Path(__file__).parent.parent

ENVIRONMENT = {
    name: (plugin.connection.base_url_variable, plugin.connection.key_variable)
    for name, plugin in plugins().items()
}
"""Each installed provider's (base URL, API key) environment variables."""

OUTSIDE_SETTINGS = (
    *(name for names in ENVIRONMENT.values() for name in names),
    "GITHUB_ACTIONS",
    "GITHUB_ACTOR",
    "GITHUB_API_URL",
    "GITHUB_EVENT_NAME",
    "GITHUB_EVENT_PATH",
    "GITHUB_OUTPUT",
    "GITHUB_REF",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITHUB_SERVER_URL",
    "GITHUB_SHA",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_TOKEN",
    "NO_COLOR",
)
"""Environment variables the CLI reads, cleared so the machine running the tests cannot leak in."""

FAULTS: dict[str, Any] = {
    "fail_rate": 0.2,
    "rate_limit_429_rate": 0.2,
    "drop_rate": 0.05,
    "injected_retry_after": 0,
}
"""Emulator settings that inject 500s, 429s and dropped connections (with a fault seed)."""

AUDIT_LOG = "reconciler-audit.jsonl"


@dataclass
class Run:
    """One CLI run: exit code and what it printed."""

    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """Run ``reconciler *args`` in-process; only what this run printed is captured."""
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def isolate(monkeypatch: pytest.MonkeyPatch, directory: Path) -> Path:
    """Make ``directory`` the working directory and clear every setting the CLI reads."""
    monkeypatch.chdir(directory)
    for name in OUTSIDE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return directory


def point_at(
    monkeypatch: pytest.MonkeyPatch, running: RunningEmulator[Any], key: str | None = None
) -> None:
    """Point the CLI at ``running`` through its provider's variables (``key`` overrides its key)."""
    url_name, key_name = ENVIRONMENT[running.provider]
    monkeypatch.setenv(url_name, running.url)
    monkeypatch.setenv(key_name, key or running.api_key)


def load_schema(name: str) -> Any:
    """One of the JSON Schemas the project ships in ``schemas/``."""
    return json.loads((ROOT / "schemas" / name).read_text(encoding="utf-8"))


def records(path: Path) -> list[dict[str, Any]]:
    """The audit records in a JSON-lines log, in order."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def results(path: Path) -> list[dict[str, Any]]:
    """The result records of a finished run's log, after checking the write-ahead rule: every
    result of a sent change names a pending record of the same change, and every pending record
    has its result."""
    written = records(path)
    pending = {r["seq"]: r for r in written if r["outcome"] == "pending"}
    outcomes = [r for r in written if r["outcome"] != "pending"]
    for result in outcomes:
        if result["outcome"] == "stale":  # refused before sending: nothing was written ahead
            assert "pending_seq" not in result
            continue
        ahead = pending.pop(result["pending_seq"])
        assert ahead["seq"] < result["seq"]
        key = ("provider", "environment", "customer_id", "action", "fields")
        assert [ahead[k] for k in key] == [result[k] for k in key]
    assert not pending, f"pending records without a result: {sorted(pending)}"
    return outcomes


def assert_applied_once_despite_faults(
    running: RunningEmulator[Any], log: Path, changes: int
) -> None:
    """Faults of every kind were injected, yet each change was applied exactly once, chained."""
    stats = running.stats()
    assert stats["responses"].get("500", 0) > 0
    assert stats["responses"].get("429", 0) > 0
    assert stats["dropped_connections"] > 0
    written = results(log)  # one pending record each: each change was attempted once
    assert len(written) == changes
    assert {r["outcome"] for r in written} == {"applied"}
    assert len({r["customer_id"] for r in written}) == changes
    assert verify_log(log).intact
