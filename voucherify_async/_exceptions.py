"""Every exception of the package, and the mapping from an HTTP answer to the one it raises.

About 700 lines on purpose: the whole tree in one module, as httpx keeps its
``_exceptions.py``, so there is one place to read what can be raised and why.

Every error the SDK raises on purpose derives from `VoucherifyError`, so callers can catch
at the level they care about:

```text
VoucherifyError
├── ConfigurationError              bad credentials or options, raised at construction
│   └── DestinationUnreachableError a dlt load's destination cannot be opened (dlt extra)
├── ClientClosedError               the client was closed (before or during the call)
├── EventLoopError                  used from a second event loop while the first still runs
├── APIError                        something went wrong talking to the API
│   ├── APIConnectionError          no answer: refused, reset, dropped, truncated
│   │   └── APITimeoutError         no answer in time
│   │       └── DeadlineExceededError the call's deadline passed (queued, paced, attempts)
│   ├── MalformedResponseError      an answer that is not the documented JSON
│   └── APIStatusError              a non-2xx answer; one subclass per status
│       ├── RedirectError           a 3xx: never followed
│       ├── BadRequestError         400
│       ├── AuthenticationError     401
│       ├── PaymentRequiredError    402
│       ├── NotFoundError           404
│       ├── ConflictError           409
│       ├── PayloadTooLargeError    413
│       ├── LockedError             423
│       ├── RateLimitError          429 (and a wait over max_retry_wait)
│       │   └── QuotaExceededError  the billing cycle's quota is spent
│       └── InternalServerError     5xx
├── CsvError                        a CSV import that cannot be sent as asked (ValueError)
│   ├── CsvHeaderError              its header cannot be used
│   └── CsvSizeError                it, or one row, is too large for a request
├── AsyncJobError                   about one or more async actions
│   ├── AsyncActionFailedError      an action ended FAILED
│   ├── AsyncActionTimeoutError     wait() gave up; the actions keep running (TimeoutError)
│   └── PartialSubmissionError      a split call failed after some parts started
├── CheckpointError                 a stored checkpoint does not fit the partition
├── RedisUnavailableError           Redis unreachable, no fallback asked (redis extra)
└── PaginationError                 a list cannot be walked exactly once
    └── ListOrderError              a page was not in the order asked for

ChunkTooLargeError (ValueError)     one item alone does not fit in a request (internal:
                                    the bulk calls turn it into a clear error)
SendError (Exception)               an attempt without an answer, as an HTTPTransport
                                    reports it; the client turns it into APIConnectionError
```

No message, repr or attribute of these exceptions carries the app token, and none chains an
exception (``__cause__``, ``__context__``) that does: a failure of the HTTP library is
described by its type and message (``cause_type``, ``cause_message``), not chained.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec

from ._core.ratelimit import RateLimit
from ._core.retry import Delivery
from .models import AsyncAction, AsyncActionStatus, AsyncJobResult, JobProgress


class SubmittedJob(Protocol):
    """What `PartialSubmissionError.job` is: the `AsyncJob` over the actions already started.

    A protocol here, so that this module, the root of the package's imports, imports none
    of the modules that raise its exceptions.
    """

    @property
    def async_action_ids(self) -> list[str]:
        """The ids of the actions started, in order."""
        ...

    async def wait(
        self,
        *,
        timeout: float | None = ...,
        poll_interval: float = ...,
        max_poll_interval: float = ...,
        on_progress: Callable[[JobProgress], object] | None = ...,
    ) -> AsyncJobResult:
        """Wait for every action to finish; see `AsyncJob.wait`."""
        ...


__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncActionFailedError",
    "AsyncActionTimeoutError",
    "AsyncJobError",
    "AuthenticationError",
    "BadRequestError",
    "CheckpointError",
    "ChunkTooLargeError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "CsvError",
    "CsvHeaderError",
    "CsvSizeError",
    "DeadlineExceededError",
    "DestinationUnreachableError",
    "EventLoopError",
    "InternalServerError",
    "ListOrderError",
    "LockedError",
    "MalformedResponseError",
    "NotFoundError",
    "PaginationError",
    "PartialSubmissionError",
    "PayloadTooLargeError",
    "PaymentRequiredError",
    "QuotaExceededError",
    "RateLimitError",
    "RedirectError",
    "RedisUnavailableError",
    "SendError",
    "VoucherifyError",
    "redact",
    "redact_error",
]

_EXCERPT_CHARS = 200


def excerpt(body: bytes, limit: int = _EXCERPT_CHARS) -> str:
    """Return a short, printable excerpt of a response body for error messages."""
    if not body:
        return "<empty body>"
    text = body[: limit * 4].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    if len(text) > limit or len(body) > limit * 4:
        text = text[:limit] + "…"
    return repr(text)


class VoucherifyError(Exception):
    """Base class of every exception this package raises on purpose."""


class ConfigurationError(VoucherifyError, ValueError):
    """The client cannot be built as asked: missing credentials, an unknown cluster, a bad option.

    Raised by the constructor, before any request is made.
    """


class DestinationUnreachableError(ConfigurationError):
    """The destination could not be opened, so nothing was fetched from the API."""


class ClientClosedError(VoucherifyError, RuntimeError):
    """The client was closed: before the call, or by another task while the call ran.

    A call in flight when the client is closed ends with this error at once (its request
    may or may not have reached the API). Also a ``RuntimeError``. Create a new client to
    make more requests.
    """


class EventLoopError(VoucherifyError, RuntimeError):
    """The client was used from a second event loop while the first one still runs.

    A client (its connection pool, its cap on requests in flight) belongs to one running
    event loop at a time; it moves to a new loop by itself once the old one has ended
    (successive ``asyncio.run()`` calls). Raised before any request is sent. Make one
    client per loop (per thread), or run the call on the loop that owns the client; see
    "From synchronous code" in the docs.
    """


class APIError(VoucherifyError):
    """A request to the API failed.

    Attributes:
        method: the HTTP method of the request.
        url: the URL of the request (never carries credentials).
        maybe_applied: ``True`` when the request was a write that the API may have carried
            out although this error was raised, and that was not sent again because doing
            it twice is not harmless (a create without ``id`` or ``source_id``, a bulk job,
            a CSV import, a permanent deletion). ``note`` says how to check.
        note: what to do about this error, when there is something to say (also in the
            message).
    """

    maybe_applied: bool = False
    note: str | None = None

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url

    def __str__(self) -> str:
        where = f" ({self.method} {self.url})" if self.method else ""
        note = f"; {self.note}" if self.note else ""
        return f"{self.message}{where}{note}"


class APIConnectionError(APIError):
    """No usable answer came back: the connection was refused, reset, dropped or cut short.

    Attributes:
        cause_type: the name of the HTTP library's exception, e.g.
            ``"ServerDisconnectedError"`` (the exception itself is not chained: it holds
            the request's headers, credentials included).
        cause_message: that exception's message.
        sent: ``False`` when the request surely never left (refused, DNS, connect timeout).
        attempts: how many attempts were made (1: it was not retried).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        cause_type: str = "",
        cause_message: str = "",
        sent: bool = True,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.cause_type = cause_type
        self.cause_message = cause_message
        self.sent = sent
        self.attempts = attempts


class APITimeoutError(APIConnectionError):
    """No answer came back within the configured timeout."""


class DeadlineExceededError(APITimeoutError):
    """The call's ``deadline`` passed before it could finish; nothing waits past it.

    The message, and the attributes, say where the time went: waiting for a free slot
    under ``max_concurrency``, waiting for the rate limit, the attempts themselves, and the
    backoff between them. ``sent`` says whether an attempt may have reached the API (and
    ``maybe_applied`` whether a write that is not harmless to repeat may have been done).
    A rate-limit wait longer than what is left raises `RateLimitError` (with
    ``retry_after``) instead, before anything is sent.

    Attributes:
        deadline: the bound, in seconds.
        queued: seconds spent waiting for a slot under ``max_concurrency``.
        paced: seconds spent waiting for the rate limit.
        attempt_times: the seconds each attempt took (the last one cut short by the
            deadline, if it was running); ``attempts`` is how many there were.
        backoff: seconds spent between attempts.
        last_failure: what the last attempt got, when one failed (``"HTTP 503"``,
            ``"ServerDisconnectedError"``), else ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        deadline: float,
        queued: float = 0.0,
        paced: float = 0.0,
        attempt_times: tuple[float, ...] = (),
        backoff: float = 0.0,
        last_failure: str | None = None,
        method: str = "",
        url: str = "",
        sent: bool = False,
    ) -> None:
        super().__init__(
            message,
            method=method,
            url=url,
            cause_type="DeadlineExceeded",
            cause_message=message,
            sent=sent,
            attempts=len(attempt_times),
        )
        self.deadline = deadline
        self.queued = queued
        self.paced = paced
        self.attempt_times = attempt_times
        self.backoff = backoff
        self.last_failure = last_failure


class MalformedResponseError(APIError):
    """The server answered with a body that is not the documented JSON.

    An HTML gateway page, an empty or truncated body, or JSON of the wrong shape. ``status`` is the
    HTTP status of the answer and ``body_excerpt`` a short excerpt of what came back.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: bytes,
        method: str = "",
        url: str = "",
    ) -> None:
        self.status = status
        self.body_excerpt = excerpt(body)
        super().__init__(
            f"{message} (HTTP {status}; body: {self.body_excerpt})", method=method, url=url
        )


