"""The text plan: blocks per customer, money deltas, unknowns, violations, summary, colour."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import click
from plan_samples import address_change_plan, based_plan, every_action_plan

from reconciler.domain import UNKNOWN, FieldKind, Policy, Source
from reconciler.plan.model import Change, FieldChange, Plan, PolicyViolation
from reconciler.render import render_text


def test_every_action_renders_as_terraform_like_blocks() -> None:
    """Symbols, customer labels with sources, field lines, notes, summary and impact lines."""
    text = render_text(every_action_plan(unchanged_extra=1203))
    assert text.splitlines() == [
        "+ autumn/sandbox/new-co (customers/acme.yaml:4)",
        '    name: "New Co"',
        "    send_email_receipts: true",
        "",
        "~ respan/prod/acme-corp (customers/acme.yaml:12)",
        '    email: "old@acme.example" → "billing@acme.example"',
        "    period_budget: $250.00 → $400.00 (+$150.00, +60.0%)",
        "    markup_percentage: (unknown) → 20",
        '    metadata.tier: "pro" → "enterprise"',
        "",
        "~ respan/prod/beta (customers/acme.yaml:30)",
        "    total_budget: $1,000.00 → $500.00 (-$500.00, -50.0%)",
        "",
        "- respan/prod/stray (live only)",
        "    not declared in any manifest (prune)",
        "",
        "! respan/prod/ghost (customers/acme.yaml:40)",
        "    not found in prod: Respan creates customers from their first request; "
        "the budget will be applied on the next run after it appears",
        "",
        "Plan: 1 to create, 2 to update, 1 to delete, 1 missing, 1,204 unchanged.",
        "Budget impact: period budgets +$150.00, total budgets -$500.00.",
    ]


def test_empty_plan_says_no_changes() -> None:
    """No changes: one line with the unchanged count, no impact line."""
    assert render_text(Plan((), 1204)) == (
        "No changes. Live state matches the manifests (1,204 unchanged).\n"
    )


def test_money_from_none_and_unknown() -> None:
    """From null: delta without percent; from unknown: no delta; to null: no delta."""
    change = Change(
        "update",
        "respan",
        "prod",
        "a",
        fields=(
            FieldChange("period_budget", None, Decimal("400.00"), FieldKind.MONEY),
            FieldChange("total_budget", UNKNOWN, Decimal("400.00"), FieldKind.MONEY),
            FieldChange("markup_percentage", Decimal(5), None, FieldKind.DECIMAL),
        ),
        source=Source("c.yaml", 1),
    )
    lines = render_text(Plan((change,), 0)).splitlines()
    assert lines[1:4] == [
        "    period_budget: (none) → $400.00 (+$400.00)",
        "    total_budget: (unknown) → $400.00",
        "    markup_percentage: 5 → (none)",
    ]
    assert lines[-1] == (
        "Budget impact: period budgets +$400.00 (1 amount with an unknown live value not counted)."
    )


def test_policy_violations_are_listed_before_the_summary() -> None:
    """Violations have a heading saying apply refuses, one line each naming rule and customer."""
    text = render_text(every_action_plan(policy=Policy(max_increase_pct=Decimal(50))))
    lines = text.splitlines()
    start = lines.index("Policy violations (2): apply will refuse this plan.")
    assert lines[start + 1] == (
        "  ✗ max_increase_pct (respan/prod/acme-corp): period_budget $250.00 → $400.00 is "
        "+60.0%, above policy.max_increase_pct (50%)"
    )
    assert lines[start + 2].startswith("  ✗ max_deletes: plan deletes 1 customer(s)")
    assert lines[start + 4].startswith("Plan: ")


def test_colour_only_when_asked() -> None:
    """Without colour there is no escape sequence; with it, headers are styled per action."""
    plan = every_action_plan()
    plain = render_text(plan, color=False)
    assert "\x1b[" not in plain
    coloured = render_text(plan, color=True)
    assert click.style("~ respan/prod/beta (customers/acme.yaml:30)", fg="yellow", bold=True) in (
        coloured
    )
    assert click.unstyle(coloured) == plain


def test_redact_masks_emails() -> None:
    """With redact, addresses in values and ids are masked."""
    violation = PolicyViolation("max_deletes", "x", "respan", "prod", "bob@corp.example")
    plan = every_action_plan()
    plan = Plan(plan.changes, plan.unchanged, (violation,))
    text = render_text(plan, redact=True)
    assert "billing@acme.example" not in text
    assert '"b***@acme.example"' in text
    assert "respan/prod/b***@corp.example" in text


def test_a_plan_against_a_base_shows_this_changes_edits_then_drift() -> None:
    """Two groups, an update split between them, and the count line after the summary."""
    text = render_text(based_plan())
    assert text.splitlines() == [
        "Changes in this pull request (2):",
        "",
        "+ autumn/sandbox/new-co (customers/acme.yaml:4)",
        '    name: "New Co"',
        "    send_email_receipts: true",
        "",
        "~ respan/prod/acme-corp (customers/acme.yaml:12)",
        '    email: "old@acme.example" → "billing@acme.example"',
        "    period_budget: $250.00 → $400.00 (+$150.00, +60.0%)",
        "",
        "Drift that apply would revert (4):",
        "",
        "~ respan/prod/acme-corp (customers/acme.yaml:12)",
        "    markup_percentage: (unknown) → 20",
        '    metadata.tier: "pro" → "enterprise"',
        "",
        "~ respan/prod/beta (customers/acme.yaml:30)",
        "    total_budget: $1,000.00 → $500.00 (-$500.00, -50.0%)",
        "",
        "- respan/prod/stray (live only)",
        "    not declared in any manifest (prune)",
        "",
        "! respan/prod/ghost (customers/acme.yaml:40)",
        "    not found in prod: Respan creates customers from their first request; "
        "the budget will be applied on the next run after it appears",
        "",
        "Plan: 1 to create, 2 to update, 1 to delete, 1 missing, 1 unchanged.",
        "2 changes in this pull request, 4 drift corrections "
        "(base: origin/main, commit 0123456789ab).",
        "Budget impact: period budgets +$150.00, total budgets -$500.00.",
    ]


def test_an_empty_group_says_none() -> None:
    """A base plan with drift only still shows where this change's edits would be."""
    plan = based_plan()
    drift_only = dataclasses.replace(
        plan, changes=tuple(c for c in plan.changes if c.cause == "drift")
    )
    text = render_text(drift_only)
    assert text.startswith("Changes in this pull request (0):\n\n  (none)\n\nDrift that")
    assert "0 changes in this pull request, 3 drift corrections" in text


def test_redacted_addresses_that_mask_alike_are_told_apart() -> None:
    """In text too, two addresses masking alike get told apart by number, in order, and one
    address keeps its mask wherever it appears."""
    text = render_text(address_change_plan("billing@acme.example"), redact=True)
    assert "respan/prod/b***@acme.example" in text
    assert '"b***@acme.example" → "b***(2)@acme.example"' in text
