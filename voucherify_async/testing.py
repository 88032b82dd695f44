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
they carry an ``asyncio``, ``anyio`` or ``trio`` mark already (their own, their class's or
their module's); ``asyncio_mode = "auto"`` needs nothing either. A test is marked however it
reaches the fixtures: in its own signature, through fixtures of the project's, or through
``usefixtures``. In strict mode those async fixtures of the project's need
``@pytest_asyncio.fixture``; one written ``@pytest.fixture`` fails the test with a message
that says so.

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
from collections.abc import AsyncIterator, Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest.fixtures import SubRequest

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


#: The fixtures of this plugin; an ``async def`` test that reaches one, in its own signature
#: or through other fixtures, is an asyncio test.
FIXTURES = frozenset({"voucherify_client", "voucherify_emulator", "voucherify_emulator_server"})
#: Marks that say a test already has its async runner.
_RUNNER_MARKS = frozenset({"asyncio", "anyio", "trio"})

MISSING_PYTEST_ASYNCIO = (
    "the voucherify_client fixture needs pytest-asyncio: pip install pytest-asyncio"
    " (then async tests that reach it are marked asyncio by this plugin; your own async"
    " fixtures need @pytest_asyncio.fixture in its default strict mode)"
)


def async_fixture_message(test: str, fixture: str) -> str:
    """Why a test failed that reaches this plugin's fixtures through a plain async fixture."""
    return (
        f"{test!r} uses the async fixture {fixture!r}, declared with @pytest.fixture:"
        " in pytest-asyncio's strict mode (its default) an async fixture needs"
        " @pytest_asyncio.fixture (import pytest_asyncio), or set asyncio_mode = auto"
        " in the pytest configuration"
    )


try:
    import pytest_asyncio
except ImportError:
    HAS_PYTEST_ASYNCIO = False
else:
    HAS_PYTEST_ASYNCIO = True


def _is_async(function: object) -> bool:
    function = getattr(function, "__func__", function)  # a staticmethod
    inner = getattr(getattr(function, "hypothesis", None), "inner_test", None)  # @given
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(inner)


def _needs_asyncio_mark(node: pytest.Function, fixturenames: Iterable[str]) -> bool:
    """An ``async def`` test that reaches these fixtures and has no async runner's mark.

    ``fixturenames`` is the test's whole fixture closure: its own arguments, the fixtures
    those ask for in turn, ``usefixtures`` and autouse ones. The marks are the test's own,
    its class's and its module's (``pytestmark``).
    """
    if not HAS_PYTEST_ASYNCIO or not _is_async(node.obj):
        return False
    if FIXTURES.isdisjoint(fixturenames):
        return False
    return _RUNNER_MARKS.isdisjoint(mark.name for mark in node.iter_markers())


@pytest.hookimpl(wrapper=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> Generator[None, None, None]:
    """Mark the test's definition before pytest-asyncio parametrizes it (loop factories)."""
    if _needs_asyncio_mark(metafunc.definition, metafunc.fixturenames):
        metafunc.definition.add_marker(pytest.mark.asyncio)
    return (yield)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: Any
) -> Generator[None, Any, Any]:
    """Mark ``async def`` tests that reach these fixtures as asyncio tests (pytest-asyncio's
    strict mode runs only marked ones).

    The innermost wrapper of the hook, so the mark is there when pytest-asyncio's own
    wrapper turns the collected items into its asyncio test items.
    """
    result = yield
    items = result if isinstance(result, list) else [result]
    for item in items:
        if isinstance(item, pytest.Function) and _needs_asyncio_mark(item, item.fixturenames):
            item.add_marker(pytest.mark.asyncio)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: SubRequest
) -> Generator[None, Any, Any]:
    """Say what to write when a test reaches these fixtures through an async fixture that
    pytest-asyncio's strict mode leaves alone (pytest's own error says only that pytest does
    not support async fixtures, with pytest-asyncio installed).
    """
    try:
        return (yield)
    except pytest.fail.Exception as error:
        if not (
            HAS_PYTEST_ASYNCIO
            and "requested an async fixture" in str(error)
            and not FIXTURES.isdisjoint(request.fixturenames)
            and _asyncio_mode(request.config) == "strict"
        ):
            raise
        message = async_fixture_message(request.node.name, fixturedef.argname)
        failed = pytest.fail.Exception(message, pytrace=False)
        # pytest raises its error before caching the outcome, which leaves the fixture half
        # set up: the next test using it would fail with a bare AssertionError. Cached as
        # pytest caches any other error of a fixture, it is torn down as usual.
        key = fixturedef.cache_key(request)
        fixturedef.cached_result = (None, key, (failed, error.__traceback__))
        raise failed from None


def _asyncio_mode(config: pytest.Config) -> str:
    mode = config.getoption("asyncio_mode", None) or config.getini("asyncio_mode")
    return str(getattr(mode, "value", mode))


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
