"""The pytest plugin: fixtures that run the local Voucherify emulator for a test suite.

Every project that installs ``voucherify-async`` gets it (the ``pytest11`` entry point):

* ``voucherify_emulator_server`` (session): one emulator, started once in a background
  thread so that every test's event loop can reach it.
* ``voucherify_emulator``: the same server, its state reset before the test (customers,
  jobs, faults, counters), for seeding and fault injection (``await emu.seed_customers(10)``,
  ``await emu.script_faults([...])``; see `Emulator`).
* ``voucherify_client`` (needs pytest-asyncio): an `AsyncVoucherify`
  connected to the reset emulator, closed after the test.

Examples:
    ```python
    async def test_signup(voucherify_client):
        customer = await voucherify_client.customers.create(source_id="s1")
        assert (await voucherify_client.customers.get("s1")).id == customer.id
    ```
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._client import AsyncVoucherify
    from .emulator import Emulator

__all__ = ["reset_emulator"]


def reset_emulator(emulator: Emulator) -> None:
    """Reset the emulator's state synchronously (usable from any test, sync or async).

    Everything goes back to how the server started, the rate limit included.
    """
    request = urllib.request.Request(
        f"{emulator.url}/_emulator/reset",
        data=json.dumps({"rate_limit": None}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


@pytest.fixture(scope="session")
def voucherify_emulator_server() -> Iterator[Emulator]:
    """One emulator for the whole test session, served from a background thread."""
    from .emulator import Emulator

    emulator = Emulator(mode="thread")
    emulator.start_sync()
    try:
        yield emulator
    finally:
        emulator.stop_sync()


@pytest.fixture
def voucherify_emulator(voucherify_emulator_server: Emulator) -> Emulator:
    """The session's emulator with fresh state: no customers, jobs, faults or counters."""
    reset_emulator(voucherify_emulator_server)
    return voucherify_emulator_server


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the client fixture needs pytest-asyncio
    pass
else:

    @pytest_asyncio.fixture
    async def voucherify_client(voucherify_emulator: Emulator) -> AsyncIterator[AsyncVoucherify]:
        """A client connected to the freshly reset emulator; closed after the test."""
        from ._client import AsyncVoucherify

        client = AsyncVoucherify(
            app_id=voucherify_emulator.app_id,
            app_token=voucherify_emulator.app_token,
            base_url=voucherify_emulator.url,
        )
        async with client:
            yield client
