"""The Markdown plan: marker and summary first, table, folded details, size cap, redaction."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

from plan_samples import (
    BASE,
    address_change_plan,
    based_plan,
    every_action_plan,
    many_changes_plan,
)

from reconciler.domain import FieldKind, Policy, Source
from reconciler.plan.model import Change, FieldChange, Plan, PolicyViolation
from reconciler.render import render_markdown
from reconciler.render.markdown import GITHUB_COMMENT_LIMIT, MARKER


def test_marker_then_summary_then_impact() -> None:
    """The hidden marker is the first line and the summary line comes right after it."""
    lines = render_markdown(every_action_plan(unchanged_extra=1203)).splitlines()
    assert lines[0] == MARKER == "<!-- reconciler-plan -->"
    assert (
        lines[1] == "**Plan: 1 to create, 2 to update, 1 to delete, 1 missing, 1,204 unchanged.**"
    )
    assert lines[3] == r"Budget impact: period budgets +\$150.00, total budgets -\$500.00."


def test_table_has_one_row_per_change_with_fields_and_money() -> None:
    """Each change is a table row: action, customer, changed paths, net money delta."""
    text = render_markdown(every_action_plan())
    assert "| Action | Customer | Fields changed | Money delta |" in text
    assert (
        "| ~ update | `respan/prod/acme-corp` | `email`, `period_budget`, "
        r"`markup_percentage`, `metadata.tier` | +\$150.00 |"
    ) in text
    assert r"| ~ update | `respan/prod/beta` | `total_budget` | -\$500.00 |" in text
    assert "| - delete | `respan/prod/stray` |  |  |" in text
    assert "| ! missing | `respan/prod/ghost` |  |  |" in text


def test_details_are_folded_in_a_diff_block() -> None:
    """Per-field lines sit inside <details> in a fenced diff block."""
    text = render_markdown(every_action_plan())
    details = text[text.index("<details><summary>Details</summary>") :]
    assert "```diff\n+ autumn/sandbox/new-co (customers/acme.yaml:4)\n" in details
    assert "    period_budget: $250.00 → $400.00 (+$150.00, +60.0%)\n" in details
    assert details.rstrip().endswith("</details>")


def test_policy_violations_are_a_caution_block_before_the_table() -> None:
    """Violations are prominent: a GitHub caution alert above the table."""
    text = render_markdown(every_action_plan(policy=Policy(max_increase_pct=Decimal(50))))
    assert "> [!CAUTION]\n> **2 policy violations: apply will refuse this plan.**" in text
    assert r"> - **max\_increase\_pct** on `respan/prod/acme-corp`: period\_budget" in text
    assert text.index("[!CAUTION]") < text.index("| Action |")


def test_empty_plan() -> None:
    """No changes: marker and the no-changes line only."""
    assert render_markdown(Plan((), 3)) == (
        f"{MARKER}\nNo changes. Live state matches the manifests (3 unchanged).\n"
    )


def test_user_text_cannot_break_the_table_or_inject_html() -> None:
    """Pipes, backticks and HTML in ids and messages are neutralized."""
    change = Change(
        "update",
        "respan",
        "prod",
        "a|b`<img src=x>",
        fields=(FieldChange("name", "x", "y", FieldKind.TEXT),),
        source=Source("c.yaml", 1),
    )
    violation = PolicyViolation("rule", "<script>alert(1)</script> | *bold*", "respan", "prod")
    text = render_markdown(Plan((change,), 0, (violation,)))
    row = next(line for line in text.splitlines() if line.startswith("| ~ update"))
    assert row.startswith(r"| ~ update | ``respan/prod/a\|b`<img src=x>`` |")
    assert "<script>" not in text
    assert r"&lt;script&gt;alert(1)&lt;/script&gt; \| \*bold\*" in text


def test_outside_text_never_mentions_anyone() -> None:
    """A live value or base URL like "@acme/admins" (text the API or the pull request chose)
    does not ping a person or team from the comment; an e-mail address reads as is."""
    message = (
        "period_budget → $10.00 cannot be checked against policy.max_increase_pct: the live "
        'value "@acme/admins (@octocat)" is not an amount; owner billing@acme.example'
    )
    violation = PolicyViolation("max_increase_pct", message, "respan", "prod", "x")
    target = ("Talking to respan, environment prod, at https://api.example (cc @hubot)",)
    text = render_markdown(Plan((), 0, (violation,)), target=target)
    assert "@&#8203;acme/admins (@&#8203;octocat)" in text
    assert "cc @&#8203;hubot)" in text
    assert re.findall(r"(?:^|\W)@(?:acme|octocat|hubot)", text) == []
    assert "billing@acme.example" in text


def test_twenty_thousand_changes_fit_in_a_github_comment() -> None:
    """Output never exceeds 65,536 characters and says how many changes were left out."""
    plan = many_changes_plan(20_000)
    text = render_markdown(plan)
    assert len(text) <= GITHUB_COMMENT_LIMIT
    rows = [line for line in text.splitlines() if line.startswith("| ~ update")]
    assert 100 < len(rows) < 20_000
    hidden = 20_000 - len(rows)
    assert text.rstrip().endswith(
        f"… {hidden:,} more changes not shown; run `reconciler plan` locally or see the JSON plan"
    )
    assert text.startswith(MARKER + "\n**Plan: 0 to create, 20,000 to update")
    assert text.count("<details>") == text.count("</details>")


def test_many_violations_are_capped_too() -> None:
    """A flood of violations is cut short with a note, and the whole still fits."""
    violations = tuple(
        PolicyViolation("max_period_budget", "x" * 200, "respan", "prod", f"c{i}")
        for i in range(5_000)
    )
    plan = many_changes_plan(5_000)
    text = render_markdown(Plan(plan.changes, plan.unchanged, violations))
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert re.search(r"> - … [\d,]+ more not shown; see the JSON plan", text)
    assert "| ~ update |" in text


def test_redact_masks_emails_everywhere() -> None:
    """Ids, values and messages lose their addresses' local parts."""
    plan = many_changes_plan(3)
    violation = PolicyViolation("r", "owner is boss@big.example", "respan", "prod", "x")
    text = render_markdown(Plan(plan.changes, 0, (violation,)), redact=True)
    assert "@big.example" in text
    assert not re.search(r"(customer-|old|new|boss)\d*[^*]*@big", text.replace("***@", "@@"))
    assert "`respan/prod/c***@big.example`" in text
    assert '"o***@big.example" → "n***@big.example"' in text
    assert "owner is b\\*\\*\\*@big.example" in text