class APIStatusError(APIError):
    """The API answered with a non-2xx status.

    Attributes:
        status: the HTTP status code.
        code: the ``code`` of the error body (usually equal to ``status``).
        key: the short error key, e.g. ``"not_found"`` or ``"invalid_customer"``.
        message: the human-readable message.
        details: more details, when the API gives them.
        request_id: the API's request id, for support.
        resource_id: the id of the resource the error is about, when given.
        resource_type: the type of that resource, when given.
        error: the ``error`` object of the body (e.g. a validation rule's message), when given.
        rate_limit: the rate-limit headers of the answer.
        headers: the response headers (the response never carries the app token).
        body: the decoded error body (a dict), or ``None`` when the body was not JSON.
    """

    status: int = 0

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None = None,
        key: str | None = None,
        details: str | None = None,
        request_id: str | None = None,
        resource_id: str | None = None,
        resource_type: str | None = None,
        error: Any = None,
        rate_limit: RateLimit | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        method: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status = status
        self.code = code
        self.key = key
        self.details = details
        self.request_id = request_id
        self.resource_id = resource_id
        self.resource_type = resource_type
        self.error = error
        self.rate_limit = rate_limit if rate_limit is not None else RateLimit()
        self.headers = headers or {}
        self.body = body

    def summary(self) -> str:
        """One line: status, key, message, details, request id and note (no URL)."""
        parts = [f"{self.status}"]
        if self.key:
            parts.append(self.key)
        text = " ".join(parts) + f": {self.message}"
        if self.details:
            text += f" ({self.details})"
        if self.request_id:
            text += f" [request_id={self.request_id}]"
        if self.note:
            text += f"; {self.note}"
        return text

    def __str__(self) -> str:
        where = f" {self.method} {self.url}" if self.method else ""
        return self.summary() + where

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, key={self.key!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class BadRequestError(APIStatusError):
    """400: the request was invalid (bad payload or query parameters)."""


class AuthenticationError(APIStatusError):
    """401: the app id or app token was not accepted."""


class PaymentRequiredError(APIStatusError):
    """402: the project's plan does not allow this call."""


class NotFoundError(APIStatusError):
    """404: the resource does not exist."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state (e.g. a duplicate)."""


class PayloadTooLargeError(APIStatusError):
    """413: the request body is over the API's limit (10 MB for the bulk endpoints)."""


class LockedError(APIStatusError):
    """423: the resource is locked by another operation."""


class RedirectError(APIStatusError):
    """3xx: the API answered with a redirect, which is never followed.

    The API never redirects; following one would send the app token (and, for a 307 or
    308, the body) to wherever ``Location`` points. Usually ``base_url`` is wrong (for
    example ``http://`` where the host wants ``https://``).

    Attributes:
        location: the ``Location`` header of the answer (``None`` if it had none).
    """

    @property
    def location(self) -> str | None:
        """The ``Location`` header of the answer."""
        for name, value in self.headers.items():
            if name.lower() == "location":
                return value
        return None


class RateLimitError(APIStatusError):
    """429: too many requests.

    Also raised before a request is sent, when the client would have to wait longer than
    its ``max_retry_wait`` for the rate limit (then ``request_id`` is ``None``).

    Attributes:
        retry_after: the seconds to wait before the next request, as the API asked
            (``Retry-After`` or ``X-Rate-Limit-Retry``), when known.
    """

    retry_after: float | None = None


class QuotaExceededError(RateLimitError):
    """429 with ``X-Rate-Limit-Type: api_calls_cycle``: the billing cycle's quota is spent.

    Waiting minutes does not help, so it is never retried, and the client's other calls are
    not held back by it (a call that counts against another limit may still succeed).
    """


class InternalServerError(APIStatusError):
    """5xx: the server or a proxy in front of it failed."""


class CheckpointError(VoucherifyError, ValueError):
    """A stored checkpoint cannot be used for this partition; nothing was fetched.

    Raised when it was saved for another partition (other filters, order or window), is
    not a checkpoint at all, or points outside the partition's window. Delete it (or scan
    under another key) to start the partition over on purpose.
    """


class RedisUnavailableError(VoucherifyError, ConnectionError):
    """Redis could not be reached and the limiter was told not to fall back.

    Attributes:
        url: the Redis URL, with any password replaced by ``***``.
    """

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    423: LockedError,
    429: RateLimitError,
}


