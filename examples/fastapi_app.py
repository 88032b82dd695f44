"""A FastAPI app sharing one AsyncVoucherify client across requests.

The client is opened in the lifespan and closed when the app stops; every request handler
gets it from ``request.app.state``. Run it with ``uvicorn examples.fastapi_app:app`` and
the ``VOUCHERIFY_*`` variables set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request

from voucherify_async import AsyncVoucherify, NotFoundError


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with AsyncVoucherify(max_concurrency=50) as client:
        app.state.voucherify = client
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/customers/{customer_id}")
async def read_customer(customer_id: str, request: Request) -> dict[str, object]:
    client: AsyncVoucherify = request.app.state.voucherify
    try:
        customer = await client.customers.get(customer_id)
    except NotFoundError:
        raise HTTPException(status_code=404, detail="no such customer") from None
    return {"id": customer.id, "name": customer.name, "email": customer.email}
