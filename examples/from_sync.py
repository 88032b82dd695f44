"""The client from synchronous code: a script, a WSGI view (Django, Flask), a Celery task.

Three patterns, each run at the bottom against the API (or the emulator) the
``VOUCHERIFY_*`` variables name. Run it: ``python examples/from_sync.py``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from anyio.from_thread import BlockingPortal, start_blocking_portal

from voucherify_async import AsyncVoucherify, Customer

# --- 1. A script or a Celery task: asyncio.run per call --------------------------------
#
# One client for the process, made at import time (no event loop runs yet). Each
# asyncio.run() starts a new loop; the client opens a new connection pool in it and closes
# the old one as that loop ends. Simple, and right for work that is a few calls per task;
# each call pays for a new connection.

vf = AsyncVoucherify()


def customer_name(customer_id: str) -> str | None:
    """A plain function any synchronous code can call."""

    async def fetch() -> str | None:
        return (await vf.customers.get(customer_id)).name

    return asyncio.run(fetch())


# --- 2. A WSGI app (Django, Flask): one event loop in a thread, for the whole process -----
#
# Every view calls into the same loop through an anyio portal, so connections are kept
# alive between requests and the client's pacing and max_concurrency hold across threads.
# The client is made inside the portal's loop and used only there.


class Voucherify:
    """A synchronous face of one `AsyncVoucherify`, for threads that have no event loop."""

    def __init__(self, portal: BlockingPortal) -> None:
        self._portal = portal
        self._client = portal.call(self._make)

    @staticmethod
    async def _make() -> AsyncVoucherify:
        return AsyncVoucherify(max_concurrency=50)

    def get(self, customer_id: str) -> Customer:
        customer: Customer = self._portal.call(self._client.customers.get, customer_id)
        return customer

    def close(self) -> None:
        self._portal.call(self._client.aclose)


@contextmanager
def voucherify_in_a_thread() -> Iterator[Voucherify]:
    """Start the loop thread once (Django: AppConfig.ready; Flask: app factory)."""
    with start_blocking_portal() as portal:
        client = Voucherify(portal)
        try:
            yield client
        finally:
            client.close()


def view(client: Voucherify, customer_id: str) -> dict[str, str | None]:
    """What a Django or Flask view does with it: an ordinary blocking call."""
    customer = client.get(customer_id)
    return {"id": customer.id, "name": customer.name}


# --- 3. Several threads at once: each thread its own client ----------------------------
#
# A client belongs to one running event loop. Two threads that each run their own loop
# need a client each (or share one loop through a portal, as above); using one client
# from two running loops raises EventLoopError before anything is sent.


def in_threads(customer_id: str, threads: int = 4) -> list[str | None]:
    names: list[str | None] = [None] * threads

    def work(index: int) -> None:
        async def fetch() -> str | None:
            async with AsyncVoucherify() as own:
                return (await own.customers.get(customer_id)).name

        names[index] = asyncio.run(fetch())

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return names


if __name__ == "__main__":
    print(customer_name("bob"), customer_name("bob"))  # two loops, one client
    asyncio.run(vf.aclose())
    with voucherify_in_a_thread() as client:
        results = [view(client, "bob") for _ in range(3)]
        print(results[0])
    print(in_threads("bob"))
