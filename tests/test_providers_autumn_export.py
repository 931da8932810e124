"""``reconciler export`` for Autumn, end to end against the Autumn emulator over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Run, isolate, point_at, run_cli

from reconciler.emulator import RunningEmulator
from reconciler.manifests import load_manifests
from reconciler.providers.autumn.emulator import AutumnState

Emulators = Callable[..., RunningEmulator[AutumnState]]
LIST = "POST /v1/customers.list"

SEED: dict[str, Any] = {
    "customers": [
        {
            "id": "acme",
            "name": "Acme",
            "email": "billing@acme.example",
            "fingerprint": "fp-1",
            "send_email_receipts": True,
            "metadata": {"tier": "enterprise", "seats": 40},
            "billing_controls": {
                "spend_limits": [
                    {"feature_id": "tokens", "enabled": True, "overage_limit": 250.5000001},
                    {"feature_id": "messages", "enabled": True, "overage_limit": 100.0},
                ],
                "usage_alerts": [
                    {
                        "feature_id": "messages",
                        "enabled": True,
                        "threshold": 80,
                        "threshold_type": "usage_percentage",
                        "name": "80%",
                    }
                ],
                "auto_topups": [
                    {
                        "feature_id": "credits",
                        "enabled": True,
                        "threshold": 10,
                        "quantity": 100,
                        "purchase_limit": {"interval": "month", "interval_count": 1, "limit": 3},
                    }
                ],
                "overage_allowed": [{"feature_id": "messages", "enabled": False}],
            },
        },
        {"id": "globex", "name": "Globex", "metadata": {}},
        {"id": "acme", "env": "live", "name": "Acme (live)"},
    ]
}


@pytest.fixture
def autumn(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    autumn_emulator: Emulators,
) -> tuple[RunningEmulator[AutumnState], Callable[..., Run]]:
    """A seeded Autumn emulator (sandbox key) and ``cli(*args)`` pointed at it, unpaced."""
    isolate(monkeypatch, tmp_path)
    (tmp_path / "reconciler.yaml").write_text("rate_limit: 10000/s\n", encoding="utf-8")
    running = autumn_emulator(seed=SEED)
    point_at(monkeypatch, running)

    def cli(*args: str) -> Run:
        run = run_cli(capsys, *args)
        assert running.api_key not in run.out + run.err
        return run

    return running, cli


def plan_is_empty(cli: Callable[..., Run], *paths: str) -> bool:
    run = cli("plan", *paths, "--detailed-exitcode")
    assert run.code in (0, 2), run.err
    return run.code == 0 and "\n\nNo changes." in run.out


def test_export_round_trips_billing_controls_and_metadata(
    autumn: tuple[RunningEmulator[AutumnState], Callable[..., Run]], tmp_path: Path
) -> None:
    """Every declarable field, billing controls included, plans as unchanged; lists only."""
    running, cli = autumn
    run = cli("export", "--provider", "autumn", "-o", "autumn.yaml")
    assert run.code == 0, run.err
    assert running.stats()["requests"] == {LIST: 1}
    text = (tmp_path / "autumn.yaml").read_text(encoding="utf-8")
    assert "from autumn at" in text
    assert "overage_limit: 250.5\n" in text
    assert "interval: month" in text
    assert "Acme (live)" not in text  # the sandbox key exports sandbox only
    assert "billing_controls: {}" not in text
    [acme, globex] = load_manifests([tmp_path / "autumn.yaml"]).customers
    assert (acme.id, globex.id) == ("acme", "globex")
    assert globex.fields["metadata"] == {}  # Autumn's empty metadata is a declaration
    assert plan_is_empty(cli, "autumn.yaml")


def test_search_filter_runs_on_the_server(
    autumn: tuple[RunningEmulator[AutumnState], Callable[..., Run]],
) -> None:
    """search::TEXT is Autumn's own search; a Respan-only field is refused, exit 1."""
    _, cli = autumn
    run = cli("export", "--provider", "autumn", "--filter", "search::glob")
    assert run.code == 0, run.err
    assert "id: globex" in run.out
    assert "id: acme" not in run.out
    run = cli("export", "--provider", "autumn", "--filter", "email:endswith:@acme.example")
    assert run.code == 1
    assert "Autumn cannot filter customers by 'email'" in run.err


def test_an_environment_the_key_cannot_reach_is_refused(
    autumn: tuple[RunningEmulator[AutumnState], Callable[..., Run]],
) -> None:
    """A sandbox key cannot export live customers: a clear error, exit 1."""
    _, cli = autumn
    run = cli("export", "--provider", "autumn", "--environment", "live")
    assert run.code == 1
    assert "the Autumn key reaches sandbox, not live" in run.err


MANIFEST = """\
provider: autumn
environment: sandbox
customers:
  - id: acme
    name: Acme
    metadata: {tier: enterprise, seats: 40}
    billing_controls:
      spend_limits:   # agreed with Acme's finance team
        - {feature_id: messages, enabled: true, overage_limit: 100.00}
        - {feature_id: tokens, enabled: true, overage_limit: 250.50}
"""


def test_update_adopts_spend_limits_and_authoritative_metadata(
    autumn: tuple[RunningEmulator[AutumnState], Callable[..., Run]], tmp_path: Path
) -> None:
    """A drifted spend limit and new live metadata are adopted; the comment survives."""
    running, cli = autumn
    (tmp_path / "autumn.yaml").write_text(MANIFEST, encoding="utf-8")
    assert plan_is_empty(cli, "autumn.yaml")
    running.state.update_customer(
        "acme",
        {
            "metadata": {"owner": "sales"},
            "billing_controls": {
                "spend_limits": [{"feature_id": "messages", "enabled": True, "overage_limit": 75}]
            },
        },
    )
    run = cli("export", "--update", "autumn.yaml")
    assert run.code == 0, run.err
    text = (tmp_path / "autumn.yaml").read_text(encoding="utf-8")
    assert "spend_limits:   # agreed with Acme's finance team" in text
    assert "overage_limit: 75" in text
    assert "tokens" not in text
    assert "owner: sales" in text
    assert plan_is_empty(cli, "autumn.yaml")
