"""The HTTP transport every API client shares: pacing, retries, typed errors, no leaked keys.

One ``HttpTransport`` per provider connection, used from the applier's bounded thread pool
(``httpx.Client`` is thread-safe). Each request attempt goes through, in order: the concurrency
semaphore, the pacer of its endpoint class, the send, the translation of the answer. Between
attempts ``stamina`` waits with exponential backoff and jitter (or the server's
``retry_after``), holding neither the semaphore nor a pacer slot.

httpx and HTTP-status failures are translated here, once, into ``reconciler.errors``. The API
key lives in a ``Secret``: it is revealed only to build the ``Authorization`` header of one
request, and redacted from any text an answer brings back.

Against a hostile or broken server (see ``reconciler.clients.limits``): each attempt has a
total deadline (``timeout``), an answer may bring at most ``max_response_bytes`` (after
decompression too) and nest at most ``MAX_ANSWER_DEPTH`` levels. Proxies from the environment
(``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``...) are used for remote APIs only: never for a
loopback address, where the key would otherwise be handed to the proxy (in clear text over
``http://``).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal, Self
from urllib.parse import quote, urlsplit

import httpx
import stamina
import stamina.instrumentation

from reconciler.clients.limits import (
    ACCEPTED_ENCODINGS,
    AnswerTooLarge,
    Deadline,
    DeadlineExceeded,
    UnreadableEncoding,
    read_body,
    too_deep,
)
from reconciler.clients.pacing import Pacer, RequestPacer, Unpaced
from reconciler.clients.retry import (
    NOT_SENT_ERRORS,
    RATE_LIMITED,
    RetryPolicy,
    capped_wait,
    connect_retry_wait,
    is_retryable_status,
    is_retryable_transport_error,
    retry_after_seconds,
)
from reconciler.clients.secret import Secret
from reconciler.clients.unreachable import CONNECT_ERRORS, connect_failure, is_tls_failure
from reconciler.clients.waits import WAITS
from reconciler.errors import (
    APIError,
    AuthenticationError,
    ConfigError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    RunInterrupted,
    ServerError,
    TransportError,
)
from reconciler.interrupts import STOP
from reconciler.settings.urls import check_base_url, is_loopback

logger = logging.getLogger("reconciler.http")
# stamina logs each scheduled retry at WARNING on the "stamina" logger; with no logging
# configured Python would print those to stderr. The CLI's -v configuration still sees them.
logging.getLogger("stamina").addHandler(logging.NullHandler())

DEFAULT_PACE: Final = "default"
MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024
"""The most one answer may bring, raw or decompressed (a full list page is a few MiB)."""
MAX_ANSWER_DEPTH: Final = 64
"""Deepest nesting of objects and lists accepted in an answer (as in manifests)."""
_DETAIL_LIMIT = 300
_PATH_SHOWN = 120  # longer request paths (a huge identifier) are cut in messages


def encode_path(*segments: str) -> str:
    """``/seg1/seg2/`` with every segment percent-encoded, slash included."""
    return "/" + "/".join(encode_segment(segment) for segment in segments) + "/"


def encode_segment(segment: str) -> str:
    """One path segment percent-encoded, slash included.

    A segment of only dots is encoded too (``%2E%2E``): httpx, like browsers, would otherwise
    resolve ``..`` and address another endpoint.
    """
    if segment in (".", ".."):
        return segment.replace(".", "%2E")
    return quote(segment, safe="")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API operation: method, path, whether repeating it is harmless (retries), and the
    pacing class it counts against (``pacers`` of ``HttpTransport``).

    A ``{}`` in ``path`` stands for an identifier: ``url_path`` puts each in its own segment,
    percent-encoded, so ``a/b?c#d`` or ``..`` addresses that customer and no other endpoint.
    """

    method: str
    path: str
    idempotent: bool
    pace: str = DEFAULT_PACE

    def url_path(self, *identifiers: str) -> str:
        """``path`` with ``identifiers`` (each encoded) in its ``{}`` segments."""
        return self.path.format(*(encode_segment(value) for value in identifiers))


def encode_json(body: Any) -> bytes:
    """JSON bytes for a request body; ``Decimal`` goes out as a number.

    An integral Decimal becomes an int; any other a float: amounts are cent-exact and a float's
    repr round-trips them.
    """
    return json.dumps(body, default=_json_default, allow_nan=False, separators=(",", ":")).encode()


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot send a {type(value).__name__} as JSON")


