"""The aiohttp `HTTPTransport`: the only module of the client that touches aiohttp.

It owns the session it opens (lazily, inside the running event loop) and leaves a session
passed in open; it tells "not sent" from "may have arrived" with its connector;
it sends large JSON bodies as an explicit ``BytesIOPayload``.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from .._core.request import FileUpload
from .._core.retry import Delivery
from .._exceptions import ClientClosedError, redact
from .._version import __version__
from .http import Body, SendError

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
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        max_connections: int = 100,
        secret: str = "",
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self._secret = secret
        self._closed = False
        self._timeouts: dict[float | None, aiohttp.ClientTimeout] = {}

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session in use; ``None`` before the first request of an owned session."""
        return self._session

    @property
    def owns_session(self) -> bool:
        """Whether this transport opened its session (rather than being given one)."""
        return self._owns_session

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError(_CLOSED_MESSAGE)
        session = self._session
        if session is None:
            connector = _Connector(limit=self._max_connections)
            session = self._session = aiohttp.ClientSession(connector=connector)
        elif session.closed:
            raise ClientClosedError("the aiohttp.ClientSession given to AsyncVoucherify is closed")
        return session

    def _timeout(self, timeout: float | None) -> aiohttp.ClientTimeout:
        value = self._timeouts.get(timeout)
        if value is None:
            value = self._timeouts[timeout] = aiohttp.ClientTimeout(
                total=timeout, sock_connect=None if timeout is None else min(timeout, 10.0)
            )
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
        if session is None or self._closed or not self._owns_session:
            # A session of our own is closed by aclose() alone, which sets _closed.
            session = self._open()
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
        except aiohttp.ClientError as exc:
            failure = self._failure(exc, Delivery.MAY_HAVE_ARRIVED, timeout=False)
        finally:
            if token is not None:
                _PHASE.reset(token)
            for handle in opened:
                handle.close()
        raise failure

    def _failure(self, cause: BaseException, delivery: Delivery, *, timeout: bool) -> SendError:
        return SendError(
            redact(str(cause), self._secret),
            delivery,
            timeout=timeout,
            cause_type=type(cause).__name__,
        )

    async def aclose(self) -> None:
        """Close the session if this transport opened it; later sends raise."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()
