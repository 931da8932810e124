"""Reading live state for a plan: one live read per provider and environment involved, and
current-period usage only for customers whose guarded budget goes down."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal

from reconciler.domain import CustomerKey, DesiredCustomer, LiveCustomer
from reconciler.plan.model import Plan
from reconciler.planner import PlanOptions, usage_candidates
from reconciler.providers.base import Declared, Provider
from reconciler.providers.registry import MODELS


def environments(customers: Sequence[DesiredCustomer]) -> dict[str, tuple[str, ...]]:
    """Per provider, the environments its declared customers live in (sorted)."""
    found: dict[str, set[str]] = defaultdict(set)
    for customer in customers:
        found[customer.provider].add(customer.environment)
    return {name: tuple(sorted(envs)) for name, envs in found.items()}


def read_live(
    providers: Mapping[str, Provider],
    wanted: Mapping[str, tuple[str, ...]],
    customers: Sequence[DesiredCustomer],
    options: PlanOptions,
) -> dict[CustomerKey, LiveCustomer]:
    """Every live customer of the ``wanted`` environments of each provider, by key.

    Only customers inside the target/exclude selection are passed as declared, so customers
    left out of this plan cost no detail reads.
    """
    live: dict[CustomerKey, LiveCustomer] = {}
    for name, provider in providers.items():
        for environment in wanted.get(name, ()):
            declared = [
                Declared.of(c)
                for c in customers
                if c.key[:2] == (name, environment) and options.selects(c.id)
            ]
            for found in provider.read_live(environment, declared).values():
                live[found.key] = found
    return live


def read_usage(providers: Mapping[str, Provider], plan: Plan) -> dict[CustomerKey, Decimal]:
    """Current-period usage of the customers whose guarded budget goes down, and only those."""
    wanted: dict[tuple[str, str], list[str]] = defaultdict(list)
    for provider, environment, customer_id in sorted(usage_candidates(plan, MODELS)):
        wanted[(provider, environment)].append(customer_id)
    usage: dict[CustomerKey, Decimal] = {}
    for (provider, environment), ids in wanted.items():
        for customer_id, amount in providers[provider].read_usage(environment, ids).items():
            usage[(provider, environment, customer_id)] = amount
    return usage
