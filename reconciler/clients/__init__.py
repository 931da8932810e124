"""API clients: a paced, retrying HTTP transport and one typed client per provider API."""

from reconciler.clients.http import (
    HttpTransport,
    Reply,
    RequestCounter,
    check_base_url,
    encode_path,
)
from reconciler.clients.pacing import Pacer, RequestPacer, Unpaced
from reconciler.clients.respan import RespanClient
from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret

__all__ = [
    "HttpTransport",
    "Pacer",
    "Reply",
    "RequestCounter",
    "RequestPacer",
    "RespanClient",
    "RetryPolicy",
    "Secret",
    "Unpaced",
    "check_base_url",
    "encode_path",
]
