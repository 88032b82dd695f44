"""An aiohttp.web app sharing one AsyncVoucherify client across requests.

The client lives in a cleanup context: opened when the app starts, closed when it stops.
Run it with ``python -m aiohttp.web -P 8000 examples.aiohttp_app:make_app`` and the
``VOUCHERIFY_*`` variables set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from voucherify_async import AsyncVoucherify, NotFoundError

CLIENT = web.AppKey("voucherify", AsyncVoucherify)


async def voucherify_client(app: web.Application) -> AsyncIterator[None]:
    async with AsyncVoucherify(max_concurrency=50) as client:
        app[CLIENT] = client
        yield


async def read_customer(request: web.Request) -> web.Response:
    client = request.app[CLIENT]
    try:
        customer = await client.customers.get(request.match_info["customer_id"])
    except NotFoundError:
        raise web.HTTPNotFound(text="no such customer") from None
    return web.json_response({"id": customer.id, "name": customer.name, "email": customer.email})


def make_app(argv: list[str] | None = None) -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(voucherify_client)
    app.router.add_get("/customers/{customer_id}", read_customer)
    return app
