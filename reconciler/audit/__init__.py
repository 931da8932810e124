"""The tamper-evident audit log: a writer for apply, a verifier for anyone, run provenance."""

from reconciler.audit.chain import GENESIS_HASH, canonical_json, encode_value, record_hash
from reconciler.audit.context import AuditContext, discover_context
from reconciler.audit.log import OUTCOMES, PENDING, AuditLog, Drift, Outcome
from reconciler.audit.verify import (
    ChainBreak,
    PendingChange,
    Verification,
    verify_lines,
    verify_log,
)

__all__ = [
    "GENESIS_HASH",
    "OUTCOMES",
    "PENDING",
    "AuditContext",
    "AuditLog",
    "ChainBreak",
    "Drift",
    "Outcome",
    "PendingChange",
    "Verification",
    "canonical_json",
    "discover_context",
    "encode_value",
    "record_hash",
    "verify_lines",
    "verify_log",
]
