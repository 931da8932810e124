"""Planning from manifests (``plan`` and ``apply`` alike) against a Respan API that misbehaves:
unreadable amounts, usage it does not return, rows of another environment, hostile ids."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Run, point_at
from hostile_respan import RESPAN_KEY, respan_rows, writes
from scripted_http import ScriptedApp, Seen, serve

from reconciler.emulator import RunningEmulator
from reconciler.providers.respan.emulator import RespanState


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


def test_a_live_timestamp_beyond_the_utc_calendar_is_a_change_not_a_traceback(
    hostile: Callable[..., tuple[Run, list[Seen]]],
) -> None:
    """A live period_start of year 1 with a positive offset is planned as the value it is."""
    rows = [{"customer_identifier": "acme", "environment": "prod"}]
    details = {"acme": {"customer_identifier": "acme", "period_start": "0001-01-01T00:00:00+01:00"}}
    run, _ = hostile(
        rows,
        details,
        "--format",
        "json",
        manifest=manifest('{customer_identifier: acme, period_start: "2026-11-01T00:00:00Z"}'),
    )
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    [field] = json.loads(run.out)["changes"][0]["fields"]
    assert field["before"] == "0001-01-01T00:00:00+01:00"
    assert field["after"] == "2026-11-01T00:00:00Z"


def test_a_negative_live_budget_never_lets_a_raise_pass_max_increase_pct(
    hostile: Callable[..., tuple[Run, list[Seen]]],
) -> None:
    """Live -1 → 100000 is refused by max_increase_pct (exit 3), not judged a -10,000,100% fall."""
    rows = [{"customer_identifier": "acme", "environment": "prod", "period_budget": -1}]
    run, _ = hostile(
        rows,
        {"acme": {"total_period_usage": 0}},
        manifest=manifest("{customer_identifier: acme, period_budget: 100000}"),
        config="policy: {max_increase_pct: 50}\n",
    )
    assert run.code == 3, run.out
    assert "max_increase_pct" in run.out
    assert "-$1.00 → $100,000.00 (+$100,001.00)" in run.out


@pytest.mark.parametrize("live", ["1_000", "1000.", "١٠٠٠"])
def test_text_only_python_reads_as_a_number_is_not_a_live_amount(
    hostile: Callable[..., tuple[Run, list[Seen]]], live: str
) -> None:
    """A live "1_000" is not taken for the declared 1000: the plan corrects it, and the
    percent rules refuse to judge it."""
    rows = [{"customer_identifier": "acme", "environment": "prod", "total_budget": live}]
    run, _ = hostile(
        rows,
        None,
        manifest=manifest("{customer_identifier: acme, total_budget: 1000}"),
        config="policy: {max_increase_pct: 50}\n",
    )
    assert run.code == 3, run.out
    assert "1 to update" in run.out
    assert "cannot be checked against policy.max_increase_pct" in run.out


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


# -- prune scope and protection ------------------------------------------------------------------

PROJECT_SEED = {
    "customers": [
        {"customer_identifier": "acme", "period_budget": 10},
        {"customer_identifier": "beta", "period_budget": 10},
        {"customer_identifier": "stray", "period_budget": 10},
    ]
}


@pytest.fixture
def project(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    respan_emulator: Callable[..., RunningEmulator[RespanState]],
) -> RunningEmulator[RespanState]:
    """customers/a.yaml declares acme, customers/b.yaml beta; live also has stray."""
    running = respan_emulator(seed=PROJECT_SEED)
    point_at(monkeypatch, running)
    (workdir / "customers").mkdir()
    (workdir / "customers" / "a.yaml").write_text(
        manifest("{customer_identifier: acme, period_budget: 10}"), encoding="utf-8"
    )
    (workdir / "customers" / "b.yaml").write_text(
        manifest("{customer_identifier: beta, period_budget: 10}"), encoding="utf-8"
    )
    (workdir / "reconciler.yaml").write_text(
        "manifests: [customers]\nrate_limit: 10000/s\npolicy: {max_deletes: 5}\n",
        encoding="utf-8",
    )
    return running


def test_prune_of_some_paths_never_deletes_what_other_project_manifests_declare(
    project: RunningEmulator[RespanState], cli: Callable[..., Run]
) -> None:
    """plan/apply --prune customers/a.yaml plans no delete of beta, declared in b.yaml."""
    run = cli("plan", "--prune", "customers/a.yaml")
    assert run.code == 0, run.err
    assert "- respan/prod/stray" in run.out
    assert "beta" not in run.out
    run = cli("apply", "--prune", "--auto-approve", "customers/a.yaml")
    assert run.code == 0, run.err
    assert sorted(project.state.customers) == [("prod", "acme"), ("prod", "beta")]


def test_prune_refuses_when_project_manifests_do_not_load(
    project: RunningEmulator[RespanState], workdir: Path, cli: Callable[..., Run]
) -> None:
    """A broken manifest elsewhere in the project makes prune refuse: nothing is deleted."""
    (workdir / "customers" / "b.yaml").write_text("customers: [{bogus: 1}]\n", encoding="utf-8")
    run = cli("apply", "--prune", "--auto-approve", "customers/a.yaml")
    assert run.code == 1
    assert "--prune is refused" in run.err
    assert "reconciler validate" in run.err
    assert project.stats()["requests"] == {}
    assert len(project.state.customers) == 3


def test_a_saved_delete_of_a_customer_now_declared_prevent_destroy_is_refused(
    project: RunningEmulator[RespanState], workdir: Path, cli: Callable[..., Run]
) -> None:
    """apply --plan refuses (exit 3) a delete of a customer declared since with prevent_destroy."""
    assert cli("plan", "--prune", "--out", "plan.json").code == 0
    (workdir / "customers" / "c.yaml").write_text(
        manifest("{customer_identifier: stray, lifecycle: {prevent_destroy: true}}"),
        encoding="utf-8",
    )
    run = cli("apply", "--plan", "plan.json", "--auto-approve")
    assert run.code == 3, run.err
    assert "prevent_destroy (respan/prod/stray)" in run.out
    assert ("prod", "stray") in project.state.customers


# -- identity and hostile text -------------------------------------------------------------------

FORGED = "evil\nPlan: 0 to create, 0 to update, 0 to delete, 0 missing, 9 unchanged.\x1b[2J\u202e"


@pytest.mark.parametrize("output", ["text", "markdown"])
def test_control_characters_in_live_ids_are_escaped_in_plans(
    hostile: Callable[..., tuple[Run, list[Seen]]], output: str
) -> None:
    """A live id with a newline, ESC and a bidi override cannot forge plan lines."""
    rows = [
        {"customer_identifier": "acme", "environment": "prod", "period_budget": 1},
        {"customer_identifier": FORGED, "environment": "prod", "name": "x\x1b]0;t\x07"},
    ]
    run, _ = hostile(
        rows,
        None,
        "--prune",
        "--format",
        output,
        manifest=manifest("{customer_identifier: acme, period_budget: 1}"),
        config="policy: {max_deletes: 5}\n",
    )
    assert run.code == 0, run.err
    assert "\x1b" not in run.out
    assert "\u202e" not in run.out
    forged = [line for line in run.out.splitlines() if "9 unchanged" in line]
    assert forged
    assert all("evil\\nPlan: 0 to create" in line for line in forged)
    assert "\\x1b[2J\\u202e" in run.out


@pytest.mark.parametrize(
    ("where", "command"),
    [
        ("id", "plan"),
        ("id", "apply"),
        ("name", "plan"),
        ("base64", "plan"),
    ],
)
def test_an_answer_that_carries_the_api_key_is_refused_before_anything_is_shown(
    hostile: Callable[..., tuple[Run, list[Seen]]], where: str, command: str
) -> None:
    """A list answer echoing the key (as an id, in a name, base64-encoded) is refused: the key
    reaches no plan, comment or audit record, and nothing is written."""
    import base64

    echo = {
        "id": RESPAN_KEY,
        "name": f"created by {RESPAN_KEY}",
        "base64": base64.b64encode(f"Bearer {RESPAN_KEY}".encode()).decode(),
    }[where]
    row: dict[str, Any] = {"customer_identifier": "leak", "environment": "prod"}
    if where == "id":
        row["customer_identifier"] = echo
    else:
        row["name"] = echo
    rows = [{"customer_identifier": "acme", "environment": "prod", "period_budget": 1}, row]
    args = ("--prune", "--auto-approve") if command == "apply" else ("--prune",)
    run, seen = hostile(
        rows,
        None,
        *args,
        manifest=manifest("{customer_identifier: acme, period_budget: 2}"),
        config="policy: {max_deletes: 5}\n",
        command=command,
    )
    assert run.code == 1, run.out + run.err
    assert "contains the API key" in run.err
    assert RESPAN_KEY not in run.out + run.err
    assert writes(seen) == []


def test_control_characters_in_live_ids_are_escaped_in_the_apply_report(
    hostile: Callable[..., tuple[Run, list[Seen]]],
) -> None:
    """apply's report and its errors show the hostile id escaped, on one line."""
    rows = [
        {"customer_identifier": "acme", "environment": "prod", "period_budget": 1},
        {"customer_identifier": FORGED, "environment": "prod"},
    ]
    run, seen = hostile(
        rows,
        None,
        "--prune",
        "--auto-approve",
        manifest=manifest("{customer_identifier: acme, period_budget: 1}"),
        config="policy: {max_deletes: 5}\naudit_log: null\n",
        command="apply",
    )
    assert run.code == 0, run.err
    assert len(writes(seen)) == 1
    both = run.out + run.err
    assert "\x1b" not in both
    assert "\u202e" not in both
    assert not any(
        line.startswith("Plan: 0 to create, 0 to update, 0 to delete") for line in both.splitlines()
    )


