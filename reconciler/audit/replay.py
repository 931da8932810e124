"""What a saved plan already applied, read back from its audit log.

For ``apply --plan``, under the log's lock: running a saved plan again (a re-run CI job) must
not re-send a change the plan applied once and someone has undone since, since that would undo
their fix with a plan reviewed before it. Only lines naming the plan's checksum and an
``applied`` outcome are parsed, found by a text search first as ``audit show`` does, so a long
log costs one read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.audit.verify import open_log

ChangeKey = tuple[str, str, str, str]
"""``(provider, environment, customer_id, action)`` of a change, as records name it."""


def applied_by_plan(path: Path | str, plan_checksum: str) -> dict[ChangeKey, int]:
    """The ``seq`` of the record of each change the plan with ``plan_checksum`` applied, per
    the log at ``path``; raises ``AuditError`` when the log cannot be read."""
    marker = f'"plan_checksum":{json.dumps(plan_checksum)}'.encode()
    applied: dict[ChangeKey, int] = {}
    with open_log(path) as lines:
        for line in lines:
            if marker in line and b'"outcome":"applied"' in line:
                found = _applied_change(line, plan_checksum)
                if found is not None:
                    applied.setdefault(found[0], found[1])
    return applied


def _applied_change(line: bytes, plan_checksum: str) -> tuple[ChangeKey, int] | None:
    try:
        record: Any = json.loads(line)
    except (ValueError, RecursionError):
        return None  # not a record: `audit verify` names it
    if not isinstance(record, dict):
        return None
    provider, environment, customer, action, seq = (
        record.get(name) for name in ("provider", "environment", "customer_id", "action", "seq")
    )
    if (
        record.get("plan_checksum") != plan_checksum
        or record.get("outcome") != "applied"
        or not isinstance(seq, int)
    ):
        return None
    if not all(isinstance(part, str) for part in (provider, environment, customer, action)):
        return None
    return (str(provider), str(environment), str(customer), str(action)), seq
