"""FastAPI and Starlette: one client per process, and the right answer when the API fails.

Examples:
    ```python
    from fastapi import Depends, FastAPI
    from voucherify_async import AsyncVoucherify, RetryPolicy
    from voucherify_async.contrib.starlette import add_error_handlers, client, lifespan

    app = FastAPI(lifespan=lifespan(retry=RetryPolicy.request_path(), deadline=2.0))
    add_error_handlers(app)


    @app.get("/customers/{customer_id}")
    async def read(customer_id: str, vf: AsyncVoucherify = Depends(client)):
        return (await vf.customers.get(customer_id)).name
    ```

Needs Starlette (FastAPI brings it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from .._client import AsyncVoucherify
from ._web import HANDLED, answer_for, log_failure

__all__ = ["add_error_handlers", "client", "error_response", "lifespan"]

STATE_NAME = "voucherify"


def lifespan(**options: Any) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A lifespan that opens one `AsyncVoucherify` for the process and closes it on shutdown.

    ``options`` go to `AsyncVoucherify` (``deadline``, ``retry``, ``max_concurrency`` ...).
    The client is ``app.state.voucherify``; handlers get it with ``Depends(client)``.
    """

    @asynccontextmanager
    async def run(app: Any) -> AsyncIterator[None]:
        async with AsyncVoucherify(**options) as opened:
            setattr(app.state, STATE_NAME, opened)
            try:
                yield
            finally:
                delattr(app.state, STATE_NAME)

    return run


async def client(connection: HTTPConnection) -> AsyncVoucherify:
    """The process's client, for ``Depends(client)`` (set up by `lifespan`).

    A coroutine function, so FastAPI calls it on the event loop rather than in its thread
    pool (a thread hop per request costs more than the whole lookup here).
    """
    opened: AsyncVoucherify | None = getattr(connection.app.state, STATE_NAME, None)
    if opened is None:
        raise RuntimeError(
            "no AsyncVoucherify on app.state: create the app with"
            " lifespan=voucherify_async.contrib.starlette.lifespan(...)"
        )
    return opened


async def error_response(request: Request, error: Exception) -> Response:
    """The exception handler: the answer of `voucherify_async.contrib._web.answer_for`."""
    answer = answer_for(error)
    if answer is None:  # not one of HANDLED: registered by the app itself for this type
        raise error
    log_failure(request.method, request.url.path, error, answer)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


def add_error_handlers(app: Starlette) -> None:
    """Answer the API's failures for the app: 503 with ``Retry-After`` for its rate limit,
    504 when it did not answer in time, 502 when it failed; one log line each, no traceback.

    `NotFoundError` and the other answers about the request itself stay the app's to handle.
    """
    for kind in HANDLED:
        app.add_exception_handler(kind, error_response)