# --- CSV imports ------------------------------------------------------------


class CsvError(VoucherifyError, ValueError):
    """A CSV import cannot be sent as asked; raised before the request that would fail."""


class CsvHeaderError(CsvError):
    """The header cannot be used; ``column`` names the column at fault (``None``: no header).

    Examples:
        ```python
        await vf.customers.import_csv(b"Source id,Name\\nbob,Bob\\n")
        # CsvHeaderError: column 'Source id': spaces are not allowed in column names
        ```
    """

    def __init__(self, message: str, *, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


class CsvSizeError(CsvError):
    """The CSV, or one of its rows, is too large for a request.

    ``size`` is the size in bytes (at least that much, for a stream), ``limit`` the most one
    request can carry, ``row`` the 1-based data row at fault when one row is too large.
    """

    def __init__(self, message: str, *, size: int, limit: int, row: int | None = None) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit
        self.row = row


# -- rows in bytes ------------------------------------------------------------------------


# --- async jobs -------------------------------------------------------------


class AsyncJobError(VoucherifyError):
    """Something about one or more async actions; ``async_action_ids`` names them."""

    def __init__(self, message: str, *, async_action_ids: Sequence[str]) -> None:
        super().__init__(message)
        self.message = message
        self.async_action_ids = list(async_action_ids)


class AsyncActionFailedError(AsyncJobError):
    """An async action ended ``FAILED``.

    Raised by ``wait()`` once every action of the job has finished. ``result`` is the
    combined result of all of them (the others may have done their work);
    ``failed_actions`` are the ones that failed.
    """

    def __init__(self, result: AsyncJobResult) -> None:
        self.result = result
        self.failed_actions = [a for a in result.actions if a.status == AsyncActionStatus.FAILED]
        reasons = "; ".join(
            f"{a.id} ({a.type or 'async action'}): "
            f"{(a.result.message if a.result else None) or 'no reason given'}"
            for a in self.failed_actions
        )
        others = len(result.actions) - len(self.failed_actions)
        tail = f"; {others} other action(s) finished" if others else ""
        super().__init__(
            f"{len(self.failed_actions)} async action(s) FAILED: {reasons}{tail}",
            async_action_ids=result.async_action_ids,
        )


class AsyncActionTimeoutError(AsyncJobError, TimeoutError):
    """``wait()`` gave up before every action finished; the actions keep running.

    ``actions`` is their last seen state (empty if no poll answered), ``progress`` the
    last progress, ``timeout`` the seconds waited. Call ``wait()`` again to go on waiting.
    """

    def __init__(
        self,
        timeout: float,
        async_action_ids: Sequence[str],
        actions: Sequence[AsyncAction],
        progress: JobProgress | None,
    ) -> None:
        self.timeout = timeout
        self.actions = list(actions)
        self.progress = progress
        seen = {action.id: action for action in actions}
        states = ", ".join(
            f"{aid} {seen[aid].status} {seen[aid].progress or 0}%"
            if aid in seen
            else f"{aid} not seen yet"
            for aid in async_action_ids
            if aid not in seen or not seen[aid].is_final
        )
        super().__init__(
            f"async action(s) not finished after {timeout:g} s: {states}; they keep running"
            " (wait again, or read them with vf.async_actions.get(id))",
            async_action_ids=async_action_ids,
        )


class PartialSubmissionError(AsyncJobError):
    """A call split into several requests failed after some of them had started actions.

    Attributes:
        job: the `AsyncJob` over the actions that were started; wait for it.
        first_unsent: the index of the first input not known to be submitted (a customer's
            index for bulk updates, a source id's for metadata updates, the data row number,
            from 1, for CSV imports). Resubmit from there.
        cause: the error that stopped the submission (also ``__cause__``).

    Examples:
        ```python
        try:
            job = await vf.customers.update_in_bulk(customers)
        except PartialSubmissionError as exc:
            await exc.job.wait()
            job = await vf.customers.update_in_bulk(customers[exc.first_unsent:])
        ```
    """

    def __init__(self, job: SubmittedJob, first_unsent: int, cause: BaseException) -> None:
        self.job = job
        self.first_unsent = first_unsent
        self.cause = cause
        ids = job.async_action_ids
        super().__init__(
            f"{len(ids)} part(s) were submitted (async actions {', '.join(ids)}) before a"
            f" request failed; inputs from {first_unsent} on were not sent: {cause}",
            async_action_ids=ids,
        )


# --- listing and chunking ---------------------------------------------------


class PaginationError(VoucherifyError):
    """A list cannot be walked exactly once with the API's cursors.

    Raised instead of silently skipping or repeating items: for example when more items share
    one ``created_at`` millisecond than 99 pages can hold, or when a list ordered by something
    other than ``created_at`` goes past page 99.
    """


class ListOrderError(PaginationError):
    """A list page came back out of the ``created_at`` order that was asked for.

    The exactly-once scan relies on the order: a page that breaks it (a proxy that reorders,
    a mock that answers ascending under the default newest-first order) would otherwise make
    customers look already seen and be dropped. Raised instead of losing them.
    """


class ChunkTooLargeError(ValueError):
    """One item alone does not fit in a request; ``index`` and ``size`` say which and how big."""

    def __init__(self, index: int, size: int, budget: int) -> None:
        super().__init__(f"item {index} is {size:,} bytes, more than the {budget:,} that fit")
        self.index = index
        self.size = size
        self.budget = budget


# --- the send interface -----------------------------------------------------


class SendError(Exception):
    """An attempt that got no answer, as an `HTTPTransport` reports it.

    Raise it from a `MockTransport` handler to simulate a dropped connection or a timeout.

    Args:
        message: what happened (the cause's message, already free of secrets).
        delivery: ``Delivery.NOT_SENT`` when the request surely never left,
            ``Delivery.MAY_HAVE_ARRIVED`` when the server may have received it.
        timeout: whether the attempt ran out of time.
        cause_type: the type name of the underlying error (``"ServerDisconnectedError"``).

    Examples:
        ```python
        from voucherify_async import Delivery, SendError

        raise SendError("Connection reset by peer", Delivery.MAY_HAVE_ARRIVED)
        ```
    """

    def __init__(
        self,
        message: str,
        delivery: Delivery = Delivery.MAY_HAVE_ARRIVED,
        *,
        timeout: bool = False,
        cause_type: str = "SendError",
    ) -> None:
        super().__init__(message)
        self.delivery = delivery
        self.timeout = timeout
        self.cause_type = cause_type
        self.cause_message = message

    def __repr__(self) -> str:
        return f"<SendError {self.delivery.value}: {self.cause_type}>"


def status_error_class(status: int, rate_limit_type: str | None = None) -> type[APIStatusError]:
    """Return the exception class for an HTTP status (and ``X-Rate-Limit-Type`` of a 429)."""
    if status >= 500:
        return InternalServerError
    if 300 <= status < 400:
        return RedirectError
    if status == 429 and rate_limit_type == "api_calls_cycle":
        return QuotaExceededError
    return _BY_STATUS.get(status, APIStatusError)


def redact(value: Any, secret: str, mask: str = "***") -> Any:
    """Return ``value`` with every occurrence of ``secret`` in its strings replaced by ``mask``.

    Walks strings, bytes, mappings, lists and tuples; other values are returned unchanged.
    """
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, mask) if secret in value else value
    if isinstance(value, bytes):
        raw = secret.encode()
        return value.replace(raw, mask.encode()) if raw in value else value
    if isinstance(value, dict):
        return {redact(k, secret, mask): redact(v, secret, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item, secret, mask) for item in value]
    if isinstance(value, tuple):
        return tuple(redact(item, secret, mask) for item in value)
    return value


