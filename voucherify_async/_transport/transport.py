"""The one way a request is made: auth headers, retries, rate limits, decoding.

Resource methods describe a call as a [Request][voucherify_async._core.request.Request]; this
module sends it through an `HTTPTransport` (aiohttp by default), asks the rate limiter before
every attempt, lets the pure `decide` of `_core/retry.py` choose between retrying and raising,
and turns the answer into the requested model or an exception. It knows nothing about
customers and nothing about aiohttp.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, Literal, TypeVar, cast

import anyio
import msgspec

from .._core.deadline import CallTimer
from .._core.events import (
    ClientStats,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    WaitEvent,
    operation_name,
    path_template,
)
from .._core.pacing import INTERACTIVE, Priority
from .._core.query import Query, encode_query
from .._core.ratelimit import NO_RATE_LIMIT, RateLimit, parse_rate_limit
from .._core.request import Request
from .._core.retry import MAX_SERVER_WAIT, Delivery, Retry, RetryBudget, RetryPolicy, decide
from .._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ClientClosedError,
    DeadlineExceededError,
    MalformedResponseError,
    QuotaExceededError,
    RateLimitError,
    VoucherifyError,
    make_status_error,
    redact_error,
)
from .._version import __version__
from .aiohttp_transport import another_loop_error, user_agent
from .hooks import emit
from .http import Body, HTTPTransport, SendError
from .limiter import LocalRateLimiter, RateLimiter, asker

__all__ = [
    "CHANNEL",
    "APIResponse",
    "RawAnswer",
    "Secret",
    "SharedState",
    "Transport",
    "user_agent",
]

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
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


class Secret(str):
    """A credential: the string itself where it is sent, masked in every ``repr``.

    Tools that record frame locals or containers (``traceback`` with ``capture_locals``,
    Sentry) print ``repr``, which shows ``'***'``.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


def _decoder(response_type: Any) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(response_type)
    if decoder is None:
        decoder = _decoders[response_type] = msgspec.json.Decoder(response_type)
    return decoder


def _closed_during(request: Request[Any]) -> ClientClosedError:
    """The error of a call that `SharedState.aclose` cut short."""
    return ClientClosedError(
        f"the client was closed while {request.method} {request.path} was in flight"
        " (the request may or may not have reached the API)"
    )


class APIResponse(Generic[T]):
    """A 2xx answer as it came, with what it took; `parse` gives the model.

    ``vf.customers.with_raw_response.get(...)`` (and the other single-request methods)
    return one, and so does ``pager.last_response`` for the last page a list read.

    Attributes:
        status: the HTTP status.
        headers: the answer's headers (case-insensitive lookup).
        body: the answer's body, as received.
        method: the HTTP method of the request.
        url: the URL of the request.
        elapsed: seconds the whole call took, waits and retries included.
        attempts: how many attempts the call made (1: no retry).
    """

    __slots__ = (
        "_request",
        "_transport",
        "attempts",
        "body",
        "elapsed",
        "headers",
        "method",
        "status",
        "url",
    )

    def __init__(
        self,
        transport: Transport,
        request: Request[T],
        url: str,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        elapsed: float = 0.0,
        attempts: int = 1,
    ) -> None:
        self._transport = transport
        self._request = request
        self.method = request.method
        self.url = url
        self.status = status
        self.body = body
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.elapsed = elapsed
        self.attempts = attempts

    def __repr__(self) -> str:
        return f"<APIResponse {self.status} {self.method} {self.url} attempts={self.attempts}>"

    @property
    def request_id(self) -> str | None:
        """The API's id of this request (``X-Request-Id``), when the answer has one."""
        return self.headers.get("X-Request-Id")

    @property
    def rate_limit(self) -> RateLimit:
        """The answer's rate-limit headers."""
        return parse_rate_limit(self.headers, self._transport.shared.clock())

    def parse(self) -> T:
        """The body as the model the method returns.

        Raises:
            MalformedResponseError: the body is not the documented JSON.
        """
        return self.decode()

    def decode(self) -> T:
        """The body as the request's ``response_type``.

        Raises:
            MalformedResponseError: the body is not the documented JSON.
        """
        value, malformed = self._transport._decode(self._request, self.url, self.status, self.body)
        if malformed is not None:
            raise malformed
        return cast(T, value)


