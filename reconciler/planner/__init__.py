"""The pure planner: desired vs live customers -> ``Plan``; policy guardrails; budget impact.

Nothing here reads files, the network or the clock; providers reach it only as
``ProviderModel`` data.
"""

from reconciler.planner.impact import BudgetImpact, MoneyChange, budget_impact, money_changes
from reconciler.planner.planner import PlanOptions, build_plan
from reconciler.planner.policy import evaluate_policy, usage_candidates

__all__ = [
    "BudgetImpact",
    "MoneyChange",
    "PlanOptions",
    "budget_impact",
    "build_plan",
    "evaluate_policy",
    "money_changes",
    "usage_candidates",
]
