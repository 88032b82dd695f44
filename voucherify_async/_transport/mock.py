"""`MockTransport`: answer the client's requests from a function, without a server.

As httpx's ``MockTransport`` does: the handler receives a `MockRequest` and returns a
`MockResponse` (or a coroutine of one), or raises `SendError` to simulate a dropped
connection or a timeout. Everything above the send interface (retries, rate limits,
decoding, errors) runs as it does against the API.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec
from multidict import CIMultiDict, CIMultiDictProxy

from .._core.request import FileUpload
from .http import Body

__all__ = ["MockRequest", "MockResponse", "MockTransport"]


class MockRequest:
    """One request as the client sent it.

    Attributes:
        method: the HTTP method.
        url: the full URL, percent-encoded, as sent.
        path: the URL's path (still percent-encoded).
        params: the query parameters, decoded, in order (a list of pairs).
        headers: the request headers (case-insensitive).
        content: the JSON body's bytes (``b""`` for none).
        upload: the file of a ``multipart/form-data`` upload, or ``None``.
        timeout: the timeout of the attempt, in seconds.
    """

    __slots__ = ("content", "headers", "method", "params", "path", "timeout", "upload", "url")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body,
        timeout: float | None,
    ) -> None:
        parts = urlsplit(url)
        self.method = method
        self.url = url
        self.path = parts.path
        self.params = parse_qsl(parts.query, keep_blank_values=True)
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict(headers))
        self.content = body if isinstance(body, bytes) else b""
        self.upload = body if isinstance(body, FileUpload) else None
        self.timeout = timeout

    def json(self) -> Any:
        """The JSON body, decoded."""
        return msgspec.json.decode(self.content)

    def __repr__(self) -> str:
        return f"<MockRequest {self.method} {self.url}>"


class MockResponse:
    """An answer for a `MockTransport` handler to return.

    Args:
        status: the HTTP status.
        json: a value to send as the JSON body (encoded with msgspec).
        content: the raw body, when ``json`` is not given.
        headers: the answer's headers (rate-limit headers, ``Retry-After``...).

    Examples:
        ```python
        MockResponse(200, json={"id": "cust_1", "object": "customer"})
        ```
    """

    __slots__ = ("content", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        *,
        json: Any = None,
        content: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.content = msgspec.json.encode(json) if json is not None else content
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict(headers or {}))

    def __repr__(self) -> str:
        return f"<MockResponse {self.status}>"


Handler = Callable[[MockRequest], MockResponse | Awaitable[MockResponse]]


class MockTransport:
    """An `HTTPTransport` that answers every request with ``handler(request)``.

    Pass it as ``AsyncVoucherify(transport=MockTransport(handler))``. Every request is
    recorded in ``requests``, in order.

    Args:
        handler: a function (sync or async) from `MockRequest` to `MockResponse`; it may
            raise `SendError` to simulate a request that got no answer.

    Examples:
        ```python
        from voucherify_async import AsyncVoucherify, MockResponse, MockTransport

        def handler(request):
            assert request.path == "/v1/customers/bob"
            return MockResponse(200, json={"id": "cust_1", "source_id": "bob"})

        async with AsyncVoucherify(
            app_id="id", app_token="token", transport=MockTransport(handler)
        ) as vf:
            customer = await vf.customers.get("bob")
        ```
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[MockRequest] = []
        self.closed = False

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body,
        timeout: float | None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Answer one request with the handler; see `HTTPTransport.send`."""
        request = MockRequest(method, url, headers, body, timeout)
        self.requests.append(request)
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, MockResponse):
            raise TypeError(
                f"a MockTransport handler must return a MockResponse, got {type(answer).__name__}"
            )
        return answer.status, answer.headers, answer.content

    async def aclose(self) -> None:
        """Mark the transport closed (a client does not close a transport passed in)."""
        self.closed = True
