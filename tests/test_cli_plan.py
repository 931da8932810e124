"""``reconciler plan`` end to end: the real CLI against the Respan emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cli_helpers import Run, load_schema, point_at, run_cli
from git_helpers import commit, make_repo
from scripted_http import Answer, ScriptedApp, Seen, serve

from reconciler.cli import main
from reconciler.cli.common import use_color
from reconciler.emulator import RunningEmulator
from reconciler.manifests import load_manifests
from reconciler.plan.saved import ProviderTarget, load_saved_plan
from reconciler.planner.body import request_body
from reconciler.providers.respan.emulator import RespanState
from reconciler.providers.respan.fields import RESPAN
from reconciler.settings.connection import read_variables

Emulators = Callable[..., RunningEmulator[RespanState]]
LIST = "POST /api/users/list/"
RETRIEVE = "GET /api/users/{customer_identifier}/"
SCHEMA = load_schema("plan.schema.json")

SEED: dict[str, list[dict[str, Any]]] = {
    "customers": [
        {
            "customer_identifier": "acme",
            "name": "Acme",
            "email": "billing@acme.example",
            "period_budget": 250,
            "total_budget": 5000,
            "budget_duration": "monthly",
            "metadata": {"tier": "pro"},
            "markup_percentage": 20,
            "total_period_usage": 120,
        },
        {"customer_identifier": "beta", "name": "Beta", "period_budget": 10.5},
        {"customer_identifier": "stray", "name": "Stray"},
    ]
}

MATCHING = """\
provider: respan
environment: prod
customers:
  - customer_identifier: acme
    name: Acme
    email: billing@acme.example
    period_budget: 250.00
    total_budget: 5000
    budget_duration: monthly
    metadata: {tier: pro}
    markup_percentage: 20.0
  - customer_identifier: beta
    name: Beta
    period_budget: 10.50
