"""The event loop of the end-to-end tests: asyncio's default, or uvloop on request.

``VOUCHERIFY_TEST_LOOP=uvloop pytest tests/e2e`` runs every async test of this folder on a
uvloop event loop (``make test`` runs the API, streaming, fan-out and pacing ones so, after
running them all on asyncio's loop), so nothing in the package may assume
asyncio's own loop or its transports. Unset, or ``asyncio``, the tests run on asyncio's
default loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest

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
