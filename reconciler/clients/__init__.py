"""What every provider's API client is built on: a paced, retrying HTTP transport, secrets."""

from reconciler.clients.http import HttpTransport, Reply, RequestCounter, encode_path
from reconciler.clients.pacing import Pacer, RequestPacer, Unpaced
from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.settings.urls import check_base_url

__all__ = [
    "HttpTransport",
    "Pacer",
    "Reply",
    "RequestCounter",
    "RequestPacer",
    "RetryPolicy",
    "Secret",
    "Unpaced",
    "check_base_url",
    "encode_path",
]
