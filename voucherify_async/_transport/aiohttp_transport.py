"""The aiohttp `HTTPTransport`: the only module of the client that touches aiohttp.

It owns the session it opens (lazily, inside the running event loop, one loop at a time)
and leaves a session passed in open; it tells "not sent" from "may have arrived" with its
connector; it sends through the proxy and with the TLS settings it was given; it sends large
JSON bodies as an explicit ``BytesIOPayload``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import platform
import ssl as ssl_module
from collections.abc import AsyncGenerator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from .._core.request import FileUpload
from .._core.retry import Delivery
from .._exceptions import ClientClosedError, EventLoopError, redact
from .._version import __version__
from .http import Body, SendError
from .loops import close_at_loop_end
from .network import env_proxy, mask_url, url_secrets

__all__ = ["AiohttpTransport", "user_agent"]

# aiohttp warns (ResourceWarning) about raw bytes bodies above this size; such bodies are sent
# from a BytesIO instead, which aiohttp streams with the same Content-Length.
_LARGE_BODY = 1024 * 1024
_CLOSED_MESSAGE = "this AsyncVoucherify client is closed; create a new one to make requests"


def user_agent() -> str:
    """The ``User-Agent`` header: this package, Python and aiohttp versions."""
    return (
        f"voucherify-async/{__version__} Python/{platform.python_version()} "
        f"aiohttp/{aiohttp.__version__}"
    )


class _Phase:
    """How far one attempt got: whether a connection was made (or taken from the pool)."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


# What a caller's session (whose connections are not watched) reports: never connected.
_NOT_TRACED = _Phase()

# The attempt the current task is making, for the connector to mark as connected.
_PHASE: contextvars.ContextVar[_Phase | None] = contextvars.ContextVar(
    "voucherify_async_phase", default=None
)


class _Connector(aiohttp.TCPConnector):
    """A ``TCPConnector`` that tells the attempt in progress when it has its connection.

    A timeout before that point sent nothing. (The session's trace hooks could tell too, but
    they cost a dozen calls on every request; this costs one.)
    """

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        connection = await super().connect(req, traces, timeout)
        phase = _PHASE.get()
        if phase is not None:
            phase.connected = True
        return connection

    @property
    def closed(self) -> bool:
        # A pool whose event loop is gone can be neither used nor closed: it counts as
        # closed, so its session does not warn "Unclosed client session" when collected.
        return bool(super().closed) or self._loop.is_closed()

    def __del__(self, _warnings: Any = None) -> None:
        if self._loop.is_closed():
            self._closed = True  # nothing to close any more; nothing to warn about
        super().__del__()


def another_loop_error(what: str) -> EventLoopError:
    """The error of a client used from a second event loop while its first one runs."""
    return EventLoopError(
        f"{what} is in use on another event loop, which is still running; a client belongs"
        " to one running event loop at a time. Make one client per event loop (per thread),"
        " or run the call on the loop that owns the client"
        " (asyncio.run_coroutine_threadsafe, anyio.from_thread)"
    )


def _form(upload: FileUpload, opened: list[Any]) -> aiohttp.FormData:
    """Build the multipart body of an upload; files opened here are closed by the caller."""
    source: Any = upload.source
    if isinstance(source, Path):
        source = source.open("rb")
        opened.append(source)
    form = aiohttp.FormData()
    form.add_field(upload.field, source, filename=upload.filename, content_type=upload.content_type)
    return form


