"""The exceptions reconciler raises, translated to exit codes and clean messages by the CLI.

    ReconcilerError
    ├── ManifestError          invalid manifests; carries every Problem of the run   (exit 1)
    ├── ConfigError            bad reconciler.yaml, missing credentials, bad flags    (exit 1)
    ├── SavedPlanError         a saved plan that is corrupt, tampered or for elsewhere (exit 1)
    ├── IdentityError          one id in two Unicode forms (manifests vs live)        (exit 1)
    ├── PolicyViolationError   a guardrail is violated; apply refuses                 (exit 3)
    ├── AuditError             an audit log that cannot be written or read            (exit 1)
    ├── OutputError            an output file (exported manifests) cannot be written  (exit 1)
    ├── RunInterrupted         stopped by SIGINT / SIGTERM                        (exit 130 / 143)
    └── APIError               a provider API call failed (method, path, status, detail)
        ├── AuthenticationError    401
        ├── NotFoundError          404
        ├── InvalidRequestError    400 / 409 / 422
        ├── RateLimitedError       429 after retries ran out
        ├── ServerError            5xx after retries ran out
        └── TransportError         connection refused / dropped / timed out

Third-party exceptions (httpx, yaml, jsonschema) are translated at one boundary each with
``raise ... from exc``; no message built here ever contains an API key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.problems import Problem


class ReconcilerError(Exception):
    """Base of every error reconciler raises on purpose."""

    exit_code = 1


class ManifestError(ReconcilerError):
    """Manifests failed to load or validate; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(f"{len(self.problems)} problem(s) in manifests")


class ConfigError(ReconcilerError):
    """Configuration (reconciler.yaml, environment, flags) is unusable."""


class SavedPlanError(ReconcilerError):
    """A saved plan file cannot be applied here (corrupt, tampered, or for another target)."""


class IdentityError(ReconcilerError):
    """Customer ids that are the same text in different Unicode forms or with invisible
    characters: which is meant is unknown, so nothing is planned for them."""


class PolicyViolationError(ReconcilerError):
    """A policy guardrail is violated."""

    exit_code = 3


class AuditError(ReconcilerError):
    """The audit log cannot be written or read."""


class OutputError(ReconcilerError):
    """A file reconciler was asked to write (exported manifests) cannot be written."""


class APIError(ReconcilerError):
    """A provider API request failed."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int | None = None,
        detail: str | None = None,
        errors: Mapping[str, Any] | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.detail = detail
        # Per-field validation messages of a 422 (``{"field": "msg"}``), when the API sent them.
        self.errors = errors
        super().__init__(message)


class AuthenticationError(APIError):
    """The API rejected the credentials (401)."""


class NotFoundError(APIError):
    """The addressed object does not exist (404)."""


class InvalidRequestError(APIError):
    """The API rejected the request body or parameters (400, 409, 422)."""


class RateLimitedError(APIError):
    """The API kept answering 429 until retries ran out."""


class ServerError(APIError):
    """The API kept failing with 5xx until retries ran out."""


class TransportError(APIError):
    """The connection failed, dropped or timed out until retries ran out."""


class RunInterrupted(ReconcilerError):
    """The run was stopped by a signal (Ctrl-C, SIGTERM): exit 128 + the signal number."""

    def __init__(self, signal_number: int, *, after_sending: bool = False) -> None:
        self.signal_number = signal_number
        self.exit_code = 128 + signal_number
        self.signal_name = _signal_name(signal_number)
        # True when an earlier attempt of the interrupted request may have reached the API
        # (the stop came while it waited to be retried): its effect is unknown.
        self.after_sending = after_sending
        super().__init__(f"interrupted by {self.signal_name}: no new request was started")


def _signal_name(signal_number: int) -> str:
    import signal  # only when interrupted: errors.py stays import-light

    try:
        return signal.Signals(signal_number).name
    except ValueError:
        return f"signal {signal_number}"
