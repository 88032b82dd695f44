"""The one way a request is made: session, auth headers, retries, rate limits, decoding.

Resource methods describe a call as a :class:`~voucherify_async._request.Request`; this module
sends it with aiohttp, retries what is safe to retry, and turns the answer into the requested
model or an exception from :mod:`voucherify_async._errors`. It knows nothing about customers.
"""

from __future__ import annotations

import asyncio
import io
import logging
import platform
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import anyio
import msgspec
from multidict import CIMultiDictProxy
from yarl import URL

from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ClientClosedError,
    MalformedResponseError,
    RateLimitError,
    VoucherifyError,
    make_status_error,
    redact,
    redact_error,
)
from ._pacing import Pacer
from ._query import encode_query
from ._ratelimit import RateLimit, parse_rate_limit
from ._request import FileUpload, Request
from ._retry import (
    MAX_SERVER_WAIT,
    RETRYABLE_STATUSES,
    Delivery,
    backoff_delay,
    is_quota_spent,
    may_resend,
    retry_delay,
    server_wait,
    status_delivery,
)
from ._version import __version__

__all__ = ["CHANNEL", "Secret", "SharedState", "Transport", "user_agent"]

#: The ``X-Voucherify-Channel`` header sent with every request, as the vendor's SDKs send one.
CHANNEL = f"voucherify-async/{__version__}"
# Pacing waits up to this long are polls for answers in flight, not waits the API asked for;
# polls may add up to _POLL_BUDGET seconds even with a smaller max_retry_wait.
_POLL_WAIT = 0.1
_POLL_BUDGET = 2.0
# How long aclose() waits for the calls it cancelled to unwind before closing the session.
_CLOSE_GRACE = 5.0
_CLOSED_MESSAGE = "this AsyncVoucherify client is closed; create a new one to make requests"

T = TypeVar("T")
log = logging.getLogger("voucherify_async")

_NONE_TYPE: type[None] = type(None)
# aiohttp warns (ResourceWarning) about raw bytes bodies above this size; such bodies are sent
# from a BytesIO instead, which aiohttp streams with the same Content-Length.
_LARGE_BODY = 1024 * 1024


class _LargeBody(bytes):
    """A JSON body over ``_LARGE_BODY`` bytes: still ``bytes``, sent through a BytesIO."""


class _LargeBodyPayload(aiohttp.payload.BytesIOPayload):
    def __init__(self, value: _LargeBody, *args: Any, **kwargs: Any) -> None:
        # A fresh BytesIO per attempt, so a retried request sends the whole body again.
        super().__init__(io.BytesIO(value), *args, **kwargs)


aiohttp.payload.register_payload(
    _LargeBodyPayload, _LargeBody, order=aiohttp.payload.Order.try_first
)
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