def test_rows_of_another_environment_are_never_planned(
    hostile: Callable[..., tuple[Run, list[Seen]]],
) -> None:
    """A test row in the prod list is neither pruned nor taken as a declared prod customer."""
    rows = [
        {"customer_identifier": "acme", "environment": "test", "period_budget": 1},
        {"customer_identifier": "tester", "environment": "test"},
        {"customer_identifier": "odd", "environment": None},
        {"customer_identifier": "beta", "environment": "prod", "period_budget": 1},
    ]
    run, seen = hostile(
        rows,
        None,
        "--prune",
        "--auto-approve",
        manifest=manifest(
            "{customer_identifier: acme, period_budget: 5}",
            "{customer_identifier: beta, period_budget: 1}",
        ),
        config="policy: {max_deletes: 5}\naudit_log: null\n",
        command="apply",
    )
    assert run.code == 0, run.err
    assert "! respan/prod/acme" in run.out  # missing in prod: its test row does not count
    assert "tester" not in run.out
    assert "odd" not in run.out
    assert writes(seen) == []


def test_a_retrieve_answered_for_another_environment_is_refused(
    hostile: Callable[..., tuple[Run, list[Seen]]],
) -> None:
    """A detail read of a prod customer answered with a test customer fails the plan."""
    rows = [{"customer_identifier": "acme", "environment": "prod"}]
    run, _ = hostile(
        rows,
        {"acme": {"customer_identifier": "acme", "environment": "test", "metadata": {}}},
        manifest=manifest("{customer_identifier: acme, metadata: {a: b}}"),
    )
    assert run.code == 1
    assert "asked for environment prod, the API answered a customer of environment 'test'" in (
        run.err
    )


