"""The text plan, for people at a terminal (Terraform-like).

One block per customer: a symbol (``+`` create, ``~`` update, ``-`` delete, ``!`` missing),
``provider/environment/id (file:line)``, then one line per field path. Then policy violations,
the summary line and the budget impact. A plan made against a git base (``plan --base``) shows
its blocks in two groups, "Changes in this pull request" then "Drift that apply would revert",
and a line counting both after the summary. Colour is the caller's decision (``color``): the CLI
turns it on only for a terminal without ``NO_COLOR``.
"""

from __future__ import annotations

from typing import Final

import click

from reconciler.plan.model import CAUSES, Change, Plan, PolicyViolation
from reconciler.planner.cause import by_cause
from reconciler.printable import printable
from reconciler.render.values import (
    GROUP_TITLES,
    SYMBOLS,
    cause_line,
    customer_label,
    format_field_change,
    impact_line,
    no_changes_line,
    origin,
    redact_emails,
    summary_line,
)

_COLORS: Final = {"create": "green", "update": "yellow", "delete": "red", "missing": "cyan"}
_FIELD_INDENT: Final = "    "


def render_text(plan: Plan, *, color: bool = False, redact: bool = False) -> str:
    """The whole text plan, ending in a newline."""
    lines: list[str] = []
    if plan.base is not None and plan.changes:
        # Against a base: what the pull request changes first, then the drift it would revert.
        groups = by_cause(plan)
        for cause in CAUSES:
            heading = f"{GROUP_TITLES[cause]} ({len(groups[cause]):,}):"
            lines.extend([_style(heading, color, bold=True), ""])
            for change in groups[cause]:
                lines.extend(change_lines(change, color=color))
                lines.append("")
            if not groups[cause]:
                lines.extend(["  (none)", ""])
    else:
        for change in plan.changes:
            lines.extend(change_lines(change, color=color))
            lines.append("")
    if plan.policy_violations:
        lines.extend(violation_lines(plan.policy_violations, color=color))
        lines.append("")
    if plan.changes:
        lines.append(_style(summary_line(plan), color, bold=True))
    else:
        lines.append(_style(no_changes_line(plan), color, fg="green"))
    if plan.base is not None:
        lines.append(cause_line(plan))
    impact = impact_line(plan)
    if impact:
        lines.append(impact)
    text = "\n".join(lines) + "\n"
    return redact_emails(text) if redact else text


def change_lines(change: Change, *, color: bool = False) -> list[str]:
    """One customer's block: its header line and one indented line per field (or its note).

    Ids, paths and values come from the API too: control characters in them are escaped, so a
    live id cannot start a line of its own.
    """
    fg = _COLORS[change.action]
    header = f"{SYMBOLS[change.action]} {customer_label(change)} ({origin(change)})"
    lines = [_style(printable(header), color, fg=fg, bold=True)]
    lines.extend(
        _FIELD_INDENT + printable(format_field_change(field, change.action))
        for field in change.fields
    )
    if change.note:
        lines.append(_FIELD_INDENT + printable(change.note))
    return lines


def violation_lines(violations: tuple[PolicyViolation, ...], *, color: bool = False) -> list[str]:
    """The policy section: a heading, then one line per violation."""
    heading = f"Policy violations ({len(violations):,}): apply will refuse this plan."
    lines = [_style(heading, color, fg="red", bold=True)]
    for violation in violations:
        lines.append(_style(f"  ✗ {printable(violation_text(violation))}", color, fg="red"))
    return lines


def violation_text(violation: PolicyViolation) -> str:
    """``rule (provider/environment/id): message``, without the customer for run-wide rules."""
    if violation.id:
        where = f"{violation.provider}/{violation.environment}/{violation.id}"
        return f"{violation.rule} ({where}): {violation.message}"
    return f"{violation.rule}: {violation.message}"


def _style(text: str, color: bool, *, fg: str | None = None, bold: bool = False) -> str:
    if not color:
        return text
    return click.style(text, fg=fg, bold=bold or None)