# A JSON escape of a surrogate code point (U+D800 to U+DFFF): paired, it spells a character
# outside the BMP (an emoji); alone, none. Only an answer holding one is checked in full.
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")


def _holds_lone_surrogate(body: Any) -> bool:
    """Whether text in ``body`` (keys included) holds a surrogate code point."""
    try:
        json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def decode_json(content: bytes) -> Any:
    """Parse an answer; numbers with a fraction become ``Decimal`` (money stays exact)."""
    return json.loads(content, parse_float=Decimal)


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful (or explicitly accepted) answer: status, decoded JSON body, attempts used."""

    status: int
    body: Any
    attempts: int


@dataclass(frozen=True, slots=True)
class Answer:
    """A reply together with the request it answers, for errors about its body."""

    method: str
    path: str
    reply: Reply

    def malformed(self, expected: str) -> ServerError:
        """The error for a body that is not ``expected`` (e.g. "a JSON object")."""
        return ServerError(
            f"{self.method} {self.path}: the API answered {self.reply.status} "
            f"but the body is not {expected}",
            method=self.method,
            path=self.path,
            status=self.reply.status,
        )

    def endless(self, why: str) -> ServerError:
        """The error for a list that does not end where the API said it would."""
        return ServerError(
            f"{self.method} {self.path}: the API's list does not end ({why}); refusing an "
            "incomplete list of customers (run again; if it persists, the API is misbehaving)",
            method=self.method,
            path=self.path,
            status=self.reply.status,
        )

    def object(self) -> dict[str, Any]:
        """The body as a JSON object; ``ServerError`` when it is not one."""
        if not isinstance(self.reply.body, Mapping):
            raise self.malformed("a JSON object")
        return dict(self.reply.body)


class RequestCounter:
    """Thread-safe count of request attempts sent, by method (for ``-v`` summaries, benches)."""

    __slots__ = ("_counts", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, method: str) -> None:
        with self._lock:
            self._counts[method] += 1

    def by_method(self) -> dict[str, int]:
        """A snapshot: method -> attempts sent."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


def _announce_retry(details: stamina.instrumentation.RetryDetails) -> None:
    """Announce the backoff stamina is about to sleep (a person may be watching)."""
    cause = details.caused_by
    if isinstance(cause, _RetryableAnswer):
        why = (
            "rate limited by the API (429)"
            if cause.status == RATE_LIMITED
            else (f"the API answered {cause.status}")
        )
    elif isinstance(cause, httpx.RequestError):
        host = _request_host(cause)
        why = (
            f"cannot connect to {host}"
            if isinstance(cause, CONNECT_ERRORS)
            else (f"the connection to {host} failed")
        )
    else:
        return  # not one of the transport's retries
    WAITS.announce(f"{why}; retry {details.retry_num} is next", details.wait_for)


def _request_host(error: httpx.RequestError) -> str:
    try:
        return error.request.url.netloc.decode("ascii", "replace")
    except RuntimeError:  # an error raised without its request
        return "the API"


# Added to stamina's own hooks (its logging under -v stays): stamina is the one place that
# knows the backoff it computed.
stamina.instrumentation.set_on_retry_hooks(
    [*stamina.instrumentation.get_on_retry_hooks(), _announce_retry]
)


