"""An aiohttp.web app: one AsyncVoucherify client per process, answers that fit the failure.

Run it with ``python -m aiohttp.web -P 8000 examples.aiohttp_app:make_app`` and the
``VOUCHERIFY_*`` variables set. `setup` opens the client with the app and closes it on
cleanup, and adds the middleware that answers the API's failures (503 with
``Retry-After`` for its rate limit, 504 for a timeout, 502 for an upstream failure); see
``examples/fastapi_app.py`` for why there is no ``max_concurrency``.
"""

from __future__ import annotations

from aiohttp import web

from voucherify_async import NotFoundError, RetryPolicy
from voucherify_async.contrib.aiohttp_web import CLIENT, setup


async def read_customer(request: web.Request) -> web.Response:
    client = request.app[CLIENT]
    try:
        customer = await client.customers.get(request.match_info["customer_id"])
    except NotFoundError:
        raise web.HTTPNotFound(text="no such customer") from None
    return web.json_response({"id": customer.id, "name": customer.name, "email": customer.email})


async def read_many(request: web.Request) -> web.Response:
    """``/customers?ids=a,b,c``: the lookups run at once; a missing one is ``null``."""
    wanted = [part for part in request.query.get("ids", "").split(",") if part][:100]
    found = await request.app[CLIENT].customers.get_many(wanted, concurrency=20)
    return web.json_response(
        {
            "customers": [
                None if customer is None else {"id": customer.id, "name": customer.name}
                for customer in found
            ]
        }
    )


def make_app(argv: list[str] | None = None) -> web.Application:
    app = web.Application()
    setup(app, deadline=2.0, retry=RetryPolicy.request_path())
    app.router.add_get("/customers/{customer_id}", read_customer)
    app.router.add_get("/customers", read_many)
    return app