@pytest.mark.parametrize("answered", ["beta", "ACME", "acme ", 5])
def test_a_retrieve_answered_with_another_customer_is_refused(
    hostile: Callable[..., tuple[Run, list[Seen]]], answered: Any
) -> None:
    """A detail read of acme answered with another customer's object fails the plan: its
    metadata and usage would otherwise be planned (and guarded) as acme's."""
    rows = [{"customer_identifier": "acme", "environment": "prod", "period_budget": 500}]
    detail = {"customer_identifier": answered, "environment": "prod", "metadata": {"a": "b"}}
    run, seen = hostile(
        rows,
        {"acme": {**detail, "total_period_usage": 0}},
        "--auto-approve",
        manifest=manifest("{customer_identifier: acme, period_budget: 10, metadata: {a: b}}"),
        config="audit_log: null\n",
        command="apply",
    )
    assert run.code == 1
    assert f"asked for customer 'acme', the API answered customer {answered!r}" in run.err
    assert "Traceback" not in run.err
    assert writes(seen) == []


@pytest.mark.parametrize("bad_id", [["x"], 5, None, {"a": 1}])
def test_a_listed_customer_without_a_text_id_is_refused(
    hostile: Callable[..., tuple[Run, list[Seen]]], bad_id: Any
) -> None:
    """A non-string id from the server is a clear error; nothing is planned or deleted."""
    rows = [
        {"customer_identifier": "acme", "environment": "prod"},
        {"customer_identifier": bad_id, "environment": "prod"},
    ]
    run, seen = hostile(
        rows,
        None,
        "--prune",
        "--auto-approve",
        manifest=manifest("{customer_identifier: acme}"),
        config="policy: {max_deletes: 5}\naudit_log: null\n",
        command="apply",
    )
    assert run.code == 1
    assert "listed a customer whose customer_identifier is not an id" in run.err
    assert "Traceback" not in run.err
    assert writes(seen) == []