"""


@pytest.fixture
def project(workdir: Path) -> Path:
    """An empty project directory as the working directory, with no GitHub or colour settings."""
    return workdir


class PlanCli:
    """Runs ``reconciler plan`` in-process against a seeded Respan emulator."""

    def __init__(
        self,
        project: Path,
        emulators: Emulators,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        self.project = project
        self.emulators = emulators
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.emulator: RunningEmulator[RespanState] | None = None

    def __call__(self, *args: str, manifest: str = MATCHING, **emulator: Any) -> Run:
        """Plan ``manifest``; emulator options (``seed``, ``omit_fields``) start a new one."""
        if self.emulator is None or emulator:
            seed = emulator.pop("seed", SEED)
            self.emulator = self.emulators(seed=seed, **emulator)
        point_at(self.monkeypatch, self.emulator)
        (self.project / "customers.yaml").write_text(manifest, encoding="utf-8")
        return run_cli(self.capsys, "plan", "customers.yaml", "--rate-limit", "10000/s", *args)

    def requests(self) -> dict[str, int]:
        """Requests the current emulator has served, by route."""
        assert self.emulator is not None
        return dict(self.emulator.stats()["requests"])


@pytest.fixture
def plan_cli(
    project: Path,
    respan_emulator: Emulators,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> PlanCli:
    """``plan_cli(*args, manifest=...)`` runs the CLI against a seeded emulator."""
    return PlanCli(project, respan_emulator, monkeypatch, capsys)


def manifest(*customers: str, environment: str = "prod") -> str:
    body = "".join(f"  - {customer}\n" for customer in customers)
    return f"provider: respan\nenvironment: {environment}\ncustomers:\n{body}"


def write_config(project: Path, text: str) -> None:
    (project / "reconciler.yaml").write_text(text, encoding="utf-8")


# -- outcomes and exit codes ---------------------------------------------------------------------


def test_plan_right_after_a_matching_seed_is_empty(plan_cli: PlanCli) -> None:
    """Equal state in other spellings (250 vs 250.00, 20 vs 20.0) plans nothing; exit 0."""
    run = plan_cli("--detailed-exitcode")
    assert run.out.endswith("\n\nNo changes. Live state matches the manifests (2 unchanged).\n")
    assert run.code == 0


def test_update_exits_0_or_2_with_detailed_exitcode(plan_cli: PlanCli) -> None:
    """A budget change is shown with its delta; --detailed-exitcode turns it into exit 2."""
    changed = MATCHING.replace("period_budget: 250.00", "period_budget: 400")
    run = plan_cli(manifest=changed)
    assert run.code == 0
    assert run.out.splitlines()[2:4] == [
        "~ respan/prod/acme (customers.yaml:4)",
        "    period_budget: $250.00 → $400.00 (+$150.00, +60.0%)",
    ]
    assert "Plan: 0 to create, 1 to update, 0 to delete, 0 missing, 1 unchanged." in run.out
    assert "Budget impact: period budgets +$150.00." in run.out
    assert plan_cli("--detailed-exitcode", manifest=changed).code == 2


def test_missing_customer_is_reported_and_is_not_a_change(plan_cli: PlanCli) -> None:
    """A declared customer Respan does not know is 'missing': shown, but exit stays 0."""
    run = plan_cli(
        "--detailed-exitcode",
        manifest=MATCHING + "  - customer_identifier: ghost\n    period_budget: 5\n",
    )
    assert run.code == 0
    assert "! respan/prod/ghost (customers.yaml:15)" in run.out
    assert "not found in prod: Respan creates customers from their first request" in run.out
    assert "1 missing" in run.out


def test_prune_delete_violates_the_default_policy(plan_cli: PlanCli) -> None:
    """With --prune the undeclared customer is a delete; max_deletes 0 makes it exit 3."""
    run = plan_cli("--prune", "--detailed-exitcode")
    assert run.code == 3
    assert "- respan/prod/stray (live only)" in run.out
    assert "max_deletes: plan deletes 1 customer(s)" in run.out
    assert "raise policy.max_deletes in reconciler.yaml to allow it" in run.out


def test_prune_within_max_deletes_exits_2(plan_cli: PlanCli, project: Path) -> None:
    """Raising max_deletes in reconciler.yaml allows the delete: changes pending, exit 2."""
    write_config(project, "policy:\n  max_deletes: 1\n")
    run = plan_cli("--prune", "--detailed-exitcode")
    assert run.code == 2
    assert "Plan: 0 to create, 0 to update, 1 to delete, 0 missing, 2 unchanged." in run.out


def test_policy_protect_refuses_a_prune_delete(plan_cli: PlanCli, project: Path) -> None:
    """A prune delete of a customer matching policy.protect exits 3, even within max_deletes."""
    write_config(project, "policy:\n  max_deletes: 5\n  protect: [str*]\n")
    run = plan_cli("--prune", "--detailed-exitcode")
    assert run.code == 3
    assert "protect (respan/prod/stray): the customer matches policy.protect (str*)" in run.out


def test_without_prune_undeclared_customers_are_left_alone(plan_cli: PlanCli) -> None:
    """The undeclared live customer is not mentioned without --prune."""
    assert "stray" not in plan_cli().out


PERIOD = "period_budget: 250.00"
TOTAL = "total_budget: 5000"


@pytest.mark.parametrize(
    ("policy", "declared", "expected"),
    [
        ("max_period_budget: 300", (PERIOD, "period_budget: 301"), "max_period_budget (respan"),
        ("max_total_budget: 6000", (TOTAL, "total_budget: 6000.01"), "max_total_budget (respan"),
        ("max_increase_pct: 50", (PERIOD, "period_budget: 400"), "max_increase_pct (respan"),
        ("max_decrease_pct: 10", (PERIOD, "period_budget: 200"), "max_decrease_pct (respan"),
        ("max_total_budget_change: 100", (TOTAL, "total_budget: 5100.01"), "max_total_budget_"),
        ("forbid_budget_below_usage: true", (PERIOD, "period_budget: 119.99"), "forbid_budget_"),
    ],
)
def test_each_policy_rule_exits_3(
    plan_cli: PlanCli, project: Path, policy: str, declared: tuple[str, str], expected: str
) -> None:
    """Every money guardrail from reconciler.yaml is enforced at plan time with exit 3."""
    write_config(project, f"policy:\n  {policy}\n")
    run = plan_cli("--detailed-exitcode", manifest=MATCHING.replace(*declared))
    assert run.code == 3, run.out + run.err
    assert f"  ✗ {expected}" in run.out


def test_budget_within_usage_passes(plan_cli: PlanCli) -> None:
    """A decrease that stays above usage is no violation."""
    changed = MATCHING.replace("period_budget: 250.00", "period_budget: 120")
    assert plan_cli("--detailed-exitcode", manifest=changed).code == 2


# -- formats and outputs ---------------------------------------------------------------------------


def test_json_format_is_schema_valid(plan_cli: PlanCli) -> None:
    """--format json prints a JSON plan that validates against plan.schema.json."""
    changed = MATCHING.replace("{tier: pro}", "{tier: gold}")
    run = plan_cli("--format", "json", "--prune", manifest=changed)
    document = json.loads(run.out)
    jsonschema.validate(document, SCHEMA)
    assert document["summary"]["update"] == 1
    assert document["changes"][0]["fields"] == [
        {"path": "metadata.tier", "kind": "metadata", "before": "pro", "after": "gold"}
    ]
    assert run.code == 3


def test_redact_with_json_says_json_keeps_addresses(plan_cli: PlanCli) -> None:
    """--redact --format json is not silently ignored: a note says JSON keeps the addresses."""
    run = plan_cli("--format", "json", "--redact")
    assert run.code == 0
    assert "Note: --redact masks e-mail addresses in text and Markdown only" in run.err
    assert "billing@acme.example" not in run.err
    json.loads(run.out)


def test_markdown_format_starts_with_the_marker_and_redacts(plan_cli: PlanCli) -> None:
    """--format markdown prints the PR comment; --redact masks e-mail addresses."""
    changed = MATCHING.replace("billing@acme.example", "owner@acme.example")
    run = plan_cli("--format", "markdown", "--redact", manifest=changed)
    assert run.out.startswith("<!-- reconciler-plan -->\n**Plan: 0 to create, 1 to update")
    assert '"b***@acme.example" → "o***@acme.example"' in run.out
    assert "billing@" not in run.out
    assert "owner@" not in run.out


def test_step_summary_gets_the_markdown(
    plan_cli: PlanCli, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With GITHUB_STEP_SUMMARY set, the Markdown plan is appended to it."""
    summary = project / "summary.md"
    summary.write_text("earlier\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    plan_cli()
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier\n\n<!-- reconciler-plan -->\n")
    assert "No changes. Live state matches the manifests (2 unchanged)." in text


def test_out_writes_a_saved_plan_for_apply(plan_cli: PlanCli, project: Path) -> None:
    """--out writes a verified saved plan with target, digest, before and fields; no key."""
    changed = MATCHING.replace("period_budget: 250.00", "period_budget: 300")
    run = plan_cli("--out", "plan.json", manifest=changed)
    assert run.code == 0
    assert "Saved the plan to plan.json (sha256:" in run.err
    assert "To apply exactly this plan: reconciler apply --plan plan.json\n" in run.err
    emulator = plan_cli.emulator
    assert emulator is not None
    saved = load_saved_plan(project / "plan.json")
    (change,) = saved.plan.changes
    assert request_body(change, RESPAN) == {"period_budget": Decimal("300.00")}
    assert change.before["period_budget"] == Decimal("250.00")
    assert change.before["metadata"] == {"tier": "pro"}
    assert saved.provider("respan") == ProviderTarget("respan", emulator.url, ("prod",))
    assert saved.manifest_digest == load_manifests([project / "customers.yaml"]).digest
    assert emulator.api_key not in (project / "plan.json").read_text(encoding="utf-8")


def test_api_key_never_printed_even_verbose(plan_cli: PlanCli) -> None:
    """-v logs requests to stderr without the key; stdout has no key either."""
    run = plan_cli("-v", "--prune")
    assert plan_cli.emulator is not None
    key = plan_cli.emulator.api_key
    assert "POST /api/users/list/" in run.err
    assert key not in run.out
    assert key not in run.err


def test_colour_only_on_a_terminal_without_no_color() -> None:
    """Colour needs a TTY and no NO_COLOR (whatever its value); captured output has none."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert use_color(Terminal(), {}) is True
    assert use_color(Terminal(), {"NO_COLOR": ""}) is False
    assert use_color(io.StringIO(), {}) is False


def test_text_output_to_a_pipe_has_no_colour(plan_cli: PlanCli) -> None:
    """Captured (non-terminal) stdout carries no escape sequences."""
    run = plan_cli(manifest=MATCHING.replace("name: Beta", "name: B"))
    assert "\x1b[" not in run.out
    assert '    name: "Beta" → "B"' in run.out


# -- selection and lifecycle ---------------------------------------------------------------------


def test_targets_and_excludes(plan_cli: PlanCli) -> None:
    """--target/--exclude narrow the plan; excluded declared customers are not pruned."""
    changed = MATCHING.replace("name: Acme", "name: A").replace("name: Beta", "name: B")
    run = plan_cli(
        "--target",
        "glob:a*",
        "--target",
        "glob:b*",
        "--exclude",
        "beta",
        "--prune",
        manifest=changed,
    )
    assert "~ respan/prod/acme" in run.out
    assert "beta" not in run.out
    assert "stray" not in run.out  # not matched by any target
    assert "Plan: 0 to create, 1 to update, 0 to delete, 0 missing, 0 unchanged." in run.out


def test_a_target_is_an_exact_id_so_prune_never_widens_it(plan_cli: PlanCli, project: Path) -> None:
    """--prune --target 'team[a]' plans no delete of 'teama' (exact match unless glob:)."""
    write_config(project, "policy:\n  max_deletes: 5\n")
    seed = {"customers": [{"customer_identifier": "teama"}, {"customer_identifier": "acme"}]}
    run = plan_cli(
        "--prune",
        "--target",
        "team[a]",
        seed=seed,
        manifest=manifest("{customer_identifier: acme}"),
    )
    assert "teama" not in run.out
    assert run.code == 1
    assert "--target 'team[a]' matches no declared or live customer (ids match exactly)" in (
        run.err
    )
    assert "for a pattern write --target 'glob:team[a]'" in run.err
    assert plan_cli.requests().get("DELETE /api/users/{customer_identifier}/") is None
    run = plan_cli(
        "--prune", "--target", "glob:team[a]", manifest=manifest("{customer_identifier: acme}")
    )
    assert "- respan/prod/teama" in run.out


def test_a_target_or_exclude_matching_no_customer_is_an_error(plan_cli: PlanCli) -> None:
    """A typo in --target or --exclude exits 1 naming it, instead of planning nothing."""
    run = plan_cli("--target", "acme", "--exclude", "betta")
    assert run.code == 1
    assert "--exclude 'betta' matches no declared or live customer" in run.err
    assert "did you mean 'beta'?" in run.err
    assert run.out == ""


def test_mistyped_target_names_the_close_id(plan_cli: PlanCli) -> None:
    """--target acme-crop, one letter off a real id, exits 1 and suggests it; nothing planned."""
    seed = {"customers": [{"customer_identifier": "acme-corp"}]}
    run = plan_cli(
        "--target", "acme-crop", seed=seed, manifest=manifest("{customer_identifier: acme-corp}")
    )
    assert run.code == 1
    assert run.err.splitlines()[-1] == (
        "Error: --target 'acme-crop' matches no declared or live customer (ids match exactly); "
        "did you mean 'acme-corp'?"
    )
    assert run.out == ""


def test_a_glob_target_matching_nothing_suggests_from_its_pattern_only(plan_cli: PlanCli) -> None:
    """--target 'glob:' and 'glob:[' suggest no id the word "glob" happens to resemble, and
    a control character in a selector reaches the terminal escaped in the hint too."""
    seed = {"customers": [{"customer_identifier": "globex"}]}
    declared = manifest("{customer_identifier: globex}")
    for pattern in ("glob:", "glob:["):
        run = plan_cli("--target", pattern, seed=seed, manifest=declared)
        assert run.code == 1
        assert run.err.splitlines()[-1] == (
            f"Error: --target '{pattern}' matches no declared or live customer (ids match exactly)"
        )
    run = plan_cli("--target", "glob:glebex*", seed=seed, manifest=declared)
    assert run.err.splitlines()[-1].endswith("; did you mean 'globex'?")
    run = plan_cli("--target", "a\x1b[31m*", seed=seed, manifest=declared)
    assert run.code == 1
    assert "\x1b" not in run.err
    assert "for a pattern write --target 'glob:a\\x1b[31m*'" in run.err


def test_a_rate_limit_beyond_a_million_is_a_usage_error(plan_cli: PlanCli) -> None:
    """--rate-limit with a count too large for any pacer exits 1 naming the bound, no
    traceback, nothing sent."""
    run = plan_cli("--rate-limit", "9" * 23 + "/s", manifest=manifest("{customer_identifier: a}"))
    assert run.code == 1
    assert "Traceback" not in run.err
    assert "N from 1 to 1,000,000" in run.err.splitlines()[-1]
    assert plan_cli.requests() == {}


def test_plan_beside_a_reconciler_yml_sends_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A settings file misnamed reconciler.yml stops plan (exit 1, named) before any request,
    instead of planning without its policy against the default API."""
    app = ScriptedApp(lambda seen: Answer(200, {"count": 0, "next": None, "results": []}))
    (workdir / "reconciler.yml").write_text("policy: {max_deletes: 0}\n", encoding="utf-8")
    (workdir / "customers.yaml").write_text(manifest("{customer_identifier: a}"), encoding="utf-8")
    with serve(app) as url:
        monkeypatch.setenv("RESPAN_BASE_URL", url)
        monkeypatch.setenv("RESPAN_API_KEY", "k" * 20)
        run = run_cli(capsys, "plan", "customers.yaml")
    assert run.code == 1
    assert "reconciler.yml:1:1: error:" in run.err
    assert "Traceback" not in run.err
    assert app.seen == []


def test_output_never_fails_on_a_terminal_that_cannot_encode_it(tmp_path: Path) -> None:
    """With a cp1252 console the plan prints "->" for "→" instead of a traceback."""
    project = tmp_path / "quickstart"
    shutil.copytree(Path(__file__).parent.parent / "examples" / "quickstart", project)
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("RESPAN_", "AUTUMN_", "NO_"))
    }
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan"],
        cwd=project,
        env={**environ, "PYTHONIOENCODING": "cp1252"},
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"period_budget: $200.00 -> $250.00" in done.stdout
    assert b"Traceback" not in done.stderr


