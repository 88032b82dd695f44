"""``AsyncVoucherify``: configuration, session lifecycle, and the resource attributes."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import aiohttp
import anyio
from msgspec import UNSET, UnsetType

from ._core.deadline import check_deadline
from ._core.events import ClientStats
from ._core.extras import check_extra_headers, check_extra_query, generic_request
from ._core.pacing import check_priority
from ._core.query import Query
from ._core.ratelimit import RateLimit
from ._core.retry import DEFAULT_RETRY, RetryPolicy
from ._exceptions import ConfigurationError
from ._transport.aiohttp_transport import AiohttpTransport
from ._transport.hooks import Hooks, check_hooks
from ._transport.http import HTTPTransport
from ._transport.limiter import LocalRateLimiter, Priority, RateLimiter
from ._transport.network import (
    ClientCertOption,
    SSLOption,
    check_base_url,
    check_proxy,
    make_ssl_context,
)
from ._transport.transport import Secret, SharedState, Transport
from .resources import AsyncActions, Customers

__all__ = ["CLUSTERS", "AsyncVoucherify"]

#: The API's regional hosts; dedicated clusters use ``base_url``.
CLUSTERS: Mapping[str, str] = {
    "eu": "https://api.voucherify.io",
    "us1": "https://us1.api.voucherify.io",
    "as1": "https://as1.api.voucherify.io",
}

_T = TypeVar("_T")

DEFAULT_MAX_RETRIES = 2


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ConfigurationError(
            f"timeout must be a number of seconds > 0 or None, got {timeout!r}"
        )
    return float(timeout)


def _check_wait(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigurationError(
            f"max_retry_wait must be a finite number of seconds >= 0, got {value!r}"
        )
    return float(value)


def _check_count(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigurationError(f"{name} must be an int >= {low}, got {value!r}")
    return value


_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_logging_set_up = False


def _log_from_environment() -> None:
    """``VOUCHERIFY_LOG=debug|info``: send the package's log to stderr at that level, once.

    ``debug`` adds one line per attempt (method, path template, status, milliseconds,
    attempt); ``info`` has the retries, waits and warnings. A logger the application
    configured itself (it has handlers) is left alone.
    """
    global _logging_set_up
    if _logging_set_up:
        return
    wanted = os.environ.get("VOUCHERIFY_LOG", "").strip().lower()
    level = _LOG_LEVELS.get(wanted)
    if wanted and level is None:
        raise ConfigurationError(f"VOUCHERIFY_LOG must be 'debug' or 'info', got {wanted!r}")
    _logging_set_up = True
    if level is None:
        return
    logger = logging.getLogger("voucherify_async")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


def _telemetry(setting: object, base_url: str, remaining: Callable[[], int | None]) -> Hooks | None:
    """The client's OpenTelemetry hook, or ``None`` (off, or nothing to report to)."""
    if setting not in (None, True, False):
        raise ConfigurationError(f"telemetry must be True, False or None, got {setting!r}")
    if setting is False:
        return None
    try:
        from ._otel import telemetry_for
    except ImportError:
        if setting:
            raise ConfigurationError(
                "telemetry=True needs OpenTelemetry's API: pip install 'voucherify-async[otel]'"
            ) from None
        return None
    return telemetry_for(setting is True or None, base_url, remaining)


