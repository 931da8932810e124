"""Planning from manifests (``plan`` and ``apply`` alike) against a Respan API that misbehaves:
unreadable amounts, usage it does not return, rows of another environment, hostile ids."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Run
from hostile_respan import RESPAN_KEY, respan_rows, writes
from scripted_http import ScriptedApp, Seen, serve


@pytest.fixture
def hostile(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Run]
) -> Iterator[Callable[..., tuple[Run, list[Seen]]]]:
    """``hostile(rows, details, *args, manifest=..., config=...)`` plans against a server
    answering ``rows``; returns the run and the requests the server saw."""
    app = ScriptedApp(respan_rows([]))
    with serve(app) as url:
        monkeypatch.setenv("RESPAN_BASE_URL", url)
        monkeypatch.setenv("RESPAN_API_KEY", RESPAN_KEY)

        def run(
            rows: list[Any],
            details: dict[str, Any] | None = None,
            *args: str,
            manifest: str,
            config: str = "",
            command: str = "plan",
        ) -> tuple[Run, list[Seen]]:
            app.reset(respan_rows(rows, details))
            (workdir / "customers.yaml").write_text(manifest, encoding="utf-8")
            (workdir / "reconciler.yaml").write_text(
                "manifests: [customers.yaml]\nrate_limit: 10000/s\n" + config, encoding="utf-8"
            )
            result = cli(command, *args)
            return result, list(app.seen)

        yield run


def manifest(*customers: str, environment: str = "prod") -> str:
    body = "".join(f"  - {customer}\n" for customer in customers)
    return f"provider: respan\nenvironment: {environment}\ncustomers:\n{body}"


@pytest.mark.parametrize("live", ["abc", True, float("nan"), float("inf"), 1e30, [1], {"a": 1}])
def test_an_unreadable_live_amount_never_passes_a_money_cap(
    hostile: Callable[..., tuple[Run, list[Seen]]], live: Any
) -> None:
    """A live total_budget that is not an amount still lets max_total_budget see the new one."""
    rows = [{"customer_identifier": "acme", "environment": "prod", "total_budget": live}]
    run, seen = hostile(
        rows,
        None,
        manifest=manifest("{customer_identifier: acme, total_budget: 900000}"),
        config="policy: {max_total_budget: 20000}\n",
    )
    assert run.code == 3, run.err
    assert "max_total_budget" in run.out
    assert "Traceback" not in run.err
    assert writes(seen) == []


@pytest.mark.parametrize("output", ["text", "json", "markdown"])
def test_a_huge_or_non_finite_live_amount_is_shown_not_a_traceback(
    hostile: Callable[..., tuple[Run, list[Seen]]], output: str
) -> None:
    """Live 1e30 and NaN amounts render in every format as the values they are."""
    rows = [
        {"customer_identifier": "huge", "environment": "prod", "period_budget": 1e30},
        {"customer_identifier": "nan", "environment": "prod", "period_budget": float("nan")},
    ]
    run, _ = hostile(
        rows,
        {"huge": {"total_period_usage": 0}, "nan": {"total_period_usage": 0}},
        "--format",
        output,
        manifest=manifest(
            "{customer_identifier: huge, period_budget: 10}",
            "{customer_identifier: nan, period_budget: 10}",
        ),
    )
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    assert "1" + "0" * 30 in run.out


def test_a_lowered_budget_without_usage_from_the_api_is_a_violation(
    hostile: Callable[..., tuple[Run, list[Seen]]],
) -> None:
    """forbid_budget_below_usage refuses, naming the customer, when usage is not returned."""
    rows = [{"customer_identifier": "acme", "environment": "prod", "period_budget": 500}]
    run, _ = hostile(
        rows,
        {"acme": {"customer_identifier": "acme", "period_budget": 500}},
        manifest=manifest("{customer_identifier: acme, period_budget: 100}"),
    )
    assert run.code == 3, run.out
    assert "forbid_budget_below_usage (respan/prod/acme)" in run.out
    assert "did not return the customer's usage" in run.out