def test_ignore_changes_leaves_drift_alone(plan_cli: PlanCli) -> None:
    """Fields under lifecycle.ignore_changes are not corrected."""
    changed = MATCHING.replace("{tier: pro}", "{tier: gold}").replace(
        "markup_percentage: 20.0",
        "markup_percentage: 20.0\n    lifecycle: {ignore_changes: [metadata]}",
    )
    run = plan_cli("--detailed-exitcode", manifest=changed)
    assert run.code == 0
    assert "No changes." in run.out


def test_fields_the_api_omits_show_unknown_and_are_sent(plan_cli: PlanCli, project: Path) -> None:
    """When the API omits metadata and markup, the plan shows them unknown and sends them."""
    run = plan_cli(
        "--detailed-exitcode",
        "--out",
        "plan.json",
        omit_fields=frozenset({"metadata", "markup_percentage"}),
    )
    assert run.code == 2
    assert "    markup_percentage: (unknown) → 20" in run.out
    assert '    metadata: (unknown) → {"tier": "pro"}' in run.out
    (change,) = load_saved_plan(project / "plan.json").plan.changes
    assert request_body(change, RESPAN) == {
        "markup_percentage": Decimal(20),
        "metadata": {"tier": "pro"},
    }


# -- request economy -------------------------------------------------------------------------------


