"""aiohttp.web: one client per process, and the right answer when the API fails.

Examples:
    ```python
    from aiohttp import web
    from voucherify_async.contrib.aiohttp_web import CLIENT, setup


    async def read(request: web.Request) -> web.Response:
        customer = await request.app[CLIENT].customers.get(request.match_info["id"])
        return web.json_response({"name": customer.name})


    app = web.Application()
    setup(app, deadline=2.0)
    app.router.add_get("/customers/{id}", read)
    ```
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from .._client import AsyncVoucherify
from ._web import HANDLED, answer_for, log_failure

__all__ = ["CLIENT", "error_middleware", "setup"]

#: Where `setup` puts the process's client: ``request.app[CLIENT]``.
CLIENT = web.AppKey("voucherify_async_client", AsyncVoucherify)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answer the API's failures: 503 with ``Retry-After`` for its rate limit, 504 when it
    did not answer in time, 502 when it failed; one log line each, no traceback.

    `NotFoundError` and the other answers about the request itself stay the app's.
    """
    try:
        return await handler(request)
    except HANDLED as error:
        answer = answer_for(error)
        assert answer is not None
        log_failure(request.method, request.path, error, answer)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)


def setup(app: web.Application, **options: Any) -> None:
    """Open one `AsyncVoucherify` with the app (closed on cleanup) and add `error_middleware`.

    ``options`` go to `AsyncVoucherify` (``deadline``, ``retry``, ``max_concurrency`` ...);
    handlers reach the client as ``request.app[CLIENT]``.
    """

    async def open_client(app: web.Application) -> AsyncIterator[None]:
        async with AsyncVoucherify(**options) as opened:
            app[CLIENT] = opened
            yield

    app.cleanup_ctx.append(open_client)
    app.middlewares.append(error_middleware)
