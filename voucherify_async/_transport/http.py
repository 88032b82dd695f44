"""The send interface: the one coroutine the transport sends every attempt through.

An `HTTPTransport` takes a method, a URL, headers, a body and a timeout and returns the
answer's status, headers and body, or raises `SendError`, which says what is known of the
attempt (nothing was sent, or it may have arrived) in plain strings: never the HTTP
library's exception, whose request details hold the app token. The aiohttp implementation
is `aiohttp_transport.AiohttpTransport`; `voucherify_async.MockTransport` answers from a
function, for tests without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from .._core.request import FileUpload
from .._exceptions import SendError

__all__ = ["Body", "HTTPTransport", "SendError"]

#: A request body: JSON bytes, a file for a ``multipart/form-data`` upload, or nothing.
Body = bytes | FileUpload | None


class HTTPTransport(Protocol):
    """Sends one HTTP request and returns the answer; all the client needs of HTTP."""

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body,
        timeout: float | None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send one request and read the whole answer.

        Args:
            method: the HTTP method.
            url: the full URL, already percent-encoded.
            headers: the request headers (the app token among them).
            body: the body, see `Body`.
            timeout: seconds allowed for the attempt (``None``: no limit).

        Returns:
            The status, the headers (case-insensitive lookup) and the body.

        Raises:
            SendError: no answer came.
        """
        ...

    async def aclose(self) -> None:
        """Release what the transport opened (its connection pool)."""
        ...