def test_request_economy(plan_cli: PlanCli) -> None:
    """ceil(N/1000) list requests, one retrieve per customer declaring a detail-only field."""
    count = 2_100
    seed = {
        "customers": [
            {"customer_identifier": f"c{i:04d}", "period_budget": 10, "metadata": {"n": "x"}}
            for i in range(count)
        ]
    }
    declared = [f"customer_identifier: c{i:04d}\n    period_budget: 10" for i in range(count)]
    for index in range(3):  # three of them also declare metadata, which the list lacks
        declared[index] += "\n    metadata: {n: x}"
    run = plan_cli("--detailed-exitcode", manifest=manifest(*declared), seed=seed)
    assert run.code == 0, run.out + run.err
    assert f"({count:,} unchanged)" in run.out
    assert plan_cli.requests() == {
        LIST: math.ceil(count / 1000),
        RETRIEVE: 3,
    }


def test_usage_is_read_only_for_guarded_decreases(plan_cli: PlanCli) -> None:
    """A budget decrease costs one retrieve for usage; an increase costs none."""
    up = MATCHING.replace("period_budget: 10.50", "period_budget: 20")
    plan_cli(manifest=up)
    stats = plan_cli.requests()
    assert stats == {LIST: 1, RETRIEVE: 1}  # acme's metadata/markup need its detail anyway
    down = MATCHING.replace("period_budget: 10.50", "period_budget: 5")
    plan_cli(manifest=down, seed=SEED)
    stats = plan_cli.requests()
    assert stats == {LIST: 1, RETRIEVE: 2}


