"""The event loop of the end-to-end tests: asyncio's default, or uvloop on request.

``VOUCHERIFY_TEST_LOOP=uvloop pytest tests/e2e`` runs every async test of this folder on a
uvloop event loop (``make test`` runs the API, streaming, fan-out and pacing ones so, after
running them all on asyncio's loop), so nothing in the package may assume
asyncio's own loop or its transports. Unset, or ``asyncio``, the tests run on asyncio's
default loop.

``proxy`` and ``auth_proxy`` are real HTTP proxies (tinyproxy, see ``proxy_server``; run
``scripts/ensure-proxy.sh`` to install it), one per test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from proxy_server import TinyProxy

LOOP = os.environ.get("VOUCHERIFY_TEST_LOOP", "asyncio")
if LOOP not in ("asyncio", "uvloop"):
    raise pytest.UsageError(f"VOUCHERIFY_TEST_LOOP must be 'asyncio' or 'uvloop', not {LOOP!r}")

if LOOP == "uvloop":
    import uvloop

    def pytest_asyncio_loop_factories(
        config: pytest.Config, item: pytest.Item
    ) -> Mapping[str, Callable[[], Any]]:
        """Every async test of this folder on a new uvloop event loop."""
        return {"uvloop": uvloop.new_event_loop}


@pytest.fixture
def proxy() -> Iterator[TinyProxy]:
    """A tinyproxy on a free loopback port, without authentication."""
    server = TinyProxy()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def auth_proxy() -> Iterator[TinyProxy]:
    """A tinyproxy asking for Basic authentication (its ``user`` and ``password``)."""
    server = TinyProxy("proxy-user", "proxy-secret")
    server.start()
    try:
        yield server
    finally:
        server.cleanup()
