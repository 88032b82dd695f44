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
    APITimeoutError,
    MalformedResponseError,
    make_status_error,
)
from ._pacing import Pacer
from ._query import encode_query
from ._ratelimit import RateLimit, parse_rate_limit
from ._request import FileUpload, Request
from ._retry import RETRYABLE_STATUSES, retry_delay
from ._version import __version__

__all__ = ["SharedState", "Transport", "user_agent"]

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
        self.rate_limit: RateLimit | None = None
        self.pacer = Pacer(time.time)
        # Swappable so tests can run retries and pacing without sleeping or randomness.
        self.sleep: Callable[[float], Awaitable[None]] = anyio.sleep
        self.jitter: Callable[[], float] = random.random

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has run."""
        return self._closed

    def session(self) -> aiohttp.ClientSession:
        """The session to send with, opened on first use (inside the running event loop)."""
        if self._closed:
            raise RuntimeError(
                "this AsyncVoucherify client is closed; create a new one to make requests"
            )
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            session = self._session = aiohttp.ClientSession(connector=connector)
        elif session.closed:
            raise RuntimeError("the aiohttp.ClientSession given to AsyncVoucherify is closed")
        return session

    def limiter(self) -> anyio.CapacityLimiter | None:
        """The limit on requests in flight across the client, if ``max_concurrency`` is set."""
        if self.max_concurrency is None:
            return None
        if self._limiter is None:
            # Made on first use, inside the running event loop.
            self._limiter = anyio.CapacityLimiter(self.max_concurrency)
        return self._limiter

    def observe(self, rate_limit: RateLimit) -> None:
        """Learn from an answer; remember its rate-limit headers if it carried any."""
        if rate_limit != _NO_RATE_LIMIT:
            self.rate_limit = rate_limit
        self.pacer.observe(rate_limit)

    async def aclose(self) -> None:
        """Close the session if this client opened it; a session passed in is left open."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            # Shielded: a cancelled caller must still leave no unclosed session behind.
            with anyio.CancelScope(shield=True):
                await session.close()


_NO_RATE_LIMIT = RateLimit()


class _SendFailed(Exception):
    """An attempt got no answer; ``sent`` says whether the request may have reached the server."""

    def __init__(self, cause: BaseException, *, sent: bool, timeout: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.sent = sent
        self.timeout = timeout


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.shared = shared
        headers = {"Accept": "application/json", "User-Agent": user_agent()}
        headers.update(default_headers or {})
        headers["X-App-Id"] = app_id
        headers["X-App-Token"] = app_token
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
            MalformedResponseError: a 2xx answer whose body is not the documented JSON.
        """
        url = self.url(request)
        shared = self.shared
        pacer = shared.pacer
        retries = 0
        while True:
            limiter = shared.limiter()
            if limiter is not None:
                await limiter.acquire()
            try:
                wait = pacer.wait_time()
                while wait > 0:
                    await shared.sleep(wait)
                    wait = pacer.wait_time()
            except BaseException:
                if limiter is not None:
                    limiter.release()
                raise
            # No await between the pacer's "go" and counting the request as sent: another
            # task must not slip through on the same quota.
            pacer.sent()
            started = time.monotonic()
            try:
                status, headers, body = await self._send(request, url)
            except _SendFailed as failure:
                pacer.answered()
                retryable = request.retry_safe or not failure.sent
                if retryable and retries < self.max_retries:
                    delay = retry_delay(retries, None, None, shared.jitter(), pacer.clock())
                    assert delay is not None
                    log.info(
                        "%s %s failed (%s); retry %d of %d in %.2fs",
                        request.method, request.path, type(failure.cause).__name__,
                        retries + 1, self.max_retries, delay,
                    )
                    retries += 1
                    await shared.sleep(delay)
                    continue
                raise self._connection_error(request, url, failure) from failure.cause
            except BaseException:
                pacer.answered()
                raise
            finally:
                if limiter is not None:
                    limiter.release()

            rate_limit = parse_rate_limit(headers, pacer.clock())
            self.shared.observe(rate_limit)
            pacer.answered()
            log.debug(
                "%s %s -> %d in %.1f ms", request.method, request.path, status,
                (time.monotonic() - started) * 1000,
            )
            if 200 <= status < 300:
                return self._decode(request, url, status, body)

            if status in RETRYABLE_STATUSES and request.retry_safe and retries < self.max_retries:
                delay = retry_delay(retries, status, rate_limit, shared.jitter(), pacer.clock())
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
            elif status == 429:
                # Not retried here, but every other call of this client still waits it out.
                wait_for = retry_delay(0, status, rate_limit, 0.0, pacer.clock())
                if wait_for is not None:
                    pacer.block(wait_for)
            raise make_status_error(
                status, body, dict(headers), rate_limit, method=request.method, url=url
            )

    async def _send(
        self, request: Request[Any], url: str
    ) -> tuple[int, CIMultiDictProxy[str], bytes]:
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
        try:
            async with session.request(
                request.method,
                URL(url, encoded=True),
                data=data,
                headers=headers,
                timeout=self._client_timeout,
            ) as response:
                body = await response.read()
                return response.status, response.headers, body
        except aiohttp.ConnectionTimeoutError as exc:
            raise _SendFailed(exc, sent=False, timeout=True) from exc
        except asyncio.TimeoutError as exc:
            raise _SendFailed(exc, sent=True, timeout=True) from exc
        except aiohttp.ClientConnectorError as exc:
            raise _SendFailed(exc, sent=False, timeout=False) from exc
        except aiohttp.ClientError as exc:
            raise _SendFailed(exc, sent=True, timeout=False) from exc
        finally:
            for handle in opened:
                handle.close()

    def _connection_error(
        self, request: Request[Any], url: str, failure: _SendFailed
    ) -> APIConnectionError:
        cause = failure.cause
        detail = str(cause) or type(cause).__name__
        if failure.timeout:
            return APITimeoutError(
                f"no answer within the timeout of {self.timeout} s ({type(cause).__name__})",
                method=request.method,
                url=url,
            )
        return APIConnectionError(
            f"connection failed: {type(cause).__name__}: {detail}",
            method=request.method,
            url=url,
        )

    def _decode(self, request: Request[T], url: str, status: int, body: bytes) -> T:
        if request.response_type is _NONE_TYPE:
            return None  # type: ignore[return-value]
        if not body:
            raise MalformedResponseError(
                "the API answered with an empty body where JSON was expected",
                status=status, body=body, method=request.method, url=url,
            )
        try:
            result: T = _decoder(request.response_type).decode(body)
        except msgspec.ValidationError as exc:
            raise MalformedResponseError(
                f"the JSON body does not match {request.response_type.__name__}: {exc}",
                status=status, body=body, method=request.method, url=url,
            ) from None
        except msgspec.DecodeError as exc:
            raise MalformedResponseError(
                f"the body is not valid JSON ({exc})",
                status=status, body=body, method=request.method, url=url,
            ) from None
        return result


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