# -- errors --------------------------------------------------------------------------------------


def test_invalid_manifest_names_the_place_and_exits_1(plan_cli: PlanCli) -> None:
    """A manifest error is reported as file:line:col before any request; exit 1."""
    run = plan_cli(manifest=MATCHING.replace("period_budget: 250.00", "period_budget: -5"))
    assert run.code == 1
    assert "customers.yaml:7:" in run.err
    assert "Traceback" not in run.err
    assert plan_cli.requests() == {}


def test_missing_api_key_is_a_clean_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without RESPAN_API_KEY the plan stops with a message saying what to set; exit 1."""
    (project / "customers.yaml").write_text(MATCHING, encoding="utf-8")
    code = main(["plan", "customers.yaml", "--base-url", "http://127.0.0.1:9"])
    captured = capsys.readouterr()
    assert code == 1
    assert "RESPAN_API_KEY is not set" in captured.err


def test_usage_errors_exit_1_never_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad flags and no PATH without reconciler.yaml are usage errors: exit 1."""
    assert main(["plan", "--format", "yaml", "x.yaml"]) == 1
    assert main(["plan"]) == 1
    assert "no PATH given and no reconciler.yaml" in capsys.readouterr().err


def test_base_url_with_several_providers_needs_provider(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--base-url is ambiguous with Respan and Autumn manifests unless --provider picks one."""
    (project / "r.yaml").write_text(MATCHING, encoding="utf-8")
    (project / "a.yaml").write_text(
        "provider: autumn\nenvironment: sandbox\ncustomers:\n  - id: c1\n    name: C\n",
        encoding="utf-8",
    )
    code = main(["plan", ".", "--base-url", "http://127.0.0.1:9"])
    assert code == 1
    assert "--base-url and --rate-limit need --provider" in capsys.readouterr().err


def test_api_failure_exits_1(plan_cli: PlanCli, monkeypatch: pytest.MonkeyPatch) -> None:
    """An API error (here: a rejected key) is one clean message and exit 1, never a plan."""
    plan_cli()
    monkeypatch.setenv("RESPAN_API_KEY", "wrong-key")
    assert plan_cli.emulator is not None
    code = main(
        ["plan", "customers.yaml", "--base-url", plan_cli.emulator.url, "--detailed-exitcode"]
    )
    err = plan_cli.capsys.readouterr().err
    assert code == 1
    assert "Error:" in err
    assert "wrong-key" not in err
    assert "Traceback" not in err


def test_unwritable_out_file_exits_1(plan_cli: PlanCli) -> None:
    """A saved plan that cannot be written is an error after the plan was shown."""
    run = plan_cli("--out", "no/such/dir/plan.json")
    assert run.code == 1
    assert "cannot write saved plan no/such/dir/plan.json" in run.err


def test_out_never_replaces_a_file_that_is_not_a_saved_plan(
    plan_cli: PlanCli, project: Path
) -> None:
    """--out naming a manifest (or any file but a saved plan) exits 1 before any request and
    leaves it as it was; an earlier saved plan, or an empty file, is replaced."""
    declared = manifest("{customer_identifier: acme, name: Renamed}")
    run = plan_cli("--out", "customers.yaml", manifest=declared)
    assert run.code == 1
    assert run.err.splitlines()[-1] == (
        "Error: --out customers.yaml: the file exists and is not a saved plan (a manifest, "
        "settings?); nothing was written: name a new file, or remove this one first"
    )
    assert (project / "customers.yaml").read_text(encoding="utf-8") == declared
    assert plan_cli.requests() == {}
    (project / "empty.json").write_text("", encoding="utf-8")
    for _ in range(2):  # an empty file (from mktemp), then the saved plan written into it
        run = plan_cli("--out", "empty.json", manifest=declared)
        assert run.code == 0, run.err
        assert load_saved_plan(project / "empty.json").plan.changes


def test_provider_flag_plans_only_that_providers_customers(
    plan_cli: PlanCli, project: Path
) -> None:
    """--provider respan leaves Autumn manifests out: no Autumn key is needed."""
    (project / "autumn.yaml").write_text(
        "provider: autumn\nenvironment: sandbox\ncustomers:\n  - id: c1\n    name: C\n",
        encoding="utf-8",
    )
    plan_cli()  # start the emulator and set the Respan variables
    assert plan_cli.emulator is not None
    code = main(["plan", ".", "--provider", "respan", "--base-url", plan_cli.emulator.url])
    out = plan_cli.capsys.readouterr().out
    assert code == 0
    assert out.endswith(
        "(from --base-url)\n\nNo changes. Live state matches the manifests (2 unchanged).\n"
    )


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_help_says_targets_are_exact_unless_glob(command: str, cli: Callable[..., Run]) -> None:
    """--help of plan and apply says how to ask for a pattern."""
    run = cli(command, "--help")
    assert "exactly this id" in run.out
    assert "'glob:PATTERN'" in run.out


# -- interrupts ----------------------------------------------------------------------------------

RETRIEVE = "GET /api/users/{customer_identifier}/"
# Bounds a wait for a condition, never an assertion about how long something took.
DEADLINE_SECONDS = 60


def test_ctrl_c_while_reading_starts_no_new_request_and_exits_130(
    project: Path, respan_emulator: Emulators
) -> None:
    """SIGINT during the live reads: no new request, no saved plan, one line, exit 130."""
    seed = {"customers": [{"customer_identifier": f"c{i:03}"} for i in range(60)]}
    body = "".join(f"  - customer_identifier: c{i:03}\n    metadata: {{t: x}}\n" for i in range(60))
    (project / "customers.yaml").write_text(manifest() + body, encoding="utf-8")
    running = respan_emulator(seed=seed, latency_ms=100)
    env = {**os.environ, "RESPAN_BASE_URL": running.url, "RESPAN_API_KEY": running.api_key}
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "plan", "customers.yaml", "--out", "plan.json"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert running.wait_for_requests(RETRIEVE, 2, DEADLINE_SECONDS) >= 2
        process.send_signal(signal.SIGINT)
        at_signal = running.stats()["requests"][RETRIEVE]
        out, err = process.communicate(timeout=DEADLINE_SECONDS)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130, err
    # Retrieves run 8 at a time: only those in flight at the signal may arrive after it.
    assert at_signal <= running.stats()["requests"][RETRIEVE] <= at_signal + 8 < 60
    *waits, last = err.splitlines()
    assert last == "Error: interrupted by SIGINT: no new request was started"
    assert all(line.startswith("Waiting ") for line in waits)  # pacing at 60/min, said once
    assert out == ""
    assert not (project / "plan.json").exists()


def test_ctrl_c_does_not_wait_for_a_read_the_server_never_answers(project: Path) -> None:
    """A list request left hanging is abandoned after the grace period: exit 130, not a
    transport error once the client's own timeout runs out."""
    (project / "customers.yaml").write_text(MATCHING, encoding="utf-8")
    arrived = threading.Event()
    release = threading.Event()  # set once the test is done, so the server can stop at once

    async def hang(seen: Seen) -> Answer:
        arrived.set()
        await asyncio.to_thread(release.wait, DEADLINE_SECONDS)
        return Answer(200, {"count": 0, "next": None, "results": []})

    with serve(ScriptedApp(hang)) as url:
        env = {**os.environ, "RESPAN_BASE_URL": url, "RESPAN_API_KEY": "rsp_test_key"}
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "plan", "customers.yaml"],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert arrived.wait(DEADLINE_SECONDS)
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=DEADLINE_SECONDS)
        finally:
            process.kill()
            process.wait()
            release.set()
    assert process.returncode == 130, err
    assert "interrupted by SIGINT: no new request was started" in err
    assert "reads still in flight were abandoned" in err


