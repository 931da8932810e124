"""The curated public API of the ``reconciler`` package."""

import reconciler


def test_all_is_pinned() -> None:
    """``__all__`` lists exactly the public names; changing it is a deliberate API change."""
    assert sorted(reconciler.__all__) == sorted(
        [
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
    )


def test_every_public_name_resolves() -> None:
    """Each name in ``__all__`` is importable from the package."""
    for name in reconciler.__all__:
        assert getattr(reconciler, name) is not None