class _RetryableAnswer(Exception):
    """Raised inside an attempt for a status that may be retried; translated after the loop."""

    def __init__(self, status: int, body: Any, retry_after: float | None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.retry_after = retry_after


class HttpTransport:
    """Paced, retrying, thread-safe JSON-over-HTTP for one API base URL and key.

    ``pacers`` maps an endpoint class (e.g. ``"list"``, ``"write"``) to its pacer; requests name
    their class with ``pace=``, unknown classes fall back to ``"default"``, and when there is
    none they are not paced. ``max_concurrency`` bounds requests in flight (a semaphore plus the
    httpx pool size).
    """

    def __init__(
        self,
        base_url: str,
        api_key: Secret,
        *,
        pacers: Mapping[str, RequestPacer] | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 8,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        error_detail: ErrorDetail | None = None,
        id_keys: Sequence[str] = (),
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.base_url = check_base_url(base_url)
        self._key = api_key
        self._pacers: dict[str, RequestPacer] = dict(pacers or {})
        self.retry = retry or RetryPolicy()
        self.max_concurrency = max_concurrency
        self.counter = RequestCounter()
        # ``timeout`` bounds a whole attempt, from connecting to the answer's last byte.
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        # How this API's error bodies carry their text: the provider's reader, else the
        # common shapes (``detail``/``message``, ``code``, per-field ``errors``).
        self.error_detail: ErrorDetail = error_detail or common_error_detail
        # The keys a customer's id is under in this API's answers, to name the customer an
        # unreadable answer is about.
        self.id_keys = tuple(id_keys)
        self._semaphore = threading.BoundedSemaphore(max_concurrency)
        try:
            self._client = httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(timeout, self.retry.connect_timeout)),
                # No connection is kept alive: each attempt opens its own, so that its
                # deadline knows which socket to cut. At the providers' rate limits the extra
                # handshake per request costs nothing that matters.
                limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=0),
                headers={
                    "Accept": "application/json",
                    "Accept-Encoding": ACCEPTED_ENCODINGS,
                    **(headers or {}),
                },
                follow_redirects=False,
                verify=_tls_context(),
                trust_env=not is_loopback(urlsplit(self.base_url).hostname),
            )
        except (ImportError, ValueError) as exc:
            # A proxy variable naming an unsupported scheme (socks5:// without socksio) or
            # no URL at all: httpx reads them when the client is built.
            raise ConfigError(
                f"cannot use the proxy settings of the environment (HTTPS_PROXY, ALL_PROXY, "
                f"HTTP_PROXY) for {self._host()}: {self.redact(str(exc))[:_DETAIL_LIMIT]}"
            ) from None

    def __repr__(self) -> str:
        return f"HttpTransport(base_url={self.base_url!r}, api_key={self._key!r})"

    @property
    def pacers(self) -> Mapping[str, RequestPacer]:
        """The pacer of each endpoint class, as configured (read-only view)."""
        return MappingProxyType(self._pacers)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def redact(self, text: str) -> str:
        """``text`` with the API key masked (for errors built by callers from answers)."""
        return self._key.redact(text)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        idempotent: bool,
        pace: str = DEFAULT_PACE,
        accept: Collection[int] = (),
    ) -> Reply:
        """Send ``method path`` (an ``encode_path`` result) and return the decoded answer.

        2xx answers, and statuses listed in ``accept``, are returned; anything else raises an
        ``APIError`` subclass once retries (see ``reconciler.clients.retry``) are spent.
        """
        content = None if body is None else encode_json(body)
        pacer = self._pacers.get(pace) or self._pacers.get(DEFAULT_PACE) or Unpaced()
        attempt_number = 0
        started = time.monotonic()
        # Whether a failed attempt may have acted on the server: not when it never left (no
        # connection) or was turned away unread (429); a 5xx or a cut answer may have.
        reached = False

        def on_failure(exc: Exception) -> bool | float:
            nonlocal reached
            if isinstance(exc, _RetryableAnswer):
                reached = reached or exc.status != RATE_LIMITED
            elif isinstance(exc, httpx.TransportError):
                reached = reached or not isinstance(exc, NOT_SENT_ERRORS)
            if STOP.requested:
                return False  # a stopping run starts no retry
            if isinstance(exc, _RetryableAnswer):
                if not is_retryable_status(exc.status, idempotent=idempotent):
                    return False
                if exc.status == RATE_LIMITED and exc.retry_after is not None:
                    wait = capped_wait(exc.retry_after, self.retry)
                    logger.debug(
                        "%s %s: rate limited, retrying in %.2f s as the server asked",
                        method,
                        path,
                        wait,
                    )
                    return wait
                return True
            if isinstance(exc, CONNECT_ERRORS):
                # Briefly: a wrong address must fail fast (see clients.retry).
                if is_tls_failure(exc):
                    return False
                elapsed = time.monotonic() - started
                connect_wait = connect_retry_wait(attempt_number, elapsed, self.retry)
                return False if connect_wait is None else connect_wait
            if isinstance(exc, httpx.TransportError):
                return is_retryable_transport_error(exc, idempotent=idempotent)
            return False

        policy = self.retry
        try:
            for attempt in stamina.retry_context(
                on=on_failure,
                attempts=policy.attempts,
                timeout=policy.timeout,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    attempt_number += 1
                    return self._attempt(
                        method, path, params, content, pacer, accept, attempt_number
                    )
        except _RetryableAnswer as exc:
            raise self._error(method, path, exc.status, exc.body, attempt_number) from None
        except RunInterrupted as exc:
            if not reached:
                raise
            # Stopped while waiting to retry an attempt that went out: what that attempt did
            # is unknown, which the caller must not report as "nothing sent".
            raise RunInterrupted(exc.signal_number, after_sending=True) from None
        except DeadlineExceeded:
            # Not retried: a server this slow is not going to answer the next attempt faster,
            # and each attempt would hold a worker for the whole deadline again.
            raise TransportError(
                f"{method} {_shown(path)}: no complete answer from {self._host()} within "
                f"{self.timeout:g} s; gave up (check the API's status, or the network)",
                method=method,
                path=path,
            ) from None
        except CONNECT_ERRORS as exc:
            raise TransportError(
                f"{method} {_shown(path)}: cannot connect to {self._host()}: "
                f"{connect_failure(exc, self.retry.connect_timeout)}{_after(attempt_number)}",
                method=method,
                path=path,
            ) from exc
        except httpx.TransportError as exc:
            raise TransportError(
                f"{method} {_shown(path)}: could not complete the request to {self._host()} "
                f"({type(exc).__name__}: {self.redact(str(exc))[:_DETAIL_LIMIT] or 'no detail'})"
                f"{_after(attempt_number)}",
                method=method,
                path=path,
            ) from exc
        except httpx.InvalidURL as exc:
            # httpx refuses URLs over 64 KiB: an identifier that long cannot be addressed.
            raise InvalidRequestError(
                f"{method} {_shown(path)}: the request cannot be sent ({exc}); "
                "the identifier is too long to address through the API",
                method=method,
                path=path,
            ) from None
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        content: bytes | None,
        pacer: RequestPacer,
        accept: Collection[int],
        attempt_number: int,
    ) -> Reply:
        headers = {"Authorization": f"Bearer {self._key.reveal()}"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        with self._semaphore:
            pacer.wait()
            try:
                STOP.check()  # after any wait: a stopping run starts no new request
                self.counter.add(method)
                started = time.perf_counter()
                try:
                    with WAITS.awaiting(
                        f"the answer of {self._host()} to {method} {_shown(path)}", self.timeout
                    ):
                        status, response_headers, raw = self._exchange(
                            method, path, params, content, headers
                        )
                except (httpx.TransportError, DeadlineExceeded) as exc:
                    logger.debug(
                        "%s %s failed after %.0f ms: %s (attempt %d)",
                        method,
                        _shown(path),
                        (time.perf_counter() - started) * 1000,
                        type(exc).__name__,
                        attempt_number,
                    )
                    raise
            finally:
                # The pacer logs the answer's time: the server had the request by then.
                pacer.done()
        logger.debug(
            "%s %s -> %d in %.0f ms (attempt %d)",
            method,
            _shown(path),
            status,
            (time.perf_counter() - started) * 1000,
            attempt_number,
        )
        body = self._decode(method, path, status, raw)
        if 200 <= status < 300 or status in accept:
            if body is _NOT_JSON:
                raise ServerError(
                    f"{method} {path}: the API answered {status} with a body that is not JSON",
                    method=method,
                    path=path,
                    status=status,
                )
            return Reply(status=status, body=body, attempts=attempt_number)
        if status == RATE_LIMITED or status >= 500:
            if status == RATE_LIMITED:
                pacer.rate_limited()
            raise _RetryableAnswer(status, body, retry_after_seconds(response_headers, body))
        raise self._error(method, path, status, body, attempt_number)

    def _exchange(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        content: bytes | None,
        headers: Mapping[str, str],
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one attempt and read its whole answer within the deadline and size bound.

        ``(status, lower-cased headers, decoded body bytes)``.
        """
        deadline = Deadline(self.timeout)
        request = self._client.build_request(
            method,
            self.base_url + path,
            params=params,
            content=content,
            headers=headers,
            extensions={"trace": deadline.trace},
        )
        deadline.start()
        try:
            response = self._client.send(request, stream=True)
            try:
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                raw = read_body(response_headers, response.iter_raw(), self.max_response_bytes)
            finally:
                response.close()
        except httpx.TransportError:
            if deadline.expired:
                raise DeadlineExceeded from None
            raise
        except AnswerTooLarge:
            raise self._refusal(
                method,
                path,
                response.status_code,
                f"the answer is larger than {self.max_response_bytes:,} bytes "
                "(after decompression); refusing to read it",
            ) from None
        except UnreadableEncoding as exc:
            raise self._refusal(method, path, response.status_code, str(exc)) from None
        finally:
            deadline.finish()
        if deadline.expired:
            # The socket was cut as the answer ended: a body read until the connection closed
            # may be short, so it is not trusted.
            raise DeadlineExceeded
        return response.status_code, response_headers, raw

    def _refusal(self, method: str, path: str, status: int, reason: str) -> ServerError:
        return ServerError(
            f"{method} {_shown(path)}: the API answered {status} but {reason}",
            method=method,
            path=path,
            status=status,
        )

    def _decode(self, method: str, path: str, status: int, raw: bytes) -> Any:
        if not raw:
            return None
        try:
            body = decode_json(raw)
        except RecursionError:
            body = None  # nested beyond what Python's parser can follow: refused just below
            where: str | None = "the top level"
        except ValueError:
            return _NOT_JSON if 200 <= status < 300 else raw.decode("utf-8", "replace")
        else:
            where = too_deep(body, MAX_ANSWER_DEPTH, self.id_keys)
        if where is not None:
            raise self._refusal(
                method,
                path,
                status,
                f"its JSON nests more than {MAX_ANSWER_DEPTH} levels deep at {where}; "
                "refusing it (ask the API's owner to flatten that value)",
            )
        if (
            200 <= status < 300
            and _SURROGATE_ESCAPE.search(raw) is not None
            and _holds_lone_surrogate(body)
        ):
            # A JSON escape such as \ud800 alone names no character: no file, plan, log or
            # terminal can hold the text it makes (UTF-8 cannot encode it).
            raise self._refusal(
                method,
                path,
                status,
                "its JSON holds a lone UTF-16 surrogate escape (such as \\ud800), which is no "
                "character; refusing it (ask the API's owner to send valid text)",
            )
        if 200 <= status < 300 and self._carries_key(raw, body):
            # Whatever is read may be shown: in a plan, a pull-request comment, an audit record.
            raise self._refusal(
                method,
                path,
                status,
                "its answer contains the API key; refusing it, so that the key reaches no "
                "plan, comment or log (ask the API's owner why it echoes the key)",
            )
        return body

    def _carries_key(self, raw: bytes, body: Any) -> bool:
        if self._key.appears_in(raw):
            return True
        # A JSON escape (``\u0073...``) hides the key from the raw bytes, not from the values.
        return b"\\u" in raw and self._key.appears_in(
            json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
        )

    def _error(self, method: str, path: str, status: int, body: Any, attempts: int) -> APIError:
        detail, errors = self.error_detail(body)
        detail = self.redact(detail)[:_DETAIL_LIMIT] if detail else None
        errors = _redact_errors(errors, self) if errors else None
        error_type = _ERROR_BY_STATUS.get(status)
        if error_type is None:
            error_type = ServerError if status >= 500 else InvalidRequestError
        message = f"{method} {_shown(path)}: the API answered {status}"
        if detail:
            message += f": {detail}"
        if errors:
            message += " (" + "; ".join(f"{k}: {v}" for k, v in errors.items()) + ")"
        if error_type in (RateLimitedError, ServerError):
            message += _after(attempts)
        if error_type is AuthenticationError:
            message += " (check the API key in the environment or the key file)"
        return error_type(
            message, method=method, path=path, status=status, detail=detail, errors=errors
        )

    def _host(self) -> str:
        return urlsplit(self.base_url).netloc


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Building a verifying context loads the CA bundle (tens of ms); one per process is enough
    # and an SSLContext is safe to share between clients and threads.
    return httpx.create_ssl_context()


class _NotJson:
    def __repr__(self) -> str:
        return "<not JSON>"


_NOT_JSON: Final = _NotJson()

_ERROR_BY_STATUS: Mapping[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitedError,
}


def _shown(path: str) -> str:
    """``path`` as messages show it: cut when an identifier in it is very long."""
    if len(path) <= _PATH_SHOWN:
        return path
    return f"{path[: _PATH_SHOWN - 1]}… ({len(path):,} characters)"


def _after(attempts: int) -> str:
    return f" (gave up after {attempts} attempts)" if attempts > 1 else ""


ErrorDetail = Callable[[Any], tuple[str | None, Mapping[str, Any] | None]]
"""Reads an error body: ``(human text, per-field errors)``, either ``None`` when absent."""


def common_error_detail(body: Any) -> tuple[str | None, dict[str, Any] | None]:
    """The human text and per-field errors of an error body in the common shapes:
    ``{"detail" or "message": ..., "code" or "error_code": ..., "errors": {...}}``."""
    if isinstance(body, Mapping):
        text = body.get("detail") or body.get("message")
        code = body.get("code") or body.get("error_code")
        errors = body.get("errors")
        detail = str(text) if text is not None else None
        if code and detail and str(code) not in detail:
            detail = f"{detail} [{code}]"
        return detail, dict(errors) if isinstance(errors, Mapping) else None
    if isinstance(body, str) and body.strip():
        return body.strip(), None
    return None, None


def _redact_errors(errors: Mapping[str, Any], transport: HttpTransport) -> dict[str, Any]:
    return {transport.redact(str(k)): transport.redact(_flat(v)) for k, v in errors.items()}


def _flat(value: Any) -> str:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(str(item) for item in value)
    return str(value)


class ApiClient:
    """What every provider's client shares: one transport, closing it, and request counts.

    Subclasses add the provider's endpoints on top of ``self.transport``, and say what
    ``create`` needs to build it: their API's documented rate limit and how its error bodies
    carry their text.
    """

    # The API's documented limit for every endpoint, (count, per seconds); ``None``: the API
    # documents none, so ``create`` leaves requests unpaced unless given a limit.
    documented_rate_limit: ClassVar[tuple[int, float] | None] = None
    # The key a customer's id is under in this API's answers (its model's ``id_field``).
    id_key: ClassVar[str | None] = None

    def __init__(self, transport: HttpTransport) -> None:
        self.transport = transport

    @staticmethod
    def error_detail(body: Any) -> tuple[str | None, dict[str, Any] | None]:
        """The text (and per-field errors) of this API's error body: the common shapes."""
        return common_error_detail(body)

    @classmethod
    def create(
        cls,
        base_url: str,
        api_key: Secret,
        *,
        rate_limit: tuple[int, float] | Literal["documented"] | None = "documented",
        burst: int | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 8,
        timeout: float = 30.0,
    ) -> Self:
        """A client paced at ``rate_limit`` (count, per seconds; ``"documented"``: the API's
        own, ``None``: unpaced) across every endpoint, letting ``burst`` requests go back to
        back (``None``: the whole count; see ``Pacer``). With no limit, ``burst`` does
        nothing: there is nothing to shape."""
        limit = cls.documented_rate_limit if rate_limit == "documented" else rate_limit
        pacers = {} if limit is None else {DEFAULT_PACE: Pacer(*limit, burst)}
        transport = HttpTransport(
            base_url,
            api_key,
            pacers=pacers,
            retry=retry,
            max_concurrency=max_concurrency,
            timeout=timeout,
            error_detail=cls.error_detail,
            id_keys=(cls.id_key,) if cls.id_key else (),
        )
        return cls(transport)

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    def send(
        self,
        endpoint: Endpoint,
        path: str | None = None,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        accept: Collection[int] = (),
    ) -> Reply:
        """One request to ``endpoint`` as the endpoint table says (method, retry safety,
        pacing class), at ``path`` when identifiers are already in it (``url_path``)."""
        return self.transport.request(
            endpoint.method,
            endpoint.path if path is None else path,
            params=params,
            body=body,
            idempotent=endpoint.idempotent,
            pace=endpoint.pace,
            accept=accept,
        )

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request_counts(self) -> dict[str, int]:
        """Request attempts sent so far, by HTTP method."""
        return self.transport.counter.by_method()


__all__ = [
    "DEFAULT_PACE",
    "Answer",
    "ApiClient",
    "Endpoint",
    "ErrorDetail",
    "HttpTransport",
    "Reply",
    "RequestCounter",
    "check_base_url",
    "common_error_detail",
    "decode_json",
    "encode_json",
    "encode_path",
    "encode_segment",
    "is_loopback",
]