# -- against a git base (--base REF) ---------------------------------------------------------------

# Live: acme as declared, beta's budget moved in the dashboard (10.50 -> 99).
DRIFTED = {
    "customers": [
        SEED["customers"][0],
        {**SEED["customers"][1], "period_budget": 99},
        SEED["customers"][2],
    ]
}
RAISED = MATCHING.replace("period_budget: 250.00", "period_budget: 300")


@pytest.fixture
def based(project: Path) -> str:
    """The project is a git repository whose last commit (the base) holds MATCHING."""
    make_repo(project)
    return commit(project, {"customers.yaml": MATCHING}, "base")


def test_base_shows_this_changes_edits_apart_from_drift(plan_cli: PlanCli, based: str) -> None:
    """--base: acme's raise is this change's, beta's revert is drift; groups, count, exit."""
    run = plan_cli("--base", "HEAD", "--detailed-exitcode", manifest=RAISED, seed=DRIFTED)
    assert run.code == 2
    assert run.out.index("Changes in this pull request (1):") < run.out.index(
        "~ respan/prod/acme (customers.yaml:4)\n    period_budget: $250.00 → $300.00"
    )
    assert run.out.index("Drift that apply would revert (1):") < run.out.index(
        "~ respan/prod/beta (customers.yaml:12)\n    period_budget: $99.00 → $10.50"
    )
    assert run.out.index("acme") < run.out.index("Drift that apply would revert")
    assert (
        f"1 change in this pull request, 1 drift correction (base: HEAD, commit {based[:12]})."
        in run.out
    )