class Secret(str):
    """A credential: the string itself where it is sent, masked in every ``repr``.

    Tools that record frame locals or containers (``traceback`` with ``capture_locals``,
    Sentry) print ``repr``, which shows ``'***'``.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


def user_agent() -> str:
    """The ``User-Agent`` header: this package, Python and aiohttp versions."""
    return (
        f"voucherify-async/{__version__} Python/{platform.python_version()} "
        f"aiohttp/{aiohttp.__version__}"
    )


def _decoder(response_type: Any) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(response_type)
    if decoder is None:
        decoder = _decoders[response_type] = msgspec.json.Decoder(response_type)
    return decoder


class SharedState:
    """What every client made by ``with_options`` shares with its parent.

    The aiohttp session (opened lazily on first use, unless the caller passed one), the last
    rate-limit headers seen and the :class:`~voucherify_async._pacing.Pacer` that spaces
    every request of the client by them.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        max_connections: int,
        max_concurrency: int | None = None,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self.max_concurrency = max_concurrency
        self._limiter: anyio.CapacityLimiter | None = None
        self._closed = False
        # The calls in flight: aclose() cancels them, then waits for them to unwind.
        self._calls: set[anyio.CancelScope] = set()
        self._idle: anyio.Event | None = None
        # Rate-limit header names already logged as unreadable.
        self.reported_headers: set[str] = set()
        self.rate_limit: RateLimit | None = None
        self.pacer = Pacer(time.time)
        # Swappable so tests can run retries and pacing without sleeping or randomness.
        self.sleep: Callable[[float], Awaitable[None]] = anyio.sleep
        self.jitter: Callable[[], float] = random.random

    @property
    def owns_session(self) -> bool:
        """Whether the client opened its session (rather than being given one)."""
        return self._owns_session

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has run."""
        return self._closed

    def session(self) -> aiohttp.ClientSession:
        """The session to send with, opened on first use (inside the running event loop)."""
        if self._closed:
            raise ClientClosedError(_CLOSED_MESSAGE)
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            session = self._session = aiohttp.ClientSession(
                connector=connector, trace_configs=[_phase_trace()]
            )
        elif session.closed:
            raise ClientClosedError("the aiohttp.ClientSession given to AsyncVoucherify is closed")
        return session

    def call_started(self) -> anyio.CancelScope:
        """A cancel scope for one call, cancelled if the client is closed while it runs.

        Raises:
            ClientClosedError: the client is already closed.
        """
        if self._closed:
            raise ClientClosedError(_CLOSED_MESSAGE)
        scope = anyio.CancelScope()
        self._calls.add(scope)
        return scope

    def call_ended(self, scope: anyio.CancelScope) -> None:
        """Forget a call's scope; wake ``aclose`` once no call is left."""
        self._calls.discard(scope)
        if not self._calls and self._idle is not None:
            self._idle.set()

    def limiter(self) -> anyio.CapacityLimiter | None:
        """The limit on requests in flight across the client, if ``max_concurrency`` is set."""
        if self.max_concurrency is None:
            return None
        if self._limiter is None:
            # Made on first use, inside the running event loop.
            self._limiter = anyio.CapacityLimiter(self.max_concurrency)
        return self._limiter

    def observe(self, rate_limit: RateLimit, status: int = 200) -> None:
        """Learn from an answer; remember its rate-limit headers if it carried any.

        A 429 for a spent billing-cycle quota does not pace the other calls: it says
        nothing about the per-period limit they count against.
        """
        if rate_limit != _NO_RATE_LIMIT:
            self.rate_limit = rate_limit
        self.pacer.observe(_NO_RATE_LIMIT if is_quota_spent(status, rate_limit) else rate_limit)

    async def aclose(self) -> None:
        """End the calls in flight, then close the session if this client opened it.

        Calls in flight end with `ClientClosedError`; a session passed in is left open.
        """
        self._closed = True
        # Shielded: a cancelled caller must still leave no unclosed session behind.
        with anyio.CancelScope(shield=True):
            if self._calls:
                self._idle = anyio.Event()
                for scope in list(self._calls):
                    scope.cancel()
                with anyio.move_on_after(_CLOSE_GRACE):
                    await self._idle.wait()
            session, self._session = self._session, None
            if session is not None and self._owns_session and not session.closed:
                await session.close()


_NO_RATE_LIMIT = RateLimit()