class AiohttpTransport:
    """Sends requests with an ``aiohttp.ClientSession``.

    Args:
        session: a session to use; it is left open by `aclose`. ``None``: one is opened on
            the first request (with a pool of ``max_connections``) and closed by `aclose`.
        max_connections: the pool size of the session this transport opens.
        secret: a string masked in every failure message (the app token).
        proxy: the URL of the proxy every request goes through (credentials allowed:
            ``http://user:password@proxy:3128``); they are masked in every message.
        trust_env: without ``proxy``, use the proxy ``HTTPS_PROXY`` / ``HTTP_PROXY`` name
            for the API's host, unless ``NO_PROXY`` exempts it (read on the first request).
        ssl: the TLS context the connections use (``None``: aiohttp's default, the
            system's trust store).

    A session this transport opens belongs to the event loop of its first request. Used from
    a later loop once that one has ended, it opens a new session (the old one is closed
    when its loop shuts down, or dropped if the loop was closed without that); used from a
    second loop while the first still runs, it raises `EventLoopError` before sending.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        max_connections: int = 100,
        secret: str = "",
        proxy: str | None = None,
        trust_env: bool = False,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self._secrets: list[str] = [secret] if secret else []
        self._secrets.extend(url_secrets(proxy))
        self._proxy = proxy
        self._proxy_decided = proxy is not None or not trust_env
        self._ssl = ssl
        self._closed = False
        self._timeouts: dict[float | None, aiohttp.ClientTimeout] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finalizer: AsyncGenerator[None, None] | None = None

    def __repr__(self) -> str:
        proxy = "" if self._proxy is None else f", proxy={mask_url(self._proxy)!r}"
        return f"<AiohttpTransport owns_session={self._owns_session}{proxy}>"

    @property
    def proxy(self) -> str | None:
        """The proxy requests go through, its password masked (``None``: direct).

        With ``trust_env``, known once the first request has read the environment.
        """
        return None if self._proxy is None else mask_url(self._proxy)

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session in use; ``None`` before the first request of an owned session."""
        return self._session

    @property
    def owns_session(self) -> bool:
        """Whether this transport opened its session (rather than being given one)."""
        return self._owns_session

    async def _open(self, loop: asyncio.AbstractEventLoop, url: str) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError(_CLOSED_MESSAGE)
        session = self._session
        if not self._owns_session:
            assert session is not None
            if session.closed:
                raise ClientClosedError(
                    "the aiohttp.ClientSession given to AsyncVoucherify is closed"
                )
            owner = getattr(session, "_loop", loop)
            if owner is not loop:
                given = "the aiohttp.ClientSession given to AsyncVoucherify"
                if owner.is_running() and not owner.is_closed():
                    raise another_loop_error(given)
                raise EventLoopError(
                    f"{given} belongs to an event loop that has ended; open the session"
                    " inside the event loop that uses it (or let the client open its own)"
                )
            return session
        if session is not None and self._loop is not loop:
            old = self._loop
            if old is not None and old.is_running() and not old.is_closed():
                raise another_loop_error("this AsyncVoucherify client")
            # Its loop has ended: the session can never be used again, nor awaited closed.
            self._drop(session)
            session = None
        if session is None:
            if not self._proxy_decided:
                self._proxy = env_proxy(url)
                self._secrets.extend(url_secrets(self._proxy))
                self._proxy_decided = True
            connector = _Connector(limit=self._max_connections, ssl=self._ssl or True)
            session = self._session = aiohttp.ClientSession(connector=connector)
            self._loop = loop
            # Closed at the end of this loop's life (asyncio.run and the like).
            opened = session
            self._finalizer = await close_at_loop_end(lambda: self._retire(opened))
        return session

    def _drop(self, session: aiohttp.ClientSession) -> None:
        """Forget a session whose event loop has ended, without a warning or an await."""
        if self._session is session:
            self._session = None
            self._loop = None
            self._finalizer = None
        connector = session.connector
        session.detach()
        close_now = getattr(connector, "_close", None)  # close() needs the loop it had
        if close_now is not None:
            with contextlib.suppress(Exception):
                close_now()  # marks it closed, and closes its sockets if the loop allows

    async def _retire(self, session: aiohttp.ClientSession) -> None:
        """Close ``session`` as its event loop shuts down (see `close_at_loop_end`)."""
        if self._session is session:
            self._session = None
            self._loop = None
        if not session.closed:
            await session.close()

    def _timeout(self, timeout: float | None) -> aiohttp.ClientTimeout:
        value = self._timeouts.get(timeout)
        if value is None:
            value = aiohttp.ClientTimeout(
                total=timeout, sock_connect=None if timeout is None else min(timeout, 10.0)
            )
            # The clients' own timeouts are few; a call's deadline gives a new one each time,
            # which is not kept.
            if len(self._timeouts) < 16:
                self._timeouts[timeout] = value
        return value

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body,
        timeout: float | None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send one request and read the whole answer; see `HTTPTransport.send`."""
        session = self._session
        loop = asyncio.get_running_loop()
        if session is None or self._closed or not self._owns_session or self._loop is not loop:
            # A session of our own is closed by aclose() alone, which sets _closed.
            session = await self._open(loop, url)
        data: Any = body
        opened: list[Any] = []
        if body is None:
            pass
        elif isinstance(body, FileUpload):
            data = _form(body, opened)
        elif len(body) > _LARGE_BODY:
            # A fresh BytesIO per attempt, so a retried request sends the whole body again.
            data = aiohttp.payload.BytesIOPayload(io.BytesIO(body), content_type="application/json")
        # Sessions this transport opened report when the connection is made; a timeout
        # before that sent nothing. A caller's session cannot tell, so its timeouts may have.
        traced = self._owns_session
        if traced:
            phase = _Phase()
            token = _PHASE.set(phase)
        else:
            phase, token = _NOT_TRACED, None
        # The library's exception is read into plain strings inside its except block and
        # raised after it, so nothing chains it (it holds the request's headers).
        try:
            async with session.request(
                method,
                URL(url, encoded=True),
                data=data,
                headers=headers,
                timeout=self._timeout(timeout),
                allow_redirects=False,
                proxy=self._proxy,
            ) as response:
                content = await response.read()
                return response.status, response.headers, content
        except aiohttp.ConnectionTimeoutError as exc:
            # Raised while connecting (or waiting for a pooled connection): nothing was sent.
            failure = self._failure(exc, Delivery.NOT_SENT, timeout=True)
        except aiohttp.SocketTimeoutError as exc:
            # A read that timed out: the request was sent.
            failure = self._failure(exc, Delivery.MAY_HAVE_ARRIVED, timeout=True)
        except asyncio.TimeoutError as exc:
            unsent = traced and not phase.connected
            failure = self._failure(
                exc, Delivery.NOT_SENT if unsent else Delivery.MAY_HAVE_ARRIVED, timeout=True
            )
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
            # Refused, unreachable, DNS, TLS handshake, proxy: before the request was written.
            failure = self._failure(exc, Delivery.NOT_SENT, timeout=False)
        except aiohttp.ClientHttpProxyError as exc:
            # The proxy refused the tunnel (CONNECT): the request never reached the API.
            failure = self._failure(exc, Delivery.NOT_SENT, timeout=False)
        except aiohttp.ClientError as exc:
            failure = self._failure(exc, Delivery.MAY_HAVE_ARRIVED, timeout=False)
        finally:
            if token is not None:
                _PHASE.reset(token)
            for handle in opened:
                handle.close()
        raise failure

    def _failure(self, cause: BaseException, delivery: Delivery, *, timeout: bool) -> SendError:
        message = str(cause)
        if isinstance(cause, aiohttp.ClientHttpProxyError):
            message = f"the proxy refused the connection: HTTP {cause.status} {cause.message}"
        elif isinstance(cause, aiohttp.ClientProxyConnectionError) or (
            self._proxy is not None
            and isinstance(cause, aiohttp.ClientConnectorError)
            and not isinstance(cause, aiohttp.ClientSSLError)
        ):
            message = f"{message} (through the proxy {mask_url(self._proxy or '')})"
        elif isinstance(cause, aiohttp.ClientConnectorCertificateError):
            message = (
                f"{message}; the API's certificate is not trusted: give the CA that signed it"
                " as ssl= (a CA bundle path or an ssl.SSLContext)"
            )
        for secret in self._secrets:
            message = redact(message, secret)
        return SendError(
            message,
            delivery,
            timeout=timeout,
            cause_type=type(cause).__name__,
        )

    async def aclose(self) -> None:
        """Close the session if this transport opened it; later sends raise."""
        self._closed = True
        session, self._session = self._session, None
        if session is None or not self._owns_session or session.closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        finalizer, self._finalizer = self._finalizer, None
        if self._loop is loop:
            await session.close()
            if finalizer is not None:
                await finalizer.aclose()  # nothing left for it to close
        elif self._loop is not None and self._loop.is_running():
            # Its loop still runs (in another thread): close it there.
            future = asyncio.run_coroutine_threadsafe(session.close(), self._loop)
            await asyncio.wrap_future(future)
        else:
            self._drop(session)