def test_base_json_carries_each_cause_and_the_base(plan_cli: PlanCli, based: str) -> None:
    """The JSON plan names the base and a cause per change and field; it fits the schema."""
    run = plan_cli("--base", "HEAD", "--format", "json", manifest=RAISED, seed=DRIFTED)
    document = json.loads(run.out)
    jsonschema.validate(document, SCHEMA)
    assert document["format_version"] == 1
    assert document["base"] == {"ref": "HEAD", "commit": based}
    causes = {
        change["id"]: (change["cause"], [field["cause"] for field in change["fields"]])
        for change in document["changes"]
    }
    assert causes == {"acme": ("manifest", ["manifest"]), "beta": ("drift", ["drift"])}


def test_without_base_the_json_plan_is_unchanged(plan_cli: PlanCli) -> None:
    """No --base, no cause and no base key: plans and checksums stay what they were."""
    document = json.loads(plan_cli("--format", "json", manifest=RAISED).out)
    assert "base" not in document
    assert all("cause" not in change for change in document["changes"])


def test_base_markdown_leads_with_this_changes_edits(plan_cli: PlanCli, based: str) -> None:
    """The pull-request comment: summary, count, then this change's table, then the drift."""
    run = plan_cli("--base", "HEAD", "--format", "markdown", manifest=RAISED, seed=DRIFTED)
    lines = run.out.splitlines()
    assert lines[1].startswith("**Plan: 0 to create, 2 to update")
    assert lines[3].startswith("1 change in this pull request, 1 drift correction")
    mine = run.out.index("### Changes in this pull request")
    drift = run.out.index("### Drift that apply would revert")
    assert mine < run.out.index("`respan/prod/acme`") < drift < run.out.index("`respan/prod/beta`")


