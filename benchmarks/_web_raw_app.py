"""The web benchmark's peer: ``examples.fastapi_app`` written by hand on raw aiohttp.

Run it with ``uvicorn benchmarks._web_raw_app:app`` and the ``VOUCHERIFY_*`` variables set.
The same two endpoints and answers as the example, as a hand-written app does them:

- one ``aiohttp.ClientSession`` for the process, opened by the lifespan (aiohttp's default
  connector, 100 connections, and its default timeout), the credentials as its headers;
- each answer decoded into ``Customer`` with ``msgspec.json.decode(body, type=Customer)``,
  the same typed work as the SDK's;
- ``/customers?ids=a,b,c``: ``asyncio.gather`` over the ids, a ``Semaphore(20)`` keeping
  20 lookups in flight, a missing customer ``null``;
- a missing customer is a 404; any other failure (a 5xx, a 429, a dropped connection) a
  500: no retry, no deadline, no ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import aiohttp
import msgspec
from fastapi import FastAPI, HTTPException, Query, Request

from voucherify_async.models import Customer

CONCURRENCY = 20


class _Missing(Exception):
    """The API answered 404."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    headers = {
        "X-App-Id": os.environ["VOUCHERIFY_APP_ID"],
        "X-App-Token": os.environ["VOUCHERIFY_APP_TOKEN"],
    }
    async with aiohttp.ClientSession(headers=headers) as session:
        app.state.session = session
        app.state.base_url = os.environ["VOUCHERIFY_BASE_URL"].rstrip("/")
        yield


app = FastAPI(lifespan=lifespan)


async def _get(request: Request, customer_id: str) -> Customer:
    session: aiohttp.ClientSession = request.app.state.session
    url = f"{request.app.state.base_url}/v1/customers/{customer_id}"
    async with session.get(url) as response:
        body = await response.read()
        status = response.status
    if status == 404:
        raise _Missing(customer_id)
    if status != 200:
        raise HTTPException(status_code=500, detail=f"the API answered {status}")
    return msgspec.json.decode(body, type=Customer)


@app.get("/customers/{customer_id}")
async def read_customer(customer_id: str, request: Request) -> dict[str, object]:
    try:
        customer = await _get(request, customer_id)
    except _Missing:
        raise HTTPException(status_code=404, detail="no such customer") from None
    return {"id": customer.id, "name": customer.name, "email": customer.email}


@app.get("/customers")
async def read_many(
    request: Request, ids: Annotated[str, Query(max_length=4000)]
) -> dict[str, object]:
    """``/customers?ids=a,b,c``: the lookups at once, 20 at a time; a missing one ``null``."""
    wanted = [part for part in ids.split(",") if part][:100]
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(customer_id: str) -> Customer | None:
        async with slots:
            try:
                return await _get(request, customer_id)
            except _Missing:
                return None

    found = await asyncio.gather(*(one(customer_id) for customer_id in wanted))
    return {
        "customers": [
            None if customer is None else {"id": customer.id, "name": customer.name}
            for customer in found
        ]
    }