def _check(check: Callable[[object], _T], value: object) -> _T:
    """Run a check that raises ``ValueError`` or ``TypeError``, as a `ConfigurationError`."""
    try:
        return check(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(str(exc)) from None


def _retry_policy(retry: object, max_retries: object) -> RetryPolicy:
    """The policy from ``retry`` and ``max_retries`` (which sets the policy's count)."""
    count = _check_count(max_retries, "max_retries", 0)
    if retry is None:
        return DEFAULT_RETRY if count == DEFAULT_RETRY.max_retries else RetryPolicy(count)
    if not isinstance(retry, RetryPolicy):
        raise ConfigurationError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
    if count != DEFAULT_MAX_RETRIES and count != retry.max_retries:
        return dataclasses.replace(retry, max_retries=count)
    return retry


def _resolve_base_url(base_url: str | None, cluster: str | None) -> str:
    if base_url is not None and cluster is not None:
        raise ConfigurationError("pass base_url or cluster, not both")
    if cluster is not None:
        if cluster not in CLUSTERS:
            raise ConfigurationError(
                f"cluster must be one of {', '.join(map(repr, CLUSTERS))}; got {cluster!r}"
                " (a dedicated cluster's host goes in base_url)"
            )
        return CLUSTERS[cluster]
    return check_base_url(base_url or os.environ.get("VOUCHERIFY_BASE_URL") or CLUSTERS["eu"])


class AsyncVoucherify:
    """An asyncio client for the Voucherify Customers API.

    Examples:
        ```python
        from voucherify_async import AsyncVoucherify
        async with AsyncVoucherify(app_id="...", app_token="...") as vf:
            customer = await vf.customers.get("source-or-cust-id")
        ```

    Args:
        app_id: the application id; defaults to ``$VOUCHERIFY_APP_ID``.
        app_token: the application secret key; defaults to ``$VOUCHERIFY_APP_TOKEN``. It is
            sent in the ``X-App-Token`` header and never shown in a repr, log line or error.
        base_url: the API host, e.g. a dedicated cluster's; defaults to
            ``$VOUCHERIFY_BASE_URL``, then to the ``cluster``'s host.
        cluster: ``"eu"`` (the default), ``"us1"`` or ``"as1"``.
        timeout: seconds allowed for each attempt of a request (``None``: no limit).
        deadline: seconds allowed for each whole call (``None``, the default: no bound but
            the attempts' ``timeout``): waiting for a slot under ``max_concurrency``, for the
            rate limit, every attempt and the backoff between them. No wait starts that
            cannot end in time; past it, `DeadlineExceededError` says where the time went
            (a rate-limit wait longer than what is left raises `RateLimitError` at once,
            with ``retry_after``). For a list, each page is a call.
        max_retries: how many times a failed request is retried (default 2); the same as
            ``retry=RetryPolicy(max_retries=...)``.
        retry: the `RetryPolicy`: backoff, jitter, the statuses retried and a retry budget
            across the client. ``RetryPolicy.request_path()`` suits web handlers.
        max_retry_wait: the longest the client waits, in seconds, because the API asked it
            to (``Retry-After``, a rate-limit reset); a longer wait raises `RateLimitError`
            at once, with the wait in ``retry_after`` (default 60).
        max_connections: the size of the connection pool of the session the client opens.
        max_concurrency: the most requests this client (and every client ``with_options``
            made from it) has in flight at once, however many tasks call it; ``None`` leaves
            only the connection pool as the bound.
        proxy: the URL of a proxy every request goes through, credentials included if it
            asks for them (``http://user:password@proxy.internal:3128``); the password is
            never shown in a repr, log line or error.
        trust_env: without ``proxy``, go through the proxy the environment names for the
            API's host (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``), unless ``NO_PROXY``
            exempts it; read once, on the first request. On by default, as in requests,
            httpx and curl; ``False`` always connects directly.
        ssl: how the API's certificate is checked: an ``ssl.SSLContext`` (used as given),
            or the path of a CA bundle (a PEM file or a directory of them) trusted instead
            of the system's store, for a proxy or gateway with a private CA. ``None``: the
            system's trust store.
        client_cert: a certificate the client presents (mutual TLS): the path of a PEM file
            holding the key and the certificate, or a ``(certificate, key)`` pair of paths.
        session: an ``aiohttp.ClientSession`` to use instead of opening one; the client leaves
            it open when it closes. The network options above are then the session's own.
        default_headers: extra headers sent with every request.
        priority: ``"interactive"`` (the default: someone waits for the answer) or
            ``"background"`` (a backfill, a sync, a report). Background requests never take
            the budget interactive ones need: the rate limiter keeps the last share of each
            period (20% by default) for interactive requests while they are being made,
            and lets them go ahead of waiting background ones; both `LocalRateLimiter` and
            the Redis limiter honour it. Set it per copy with
            ``with_options(priority=...)``.
        rate_limiter: decides when each request may go, from the rate-limit headers;
            ``None``: a new `LocalRateLimiter`, shared by every client ``with_options``
            makes. Pass one limiter to several clients (or a limiter shared between
            processes) to make them share one quota; a limiter passed in is not closed.
        transport: the `HTTPTransport` that sends the requests, e.g. a `MockTransport` in
            tests; ``None``: aiohttp (on ``session`` if given). A transport passed in is
            not closed by the client.
        clock: returns Unix epoch seconds; rate-limit waits are computed with it (and by
            the default `LocalRateLimiter`; a limiter passed in keeps its own clock).
        sleep: awaited for every wait (backoff, rate limit); ``anyio.sleep`` by default.
        jitter: returns a random number in ``[0, 1)`` that spreads the backoff.
        hooks: a `Hooks` object (or a list of them) told every step of every call: an
            attempt sent, its answer, a retry, a wait, a page. Shared by ``with_options``
            copies. An exception in a hook is logged and the call goes on.
        telemetry: OpenTelemetry spans and metrics (the ``otel`` extra). ``None`` (the
            default): on when the application has configured a tracer or meter provider
            by the time the client is made; ``True``: on (the extra must be installed);
            ``False``: off. See the Observability page.

    The clock, sleep and jitter are arguments of the client (not settings of its
    internals) so that a test runs retries and rate-limit waits at once and
    deterministically, with the same client a program uses.

    Raises:
        ConfigurationError: missing credentials or an invalid option.

    The session is opened on the first request and closed by ``async with`` or
    `aclose`. It belongs to the event loop of that request: the client moves to a new loop
    once the old one has ended (a second ``asyncio.run()``), and raises `EventLoopError`
    when used from a second loop while the first still runs.
    """

    customers: Customers
    """The Customers API."""
    async_actions: AsyncActions
    """The async actions API: the jobs that bulk updates and CSV imports start."""

    def __init__(
        self,
        *,
        app_id: str | None = None,
        app_token: str | None = None,
        base_url: str | None = None,
        cluster: str | None = None,
        timeout: float | None = 60.0,
        deadline: float | None = None,
        max_retries: int = 2,
        retry: RetryPolicy | None = None,
        max_retry_wait: float = 60.0,
        max_connections: int = 100,
        max_concurrency: int | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        ssl: SSLOption = None,
        client_cert: ClientCertOption = None,
        session: aiohttp.ClientSession | None = None,
        default_headers: Mapping[str, str] | None = None,
        rate_limiter: RateLimiter | None = None,
        transport: HTTPTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        jitter: Callable[[], float] = random.random,
        hooks: Hooks | Sequence[Hooks] | None = None,
        telemetry: bool | None = None,
        priority: Priority = "interactive",
    ) -> None:
        _log_from_environment()
        app_id = app_id if app_id is not None else os.environ.get("VOUCHERIFY_APP_ID")
        app_token = app_token if app_token is not None else os.environ.get("VOUCHERIFY_APP_TOKEN")
        missing = [
            name
            for name, value in (
                ("app_id (or $VOUCHERIFY_APP_ID)", app_id),
                ("app_token (or $VOUCHERIFY_APP_TOKEN)", app_token),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(
                f"missing credentials: pass {' and '.join(missing)}; find them in the"
                " Voucherify dashboard under Project Settings > Application Keys"
            )
        assert app_id is not None and app_token is not None
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ConfigurationError(
                f"session must be an aiohttp.ClientSession, got {type(session).__name__}"
            )
        if session is not None and transport is not None:
            raise ConfigurationError("pass session or transport, not both")
        network = [
            name
            for name, value in (("proxy", proxy), ("ssl", ssl), ("client_cert", client_cert))
            if value is not None
        ]
        if network and (session is not None or transport is not None):
            raise ConfigurationError(
                f"{', '.join(network)} configure the session the client opens; with your own"
                f" {'session' if session is not None else 'transport'}, set them on it instead"
            )
        if not isinstance(trust_env, bool):
            raise ConfigurationError(f"trust_env must be True or False, got {trust_env!r}")
        if transport is not None and not callable(getattr(transport, "send", None)):
            raise ConfigurationError(
                f"transport must have an async send() method, got {type(transport).__name__}"
            )
        priority = _check(check_priority, priority)
        if rate_limiter is not None and not isinstance(rate_limiter, RateLimiter):
            raise ConfigurationError(
                "rate_limiter must have async reserve(), settle() and hold() methods,"
                f" got {type(rate_limiter).__name__}"
            )
        self._app_id = app_id
        self._app_token = Secret(app_token)
        self._base_url = _resolve_base_url(base_url, cluster)
        bind = getattr(rate_limiter, "bind", None)
        if callable(bind):  # optional: a shared limiter keys its budget by the client's host
            bind(self._base_url)
        connections = _check_count(max_connections, "max_connections", 1)
        shared = SharedState(
            http=transport
            if transport is not None
            else AiohttpTransport(
                session,
                max_connections=connections,
                secret=self._app_token,
                proxy=check_proxy(proxy),
                trust_env=trust_env,
                ssl=make_ssl_context(ssl, client_cert),
            ),
            owns_http=transport is None,
            rate_limiter=rate_limiter if rate_limiter is not None else LocalRateLimiter(clock),
            max_concurrency=None
            if max_concurrency is None
            else _check_count(max_concurrency, "max_concurrency", 1),
            clock=clock,
            sleep=sleep,
            jitter=jitter,
            hooks=_check(check_hooks, hooks),
        )
        observed = _telemetry(
            telemetry,
            self._base_url,
            lambda: None if shared.rate_limit is None else shared.rate_limit.remaining,
        )
        if observed is not None:
            shared.telemetry = observed
            shared.hooks = (*shared.hooks, observed)
        self._attach(
            shared,
            owner=True,
            timeout=timeout,
            retry=_retry_policy(retry, max_retries),
            deadline=deadline,
            max_retry_wait=max_retry_wait,
            default_headers=dict(default_headers or {}),
            extra_query=[],
            priority=priority,
        )

    def _attach(
        self,
        shared: SharedState,
        *,
        owner: bool,
        timeout: object,
        retry: RetryPolicy,
        deadline: object,
        max_retry_wait: object,
        default_headers: dict[str, str],
        extra_query: Query,
        priority: Priority,
    ) -> None:
        """Give this client its per-copy options over ``shared`` (its own, or its parent's
        for a `with_options` copy, which does not close it)."""
        self._owner = owner
        self._default_headers = default_headers
        self._extra_query = extra_query
        self._transport = Transport(
            base_url=self._base_url,
            app_id=self._app_id,
            app_token=self._app_token,
            timeout=_check_timeout(timeout),
            retry=retry,
            deadline=_check(check_deadline, deadline),
            shared=shared,
            default_headers=default_headers,
            max_retry_wait=_check_wait(max_retry_wait),
            extra_query=extra_query,
            priority=priority,
        )
        self.customers = Customers(self._transport)
        self.async_actions = AsyncActions(self._transport)

    @property
    def base_url(self) -> str:
        """The API host requests go to."""
        return self._base_url

    @property
    def app_id(self) -> str:
        """The application id (not a secret)."""
        return self._app_id

    @property
    def timeout(self) -> float | None:
        """Seconds allowed for each attempt of a request."""
        return self._transport.timeout

    @property
    def max_retries(self) -> int:
        """How many times a failed request is retried."""
        return self._transport.max_retries

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy: backoff, jitter, statuses retried, retry budget."""
        return self._transport.retry

    @property
    def deadline(self) -> float | None:
        """Seconds allowed for each whole call (``None``: no bound but each attempt's)."""
        return self._transport.deadline

    @property
    def priority(self) -> Priority:
        """``"interactive"`` or ``"background"``: the priority of this client's requests."""
        return self._transport.priority

    @property
    def max_retry_wait(self) -> float:
        """The longest the client waits because the API asked it to, in seconds."""
        return self._transport.max_retry_wait

    @property
    def transport(self) -> HTTPTransport:
        """The HTTP transport requests are sent through (shared with ``with_options`` copies).

        An `AiohttpTransport` unless one was passed in; its ``session`` is the aiohttp
        session in use (``None`` before the first request of a session the client opens).
        """
        return self._transport.shared.http

    @property
    def in_flight(self) -> int:
        """How many calls of this client (and its ``with_options`` copies) are running."""
        return self._transport.shared.in_flight

    @property
    def rate_limiter(self) -> RateLimiter:
        """The rate limiter every request of this client (and its ``with_options`` copies) asks."""
        return self._transport.shared.rate_limiter

    @property
    def max_concurrency(self) -> int | None:
        """The most requests the client has in flight at once (``None``: no limit of its own)."""
        return self._transport.shared.max_concurrency

    @property
    def rate_limit(self) -> RateLimit | None:
        """The rate-limit headers of the last response that carried them (``None`` before).

        Shared by every client made with `with_options` from this one.
        """
        return self._transport.shared.rate_limit

    @property
    def stats(self) -> ClientStats:
        """Counters of every call of this client and its ``with_options`` copies.

        Calls, attempts sent, retries, 429s, errors by type, and the seconds waited for the
        rate limit and between retries; always kept, at the cost of a few additions a call.
        """
        return self._transport.shared.stats

    @property
    def is_closed(self) -> bool:
        """Whether the client has been closed."""
        return self._transport.shared.closed

    def with_options(
        self,
        *,
        timeout: float | UnsetType | None = UNSET,
        deadline: float | UnsetType | None = UNSET,
        max_retries: int | UnsetType = UNSET,
        retry: RetryPolicy | UnsetType = UNSET,
        max_retry_wait: float | UnsetType = UNSET,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        priority: Priority | UnsetType = UNSET,
    ) -> AsyncVoucherify:
        """Return a client with other options that shares this one's session and rate limits.

        Closing the returned client leaves the session open; closing this one closes it.

        The way to set options for one call, as in openai-python:
        ``await vf.with_options(deadline=0.5).customers.get(customer_id)``.

        Args:
            timeout: seconds allowed for each attempt (``None``: no limit).
            deadline: seconds allowed for each whole call (``None``: no bound).
            max_retries: how many times a failed request is retried (kept in the policy).
            retry: another `RetryPolicy`.
            max_retry_wait: the longest wait the API may ask for, in seconds.
            extra_headers: headers added to every request of the returned client (over
                this one's); the credentials cannot be set this way.
            extra_query: query parameters added to every request of the returned client:
                the way to pass a parameter the typed signature does not have yet to the
                list iterators, fan-out, bulk and CSV calls (the single-request methods
                also take ``extra_query`` per call).
            priority: ``"interactive"`` or ``"background"``: the priority the rate limiter
                gives the returned client's requests (see `AsyncVoucherify`).

        Examples:
            ```python
            patient = vf.with_options(timeout=120, max_retries=5)
            await patient.customers.get("bob")
            backfill = vf.with_options(priority="background")
            async for customer in backfill.customers.list():
                ...
            ```
        """
        level = self.priority if priority is UNSET else _check(check_priority, priority)
        policy = self.retry if retry is UNSET else _retry_policy(retry, DEFAULT_MAX_RETRIES)
        if max_retries is not UNSET:
            count = _check_count(max_retries, "max_retries", 0)
            policy = dataclasses.replace(policy, max_retries=count)
        copy = object.__new__(AsyncVoucherify)
        copy._app_id, copy._app_token, copy._base_url = (
            self._app_id,
            self._app_token,
            self._base_url,
        )
        copy._attach(
            self._transport.shared,
            owner=False,
            timeout=self.timeout if timeout is UNSET else timeout,
            retry=policy,
            deadline=self.deadline if deadline is UNSET else deadline,
            max_retry_wait=self.max_retry_wait if max_retry_wait is UNSET else max_retry_wait,
            default_headers={**self._default_headers, **check_extra_headers(extra_headers)},
            extra_query=[*self._extra_query, *check_extra_query(extra_query)],
            priority=level,
        )
        return copy

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        cast_to: Any = None,
        retry_safe: bool | None = None,
    ) -> Any:
        """Call any endpoint of the API with the client's guarantees.

        For what the typed methods do not cover (vouchers, redemptions, an endpoint added
        after this release): the request goes through the same session, the rate limiter
        (shared between processes if the client's is), retries, typed errors and
        redaction as every other call. Voucherify's limits are per project, so calls made
        this way count against, and are paced by, the same budget.

        Args:
            method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
            path: the path from the host on, such as ``"/v1/vouchers"``; characters a path
                cannot carry are percent-encoded, ``%xx`` escapes are kept.
            query: query parameters; a list or tuple value repeats the name.
            json: the body, anything msgspec encodes (dicts, lists, Structs, dataclasses).
            headers: headers of this call (the credentials cannot be set this way).
            cast_to: the type to decode the answer into (a msgspec Struct, ``dict``,
                ``list[...]``); ``None``: plain Python values (``None`` for an empty body).
            retry_safe: whether doing the call twice is harmless. ``None``: only ``GET``
                is. A call that is not is sent again only when it surely never left; if it
                may have arrived, the error has ``maybe_applied`` set.

        Examples:
            ```python
            page = await vf.request("GET", "/v1/customers", query={"limit": 5})
            print(len(page["customers"]))
            ```

        Raises:
            ValueError: a bad ``method`` or ``path``, before any request.
            TypeError: a ``json`` that cannot be encoded, or a bad ``query``/``headers``.
            APIStatusError: the API answered with an error (a subclass per status).
            APIConnectionError: no answer came back.
            MalformedResponseError: a 2xx body that does not decode to ``cast_to``.
        """
        return await self._transport.request(
            generic_request(
                method,
                path,
                query=query,
                json=json,
                headers=headers,
                cast_to=cast_to,
                retry_safe=retry_safe,
            )
        )

    async def aclose(self) -> None:
        """Close the session this client opened (a session passed in is left open).

        Calls still in flight (from other tasks) end at once with `ClientClosedError`, and
        so does every call made afterwards. Safe to call more than once, and from a
        cancelled task. A client made by `with_options` does not close the shared session.
        """
        if self._owner:
            await self._transport.shared.aclose()

    async def __aenter__(self) -> AsyncVoucherify:
        return self

    def __enter__(self) -> NoReturn:
        raise TypeError(
            "AsyncVoucherify is an async client: use 'async with AsyncVoucherify(...) as vf'"
            " inside a coroutine (from synchronous code, see 'From synchronous code' in the"
            " docs)"
        )

    def __exit__(self, *exc_info: object) -> None:  # pragma: no cover - __enter__ raises
        return None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncVoucherify(app_id={self._app_id!r}, base_url={self._base_url!r})"