def test_base_saved_plan_records_causes_and_applies(
    plan_cli: PlanCli, based: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """plan --base --out keeps the causes; apply --plan sends the bodies its fields give."""
    run = plan_cli("--base", "HEAD", "--out", "plan.json", manifest=RAISED, seed=DRIFTED)
    assert run.code == 0
    saved = load_saved_plan(project / "plan.json")
    assert [(c.id, c.cause) for c in saved.plan.changes] == [
        ("acme", "manifest"),
        ("beta", "drift"),
    ]
    assert [request_body(c, RESPAN) for c in saved.plan.changes] == [
        {"period_budget": Decimal("300.00")},
        {"period_budget": Decimal("10.50")},
    ]
    applied = run_cli(capsys, "apply", "--plan", "plan.json", "--rate-limit", "10000/s")
    assert applied.code == 0, applied.err
    assert "2 applied, 0 failed" in applied.out
    after = plan_cli("--base", "HEAD", manifest=RAISED)
    assert "No changes." in after.out
    assert "0 changes in this pull request, 0 drift corrections" in after.out


def test_removing_a_protected_declaration_exits_3(plan_cli: PlanCli, project: Path) -> None:
    """prevent_destroy at the base, declaration gone now: a violation naming the customer."""
    make_repo(project)
    protected = MATCHING.replace(
        "    markup_percentage: 20.0\n",
        "    markup_percentage: 20.0\n    lifecycle: {prevent_destroy: true}\n",
    )
    commit(project, {"customers.yaml": protected})
    without_acme = manifest("customer_identifier: beta\n    name: Beta\n    period_budget: 10.50")
    run = plan_cli("--base", "HEAD", "--detailed-exitcode", manifest=without_acme)
    assert run.code == 3
    assert "prevent_destroy (respan/prod/acme): declared with lifecycle.prevent_destroy: true" in (
        run.out
    )
    assert "first merge a change that sets prevent_destroy: false" in run.out
    # Once the base says false, the removal passes.
    commit(project, {"customers.yaml": protected.replace("true}", "false}")})
    assert plan_cli("--base", "HEAD", manifest=without_acme).code == 0


def test_an_unknown_base_is_an_error_before_any_request(plan_cli: PlanCli, based: str) -> None:
    """A REF that names no commit: exit 1, one clear line, and the API is never asked."""
    run = plan_cli("--base", "no-such-branch", manifest=RAISED)
    assert run.code == 1
    assert run.err.strip() == (
        "Error: --base no-such-branch: no such commit in this repository; check the name, and "
        "in a shallow clone fetch it first (git fetch --depth=1 origin REVISION)"
    )
    assert plan_cli.requests() == {}


def test_an_unparsable_base_names_its_place_and_sends_nothing(
    plan_cli: PlanCli, project: Path
) -> None:
    """Bad YAML at the base: REF:path:line:column and the REF, no traceback, no request."""
    make_repo(project)
    commit(project, {"customers.yaml": MATCHING + "  - customer_identifier: [\n"})
    run = plan_cli("--base", "HEAD", manifest=RAISED)
    assert run.code == 1
    assert run.err.startswith("HEAD:customers.yaml:16:1: error: YAML syntax error")
    assert "problem(s) in the manifests at --base HEAD (commit " in run.err
    assert "Traceback" not in run.err
    assert plan_cli.requests() == {}


def test_base_reads_the_config_manifests_at_the_revision(
    project: Path,
    respan_emulator: Emulators,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without PATH, the manifests: of reconciler.yaml are read at REF as in the working tree."""
    make_repo(project)
    write_config(project, "manifests: [customers/]\nrate_limit: 10000/s\n")
    commit(project, {"customers/main.yaml": MATCHING})
    (project / "customers" / "main.yaml").write_text(RAISED, encoding="utf-8")
    point_at(monkeypatch, respan_emulator(seed=DRIFTED))
    run = run_cli(capsys, "plan", "--base", "HEAD")
    assert run.code == 0, run.err
    assert "1 change in this pull request, 1 drift correction" in run.out


def test_a_protected_customer_moved_to_another_manifest_is_still_declared(
    plan_cli: PlanCli, project: Path
) -> None:
    """Planning one file: a protected customer moved to another manifest is no violation."""
    make_repo(project)
    write_config(project, "manifests: [customers.yaml, more/]\n")
    protected = MATCHING.replace(
        "    markup_percentage: 20.0\n",
        "    markup_percentage: 20.0\n    lifecycle: {prevent_destroy: true}\n",
    )
    commit(project, {"customers.yaml": protected})
    beta_only = manifest("customer_identifier: beta\n    name: Beta\n    period_budget: 10.50")
    acme_only = protected.split("  - customer_identifier: beta")[0]
    (project / "more").mkdir()
    (project / "more" / "acme.yaml").write_text(acme_only, encoding="utf-8")
    run = plan_cli("--base", "HEAD", "--detailed-exitcode", manifest=beta_only)
    assert run.code == 0, run.out + run.err
    (project / "more" / "acme.yaml").unlink()
    (project / "more" / "other.yaml").write_text(manifest("customer_identifier: gamma"), "utf-8")
    assert plan_cli("--base", "HEAD", manifest=beta_only).code == 3


# -- what the plan talks to ----------------------------------------------------------------------


def test_text_plan_starts_with_provider_environment_and_api_address(plan_cli: PlanCli) -> None:
    """The first line of the text plan names the provider, environment and base URL, and
    where the address came from."""
    run = plan_cli()
    assert run.code == 0
    assert plan_cli.emulator is not None
    assert run.out.splitlines()[0] == (
        f"Talking to respan, environment prod, at {plan_cli.emulator.url} (from RESPAN_BASE_URL)"
    )


def test_markdown_plan_names_what_it_talks_to_under_the_summary(plan_cli: PlanCli) -> None:
    """The Markdown comment keeps its summary line first and names the API right under it."""
    run = plan_cli("--format", "markdown")
    assert plan_cli.emulator is not None
    lines = [line for line in run.out.splitlines() if line and not line.startswith("<!--")]
    assert lines[0].startswith("No changes")
    assert lines[1].startswith("Talking to respan, environment prod, at http://127.0.0.1:")


def test_json_plan_has_no_target_line(plan_cli: PlanCli) -> None:
    """JSON output stays one JSON document."""
    run = plan_cli("--format", "json")
    json.loads(run.out)


def test_misspelled_variable_gets_a_one_line_hint(
    plan_cli: PlanCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RESPAN_URL and RESPAN_KEY are not read: each gets a hint naming the variable meant, only
    when that one is not set."""
    monkeypatch.setenv("RESPAN_KEY", "x")
    monkeypatch.setenv("RESPAN_URL", "http://example.invalid")
    monkeypatch.setenv("AUTUMN_API_KEY", "x")
    run = plan_cli()
    hints = [line for line in run.err.splitlines() if line.startswith("Hint:")]
    assert hints == [
        "Hint: AUTUMN_API_KEY is set but reconciler does not read it; did you mean "
        "AUTUMN_SECRET_KEY?"
    ]


def test_variable_overriding_the_configured_emulator_is_named(
    plan_cli: PlanCli, project: Path
) -> None:
    """RESPAN_BASE_URL replacing the emulator of reconciler.yaml is said on stderr."""
    (project / "seed.json").write_text('{"customers": []}', encoding="utf-8")
    write_config(project, "providers:\n  respan:\n    emulator:\n      seed: seed.json\n")
    run = plan_cli()
    assert (
        "Note: RESPAN_BASE_URL is set, so it overrides the built-in emulator of "
        "reconciler.yaml (providers.respan.emulator)." in run.err
    )
    assert "(from RESPAN_BASE_URL)" in run.out.splitlines()[0]


@pytest.mark.parametrize("command", [[], ["plan"], ["apply"]])
def test_help_has_examples_and_points_at_the_environment(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`--help` shows examples; the top level lists every variable the connection code reads."""
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Examples:" in out
    if not command:
        flat = " ".join(out.split())
        for name in sorted(read_variables()):
            assert name in flat
    else:
        assert "`reconciler --help` lists" in " ".join(out.split())