#: The name the pagers know it by: a page read undecoded, decoded once accepted.
RawAnswer = APIResponse


class SharedState:
    """What every client made by ``with_options`` shares with its parent.

    The HTTP transport, the rate limiter, the last rate-limit headers seen, the cap on
    requests in flight, the calls in flight (so closing ends them), and the clock, sleep
    and jitter every wait and backoff is computed with.
    """

    def __init__(
        self,
        *,
        http: HTTPTransport,
        owns_http: bool,
        rate_limiter: RateLimiter,
        max_concurrency: int | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        jitter: Callable[[], float] = random.random,
        hooks: tuple[Any, ...] = (),
        telemetry: Any = None,
    ) -> None:
        self.http = http
        #: The client's OpenTelemetry spans and metrics (``None``: off, no cost).
        self.telemetry = telemetry
        #: The hooks every call tells its steps (empty: nothing is built or called).
        self.hooks = hooks if telemetry is None else (*hooks, telemetry)
        #: Counters of every call, always kept (a few integer additions per call).
        self.stats = ClientStats()
        self.owns_http = owns_http
        self.rate_limiter = rate_limiter
        self.max_concurrency = max_concurrency
        self.clock = clock
        self.sleep = sleep
        self.jitter = jitter
        # The in-process cap on requests in flight. An asyncio.Semaphore, not the anyio
        # CapacityLimiter the package's structure otherwise uses: it costs ~2 us per
        # acquire+release against ~18 us, on the path of every request.
        self._semaphore: asyncio.Semaphore | None = None
        # The event loop the calls run on: the semaphore and the tasks belong to it.
        self.loop: asyncio.AbstractEventLoop | None = None
        # The in-process limiter is asked without a coroutine per request (its answers never
        # wait); any other limiter through its awaitable methods.
        self.local_limiter = rate_limiter if type(rate_limiter) is LocalRateLimiter else None
        # How any other limiter is asked: with the request's priority if its reserve() takes
        # one, else as reserve() (decided once here, not per request).
        self.ask = asker(rate_limiter)
        # A limiter with a waiting line is told when a request told to wait gives up.
        withdraw = getattr(rate_limiter, "withdraw", None)
        self.withdraw: Callable[[], Awaitable[None]] | None = (
            withdraw if callable(withdraw) else None
        )
        self._closed = False
        # The tasks running a call (Transport.request adds them): aclose() cancels them (a
        # cancellation of its own, told apart from any other and undone where the loop
        # counts them), then waits for them to unwind. A set of tasks rather than a cancel
        # scope per call: on the path of every request, a scope costs ~3 us.
        self.calls: set[asyncio.Task[Any]] = set()
        self._cut: set[asyncio.Task[Any]] = set()
        self._idle: anyio.Event | None = None
        # Rate-limit header names already logged as unreadable.
        self.reported_headers: set[str] = set()
        # Retries earned by requests sent, for policies with a budget.
        self.retry_budget = RetryBudget()
        self.rate_limit: RateLimit | None = None

    @property
    def closed(self) -> bool:
        """Whether `aclose` has run."""
        return self._closed

    @property
    def in_flight(self) -> int:
        """How many calls are running."""
        return len(self.calls)

    def cut_short(self, task: asyncio.Task[Any] | None) -> bool:
        """Whether a ``CancelledError`` in ``task``'s call came from `aclose` alone.

        ``False`` when the task was also cancelled by someone else (where the loop counts
        cancellations): that cancellation goes on.
        """
        if task is None or task not in self._cut:
            return False
        cancelling = getattr(task, "cancelling", None)  # Python 3.11+
        return cancelling is None or cancelling() <= 1

    def call_ended(self, task: asyncio.Task[Any] | None) -> None:
        """Forget a call; undo the cancellation `aclose` sent it; wake `aclose` at the last."""
        if task is None:
            return
        self.calls.discard(task)
        if task in self._cut:
            self._cut.discard(task)
            uncancel = getattr(task, "uncancel", None)  # Python 3.11+
            if uncancel is not None:
                uncancel()
        if not self.calls and self._idle is not None:
            self._idle.set()

    def enter_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Move to ``loop`` (the calls so far ran on another one).

        Raises:
            EventLoopError: the other loop still runs: a client serves one loop at a time.
        """
        old = self.loop
        if old is not None and old.is_running() and not old.is_closed():
            raise another_loop_error("this AsyncVoucherify client")
        self.loop = loop
        self._semaphore = None  # made again, in this loop, on first use
        self.calls = {task for task in self.calls if not task.get_loop().is_closed()}

    def semaphore(self) -> asyncio.Semaphore | None:
        """The cap on requests in flight across the client, if ``max_concurrency`` is set."""
        if self.max_concurrency is None:
            return None
        if self._semaphore is None:
            # Made on first use, inside the running event loop.
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        return self._semaphore

    async def aclose(self) -> None:
        """End the calls in flight, then close the HTTP transport if the client made it.

        Calls in flight end with `ClientClosedError`; a transport or session passed in is
        left open.
        """
        self._closed = True
        # Shielded: a cancelled caller must still leave no unclosed session behind.
        with anyio.CancelScope(shield=True):
            current = asyncio.current_task()
            # Only this loop's calls: a task of an ended loop can be neither cancelled
            # nor awaited.
            loop = asyncio.get_running_loop()
            running = [
                task for task in self.calls if task is not current and task.get_loop() is loop
            ]
            if running:
                self._idle = anyio.Event()
                for task in running:
                    if task not in self._cut:
                        self._cut.add(task)
                        task.cancel()
                with anyio.move_on_after(_CLOSE_GRACE):
                    await self._idle.wait()
            if self.owns_http:
                await self.http.aclose()


class Transport:
    """Sends [Request][voucherify_async._core.request.Request] descriptions, returns models.

    One transport per client configuration; clients made by ``with_options`` share the
    `SharedState` (HTTP transport, rate limiter) and differ in timeout and retries.
    """

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        app_token: str,
        timeout: float | None,
        retry: RetryPolicy,
        shared: SharedState,
        default_headers: Mapping[str, str] | None = None,
        max_retry_wait: float = MAX_SERVER_WAIT,
        extra_query: Query | None = None,
        deadline: float | None = None,
        priority: Priority = INTERACTIVE,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: The priority of this client's requests, told to the rate limiter.
        self.priority = priority
        #: Query parameters added to every request, already encoded ("" for none).
        self.extra_query = encode_query(extra_query) if extra_query else ""
        self.timeout = timeout
        self.retry = retry
        self.max_retries = retry.max_retries
        self.max_retry_wait = max_retry_wait
        self.deadline = deadline
        #: Whether 2xx answers come back as `APIResponse` (``with_raw_response``).
        self.raw_responses = False
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

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, max_retries={self.max_retries})"

    async def request(self, request: Request[T]) -> T:
        """Send ``request``, retrying what is safe to retry, and decode the answer.

        With OpenTelemetry on, the call runs in its operation span (see `_otel`).

        Raises:
            APIConnectionError: no answer came back (after the allowed retries).
            APITimeoutError: no answer came back in time (after the allowed retries).
            APIStatusError: the API answered with a non-2xx status (a subclass per status).
            RateLimitError: also raised before sending when the rate limit asks for a
                longer wait than ``max_retry_wait``.
            MalformedResponseError: a 2xx answer whose body is not the documented JSON.
            ClientClosedError: the client is closed, or was closed while the call ran.
        """
        telemetry = self.shared.telemetry
        if telemetry is None:
            return await self._call(request)
        template = path_template(request.path)
        name = operation_name(request.method, template)
        answer: T = await telemetry.call(name, lambda: self._call(request, template))
        return answer

    async def _call(self, request: Request[T], template: str | None = None) -> T:
        """`request`, without telemetry's operation span (``template``: the path's, when
        already made)."""
        shared = self.shared
        # Count the call (aclose() cancels the calls it finds running); then the URL.
        if shared.closed:
            raise ClientClosedError(_CLOSED_MESSAGE)
        if asyncio.get_running_loop() is not shared.loop:
            shared.enter_loop(asyncio.get_running_loop())
        task = asyncio.current_task()
        if task is not None:
            shared.calls.add(task)
        stats = shared.stats
        stats.calls += 1
        hooks = shared.hooks
        begun = time.monotonic() if request.raw or self.raw_responses else 0.0
        try:
            url = self.base_url + request.path
            if request.query:
                url += "?" + encode_query(request.query)
                if self.extra_query:
                    url += "&" + self.extra_query
            elif self.extra_query:
                url += "?" + self.extra_query
            limiter = shared.rate_limiter
            local = shared.local_limiter
            priority = self.priority
            send = shared.http.send
            semaphore = shared.semaphore()
            debug = log.isEnabledFor(logging.DEBUG)
            # The path with its ids as placeholders, for the hooks and the log line.
            if template is None:
                template = path_template(request.path) if hooks or debug else request.path
            body: Body
            if request.json is not None:
                headers, body = self._json_headers, request.json
            else:
                headers, body = self._headers, request.upload
            if request.headers:
                headers = {**headers, **request.headers}
            retries = 0
            started = 0.0
            policy = self.retry
            if policy.budget is not None:
                shared.retry_budget.deposit(policy.budget)
            # Only a call with a deadline keeps time; the others pay one check per step.
            timer = None if self.deadline is None else CallTimer(self.deadline)
            timeout = self.timeout
            while True:
                if semaphore is not None:
                    if timer is not None and semaphore.locked():
                        await self._queue_within(semaphore, timer, request, url)
                    else:
                        await semaphore.acquire()
                try:
                    wait = (
                        local.reserve_nowait(priority)
                        if local is not None
                        else await shared.ask(priority)
                    )
                    if wait > 0:
                        await self._wait_for_limiter(request, url, wait, timer, template)
                    # Counted by the limiter: settled exactly once below, whatever happens.
                    stats.requests += 1
                    if timer is not None:
                        timeout = timer.attempt_timeout(self.timeout)
                        started = time.monotonic()
                    elif debug or hooks:
                        started = time.monotonic()
                    try:
                        if hooks:
                            await emit(
                                hooks,
                                "on_request",
                                RequestEvent(request.method, url, template, retries + 1),
                            )
                        if timeout is not None and timeout <= 0:
                            raise self._past_deadline(timer, request, url, "before an attempt")
                        status, answer_headers, content = await send(
                            request.method, url, headers, body, timeout
                        )
                    except SendError as exc:
                        failure: SendError | None = exc
                    except BaseException:
                        with anyio.CancelScope(shield=True):
                            await limiter.settle(None, None)
                        raise
                    else:
                        failure = None
                    if timer is not None:
                        timer.attempts.append(time.monotonic() - started)
                    if failure is not None:
                        await limiter.settle(None, None)
                    else:
                        rate_limit = parse_rate_limit(
                            answer_headers, shared.clock(), reported=shared.reported_headers
                        )
                        if rate_limit is not NO_RATE_LIMIT:
                            shared.rate_limit = rate_limit
                        if local is not None:
                            local.settle_nowait(status, rate_limit)
                        else:
                            await limiter.settle(status, rate_limit)
                finally:
                    if semaphore is not None:
                        semaphore.release()
                if hooks:
                    elapsed = time.monotonic() - started
                    attempt = retries + 1
                    await emit(
                        hooks,
                        "on_response",
                        ResponseEvent(
                            request.method,
                            url,
                            template,
                            attempt,
                            None,
                            failure.cause_type,
                            elapsed,
                        )
                        if failure is not None
                        else ResponseEvent(
                            request.method,
                            url,
                            template,
                            attempt,
                            status,
                            None,
                            elapsed,
                            answer_headers.get("X-Request-Id"),
                            rate_limit.remaining,
                        ),
                    )

                if failure is not None:
                    if shared.closed:
                        break
                    if timer is not None:
                        timer.last_failure = failure.cause_type
                        if failure.timeout and timeout != self.timeout and timer.left() <= 0:
                            # The deadline, not the client's timeout, ended this attempt.
                            sent = failure.delivery is not Delivery.NOT_SENT
                            raise self._finish(
                                self._past_deadline(
                                    timer, request, url, "during an attempt", sent=sent
                                ),
                                request,
                                failure.delivery,
                            )
                    decision = decide(
                        retries,
                        None,
                        failure.delivery,
                        None,
                        retry_safe=request.retry_safe,
                        max_retries=self._retries_allowed(retries, policy),
                        max_wait=self.max_retry_wait,
                        now=shared.clock(),
                        jitter=shared.jitter(),
                        policy=policy,
                    )
                    if isinstance(decision, Retry):
                        log.info(
                            "%s %s failed (%s); retry %d of %d in %.2fs",
                            request.method,
                            template,
                            failure.cause_type,
                            retries + 1,
                            self.max_retries,
                            decision.after,
                        )
                        await self._retrying(
                            request, template, retries + 1, decision.after, failure.cause_type
                        )
                        retries += 1
                        await self._back_off(decision.after, timer, request, url, template)
                        continue
                    unanswered = self._connection_error(request, url, failure, retries + 1)
                    del failure
                    raise self._finish(unanswered, request, decision.delivery)

                if status == 429:
                    stats.rate_limited += 1
                if debug:
                    log.debug(
                        "%s %s -> %d in %.1f ms (attempt %d)",
                        request.method,
                        template,
                        status,
                        (time.monotonic() - started) * 1000,
                        retries + 1,
                    )
                if 200 <= status < 300:
                    if request.raw or self.raw_responses:
                        answer = APIResponse(
                            self,
                            request,
                            url,
                            status,
                            content,
                            answer_headers,
                            time.monotonic() - begun,
                            retries + 1,
                        )
                        return answer  # type: ignore[return-value]
                    value, malformed = self._decode(request, url, status, content)
                    if malformed is None:
                        return value  # type: ignore[no-any-return]
                    # The answer (which a hostile server could fill with anything) is dropped
                    # from the frame, so tracebacks that record locals do not show it.
                    del answer_headers, content
                    raise malformed

                if timer is not None:
                    timer.last_failure = f"HTTP {status}"
                decision = decide(
                    retries,
                    status,
                    None,
                    rate_limit,
                    retry_safe=request.retry_safe,
                    max_retries=self._retries_allowed(retries, policy),
                    max_wait=self.max_retry_wait,
                    now=shared.clock(),
                    jitter=shared.jitter(),
                    policy=policy,
                )
                if decision.hold_until is not None:
                    # Every call of the client waits (the limiter makes them), this one too if
                    # it is retried; or, if that is longer than its max_retry_wait, fails at once.
                    await limiter.hold(decision.hold_until)
                if isinstance(decision, Retry):
                    delay = (
                        decision.after
                        if decision.hold_until is None
                        else decision.hold_until - shared.clock()
                    )
                    log.info(
                        "%s %s answered %d; retry %d of %d in %.2fs",
                        request.method,
                        template,
                        status,
                        retries + 1,
                        self.max_retries,
                        delay,
                    )
                    await self._retrying(request, template, retries + 1, delay, f"HTTP {status}")
                    retries += 1
                    if decision.after > 0:
                        await self._back_off(decision.after, timer, request, url, template)
                    continue
                error = make_status_error(
                    status,
                    content,
                    dict(answer_headers),
                    rate_limit,
                    method=request.method,
                    url=url,
                )
                if isinstance(error, RateLimitError):
                    error.retry_after = decision.retry_after
                    error.note = self._why_not_retried(error, retries)
                del answer_headers, content
                raise self._finish(error, request, decision.delivery)
            raise _closed_during(request)
        except asyncio.CancelledError:
            if not shared.cut_short(task):
                raise
        except VoucherifyError as error:
            stats.errors[type(error).__name__] += 1
            # Our errors are raised outside except blocks, but Python 3.10 can still chain
            # the exception the event loop last handled (aiohttp's, which holds the request
            # headers) as __context__ of one raised in a resumed task. Drop it; a bare
            # raise does not chain again.
            error.__context__ = None
            raise
        finally:
            shared.call_ended(task)
        # Only reached when aclose() cancelled the call: it was cut short.
        try:
            raise _closed_during(request)
        except ClientClosedError as closed:
            closed.__context__ = None
            raise

    def with_raw_responses(self) -> Transport:
        """A copy whose calls return every 2xx answer as an `APIResponse`."""
        copy = object.__new__(Transport)
        copy.__dict__.update(self.__dict__)
        copy.raw_responses = True
        return copy

    async def request_raw(self, request: Request[T]) -> RawAnswer[T]:
        """`request`, giving the 2xx answer undecoded (see `RawAnswer`); the same errors."""
        answer = await self.request(msgspec.structs.replace(request, raw=True))
        return cast(RawAnswer[T], answer)

    def _retries_allowed(self, retries: int, policy: RetryPolicy) -> int:
        """``max_retries``, or ``retries`` (no more) when the client's retry budget is spent.

        Asked before a retry is decided: the budget gives its token only to a retry.
        """
        if policy.budget is None or retries >= policy.max_retries:
            return policy.max_retries
        return policy.max_retries if self.shared.retry_budget.withdraw() else retries

    def _past_deadline(
        self,
        timer: CallTimer | None,
        request: Request[Any],
        url: str,
        stage: str,
        *,
        sent: bool = False,
    ) -> DeadlineExceededError:
        assert timer is not None
        return DeadlineExceededError(
            timer.describe(stage),
            deadline=timer.seconds,
            queued=timer.queued,
            paced=timer.paced,
            attempt_times=tuple(timer.attempts),
            backoff=timer.backoff,
            last_failure=timer.last_failure,
            method=request.method,
            url=url,
            sent=sent,
        )

    async def _queue_within(
        self, semaphore: asyncio.Semaphore, timer: CallTimer, request: Request[Any], url: str
    ) -> None:
        """Wait for a slot under ``max_concurrency``, no longer than the deadline allows."""
        began = time.monotonic()
        with anyio.move_on_after(max(timer.left(), 0.0)) as scope:
            await semaphore.acquire()
        timer.queued += time.monotonic() - began
        if scope.cancelled_caught:
            raise self._finish(
                self._past_deadline(timer, request, url, "waiting for a slot"),
                request,
                Delivery.NOT_SENT,
            )

    async def _retrying(
        self, request: Request[Any], template: str, attempt: int, delay: float, cause: str
    ) -> None:
        """Count a retry decided after ``attempt`` failed; tell the hooks."""
        shared = self.shared
        shared.stats.retries += 1
        if shared.hooks:
            event = RetryEvent(request.method, template, attempt, delay, cause)
            await emit(shared.hooks, "on_retry", event)

    async def _waiting(
        self,
        reason: Literal["rate_limit", "backoff"],
        seconds: float,
        request: Request[Any],
        template: str,
    ) -> None:
        """Count a wait about to start; tell the hooks."""
        shared = self.shared
        if reason == "backoff":
            shared.stats.backoff_wait += seconds
        else:
            shared.stats.rate_limit_wait += seconds
        if shared.hooks:
            event = WaitEvent(reason, seconds, request.method, template)
            await emit(shared.hooks, "on_wait", event)

    async def _back_off(
        self,
        seconds: float,
        timer: CallTimer | None,
        request: Request[Any],
        url: str,
        template: str,
    ) -> None:
        """Sleep before a retry; with a deadline, raise at once if the sleep would pass it."""
        if timer is not None:
            if seconds >= timer.left():
                raise self._finish(
                    self._past_deadline(timer, request, url, "before a retry could be sent"),
                    request,
                    Delivery.NOT_SENT,
                )
            timer.backoff += seconds
        await self._waiting("backoff", seconds, request, template)
        await self.shared.sleep(seconds)

    def _not_sent(
        self, message: str, wait: float, request: Request[Any], url: str
    ) -> RateLimitError:
        """The error of a call the rate limit would hold too long: raised before sending."""
        error = RateLimitError(
            message,
            status=429,
            rate_limit=self.shared.rate_limit,
            method=request.method,
            url=url,
        )
        error.retry_after = wait
        return error

    async def _wait_for_limiter(
        self,
        request: Request[Any],
        url: str,
        wait: float,
        timer: CallTimer | None = None,
        template: str = "",
    ) -> None:
        """Wait until the rate limiter counts the request, for at most ``max_retry_wait``
        (and what is left of the call's deadline).

        ``wait`` is the limiter's first answer (> 0); the common case, 0, never gets here.
        A request that gives up (or is cancelled) is withdrawn from the limiter's line.
        """
        try:
            await self._wait_in_line(request, url, wait, timer, template)
        except BaseException:
            shared = self.shared
            if shared.local_limiter is not None:
                shared.local_limiter.withdraw_nowait()
            elif shared.withdraw is not None:
                with anyio.CancelScope(shield=True):
                    try:
                        await shared.withdraw()
                    except Exception as exc:  # the request's own error matters more
                        log.debug("the rate limiter could not withdraw a request: %s", exc)
            raise

    async def _wait_in_line(
        self,
        request: Request[Any],
        url: str,
        wait: float,
        timer: CallTimer | None,
        template: str,
    ) -> None:
        """`_wait_for_limiter`, without the withdrawal."""
        shared = self.shared
        local = shared.local_limiter
        priority = self.priority
        waited = 0.0
        while wait > 0:
            if timer is not None and wait >= timer.left():
                if wait <= _POLL_WAIT:
                    raise self._past_deadline(timer, request, url, "waiting for the rate limit")
                raise self._not_sent(
                    f"not sent: the rate limit asks to wait {wait:.1f} s, more than the"
                    f" {max(timer.left(), 0.0):.2f} s left of the call's deadline"
                    f" ({timer.seconds:g} s)",
                    wait,
                    request,
                    url,
                )
            # Short polls (for answers in flight) are not waits the API asked for; they are
            # bounded in all, by max_retry_wait or a couple of seconds, whichever is more.
            asked = wait > _POLL_WAIT and wait > self.max_retry_wait
            if asked or waited + wait > max(self.max_retry_wait, _POLL_BUDGET):
                raise self._not_sent(
                    f"not sent: the rate limit asks to wait {waited + wait:.1f} s, longer"
                    f" than max_retry_wait ({self.max_retry_wait:g} s)",
                    wait,
                    request,
                    url,
                )
            await self._waiting("rate_limit", wait, request, template or request.path)
            await shared.sleep(wait)
            waited += wait
            if timer is not None:
                timer.paced += wait
            wait = (
                local.reserve_nowait(priority) if local is not None else await shared.ask(priority)
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

    def _why_not_retried(self, error: RateLimitError, retries: int) -> str | None:
        """What a 429's error says about not being retried (``None`` for a spent quota,
        whose own message says it)."""
        if isinstance(error, QuotaExceededError):
            return None
        wait = error.retry_after
        if wait is not None and wait > self.max_retry_wait:
            return (
                f"not retried: the API asks to wait {wait:.0f} s, longer than max_retry_wait"
                f" ({self.max_retry_wait:g} s); retry after error.retry_after seconds, or raise"
                " max_retry_wait to let the client wait"
            )
        if retries >= self.max_retries:
            return f"not retried: the {retries} retries max_retries allows are spent"
        return None

    def _connection_error(
        self, request: Request[Any], url: str, failure: SendError, attempts: int
    ) -> APIConnectionError:
        cause = f"{failure.cause_type}: {failure.cause_message or 'no message'}"
        sent = failure.delivery is not Delivery.NOT_SENT
        common: dict[str, Any] = {
            "method": request.method,
            "url": url,
            "cause_type": failure.cause_type,
            "cause_message": failure.cause_message,
            "sent": sent,
            "attempts": attempts,
        }
        tried = f"after {attempts} attempts, the last: " if attempts > 1 else ""
        if failure.timeout:
            what = "no answer" if sent else "could not connect"
            return APITimeoutError(
                f"{what} within the timeout of {self.timeout} s ({tried}{cause})", **common
            )
        return APIConnectionError(f"connection failed ({tried}{cause})", **common)

    def _decode(
        self, request: Request[Any], url: str, status: int, body: bytes
    ) -> tuple[Any, MalformedResponseError | None]:
        """The decoded answer, or the error to raise (built outside any except block, so
        no decoding error is chained as its ``__context__``)."""
        response_type = request.response_type
        if response_type is _NONE_TYPE:
            return None, None
        if not body:
            if response_type is Any:  # vf.request without cast_to: nothing to decode
                return None, None
            problem = "the API answered with an empty body where JSON was expected"
        else:
            problem = ""
            decoder = _decoders.get(response_type) or _decoder(response_type)
            try:
                result = decoder.decode(body)
            except msgspec.ValidationError as exc:
                problem = f"the JSON body does not match {request.response_type.__name__}: {exc}"
            except msgspec.DecodeError as exc:
                problem = f"the body is not valid JSON ({exc})"
            except RecursionError:
                problem = "the JSON body nests deeper than the decoder allows"
            except Exception as exc:  # whatever else a hostile body makes the decoder raise
                problem = f"the body could not be decoded ({type(exc).__name__}: {exc})"
            if not problem:
                return result, None
        error = MalformedResponseError(
            problem, status=status, body=body, method=request.method, url=url
        )
        finished = self._finish(error, request, Delivery.MAY_HAVE_ARRIVED)
        assert isinstance(finished, MalformedResponseError)
        return None, finished
