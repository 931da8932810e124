"""The Markdown plan, for pull-request comments and the GitHub step summary.

Layout: a hidden marker line (``<!-- reconciler-plan -->``, so a sticky comment can find and
replace its previous version), the summary line, the budget impact, policy violations as a
caution block, a table of changes, and the per-field details folded in ``<details>``. A plan
made against a git base (``plan --base``) adds a line counting the pull request's changes and
the drift corrections after the summary, and shows the table and details twice: under "Changes
in this pull request" first, then under "Drift that apply would revert".

GitHub refuses comments over 65,536 characters, so the output never exceeds ``limit``: rows
and details that do not fit are left out with a note saying how many and where to see them.
``redact`` masks e-mail addresses everywhere (ids, names, values, messages).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Final

from reconciler.money import format_signed_money
from reconciler.plan.model import CAUSES, Change, Plan, PolicyViolation
from reconciler.planner.cause import by_cause
from reconciler.planner.impact import amount, money_changes
from reconciler.printable import printable
from reconciler.render.text import change_lines
from reconciler.render.values import (
    GROUP_TITLES,
    SYMBOLS,
    cause_line,
    customer_label,
    impact_line,
    no_changes_line,
    redact_emails,
    summary_line,
)

MARKER: Final = "<!-- reconciler-plan -->"
GITHUB_COMMENT_LIMIT: Final = 65_536
_MAX_PATHS_PER_ROW: Final = 4
_VIOLATION_SHARE: Final = 4  # violations may use at most a quarter of the space
_LATER_GROUP_SHARE: Final = 4  # the drift group is kept at least a quarter of the space
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_\[\]|~$#])")
# Where GitHub sees an @-mention: an @ not after a word character (so no e-mail address), a
# login, and no ".word" after it (a masked address's "***@acme.example" is no mention either).
# A backslash does not stop it; a zero-width space after the @ does, and reads the same.
_MENTION: Final = re.compile(r"(?<!\w)@(?=[A-Za-z0-9][A-Za-z0-9-]*(?![A-Za-z0-9-]|\.\w))")
_TABLE_HEAD: Final = (
    "| Action | Customer | Fields changed | Money delta |\n| --- | --- | --- | --- |\n"
)


def render_markdown(
    plan: Plan,
    *,
    redact: bool = False,
    limit: int = GITHUB_COMMENT_LIMIT,
    target: Sequence[str] = (),
) -> str:
    """The Markdown plan, at most ``limit`` characters.

    ``target``: what the plan was read from (one line per provider), shown under the summary
    (and the count of changes by cause) so that a reviewer sees which API the plan is about."""
    document = _Document(limit, redact)
    document.add(f"{MARKER}\n")
    if plan.changes:
        document.add(f"**{_text(summary_line(plan))}**\n")
    else:
        document.add(f"{_text(no_changes_line(plan))}\n")
    if plan.base is not None:
        document.add(f"\n{_text(cause_line(plan))}\n")
    for line in target:
        document.add(f"\n{_text(line)}\n")
    impact = impact_line(plan)
    if impact:
        document.add(f"\n{_text(impact)}\n")
    if plan.policy_violations:
        _add_violations(document, plan.policy_violations)
    if plan.changes and plan.base is not None:
        # The reviewer's question first: what this pull request changes; then the drift.
        groups = by_cause(plan)
        for index, cause in enumerate(CAUSES):
            # Room kept for the groups still to come: a long list of this change's edits must
            # not push the drift out entirely (a quarter of the limit for a group with changes).
            document.held = sum(
                _group_room(document.limit, GROUP_TITLES[later], len(groups[later]))
                for later in CAUSES[index + 1 :]
            )
            document.add(_group_heading(GROUP_TITLES[cause]))
            if groups[cause]:
                _add_changes(document, groups[cause])
            else:
                document.add("\nNone.\n")
    elif plan.changes:
        _add_changes(document, plan.changes)
    return document.text()


def _group_heading(title: str) -> str:
    return f"\n### {title}\n"


def _group_room(limit: int, title: str, count: int) -> int:
    least = len(_group_heading(title)) + len(_TABLE_HEAD) + 1 + len(_more_note(count)) + 64
    return max(least, limit // _LATER_GROUP_SHARE) if count else least


def _add_changes(document: _Document, changes: tuple[Change, ...]) -> None:
    shown = _add_table(document, changes)
    _add_details(document, changes[:shown])
    hidden = len(changes) - shown
    if hidden:
        document.add(_more_note(hidden))


class _Document:
    """Markdown being built under a size limit, redacted piece by piece as it is added."""

    def __init__(self, limit: int, redact: bool) -> None:
        self.limit = limit
        self.redact = redact
        self.parts: list[str] = []
        self.size = 0
        # Characters kept free for what must still follow (the groups of a plan with a base).
        self.held = 0

    def fits(self, text: str, reserve: int = 0) -> bool:
        return self.size + len(text) + reserve + self.held <= self.limit

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def try_add(self, text: str, reserve: int = 0) -> bool:
        if not self.fits(text, reserve):
            return False
        self.add(text)
        return True

    def text(self) -> str:
        return "".join(self.parts)


def _add_violations(document: _Document, violations: tuple[PolicyViolation, ...]) -> None:
    count = len(violations)
    heading = (
        f"**{count:,} policy violation{'s' if count != 1 else ''}: apply will refuse this plan.**"
    )
    document.add(f"\n> [!CAUTION]\n> {heading}\n>\n")
    room = document.limit // _VIOLATION_SHARE
    for index, violation in enumerate(violations):
        line = f"> - {_violation(violation, document.redact)}\n"
        room -= len(line)
        if room < 0:
            document.add(f"> - … {count - index:,} more not shown; see the JSON plan\n")
            break
        document.add(line)


def _add_table(document: _Document, changes: tuple[Change, ...]) -> int:
    """Adds as many rows as fit (keeping room for notes and details); returns how many."""
    reserve = len(_more_note(len(changes))) + len(_details_close(len(changes), "````")) + 64
    document.add("\n" + _TABLE_HEAD)
    shown = 0
    for change in changes:
        if not document.try_add(_row(change, document.redact), reserve):
            break
        shown += 1
    return shown


def _add_details(document: _Document, changes: tuple[Change, ...]) -> None:
    blocks = ["\n".join(change_lines(change)) + "\n" for change in changes]
    if document.redact:  # a code block shows text as is, so masking the lines is enough
        blocks = [redact_emails(block) for block in blocks]
    fence = "`" * max(3, _longest_backtick_run(blocks) + 1)
    opening = f"\n<details><summary>Details</summary>\n\n{fence}diff\n"
    reserve = len(_details_close(len(changes), fence)) + len(_more_note(len(changes)))
    if not document.fits(opening, reserve):
        return
    document.add(opening)
    added = 0
    for block in blocks:
        if not document.fits(block, reserve):
            break
        document.add(block)
        added += 1
    document.add(_details_close(len(changes) - added, fence))


def _details_close(hidden: int, fence: str) -> str:
    note = f"\n… details of {hidden:,} more changes not shown\n" if hidden else ""
    return f"{fence}\n{note}\n</details>\n"


def _more_note(hidden: int) -> str:
    return (
        f"\n… {hidden:,} more changes not shown; run `reconciler plan` locally "
        "or see the JSON plan\n"
    )


def _row(change: Change, redact: bool) -> str:
    action = f"{SYMBOLS[change.action]} {change.action}"
    paths = [field.path for field in change.fields]
    shown = ", ".join(code_span(path, redact) for path in paths[:_MAX_PATHS_PER_ROW])
    if len(paths) > _MAX_PATHS_PER_ROW:
        shown += f" and {len(paths) - _MAX_PATHS_PER_ROW:,} more"
    customer = code_span(customer_label(change), redact)
    return f"| {action} | {customer} | {shown} | {_text(_money(change))} |\n"


def _money(change: Change) -> str:
    """The change's net money delta: ``+$150.00``, ``(unknown)`` or empty when none."""
    single = Plan(changes=(change,), unchanged=0)
    total = Decimal(0)
    seen = unknown = False
    for money in money_changes(single):
        if not money.before_known:
            unknown = True
            continue
        seen = True
        total += amount(money.after) - amount(money.before)
    if unknown:
        return f"{format_signed_money(total)} + (unknown)" if seen else "(unknown)"
    return format_signed_money(total) if seen else ""


def _violation(violation: PolicyViolation, redact: bool) -> str:
    rule = f"**{_text(violation.rule)}**"
    if violation.id:
        where = f"{violation.provider}/{violation.environment}/{violation.id}"
        rule += f" on {code_span(where, redact, table=False)}"
    return f"{rule}: {_text(violation.message, redact)}"


def _text(text: str, redact: bool = False) -> str:
    """Plain text safe in Markdown: no HTML, no emphasis, links, math, table breaks or
    @-mentions (which would notify whoever the text names).

    Addresses are masked (``redact``) before escaping, so the mask's ``***`` is escaped too.
    """
    if redact:
        text = redact_emails(text)
    flat = " ".join(printable(text).split())
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))
    return _MENTION.sub("@&#8203;", escaped)


def code_span(text: str, redact: bool, *, table: bool = True) -> str:
    """``text`` as an inline code span that its own backticks (or pipes in a table) can't break."""
    flat = " ".join(printable(redact_emails(text) if redact else text).split())
    if table:
        flat = flat.replace("|", "\\|")
    fence = "`" * (_longest_backtick_run([flat]) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _longest_backtick_run(texts: Iterable[str]) -> int:
    return max((len(run) for text in texts for run in re.findall(r"`+", text)), default=0)
