"""The clients the HTTP benchmarks compare, each doing "get one customer" its own way.

The vendor SDK runs in a process of its own (:class:`VendorProcess`), commanded one timed
round at a time: importing it builds some 280,000 objects (1,400 pydantic models), and in the
same process as the async clients every full garbage collection would walk them, slowing
the async clients by up to 20% for reasons that have nothing to do with them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from ._common import APP_ID, APP_TOKEN, receive

__all__ = ["AUTH_HEADERS", "CUSTOMER_ID", "VendorProcess", "vendor_customers_api"]

CUSTOMER_ID = "cust_CSnYd37MXmrbS19XCrghjBsv"

AUTH_HEADERS = {"X-App-Id": APP_ID, "X-App-Token": APP_TOKEN, "Accept": "application/json"}


def vendor_customers_api(
    base_url: str, *, pool_size: int | None = None, app_id: str = APP_ID,
    app_token: str = APP_TOKEN,
) -> Any:  # fmt: skip
    """The vendor SDK's ``CustomersApi`` pointed at ``base_url``.

    ``pool_size`` sets urllib3's connections per host (the SDK's default is 5 per CPU), so a
    thread pool of that size never opens and drops connections.
    """
    from voucherify.api.customers_api import CustomersApi
    from voucherify.api_client import ApiClient
    from voucherify.configuration import Configuration

    configuration = Configuration(
        host=base_url, api_key={"X-App-Id": app_id, "X-App-Token": app_token}
    )
    if pool_size is not None:
        configuration.connection_pool_maxsize = pool_size
    return CustomersApi(ApiClient(configuration))


def _ids(calls: int) -> list[str]:
    return [f"cust_bench{i:019d}" for i in range(calls)]


def _vendor_main(conn: Connection, base_url: str, threads: int) -> None:
    """The vendor process: build the client, then time each round it is asked for."""
    from ._peers import pin_clients

    pin_clients()
    api = vendor_customers_api(base_url, pool_size=max(threads, 1))
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    conn.send("ready")
    try:
        while True:
            calls = conn.recv()
            if calls is None:
                break
            ids = _ids(calls) if pool is not None else [CUSTOMER_ID] * calls
            started = time.perf_counter()
            if pool is not None:
                answers = list(pool.map(api.get_customer, ids))
            else:
                answers = [api.get_customer(customer_id) for customer_id in ids]
            elapsed = time.perf_counter() - started
            assert len(answers) == calls and answers[-1].id
            conn.send(elapsed)
    finally:
        if pool is not None:
            pool.shutdown()
        api.api_client.rest_client.pool_manager.clear()


class VendorProcess:
    """The vendor SDK's ``get_customer`` in a process of its own.

    ``threads == 1``: calls one after the other; otherwise from a ``ThreadPoolExecutor`` of
    that many threads, one shared ``ApiClient`` (urllib3's pool is thread-safe) with as many
    pooled connections. :meth:`round` times ``calls`` calls and returns the seconds taken.
    """

    def __init__(self, base_url: str, *, threads: int = 1) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_vendor_main, args=(child, base_url, threads), name="bench-vendor-sdk",
            daemon=True,
        )  # fmt: skip
        self._child = child

    def __enter__(self) -> VendorProcess:
        self._process.start()
        try:
            receive(self._conn, self._process, 120, "the vendor SDK process")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def round(self, calls: int) -> float:
        """Seconds the vendor SDK took for ``calls`` calls."""
        self._conn.send(calls)
        elapsed: float = receive(self._conn, self._process, 1800, "the vendor SDK process")
        return elapsed

    def close(self) -> None:
        """Stop the process (politely, then not)."""
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(10)
        self._conn.close()
        self._child.close()