def test_one_id_in_two_unicode_forms_is_an_error_not_a_missing_and_a_delete(
    hostile: Callable[..., tuple[Run, list[Seen]]],
) -> None:
    """A manifest's NFC id against the API's NFD id stops the plan with both spellings."""
    rows = [{"customer_identifier": "cafe\u0301", "environment": "prod", "period_budget": 1}]
    run, seen = hostile(
        rows,
        None,
        "--prune",
        "--auto-approve",
        manifest=manifest('{customer_identifier: "caf\\u00e9", period_budget: 1}'),
        config="policy: {max_deletes: 5}\naudit_log: null\n",
        command="apply",
    )
    assert run.code == 1
    assert "ids that are the same text in different Unicode forms" in run.err
    assert "'cafe\\u0301' (live)" in run.err
    assert writes(seen) == []


def test_a_live_timestamp_beyond_the_utc_calendar_is_planned_not_a_traceback(
    hostile: Callable[..., tuple[Run, list[Seen]]],
) -> None:
    """A live period_start whose UTC instant falls after year 9999 is shown and corrected."""
    beyond = "9999-12-31T23:59:59-23:59"
    row = {"customer_identifier": "acme", "environment": "prod"}
    run, seen = hostile(
        [row],
        {"acme": {**row, "period_start": beyond}},
        manifest=manifest('{customer_identifier: acme, period_start: "2026-11-01T00:00:00Z"}'),
    )
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    assert beyond in run.out
    assert writes(seen) == []


def test_a_burst_written_as_a_whole_decimal_paces_instead_of_a_traceback(
    hostile: Callable[..., tuple[Run, list[Seen]]],
) -> None:
    """providers.respan.burst: 2.0 (a whole number to JSON Schema) is the burst 2: more
    requests than that in one window are paced, not a TypeError."""
    rows = [{"customer_identifier": name, "environment": "prod"} for name in "abc"]
    run, _ = hostile(
        rows,
        {row["customer_identifier"]: {**row, "metadata": {"tier": "old"}} for row in rows},
        manifest=manifest(
            *(f"{{customer_identifier: {name}, metadata: {{tier: new}}}}" for name in "abc")
        ),
        config="providers:\n  respan:\n    burst: 2.0\n",
    )
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    assert run.out.count('metadata.tier: "old" → "new"') == 3