class _Phase:
    """How far one attempt got, as the session's trace hooks report it."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


async def _on_connected(
    session: aiohttp.ClientSession, context: Any, params: object
) -> None:
    phase = context.trace_request_ctx
    if isinstance(phase, _Phase):
        phase.connected = True


def _phase_trace() -> aiohttp.TraceConfig:
    """Trace hooks that tell a timeout while connecting from one after (nothing was sent)."""
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(_on_connected)
    trace.on_connection_reuseconn.append(_on_connected)
    return trace


class _Failure:
    """An attempt that got no answer: what is known of it, as plain strings.

    The HTTP library's exception is not kept: its ``request_info`` holds the request's
    headers, the app token among them.
    """

    __slots__ = ("cause_message", "cause_type", "delivery", "timeout")

    def __init__(
        self, cause: BaseException, delivery: Delivery, *, timeout: bool, secret: str
    ) -> None:
        self.delivery = delivery
        self.timeout = timeout
        self.cause_type = type(cause).__name__
        self.cause_message = redact(str(cause), secret)

    def __repr__(self) -> str:
        return f"<_Failure {self.delivery.value}: {self.cause_type}>"


class Transport:
    """Sends :class:`Request` descriptions and returns decoded models.

    One transport per client configuration; clients made by ``with_options`` share the
    :class:`SharedState` (session, rate limits) and differ in timeout and retries.
    """

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        app_token: str,
        timeout: float | None,
        max_retries: int,
        shared: SharedState,
        default_headers: Mapping[str, str] | None = None,
        max_retry_wait: float = MAX_SERVER_WAIT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.shared = shared
        self._secret = Secret(app_token)
        headers: dict[str, str] = {
            "Accept": "application/json",
            "User-Agent": user_agent(),
            "X-Voucherify-Channel": CHANNEL,
        }
        headers.update(default_headers or {})
        headers["X-App-Id"] = app_id
        headers["X-App-Token"] = self._secret
        self._headers = headers
        self._json_headers = {**headers, "Content-Type": "application/json"}
        self._client_timeout = aiohttp.ClientTimeout(
            total=timeout, sock_connect=None if timeout is None else min(timeout, 10.0)
        )

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, max_retries={self.max_retries})"

    def url(self, request: Request[Any]) -> str:
        """The full URL of a request, as sent."""
        url = self.base_url + request.path
        if request.query:
            url += "?" + encode_query(request.query)
        return url

    async def request(self, request: Request[T]) -> T:
        """Send ``request``, retrying what is safe to retry, and decode the answer.

        Raises:
            APIConnectionError: no answer came back (after the allowed retries).
            APITimeoutError: no answer came back in time (after the allowed retries).
            APIStatusError: the API answered with a non-2xx status (a subclass per status).
            RateLimitError: also raised before sending when the rate limit asks for a
                longer wait than ``max_retry_wait``.
            MalformedResponseError: a 2xx answer whose body is not the documented JSON.
            ClientClosedError: the client is closed, or was closed while the call ran.
        """
        shared = self.shared
        try:
            scope = shared.call_started()
            try:
                with scope:
                    return await self._attempts(request, self.url(request))
            finally:
                shared.call_ended(scope)
            # Only reached when aclose() cancelled the scope: the call was cut short.
            raise ClientClosedError(
                f"the client was closed while {request.method} {request.path} was in"
                " flight (the request may or may not have reached the API)"
            )
        except VoucherifyError as error:
            # Our errors are raised outside except blocks, but Python 3.10 can still chain
            # the exception the event loop last handled (aiohttp's, which holds the request
            # headers) as __context__ of one raised in a resumed task. Drop it; a bare
            # raise does not chain again.
            error.__context__ = None
            raise

    async def _pace(self, request: Request[Any], url: str) -> None:
        """Wait until the pacer lets the request go, for at most ``max_retry_wait`` in all."""
        shared = self.shared
        pacer = shared.pacer
        waited = 0.0
        wait = pacer.wait_time()
        while wait > 0:
            # Short polls (for answers in flight) are not waits the API asked for; they are
            # bounded in all, by max_retry_wait or a couple of seconds, whichever is more.
            asked = wait > _POLL_WAIT and wait > self.max_retry_wait
            if asked or waited + wait > max(self.max_retry_wait, _POLL_BUDGET):
                error = RateLimitError(
                    f"not sent: the rate limit asks to wait {waited + wait:.1f} s, longer"
                    f" than max_retry_wait ({self.max_retry_wait:g} s)",
                    status=429,
                    rate_limit=shared.rate_limit,
                    method=request.method,
                    url=url,
                )
                error.retry_after = wait
                raise error
            await shared.sleep(wait)
            waited += wait
            wait = pacer.wait_time()

    async def _attempts(self, request: Request[T], url: str) -> T:
        shared = self.shared
        pacer = shared.pacer
        retries = 0
        while True:
            limiter = shared.limiter()
            if limiter is not None:
                await limiter.acquire()
            try:
                await self._pace(request, url)
            except BaseException:
                if limiter is not None:
                    limiter.release()
                raise
            # No await between the pacer's "go" and counting the request as sent: another
            # task must not slip through on the same quota.
            pacer.sent()
            started = time.monotonic()
            try:
                outcome = await self._send(request, url)
            except BaseException:
                pacer.answered()
                raise
            finally:
                if limiter is not None:
                    limiter.release()

            if isinstance(outcome, _Failure):
                pacer.answered()
                if shared.closed:
                    break
                if may_resend(request.retry_safe, outcome.delivery) and (
                    retries < self.max_retries
                ):
                    pause = backoff_delay(retries, shared.jitter())
                    log.info(
                        "%s %s failed (%s); retry %d of %d in %.2fs",
                        request.method, request.path, outcome.cause_type,
                        retries + 1, self.max_retries, pause,
                    )
                    retries += 1
                    await shared.sleep(pause)
                    continue
                raise self._finish(
                    self._connection_error(request, url, outcome), request, outcome.delivery
                )

            status, headers, body = outcome
            rate_limit = parse_rate_limit(
                headers, pacer.clock(), reported=shared.reported_headers
            )
            shared.observe(rate_limit, status)
            pacer.answered()
            log.debug(
                "%s %s -> %d in %.1f ms", request.method, request.path, status,
                (time.monotonic() - started) * 1000,
            )
            if 200 <= status < 300:
                value, malformed = self._decode(request, url, status, body)
                if malformed is None:
                    return value  # type: ignore[no-any-return]
                # The answer (which a hostile server could fill with anything) is dropped
                # from the frame, so tracebacks that record locals do not show it.
                del outcome, headers, body
                raise malformed

            quota = is_quota_spent(status, rate_limit)
            delivery = status_delivery(status, rate_limit)
            if (
                status in RETRYABLE_STATUSES
                and not quota
                and may_resend(request.retry_safe, delivery)
                and retries < self.max_retries
            ):
                delay = retry_delay(
                    retries, status, rate_limit, shared.jitter(), pacer.clock(),
                    self.max_retry_wait,
                )
                if delay is not None:
                    log.info(
                        "%s %s answered %d; retry %d of %d in %.2fs",
                        request.method, request.path, status,
                        retries + 1, self.max_retries, delay,
                    )
                    retries += 1
                    if status == 429:
                        # The pacer makes this call, and every other call of the client, wait.
                        pacer.block(delay)
                    else:
                        await shared.sleep(delay)
                    continue
            wait = server_wait(status, rate_limit, pacer.clock()) if status == 429 else None
            if wait is not None and not quota:
                # Not retried here, but every other call of this client still waits it out
                # (or, if that is longer than its max_retry_wait, fails at once).
                pacer.block(wait)
            error = make_status_error(
                status, body, dict(headers), rate_limit, method=request.method, url=url
            )
            if isinstance(error, RateLimitError):
                error.retry_after = wait
            del outcome, headers, body
            raise self._finish(error, request, delivery)
        raise ClientClosedError(
            f"the client was closed while {request.method} {request.path} was in flight"
            " (the request may or may not have reached the API)"
        )

    def _finish(self, error: APIError, request: Request[Any], delivery: Delivery) -> APIError:
        """Mask the token anywhere in ``error``; say so when a write may have been done."""
        if not request.retry_safe and delivery is Delivery.MAY_HAVE_ARRIVED:
            error.maybe_applied = True
            error.note = request.unsure_note or (
                "the API may have carried this request out; it was not sent again, as"
                " doing it twice is not harmless"
            )
        redact_error(error, self._secret)
        return error

    async def _send(
        self, request: Request[Any], url: str
    ) -> tuple[int, CIMultiDictProxy[str], bytes] | _Failure:
        session = self.shared.session()
        data: Any = None
        headers = self._headers
        opened: list[Any] = []
        if request.json is not None:
            data = request.json
            if len(data) > _LARGE_BODY:
                data = _LargeBody(data)
            headers = self._json_headers
        elif request.upload is not None:
            data = _form(request.upload, opened)
        secret = self._secret
        # Sessions this client opened report when the connection is made; a timeout before
        # that sent nothing. A caller's session cannot tell, so its timeouts may have.
        phase = _Phase()
        traced = self.shared.owns_session
        # The library's exception is read into a _Failure and dropped inside its except
        # block, so nothing raised later chains it (it holds the request's headers).
        try:
            async with session.request(
                request.method,
                URL(url, encoded=True),
                data=data,
                headers=headers,
                timeout=self._client_timeout,
                allow_redirects=False,
                trace_request_ctx=phase,
            ) as response:
                body = await response.read()
                return response.status, response.headers, body
        except aiohttp.ConnectionTimeoutError as exc:
            # Raised while connecting (or waiting for a pooled connection): nothing was sent.
            failure = _Failure(exc, Delivery.NOT_SENT, timeout=True, secret=secret)
        except aiohttp.SocketTimeoutError as exc:
            # A read that timed out: the request was sent.
            failure = _Failure(exc, Delivery.MAY_HAVE_ARRIVED, timeout=True, secret=secret)
        except asyncio.TimeoutError as exc:
            unsent = traced and not phase.connected
            failure = _Failure(
                exc, Delivery.NOT_SENT if unsent else Delivery.MAY_HAVE_ARRIVED,
                timeout=True, secret=secret,
            )
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
            # Refused, unreachable, DNS, TLS handshake, proxy: before the request was written.
            failure = _Failure(exc, Delivery.NOT_SENT, timeout=False, secret=secret)
        except aiohttp.ClientError as exc:
            failure = _Failure(exc, Delivery.MAY_HAVE_ARRIVED, timeout=False, secret=secret)
        finally:
            for handle in opened:
                handle.close()
        return failure

    def _connection_error(
        self, request: Request[Any], url: str, failure: _Failure
    ) -> APIConnectionError:
        cause = f"{failure.cause_type}: {failure.cause_message or 'no message'}"
        sent = failure.delivery is not Delivery.NOT_SENT
        common: dict[str, Any] = {
            "method": request.method, "url": url, "cause_type": failure.cause_type,
            "cause_message": failure.cause_message, "sent": sent,
        }
        if failure.timeout:
            what = "no answer" if sent else "could not connect"
            return APITimeoutError(
                f"{what} within the timeout of {self.timeout} s ({cause})", **common
            )
        return APIConnectionError(f"connection failed: {cause}", **common)

    def _decode(
        self, request: Request[Any], url: str, status: int, body: bytes
    ) -> tuple[Any, MalformedResponseError | None]:
        """The decoded answer, or the error to raise (built outside any except block, so
        no decoding error is chained as its ``__context__``)."""
        if request.response_type is _NONE_TYPE:
            return None, None
        if not body:
            problem = "the API answered with an empty body where JSON was expected"
        else:
            problem = ""
            try:
                result = _decoder(request.response_type).decode(body)
            except msgspec.ValidationError as exc:
                problem = f"the JSON body does not match {request.response_type.__name__}: {exc}"
            except msgspec.DecodeError as exc:
                problem = f"the body is not valid JSON ({exc})"
            if not problem:
                return result, None
        error = MalformedResponseError(
            problem, status=status, body=body, method=request.method, url=url
        )
        finished = self._finish(error, request, Delivery.MAY_HAVE_ARRIVED)
        assert isinstance(finished, MalformedResponseError)
        return None, finished


def _form(upload: FileUpload, opened: list[Any]) -> aiohttp.FormData:
    """Build the multipart body of an upload; files opened here are closed by the caller."""
    source: Any = upload.source
    if isinstance(source, Path):
        source = source.open("rb")
        opened.append(source)
    form = aiohttp.FormData()
    form.add_field(
        upload.field, source, filename=upload.filename, content_type=upload.content_type
    )
    return form
