"""reconciler: declarative config-as-code for customer budgets and metadata.

The public API is what ``__all__`` lists; everything else is private and may change.
"""

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
from reconciler.plan import Change, FieldChange, Plan, PolicyViolation
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
