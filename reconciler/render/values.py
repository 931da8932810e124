"""How plan values read in human output (text and Markdown): money, unknowns, redaction.

Shared by the renderers so a value looks the same wherever a person reads it.
"""

from __future__ import annotations

import re
from typing import Any, Final

from reconciler.domain import UNKNOWN, FieldKind
from reconciler.money import format_delta, format_money, format_signed_money, is_amount
from reconciler.plan.model import Cause, Change, FieldChange, Plan
from reconciler.planner.cause import by_cause
from reconciler.planner.impact import BudgetImpact, budget_impact
from reconciler.printable import printable
from reconciler.render.json import dumps_value

SYMBOLS: Final = {"create": "+", "update": "~", "delete": "-", "missing": "!"}
UNKNOWN_TEXT: Final = "(unknown)"
NONE_TEXT: Final = "(none)"
ARROW: Final = "→"
GROUP_TITLES: Final[dict[Cause, str]] = {
    "manifest": "Changes in this pull request",
    "drift": "Drift that apply would revert",
}

# Local part, @, a dotted domain: enough to find addresses in ids, names and values.
_EMAIL: Final = re.compile(
    r"([A-Za-z0-9._%+'-])[A-Za-z0-9._%+'-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
)


def format_value(value: Any, kind: FieldKind) -> str:
    """One value as people read it: ``$250.00``, ``"gold"``, ``true``, ``(unknown)``."""
    if value is UNKNOWN:
        return UNKNOWN_TEXT
    if value is None:
        return NONE_TEXT
    if kind is FieldKind.MONEY and is_amount(value):
        return format_money(value)
    return dumps_value(value)


def format_field_change(field: FieldChange, action: str) -> str:
    """``path: before → after (delta)``; a create shows only the new value."""
    after = format_value(field.after, field.kind)
    if action == "create":
        return f"{field.path}: {after}"
    text = f"{field.path}: {format_value(field.before, field.kind)} {ARROW} {after}"
    delta = money_delta(field)
    return f"{text} ({delta})" if delta else text


def money_delta(field: FieldChange) -> str:
    """``+$150.00, +60.0%`` for a money change with a known before and an amount after."""
    if field.kind is not FieldKind.MONEY or not is_amount(field.after):
        return ""
    if field.before is not None and not is_amount(field.before):
        return ""
    return format_delta(field.before, field.after)


def customer_label(change: Change) -> str:
    """``provider/environment/id``: how a customer is named in every human output."""
    return f"{change.provider}/{change.environment}/{change.id}"


def origin(change: Change) -> str:
    """Where the customer is declared, or why there is no declaration."""
    if change.source is not None:
        return str(change.source)
    return "live only"


def summary_line(plan: Plan) -> str:
    """``Plan: 1 to create, 2 to update, 1 to delete, 1 missing, 1,204 unchanged.``"""
    counts = plan.summary()
    return (
        f"Plan: {counts['create']:,} to create, {counts['update']:,} to update, "
        f"{counts['delete']:,} to delete, {counts['missing']:,} missing, "
        f"{counts['unchanged']:,} unchanged."
    )


def cause_line(plan: Plan) -> str:
    """``3 changes in this pull request, 2 drift corrections (base: REF, commit C).`` for a plan
    made against a base, else ``""``. A customer counts once in each group it has changes in."""
    if plan.base is None:
        return ""
    groups = by_cause(plan)
    made, drift = len(groups["manifest"]), len(groups["drift"])
    return (
        f"{made:,} change{'s' if made != 1 else ''} in this pull request, "
        f"{drift:,} drift correction{'s' if drift != 1 else ''} "
        f"(base: {printable(plan.base.ref)}, commit {plan.base.commit[:12]})."
    )


def no_changes_line(plan: Plan) -> str:
    """What an empty plan says."""
    return f"No changes. Live state matches the manifests ({plan.unchanged:,} unchanged)."


def impact_line(plan: Plan) -> str:
    """``Budget impact: period budgets +$150.00, total budgets -$500.00.`` or ``""``."""
    impact = budget_impact(plan)
    if impact.is_empty:
        return ""
    parts = [
        f"{impact_label(group)} {format_signed_money(delta)}"
        for group, delta in impact.deltas.items()
    ]
    text = "Budget impact: " + (", ".join(parts) if parts else "no known change")
    if impact.unknown:
        text += f" ({_unknown_note(impact)})"
    return text + "."


def impact_label(group: str) -> str:
    """``period_budget`` -> ``period budgets``; ``x.spend_limits`` -> ``spend limits``."""
    words = group.rsplit(".", 1)[-1].replace("_", " ")
    return words if words.endswith("s") else words + "s"


def redact_emails(text: str) -> str:
    """Mask every e-mail address: ``billing@acme.example`` -> ``b***@acme.example``.

    Different addresses that mask alike within ``text`` are told apart by number, in order of
    appearance (``billing@`` -> ``b***@``, then ``bill@`` -> ``b***(2)@``): a change from one
    address to another must never read as ``b***@acme.example → b***@acme.example``, no change.
    """
    numbers: dict[str, dict[str, int]] = {}

    def mask(found: re.Match[str]) -> str:
        first, domain = found.group(1), found.group(2)
        alike = numbers.setdefault(f"{first}@{domain}", {})
        number = alike.setdefault(found.group(0), len(alike) + 1)
        return f"{first}***@{domain}" if number == 1 else f"{first}***({number})@{domain}"

    return _EMAIL.sub(mask, text)


def _unknown_note(impact: BudgetImpact) -> str:
    count = impact.unknown
    return f"{count:,} amount{'s' if count != 1 else ''} with an unknown live value not counted"
