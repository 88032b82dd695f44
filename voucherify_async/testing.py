"""The pytest plugin: fixtures that run the local Voucherify emulator for a test suite.

Every project that installs ``voucherify-async`` gets it (the ``pytest11`` entry point):

* ``voucherify_emulator_server`` (session): one emulator, started once in a background
  thread so that every test's event loop can reach it.
* ``voucherify_emulator``: the same server, its state reset before the test (customers,
  jobs, faults, counters), for seeding and fault injection (``await emu.seed_customers(10)``,
  ``await emu.script_faults([...])``; see `Emulator`).
* ``voucherify_client``: an `AsyncVoucherify` connected to the reset emulator, closed after
  the test. It needs pytest-asyncio (``pip install pytest-asyncio``); without it, a test
  that asks for it fails with a message that says so.

``async def`` tests that use these fixtures run under pytest-asyncio in either of its modes:
in ``strict`` mode (its default) the plugin marks them ``@pytest.mark.asyncio`` itself, unless
they carry an ``asyncio``, ``anyio`` or ``trio`` mark already; ``asyncio_mode = "auto"``
needs nothing either.

Examples:
    ```python
    async def test_signup(voucherify_client):
        customer = await voucherify_client.customers.create(source_id="s1")
        assert (await voucherify_client.customers.get("s1")).id == customer.id
    ```
"""

from __future__ import annotations

import inspect
import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

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


#: The fixtures of this plugin; an ``async def`` test that asks for one is an asyncio test.
FIXTURES = frozenset({"voucherify_client", "voucherify_emulator", "voucherify_emulator_server"})
#: Marks that say a test already has its async runner.
_RUNNER_MARKS = frozenset({"asyncio", "anyio", "trio"})

MISSING_PYTEST_ASYNCIO = (
    "the voucherify_client fixture needs pytest-asyncio: pip install pytest-asyncio"
    " (nothing else to set: async tests that use it are marked asyncio by this plugin)"
)

try:
    import pytest_asyncio
except ImportError:
    HAS_PYTEST_ASYNCIO = False
else:
    HAS_PYTEST_ASYNCIO = True


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    """Mark ``async def`` tests that use these fixtures as asyncio tests (pytest-asyncio's
    strict mode runs only marked ones). Before collection, so pytest-asyncio sees the mark.
    """
    if not HAS_PYTEST_ASYNCIO or not inspect.iscoroutinefunction(obj):
        return
    if not isinstance(collector, (pytest.Class, pytest.Module)):
        return
    if not collector.funcnamefilter(name):
        return
    try:
        wanted = set(inspect.signature(obj).parameters)
    except (TypeError, ValueError):  # pragma: no cover - not introspectable
        return
    marks = {getattr(mark, "name", "") for mark in getattr(obj, "pytestmark", [])}
    if wanted & FIXTURES and not marks & _RUNNER_MARKS:
        pytest.mark.asyncio(obj)


if HAS_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def voucherify_client(voucherify_emulator: Emulator) -> AsyncIterator[AsyncVoucherify]:
        """A client connected to the freshly reset emulator; closed after the test.

        It ignores the environment's proxy settings, which cannot reach a loopback server.
        """
        client = voucherify_emulator.client()
        async with client:
            yield client

else:

    @pytest.fixture
    def voucherify_client() -> None:
        """Stands in for the client fixture without pytest-asyncio: fails saying so."""
        pytest.fail(MISSING_PYTEST_ASYNCIO, pytrace=False)
