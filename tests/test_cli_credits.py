"""``reconciler credits`` end to end: the real CLI against the Respan emulator over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import isolate, point_at, run_cli

from reconciler.emulator import RunningEmulator
from reconciler.providers.respan.emulator import RespanState

Emulators = Callable[..., RunningEmulator[RespanState]]

SEED = {
    "credit_transactions": [
        {
            "id": "ct_welcome",
            "amount": 150.75,
            "transaction_type": "grant",
            "created_at": "2024-01-15T09:30:00Z",
            "expires_at": "2024-07-15T09:30:00Z",
            "description": "Welcome bonus for new customer",
        },
        {
            "id": "ct_buy",
            "amount": 100,
            "transaction_type": "purchase",
            "created_at": "2025-01-15T09:30:00Z",
            "stripe_payment_intent_id": "pi_1",
        },
        {
            "id": "ct_future_grant",
            "amount": 25,
            "transaction_type": "grant",
            "created_at": "2025-02-01T00:00:00Z",
            "expires_at": "2999-01-01T00:00:00Z",
            "description": "Promo\nacross lines",
        },
        {
            "id": "ct_fix",
            "amount": -20.5,
            "transaction_type": "adjustment",
            "billable_type": "organization",
            "source_id": "org",
            "created_at": "2025-02-15T09:30:00Z",
        },
    ]
}


@pytest.fixture
def credits_cli(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    respan_emulator: Emulators,
) -> Callable[..., tuple[int, str, str]]:
    """``credits_cli(*args, seed=...)`` runs ``reconciler credits`` against a fresh emulator."""
    isolate(monkeypatch, tmp_path)
    (tmp_path / "reconciler.yaml").write_text("rate_limit: 10000/s\n", encoding="utf-8")

    def run(*args: str, seed: Any = SEED) -> tuple[int, str, str]:
        running = respan_emulator(seed=seed)
        point_at(monkeypatch, running)
        done = run_cli(capsys, "credits", *args)
        assert running.api_key not in done.out + done.err
        return done.code, done.out, done.err

    return run


def test_text_table_with_expired_grant_and_balance(
    credits_cli: Callable[..., tuple[int, str, str]],
) -> None:
    """Newest first; the expired grant is marked and left out of the balance."""
    code, out, _ = credits_cli()
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Credit transactions (newest first):"
    assert lines[2].split() == ["Date", "Type", "Amount", "Expires", "Description"]
    rows = lines[4:8]
    assert [row.split()[2] for row in rows] == ["adjustment", "grant", "purchase", "grant"]
    assert rows[0].split()[3] == "-$20.50"
    assert "2024-07-15 09:30 (expired)" in rows[3]
    assert "Promo across lines" in rows[1]
    assert "Totals by type: adjustment -$20.50, grant $25.00, purchase $100.00" in out
    assert "Expired grants (not in the balance): $150.75 (1)" in out
    assert "Balance: $104.50 as of " in out


def test_json_output_is_exact_and_machine_readable(
    credits_cli: Callable[..., tuple[int, str, str]],
) -> None:
    """Amounts as decimal text, expiry flags, counts; the same balance as the table."""
    code, out, _ = credits_cli("--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["format_version"] == 1
    assert document["balance"] == "104.5"
    assert document["expired"] == {"total": "150.75", "count": 1}
    assert document["totals_by_type"] == {"adjustment": "-20.5", "grant": "25", "purchase": "100"}
    by_id = {t["id"]: t for t in document["transactions"]}
    assert by_id["ct_welcome"]["expired"] is True
    assert by_id["ct_welcome"]["expires_at"] == "2024-07-15T09:30:00Z"
    assert by_id["ct_fix"] == {
        "id": "ct_fix",
        "created_at": "2025-02-15T09:30:00Z",
        "transaction_type": "adjustment",
        "amount": "-20.5",
        "expires_at": None,
        "expired": False,
        "description": "",
    }


def test_since_filters_by_creation_time(credits_cli: Callable[..., tuple[int, str, str]]) -> None:
    """--since lists only newer transactions; the balance still covers all of them."""
    code, out, _ = credits_cli("--format", "json", "--since", "2025-02-01")
    assert code == 0
    document = json.loads(out)
    assert [t["id"] for t in document["transactions"]] == ["ct_fix", "ct_future_grant"]
    assert document["since"] == "2025-02-01T00:00:00Z"
    assert document["balance"] == "104.5"


def test_every_page_is_read(credits_cli: Callable[..., tuple[int, str, str]]) -> None:
    """More transactions than one page holds: all are listed and summed."""
    seed = {
        "credit_transactions": [
            {
                "id": f"ct_{index:04}",
                "amount": 1,
                "transaction_type": "purchase",
                "created_at": f"2025-01-01T00:{index // 60:02}:{index % 60:02}Z",
            }
            for index in range(1500)
        ]
    }
    code, out, _ = credits_cli("--format", "json", seed=seed)
    assert code == 0
    document = json.loads(out)
    assert len(document["transactions"]) == 1500
    assert document["balance"] == "1500"
    assert document["transactions"][0]["id"] == "ct_1499"


def test_no_transactions(credits_cli: Callable[..., tuple[int, str, str]]) -> None:
    """An organization without transactions has a zero balance."""
    code, out, _ = credits_cli(seed={})
    assert code == 0
    assert out.startswith("No credit transactions.\n")
    assert "Balance: $0.00" in out


def test_bad_since_is_a_usage_error(credits_cli: Callable[..., tuple[int, str, str]]) -> None:
    """An unreadable --since exits 1 with a message, not a traceback."""
    code, _, err = credits_cli("--since", "last week")
    assert code == 1
    assert "'last week' is not a date" in err
    assert "Traceback" not in err