def test_redacted_output_also_fits() -> None:
    """Redaction happens before measuring, so the cap holds for redacted output."""
    text = render_markdown(many_changes_plan(5_000), redact=True)
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert "customer-" not in text


def test_a_plan_against_a_base_leads_with_this_changes_edits() -> None:
    """Summary, the count line, then this change's table and details, then the drift's."""
    text = render_markdown(based_plan())
    lines = text.splitlines()
    assert lines[1].startswith("**Plan: 1 to create, 2 to update")
    assert lines[3] == (
        "2 changes in this pull request, 4 drift corrections (base: origin/main, commit "
        "0123456789ab)."
    )
    mine = text.index("### Changes in this pull request")
    drift = text.index("### Drift that apply would revert")
    assert mine < text.index("| + create | `autumn/sandbox/new-co`") < drift
    assert mine < text.index("| ~ update | `respan/prod/acme-corp` | `email`, `period_budget` |")
    assert drift < text.index(
        "| ~ update | `respan/prod/acme-corp` | `markup_percentage`, `metadata.tier` |"
    )
    assert drift < text.index("| - delete | `respan/prod/stray`")
    assert text.count("<details>") == 2


def test_an_empty_group_says_so() -> None:
    """With no drift, the drift heading is still there, with 'None.'."""
    plan = based_plan()
    mine_only = dataclasses.replace(
        plan, changes=tuple(c for c in plan.changes if c.cause == "manifest" and c.id == "new-co")
    )
    text = render_markdown(mine_only)
    assert text.endswith("### Drift that apply would revert\n\nNone.\n")


def test_a_long_first_group_leaves_room_for_the_drift() -> None:
    """40,000 changes, half drift: both groups show rows and notes, within GitHub's limit."""
    many = many_changes_plan(40_000)
    changes = tuple(
        dataclasses.replace(change, cause="manifest" if index % 2 else "drift")
        for index, change in enumerate(many.changes)
    )
    text = render_markdown(dataclasses.replace(many, changes=changes, base=BASE))
    assert len(text) <= GITHUB_COMMENT_LIMIT
    drift = text.index("### Drift that apply would revert")
    assert "| ~ update" in text[:drift]
    assert "| ~ update" in text[drift:]
    assert text.count("more changes not shown; run `reconciler plan` locally") == 2
    assert text.count("<details>") == text.count("</details>")


def test_redacted_addresses_that_mask_alike_are_told_apart() -> None:
    """A change from one address to another that masks the same reads as a change, not as
    ``b***@acme.example → b***@acme.example``; the same address keeps its mask."""
    text = render_markdown(address_change_plan("acme-corp"), redact=True)
    assert '"b***@acme.example" → "b***(2)@acme.example"' in text
    assert "billing@" not in text
    assert "bill@" not in text
    again = render_markdown(address_change_plan("acme-corp"), redact=True)
    assert again == text