def redact_error(error: BaseException, secret: str) -> None:
    """Replace ``secret`` in an exception's args and attributes, in place."""
    error.args = redact(error.args, secret)
    for name, attr in list(vars(error).items()):
        cleaned = redact(attr, secret)
        if cleaned is not attr:
            setattr(error, name, cleaned)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def make_status_error(
    status: int,
    body: bytes,
    headers: dict[str, str],
    rate_limit: RateLimit,
    *,
    method: str,
    url: str,
) -> APIStatusError:
    """Build the exception for a non-2xx answer.

    Reads the documented error object (``{code, key, message, details, request_id, ...}``) and the
    proxy-style body (``{statusCode, error, message}``); any other body (an HTML gateway page, an
    empty or truncated body) gives an error whose message says so and shows a short excerpt.
    The emulator writes error objects with code of its own, on purpose: sharing none of this
    keeps it a real check of this reading.
    """
    cls = status_error_class(status, rate_limit.type)
    if cls is RedirectError:
        location = next((v for k, v in headers.items() if k.lower() == "location"), None)
        return cls(
            f"HTTP {status} redirect to {location!r}, not followed: the API never"
            " redirects, and following would send the app token to another address"
            " (check base_url, e.g. https:// rather than http://)",
            status=status,
            rate_limit=rate_limit,
            headers=headers,
            method=method,
            url=url,
        )
    try:
        decoded: Any = msgspec.json.decode(body) if body else None
    except (msgspec.DecodeError, RecursionError):
        # RecursionError: a body nesting deeper than the decoder's stack allows.
        decoded = None
    if not isinstance(decoded, dict):
        kind = "an empty body" if not body else "a body that is not a JSON error object"
        content_type = headers.get("Content-Type", "")
        ct = f" ({content_type})" if content_type else ""
        message = f"HTTP {status} with {kind}{ct}: {excerpt(body)}"
        if status == 407:
            message = (
                "the proxy between the client and the API asks for credentials (HTTP 407"
                " Proxy Authentication Required): put them in the proxy URL,"
                f" http://user:password@host:port, in proxy= or $HTTPS_PROXY; {message}"
            )
        return cls(
            message,
            status=status,
            rate_limit=rate_limit,
            headers=headers,
            body=None,
            method=method,
            url=url,
        )
    code = decoded.get("code", decoded.get("statusCode"))
    error = decoded.get("error")
    key = decoded.get("key")
    if key is None and isinstance(error, str):
        # The gateway's shape: {"statusCode": 413, "error": "Request Entity Too Large", ...}
        key = error
    text = _text(decoded.get("message")) or (error if isinstance(error, str) else None)
    return cls(
        text or f"HTTP {status}",
        status=status,
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        key=_text(key),
        details=_text(decoded.get("details")),
        request_id=_text(decoded.get("request_id")),
        resource_id=_text(decoded.get("resource_id")),
        resource_type=_text(decoded.get("resource_type")),
        error=error if not isinstance(error, str) else None,
        rate_limit=rate_limit,
        headers=headers,
        body=decoded,
        method=method,
        url=url,
    )


def _public_names() -> None:
    """Show every exception as ``voucherify_async.NotFoundError``, where users import it,
    not as this private module's (tracebacks, reprs, logs)."""
    for name in __all__:
        value = globals()[name]
        if isinstance(value, type) and issubclass(value, BaseException):
            value.__module__ = "voucherify_async"


_public_names()
