"""Sample plans for renderer and saved-plan tests, built by the real planner."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from reconciler.domain import DesiredCustomer, FieldKind, Lifecycle, LiveCustomer, Policy, Source
from reconciler.plan.model import BaseRevision, Cause, Change, FieldChange, Plan
from reconciler.planner import PlanOptions, build_plan, evaluate_policy
from reconciler.providers.registry import MODELS

D = Decimal


def _desired(
    customer_id: str, provider: str, environment: str, line: int, **fields: Any
) -> DesiredCustomer:
    return DesiredCustomer(
        provider,
        environment,
        customer_id,
        fields,
        Source("customers/acme.yaml", line, 5),
        Lifecycle(),
    )


def _live(customer_id: str, provider: str, environment: str, **fields: Any) -> LiveCustomer:
    return LiveCustomer(provider, environment, customer_id, fields)


def every_action_plan(*, unchanged_extra: int = 0, policy: Policy | None = None) -> Plan:
    """One create, two updates, one delete, one missing, some unchanged; optional policy."""
    desired = [
        _desired("new-co", "autumn", "sandbox", 4, name="New Co", send_email_receipts=True),
        _desired(
            "acme-corp",
            "respan",
            "prod",
            12,
            period_budget=D(400),
            email="billing@acme.example",
            markup_percentage=D(20),
            metadata={"tier": "enterprise"},
        ),
        _desired("beta", "respan", "prod", 30, total_budget=D(500), name="Beta"),
        _desired("ghost", "respan", "prod", 40, period_budget=D(10)),
        _desired("same", "respan", "prod", 50, name="Same"),
    ]
    live = [
        _live(
            "acme-corp",
            "respan",
            "prod",
            period_budget=250.0,
            email="old@acme.example",
            metadata={"tier": "pro"},
        ),
        _live("beta", "respan", "prod", total_budget=1000, name="Beta"),
        _live("stray", "respan", "prod", period_budget=5),
        _live("same", "respan", "prod", name="Same"),
    ]
    plan = build_plan(desired, {c.key: c for c in live}, MODELS, PlanOptions(prune=True))
    plan = dataclasses.replace(plan, unchanged=plan.unchanged + unchanged_extra)
    if policy is not None:
        plan = dataclasses.replace(plan, policy_violations=evaluate_policy(plan, policy))
    return plan


def many_changes_plan(count: int) -> Plan:
    """``count`` updates, each with a budget change and an e-mail change."""
    changes = tuple(
        Change(
            action="update",
            provider="respan",
            environment="prod",
            id=f"customer-{index:05d}@big.example",
            fields=(
                FieldChange("period_budget", D("100.00"), D("150.00"), FieldKind.MONEY),
                FieldChange(
                    "email", f"old{index}@big.example", f"new{index}@big.example", FieldKind.TEXT
                ),
            ),
            before={"period_budget": D("100.00"), "email": f"old{index}@big.example"},
            source=Source("customers/big.yaml", index + 1),
        )
        for index in range(count)
    )
    return Plan(changes=changes, unchanged=1204)


def sending(provider: str, values: dict[str, Any]) -> tuple[FieldChange, ...]:
    """Whole-field changes whose request body is exactly ``values`` (before: none)."""
    fields = MODELS[provider].fields
    return tuple(
        FieldChange(name, None, value, fields[name].kind) for name, value in values.items()
    )


BASE = BaseRevision("origin/main", "0123456789abcdef" * 2 + "01234567")


def based_plan() -> Plan:
    """``every_action_plan`` as made against a base: acme-corp's email and budget and the new
    customer are this change's, the rest drift (beta, stray, ghost, acme-corp's other fields)."""
    plan = every_action_plan()
    mine = {("new-co", "name"), ("new-co", "send_email_receipts")}
    mine |= {("acme-corp", "email"), ("acme-corp", "period_budget")}
    changes = []
    for change in plan.changes:
        fields = tuple(
            dataclasses.replace(f, cause="manifest" if (change.id, f.path) in mine else "drift")
            for f in change.fields
        )
        manifest = change.id == "new-co" or any(f.cause == "manifest" for f in fields)
        cause: Cause = "manifest" if manifest else "drift"
        changes.append(dataclasses.replace(change, fields=fields, cause=cause))
    return dataclasses.replace(plan, changes=tuple(changes), base=BASE)


def address_change_plan(customer_id: str) -> Plan:
    """One update of ``customer_id``'s e-mail, between two addresses that mask alike
    (``billing@`` and ``bill@``: both ``b***@``)."""
    update = Change(
        "update",
        "respan",
        "prod",
        customer_id,
        (FieldChange("email", "billing@acme.example", "bill@acme.example", FieldKind.TEXT),),
        source=Source("customers/acme.yaml", 12, 5),
    )
    return Plan((update,), 0)
