"""``reconciler export`` end to end: the real CLI against the Respan emulator over HTTP."""

from __future__ import annotations

import socket
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Run, point_at
from hostile_respan import RESPAN_KEY, respan_rows
from scripted_http import Answer as ScriptedAnswer
from scripted_http import ScriptedApp, Seen, serve

from reconciler.clients.retry import RetryPolicy
from reconciler.emulator import RunningEmulator
from reconciler.manifests import load_manifests
from reconciler.providers.respan.emulator import RespanState

Emulators = Callable[..., RunningEmulator[RespanState]]
LIST = "POST /api/users/list/"
RETRIEVE = "GET /api/users/{customer_identifier}/"
FAST = "10000/s"

SEED: dict[str, Any] = {
    "customers": [
        {
            "customer_identifier": "acme",
            "name": "Acme Corp",
            "email": "billing@acme.example",
            "period_budget": 250.0000001,
            "total_budget": 5000,
            "budget_duration": "monthly",
            "metadata": {"tier": "enterprise", "seats": 40, "yes": "on"},
            "markup_percentage": 20.5,
            "period_start": "2026-11-01T01:00:00+01:00",
            "period_end": "2026-11-30T23:59:59Z",
            "total_cost": 120,
        },
        {
            "customer_identifier": "beta",
            "name": "yes",
            "email": "ap@beta.example",
            "period_budget": 99.5,
            "budget_duration": "monthly",
            "total_cost": 5,
        },
        {
            "customer_identifier": "gamma",
            "environment": "test",
            "name": "Gamma (staging)",
            "period_budget": 1,
            "budget_duration": "weekly",
        },
    ]
}


@pytest.fixture
def project(workdir: Path) -> Path:
    """An empty project directory as the working directory, without provider settings."""
    return workdir


@pytest.fixture
def emulator(
    respan_emulator: Emulators, monkeypatch: pytest.MonkeyPatch, project: Path
) -> Callable[..., RunningEmulator[RespanState]]:
    """Start a seeded emulator and point the CLI at it (unpaced, via reconciler.yaml)."""
    (project / "reconciler.yaml").write_text(f"rate_limit: {FAST}\n", encoding="utf-8")

    def start(seed: dict[str, Any] | None = None, **settings: Any) -> RunningEmulator[RespanState]:
        running = respan_emulator(seed=SEED if seed is None else seed, **settings)
        point_at(monkeypatch, running)
        return running

    return start


def requests(running: RunningEmulator[RespanState]) -> dict[str, int]:
    return dict(running.stats()["requests"])


def plan_is_empty(cli: Callable[..., Run], *paths: str) -> bool:
    run = cli("plan", *paths, "--detailed-exitcode")
    assert run.code in (0, 2), run.err
    return run.code == 0 and "\n\nNo changes." in run.out


def many(count: int) -> dict[str, Any]:
    return {
        "customers": [
            {
                "customer_identifier": f"c{index:04}",
                "email": f"c{index:04}@{'acme' if index % 100 == 0 else 'other'}.example",
                "period_budget": index,
                "budget_duration": "monthly",
                "metadata": {"n": index},
            }
            for index in range(count)
        ]
    }


# -- what an export writes ---------------------------------------------------------------------


def test_export_to_stdout_is_a_commented_manifest(
    emulator: Callable[..., Any], cli: Callable[..., Run]
) -> None:
    """Modeline, header without secrets, defaults factored, money and timestamps clean."""
    running = emulator()
    run = cli("export")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "# yaml-language-server: $schema=schemas/manifest.schema.json"
    assert lines[1].startswith("# Exported by `reconciler export` on ")
    assert lines[2] == f"# from respan at {running.url} (environment prod)."
    assert running.api_key not in run.out + run.err
    body = "\n".join(lines[4:]) + "\n"
    assert body == (
        "provider: respan\n"
        "environment: prod\n"
        "defaults:\n"
        "  budget_duration: monthly\n"
        "customers:\n"
        "  - customer_identifier: acme\n"
        "    name: Acme Corp\n"
        "    email: billing@acme.example\n"
        "    period_budget: 250\n"
        "    total_budget: 5000\n"
        '    period_start: "2026-11-01T00:00:00Z"\n'
        '    period_end: "2026-11-30T23:59:59Z"\n'
        "    markup_percentage: 20.5\n"
        "    metadata:\n"
        "      seats: 40\n"
        "      tier: enterprise\n"
        "      'yes': 'on'\n"
        "  - customer_identifier: beta\n"
        "    name: 'yes'\n"
        "    email: ap@beta.example\n"
        "    period_budget: 99.5\n"
        '    period_start: "2025-01-01T00:00:00Z"\n'
        "    markup_percentage: 0\n"
    )
    assert "Exported 2 respan customer(s) (prod: 2) to stdout." in run.err


