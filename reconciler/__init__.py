"""reconciler: declarative config-as-code for customer budgets and metadata.

The public API is what ``__all__`` lists; everything else is private and may change.
"""

import importlib
from typing import TYPE_CHECKING, Any

# The names are loaded on first use (PEP 562): ``import reconciler.errors`` (which every command
# does) then costs nothing more, and ``reconciler --help`` loads no domain model.
if TYPE_CHECKING:
    from reconciler.domain import (
        UNKNOWN,
        DesiredCustomer,
        FieldKind,
        FieldSpec,
        Lifecycle,
        LiveCustomer,
        ProviderModel,
        Source,
    )
    from reconciler.errors import (
        APIError,
        AuditError,
        AuthenticationError,
        ConfigError,
        InvalidRequestError,
        ManifestError,
        NotFoundError,
        OutputError,
        PolicyViolationError,
        RateLimitedError,
        ReconcilerError,
        SavedPlanError,
        ServerError,
        TransportError,
    )
    from reconciler.plan.model import Change, FieldChange, Plan, PolicyViolation
    from reconciler.problems import Problem

__all__ = [
    "UNKNOWN",
    "APIError",
    "AuditError",
    "AuthenticationError",
    "Change",
    "ConfigError",
    "DesiredCustomer",
    "FieldChange",
    "FieldKind",
    "FieldSpec",
    "InvalidRequestError",
    "Lifecycle",
    "LiveCustomer",
    "ManifestError",
    "NotFoundError",
    "OutputError",
    "Plan",
    "PolicyViolation",
    "PolicyViolationError",
    "Problem",
    "ProviderModel",
    "RateLimitedError",
    "ReconcilerError",
    "SavedPlanError",
    "ServerError",
    "Source",
    "TransportError",
]

_HOMES: dict[str, str] = {
    **dict.fromkeys(
        [
            "UNKNOWN",
            "DesiredCustomer",
            "FieldKind",
            "FieldSpec",
            "Lifecycle",
            "LiveCustomer",
            "ProviderModel",
            "Source",
        ],
        "reconciler.domain",
    ),
    **dict.fromkeys(["Change", "FieldChange", "Plan", "PolicyViolation"], "reconciler.plan.model"),
    "Problem": "reconciler.problems",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'reconciler' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES.get(name, "reconciler.errors")), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