def test_export_then_plan_shows_no_changes(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """Round trip: metadata, timestamps, money noise and markup all plan as unchanged."""
    emulator()
    run = cli("export", "--environment", "prod", "--environment", "test", "-o", "all.yaml")
    assert run.code == 0, run.err
    text = (project / "all.yaml").read_text(encoding="utf-8")
    assert "(environments prod, test)" in text
    assert "\n---\n" in text
    loaded = load_manifests([project / "all.yaml"])
    assert sorted(c.id for c in loaded.customers) == ["acme", "beta", "gamma"]
    assert plan_is_empty(cli, "all.yaml")


def test_include_nulls_round_trips_too(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """Null budgets written with --include-nulls are equal to the live nulls."""
    emulator()
    run = cli("export", "--include-nulls", "-o", "prod.yaml")
    assert run.code == 0, run.err
    text = (project / "prod.yaml").read_text(encoding="utf-8")
    assert "total_budget: null" in text
    assert plan_is_empty(cli, "prod.yaml")


# -- request economy ---------------------------------------------------------------------------


def test_2500_customers_cost_three_lists_and_only_needed_retrieves(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """Listed fields only: 3 list requests and no retrieve; all fields: one retrieve each."""
    running = emulator(many(2500))
    run = cli("export", "--fields", "email,period_budget,budget_duration", "-o", "budgets.yaml")
    assert run.code == 0, run.err
    assert requests(running) == {LIST: 3}
    assert len(load_manifests([project / "budgets.yaml"]).customers) == 2500
    assert plan_is_empty(cli, "budgets.yaml")

    running.reset_stats()
    run = cli("export", "-o", "full.yaml")
    assert run.code == 0, run.err
    assert requests(running) == {LIST: 3, RETRIEVE: 2500}
    assert "metadata:\n      n: 2499\n" in (project / "full.yaml").read_text(encoding="utf-8")


def test_filters_run_on_the_server_and_narrow_the_retrieves(
    emulator: Callable[..., Any], cli: Callable[..., Run]
) -> None:
    """A filtered export costs one list and one retrieve per match."""
    running = emulator(many(2500))
    run = cli("export", "--filter", "email:endswith:@acme.example")
    assert run.code == 0, run.err
    assert requests(running) == {LIST: 1, RETRIEVE: 25}
    assert run.out.count("customer_identifier:") == 25


def test_range_and_metadata_filters(emulator: Callable[..., Any], cli: Callable[..., Run]) -> None:
    """Two conditions on one field form a range; metadata__key::value is equality."""
    emulator()
    run = cli("export", "--filter", "total_cost:gte:10", "--filter", "total_cost:lt:1000")
    assert run.code == 0, run.err
    assert "customer_identifier: acme" in run.out
    assert "beta" not in run.out
    run = cli("export", "--filter", "metadata__tier::enterprise", "--fields", "name")
    assert run.code == 0, run.err
    assert "customer_identifier: acme" in run.out
    assert "beta" not in run.out


def test_bad_filter_exits_1_naming_it_before_any_request(
    emulator: Callable[..., Any], cli: Callable[..., Run]
) -> None:
    """A malformed filter is a one-line error with the accepted syntax; nothing is read."""
    running = emulator()
    run = cli("export", "--filter", "email~acme")
    assert run.code == 1
    assert "invalid --filter 'email~acme'" in run.err
    assert "FIELD:OPERATOR:VALUE" in run.err
    assert "Traceback" not in run.err
    run = cli("export", "--filter", "period_budget:gte:10")
    assert run.code == 1
    assert "cannot filter customers by 'period_budget'" in run.err
    assert requests(running) == {}


# -- layouts -----------------------------------------------------------------------------------


def test_directory_gets_one_file_per_environment(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """-o DIR/ writes respan-prod.yaml and respan-test.yaml; plan of the directory is empty."""
    emulator()
    run = cli("export", "--environment", "prod", "--environment", "test", "-o", "customers/")
    assert run.code == 0, run.err
    names = sorted(p.name for p in (project / "customers").iterdir())
    assert names == ["respan-prod.yaml", "respan-test.yaml"]
    first = (project / "customers" / "respan-prod.yaml").read_text(encoding="utf-8")
    assert first.startswith("# yaml-language-server: $schema=../schemas/manifest.schema.json\n")
    assert plan_is_empty(cli, "customers")


def test_existing_files_are_never_overwritten_without_force(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """-o onto an existing file exits 1 before any request; into a directory holding one of
    the files it would write, exits 1 writing none of them; --force replaces them."""
    running = emulator()
    kept = "# my edits, not applied yet\n"
    (project / "out.yaml").write_text(kept, encoding="utf-8")
    run = cli("export", "-o", "out.yaml")
    assert run.code == 1
    assert "Error: out.yaml already exists; nothing was written." in run.err
    assert "--force" in run.err
    assert (project / "out.yaml").read_text(encoding="utf-8") == kept
    assert running.stats()["requests"] == {}
    (project / "customers").mkdir()
    (project / "customers" / "respan-test.yaml").write_text(kept, encoding="utf-8")
    run = cli("export", "--environment", "prod", "--environment", "test", "-o", "customers/")
    assert run.code == 1
    assert "customers/respan-test.yaml already exists; nothing was written." in run.err
    assert sorted(p.name for p in (project / "customers").iterdir()) == ["respan-test.yaml"]
    run = cli("export", "-o", "out.yaml", "--force")
    assert run.code == 0, run.err
    assert (project / "out.yaml").read_text(encoding="utf-8") != kept


def test_split_customer_writes_one_file_each(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """--split customer: one file per customer under provider-environment/."""
    emulator()
    run = cli("export", "--split", "customer", "-o", "out")
    assert run.code == 0, run.err
    files = sorted(p.name for p in (project / "out" / "respan-prod").iterdir())
    assert files == ["acme.yaml", "beta.yaml"]
    beta = (project / "out" / "respan-prod" / "beta.yaml").read_text(encoding="utf-8")
    assert "defaults" not in beta
    assert "budget_duration: monthly" in beta
    assert plan_is_empty(cli, "out")


def test_split_customer_needs_a_directory(
    emulator: Callable[..., Any], cli: Callable[..., Run]
) -> None:
    """Per-customer files on stdout make no sense: a usage error, exit 1."""
    emulator()
    run = cli("export", "--split", "customer")
    assert run.code == 1
    assert "give -o DIRECTORY" in run.err


def test_unwritable_output_is_a_clear_error_and_leaves_nothing(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """A file in the way of the output directory: exit 1, one message, no partial file."""
    emulator()
    (project / "blocker").write_text("not a directory\n", encoding="utf-8")
    run = cli("export", "-o", "blocker/out.yaml")
    assert run.code == 1
    assert "Error: cannot create the directory blocker" in run.err
    assert "Traceback" not in run.err
    assert sorted(p.name for p in project.iterdir()) == ["blocker", "reconciler.yaml"]


def test_unreachable_api_is_a_clear_error(
    project: Path, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listening at the base URL: exit 1 naming the host, no file, no traceback."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    quick = RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0)
    monkeypatch.setattr("reconciler.cli.export.RETRY", quick)
    monkeypatch.setenv("RESPAN_API_KEY", "rsp_unreachable_key_1234")
    run = cli("export", "--base-url", f"http://127.0.0.1:{port}", "-o", "out.yaml")
    assert run.code == 1
    assert f"127.0.0.1:{port}" in run.err
    assert "Traceback" not in run.err
    assert "rsp_unreachable_key_1234" not in run.err
    assert not (project / "out.yaml").exists()


def test_progress_bar_on_a_terminal(
    emulator: Callable[..., Any], cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When stderr is a terminal, detail reads show a progress bar there (stdout stays YAML)."""
    emulator()
    monkeypatch.setattr("reconciler.cli.common.stderr_is_terminal", lambda: True)
    run = cli("export")
    assert run.code == 0, run.err
    assert "Reading respan/prod" in run.err
    assert run.out.startswith("# yaml-language-server:")


# -- --update ----------------------------------------------------------------------------------

MANIFEST = """\
# yaml-language-server: $schema=schemas/manifest.schema.json
# Production customers. Budgets are reviewed by finance.
provider: respan
environment: prod
defaults:
  budget_duration: monthly
  period_budget: 99.50
customers:
  - customer_identifier: acme
    name: Acme Corp     # legal name
    period_budget: 250.00   # raised in FIN-1042
    metadata: {tier: enterprise}

  - customer_identifier: beta
    name: 'yes'
"""


def test_update_adopts_a_drifted_budget_and_keeps_comments(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """Live drift is written into the file; comments, quotes and 250.00-style money survive."""
    running = emulator()
    manifest = project / "customers.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    assert plan_is_empty(cli, "customers.yaml")
    running.state.update_customer("acme", {"period_budget": 300})

    run = cli("export", "--update", "customers.yaml")
    assert run.code == 0, run.err
    assert run.out == (
        "--- a/customers.yaml\n"
        "+++ b/customers.yaml\n"
        "@@ -8,7 +8,7 @@\n"
        " customers:\n"
        "   - customer_identifier: acme\n"
        "     name: Acme Corp     # legal name\n"
        "-    period_budget: 250.00   # raised in FIN-1042\n"
        "+    period_budget: 300      # raised in FIN-1042\n"
        "     metadata: {tier: enterprise}\n"
        " \n"
        "   - customer_identifier: beta\n"
    )
    assert "Updated 1 file(s): 1 field(s) of 1 customer(s)" in run.err
    text = manifest.read_text(encoding="utf-8")
    assert text == MANIFEST.replace("250.00   # raised", "300      # raised")
    assert plan_is_empty(cli, "customers.yaml")


@pytest.mark.parametrize(
    ("start", "encoding", "line_end"),
    [(b"\xef\xbb\xbf", "utf-8", "\r\n"), (b"", "utf-8", "\r\n"), (b"\xff\xfe", "utf-16-le", "\n")],
)
def test_update_keeps_the_byte_order_mark_encoding_and_line_ends_of_the_file(
    emulator: Callable[..., Any],
    cli: Callable[..., Run],
    project: Path,
    start: bytes,
    encoding: str,
    line_end: str,
) -> None:
    """A manifest saved with a BOM, CRLF line ends or as UTF-16 (all of which load) gets only
    the drifted line rewritten, in its own spelling: not a traceback, not a whole-file diff."""
    running = emulator()
    manifest = project / "customers.yaml"

    def spelled(text: str) -> bytes:
        return start + text.replace("\n", line_end).encode(encoding)

    manifest.write_bytes(spelled(MANIFEST))
    assert plan_is_empty(cli, "customers.yaml")
    running.state.update_customer("acme", {"period_budget": 300})
    run = cli("export", "--update", "customers.yaml")
    assert run.code == 0, run.err
    assert run.out.count("\n-") == 1  # the one drifted line
    assert manifest.read_bytes() == spelled(
        MANIFEST.replace("250.00   # raised", "300      # raised")
    )
    assert plan_is_empty(cli, "customers.yaml")


def test_update_with_nothing_drifted_changes_nothing(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """Equal to the cent is equal: no diff, no write, a plain message."""
    emulator()
    manifest = project / "customers.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    before = manifest.stat().st_mtime_ns
    run = cli("export", "--update", "customers.yaml")
    assert run.code == 0, run.err
    assert run.out == ""
    assert "No changes" in run.err
    assert manifest.stat().st_mtime_ns == before


def test_dry_run_shows_the_diff_and_writes_nothing(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """--dry-run prints the same diff and leaves the file as it was."""
    running = emulator()
    manifest = project / "customers.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    running.state.update_customer("acme", {"period_budget": 300})
    run = cli("export", "--update", "customers.yaml", "--dry-run")
    assert run.code == 0, run.err
    assert "+    period_budget: 300" in run.out
    assert "Nothing was written (--dry-run)" in run.err
    assert manifest.read_text(encoding="utf-8") == MANIFEST


def test_a_drifted_default_is_written_on_the_customer(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """beta's budget comes from defaults: the live value goes on beta, defaults stay."""
    running = emulator()
    manifest = project / "customers.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    running.state.update_customer("beta", {"period_budget": 12.3, "budget_duration": "weekly"})
    running.state.update_customer("acme", {"metadata": {"tier": "gold", "extra": "kept live"}})
    run = cli("export", "--update", "customers.yaml")
    assert run.code == 0, run.err
    text = manifest.read_text(encoding="utf-8")
    assert "defaults:\n  budget_duration: monthly\n  period_budget: 99.50\n" in text
    assert text.endswith(
        "  - customer_identifier: beta\n"
        "    name: 'yes'\n"
        "    period_budget: 12.3\n"
        "    budget_duration: weekly\n"
    )
    assert "metadata: {tier: gold}" in text  # only declared keys are managed
    assert plan_is_empty(cli, "customers.yaml")


def test_add_new_appends_undeclared_customers(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """--add-new FILE adds live customers no manifest declares; plan then shows nothing."""
    emulator()
    manifest = project / "customers.yaml"
    manifest.write_text(
        "provider: respan\ncustomers:\n  - customer_identifier: acme\n    period_budget: 250\n",
        encoding="utf-8",
    )
    run = cli("export", "--update", "customers.yaml", "--add-new", "customers.yaml")
    assert run.code == 0, run.err
    assert "+  - customer_identifier: beta\n" in run.out
    assert "1 customer(s) added" in run.err
    loaded = load_manifests([manifest])
    assert [c.id for c in loaded.customers] == ["acme", "beta"]
    assert loaded.customers[1].fields["period_budget"] == Decimal("99.5")
    assert plan_is_empty(cli, "customers.yaml")


def test_add_new_keeps_new_customers_out_of_the_defaults_of_a_document(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """A new customer without a live budget is not added under defaults that declare one (nor
    metadata keys it does not have): it goes into a new document, and plan shows nothing."""
    emulator()
    manifest = project / "customers.yaml"
    manifest.write_text(
        "provider: respan\ndefaults:\n  total_budget: 5000\n  metadata: {tier: enterprise}\n"
        "customers:\n  - customer_identifier: acme\n",
        encoding="utf-8",
    )
    run = cli("export", "--update", "customers.yaml", "--add-new", "customers.yaml")
    assert run.code == 0, run.err
    loaded = load_manifests([manifest])
    beta = next(c for c in loaded.customers if c.id == "beta")
    assert "total_budget" not in beta.fields
    assert "tier" not in beta.fields.get("metadata", {})
    assert plan_is_empty(cli, "customers.yaml")


def test_add_new_into_a_new_file(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """A new --add-new file is written as an export of the undeclared customers."""
    emulator()
    (project / "customers").mkdir()
    (project / "customers" / "acme.yaml").write_text(
        "customers:\n  - customer_identifier: acme\n", encoding="utf-8"
    )
    run = cli("export", "--update", "customers", "--add-new", "customers/new.yaml")
    assert run.code == 0, run.err
    assert "--- /dev/null\n+++ b/customers/new.yaml\n" in run.out
    new = (project / "customers" / "new.yaml").read_text(encoding="utf-8")
    assert new.startswith("# yaml-language-server: $schema=../schemas/manifest.schema.json\n")
    assert [c.id for c in load_manifests([project / "customers" / "new.yaml"]).customers] == [
        "beta"
    ]
    assert plan_is_empty(cli, "customers")


def test_a_customer_missing_live_is_left_and_noted(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """A declared customer Respan does not know is not touched; the run says so."""
    emulator()
    text = "customers:\n  - customer_identifier: ghost\n    period_budget: 5\n"
    (project / "customers.yaml").write_text(text, encoding="utf-8")
    run = cli("export", "--update", "customers.yaml")
    assert run.code == 0, run.err
    assert "respan/prod/ghost: not found live; left as declared" in run.err
    assert (project / "customers.yaml").read_text(encoding="utf-8") == text


def test_notes_show_live_ids_and_keys_as_inert_text(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """A live id or metadata key with control characters is escaped in a note: it cannot
    start a line that reads like reconciler's own."""
    seed = {
        "customers": [
            {
                "customer_identifier": "evil\tid",
                "metadata": {"k\nPlan: 0 to delete": {"nested": 1}, "tier": "gold"},
            }
        ]
    }
    emulator(seed)
    run = cli("export")
    assert run.code == 0, run.err
    assert "Note: evil\\tid: metadata.k\\nPlan: 0 to delete left out" in run.err
    assert not any(line.startswith("Plan:") for line in run.err.splitlines())


def test_update_adopts_into_customers_whose_unquoted_ids_yaml_versions_read_apart(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """Unquoted ids 1e3 and 0o17 are text to the loader (YAML 1.1) and numbers to ruamel.yaml
    (1.2): their customers are still found and updated, not reported as matching; a metadata
    key of that kind is left and noted rather than written twice."""
    seed = {
        "customers": [
            {"customer_identifier": "1e3", "period_budget": 7},
            {"customer_identifier": "0o17", "period_budget": 8, "metadata": {"0o10": "x"}},
        ]
    }
    emulator(seed)
    manifest = project / "customers.yaml"
    manifest.write_text(
        "customers:\n"
        "  - customer_identifier: 1e3\n    period_budget: 1\n"
        "  - customer_identifier: 0o17\n    period_budget: 1\n    metadata: {0o10: y}\n",
        encoding="utf-8",
    )
    run = cli("export", "--update", "customers.yaml")
    assert run.code == 0, run.err
    assert "2 field(s) of 2 customer(s) adopted" in run.err
    assert "respan/prod/0o17: metadata: a key is text to the manifest loader" in run.err
    assert manifest.read_text(encoding="utf-8") == (
        "customers:\n"
        "  - customer_identifier: 1e3\n    period_budget: 7\n"
        "  - customer_identifier: 0o17\n    period_budget: 8\n    metadata: {0o10: y}\n"
    )


def test_update_of_a_manifest_the_round_trip_reader_refuses_names_the_line(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """A tab before a comment loads (validate passes) but ruamel.yaml refuses it: --update
    names file:line:column and writes nothing, no traceback."""
    emulator()
    text = "provider: respan\t# tab\ncustomers:\n  - customer_identifier: acme\n"
    (project / "customers.yaml").write_text(text, encoding="utf-8")
    assert cli("validate", "customers.yaml").code == 0
    run = cli("export", "--update", "customers.yaml")
    assert run.code == 1
    assert "customers.yaml:1:17: error: export --update cannot edit this file" in run.err
    assert "Traceback" not in run.err
    assert (project / "customers.yaml").read_text(encoding="utf-8") == text


def test_update_of_an_invalid_manifest_names_the_problem(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """An invalid manifest is reported with file:line:col before any request."""
    running = emulator()
    (project / "customers.yaml").write_text(
        "customers:\n  - customer_identifier: a\n    period_budget: -1\n", encoding="utf-8"
    )
    run = cli("export", "--update", "customers.yaml")
    assert run.code == 1
    assert "customers.yaml:3:" in run.err
    assert requests(running) == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("customers.yaml",), "PATH is only used with --update"),
        (("--dry-run",), "--dry-run is only used with --update"),
        (("--update", "-o", "x.yaml"), "drop -o/--split"),
        (("--environment", "staging"), "respan has no environment 'staging'"),
        (("--fields", "budget"), "--fields names 'budget'"),
        (("--update", "--filter", "name::x"), "--filter and --fields choose what --add-new adds"),
        (("-o", ""), "an empty -o names nothing"),
    ],
)
def test_usage_errors_exit_1(
    project: Path, cli: Callable[..., Run], args: tuple[str, ...], message: str
) -> None:
    """Misused flags are refused with a clear message and exit 1 (never 2)."""
    run = cli("export", *args)
    assert run.code == 1
    assert message in run.err


def test_fields_the_api_omits_are_left_out_not_guessed(
    emulator: Callable[..., Any], cli: Callable[..., Run], project: Path
) -> None:
    """A retrieve without metadata/markup (as the vendor SDK models it): neither is written."""
    emulator(omit_fields=frozenset({"metadata", "markup_percentage"}))
    run = cli("export", "-o", "prod.yaml")
    assert run.code == 0, run.err
    text = (project / "prod.yaml").read_text(encoding="utf-8")
    assert "metadata" not in text
    assert "markup_percentage" not in text
    assert 'period_start: "2026-11-01T00:00:00Z"' in text
    assert plan_is_empty(cli, "prod.yaml")


def test_live_amounts_no_manifest_can_declare_are_noted_and_the_export_plans_empty(
    project: Path, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative, 1e30 and too-long live numbers are left out with a note, never a traceback,
    and what is written validates and plans with no changes."""
    rows = [
        {"customer_identifier": "neg", "period_budget": -5, "total_budget": 100},
        {"customer_identifier": "huge", "period_budget": 1e30, "total_budget": 7},
    ]
    details = {
        "neg": {"markup_percentage": -1, "metadata": {"tier": "gold"}},
        "huge": {"markup_percentage": 1e40, "metadata": {"seats": 1e30}},
    }
    (project / "reconciler.yaml").write_text(f"rate_limit: {FAST}\n", encoding="utf-8")
    with serve(ScriptedApp(respan_rows(rows, details))) as url:
        monkeypatch.setenv("RESPAN_BASE_URL", url)
        monkeypatch.setenv("RESPAN_API_KEY", RESPAN_KEY)
        run = cli("export", "-o", "prod.yaml")
        assert run.code == 0, run.err
        assert "Traceback" not in run.err
        for left_out in ("neg: period_budget", "neg: markup_percentage", "huge: period_budget"):
            assert left_out in run.err
        text = (project / "prod.yaml").read_text(encoding="utf-8")
        assert "-5" not in text
        assert "total_budget: 100" in text
        assert cli("validate", "prod.yaml").code == 0
        assert plan_is_empty(cli, "prod.yaml")


def test_long_live_numbers_are_left_out_so_the_export_plans_empty(
    project: Path, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live numbers with more digits than the manifest loader's floats keep are noted, not
    written: the export's promise (a plan of it shows no changes) holds. A Respan metadata
    value of that kind leaves out its key only: the other keys are written."""
    listed = (
        b'{"count": 1, "next": null, "results": [{"customer_identifier": "acme", '
        b'"period_budget": 5, "total_budget": 1234567890123456.78}]}'
    )
    detail = (
        b'{"customer_identifier": "acme", "metadata": {"n": 3, "ratio": 0.1234567890123456789}}'
    )

    def handle(seen: Seen) -> ScriptedAnswer:
        return ScriptedAnswer(200, raw=listed if seen.method == "POST" else detail)

    (project / "reconciler.yaml").write_text(f"rate_limit: {FAST}\n", encoding="utf-8")
    with serve(ScriptedApp(handle)) as url:
        monkeypatch.setenv("RESPAN_BASE_URL", url)
        monkeypatch.setenv("RESPAN_API_KEY", RESPAN_KEY)
        run = cli("export", "-o", "prod.yaml")
        assert run.code == 0, run.err
        assert "acme: total_budget left out" in run.err
        assert "acme: metadata.ratio left out" in run.err
        assert "    metadata:\n      n: 3\n" in (project / "prod.yaml").read_text(encoding="utf-8")
        assert plan_is_empty(cli, "prod.yaml")


def test_a_retrieve_answered_with_another_customer_fails_the_export(
    project: Path, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """beta's metadata, answered for acme, is never written as acme's: exit 1, no file."""
    rows = [{"customer_identifier": "acme"}]
    details = {"acme": {"customer_identifier": "beta", "metadata": {"tier": "gold"}}}
    with serve(ScriptedApp(respan_rows(rows, details))) as url:
        monkeypatch.setenv("RESPAN_BASE_URL", url)
        monkeypatch.setenv("RESPAN_API_KEY", RESPAN_KEY)
        run = cli("export", "-o", "prod.yaml")
    assert run.code == 1
    assert "asked for customer 'acme', the API answered customer 'beta'" in run.err
    assert not (project / "prod.yaml").exists()


def test_schema_flag_sets_the_modeline(
    emulator: Callable[..., Any], cli: Callable[..., Run]
) -> None:
    """--schema URL is written as given in the editor modeline."""
    emulator()
    url = "https://example.test/reconciler/v1/manifest.schema.json"
    run = cli("export", "--schema", url)
    assert run.code == 0, run.err
    assert run.out.startswith(f"# yaml-language-server: $schema={url}\n")
