"""Shared fixtures: a mocked API (aioresponses) and a client whose retries never sleep."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core

from voucherify_async import AsyncVoucherify, LocalRateLimiter, MockTransport
from voucherify_async._transport.aiohttp_transport import AiohttpTransport
from voucherify_async._transport.mock import Handler

BASE = "https://api.test.local"
APP_ID = "test-app-id"
APP_TOKEN = "test-secret-token-do-not-leak"


class _WriterDone:
    output_size = 0


class _CompatResponse(ClientResponse):
    """aioresponses builds responses without the ``stream_writer`` newer aiohttp requires."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _WriterDone())
        super().__init__(method, url, **kwargs)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    """Intercepts every aiohttp request; nothing reaches the network."""
    monkeypatch.setattr(aioresponses_core, "ClientResponse", _CompatResponse)
    with aioresponses() as mocked:
        yield mocked


class Sleeps(list[float]):
    """Records the waits a client asked for instead of sleeping, and moves a fake clock."""

    def __init__(self) -> None:
        super().__init__()
        self.now = time.time()

    def clock(self) -> float:
        return self.now

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    # Declared so that mypy's strict equality lets a list of `pytest.approx` be compared.
    def __eq__(self, other: object) -> bool:
        return super().__eq__(other)

    __hash__ = None  # a list, unhashable


def session_of(vf: AsyncVoucherify) -> ClientSession | None:
    """The aiohttp session of a client on the default transport, if it has one open."""
    transport = vf.transport
    assert isinstance(transport, AiohttpTransport)
    return transport.session


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def vf(api: aioresponses, sleeps: Sleeps) -> AsyncIterator[AsyncVoucherify]:
    client = AsyncVoucherify(
        app_id=APP_ID,
        app_token=APP_TOKEN,
        base_url=BASE,
        sleep=sleeps,
        clock=sleeps.clock,
        jitter=lambda: 0.0,
    )
    async with client:
        yield client


def url(path: str) -> re.Pattern[str]:
    """A pattern for a path on the test host, with any query string."""
    return re.compile(re.escape(BASE + path) + r"(\?.*)?$")


def calls(api: aioresponses) -> list[tuple[str, str, dict[str, Any]]]:
    """Every request made, in order: (method, url, kwargs)."""
    made = []
    for (method, request_url), requests in api.requests.items():
        for call in requests:
            made.append((method, str(request_url), call.kwargs))
    return made


def mock_client(handler: Handler, sleeps: Sleeps | None = None) -> AsyncVoucherify:
    """A client whose requests ``handler`` answers (no network); waits go to ``sleeps``."""
    sleeps = sleeps if sleeps is not None else Sleeps()
    return AsyncVoucherify(
        app_id=APP_ID,
        app_token=APP_TOKEN,
        base_url=BASE,
        transport=MockTransport(handler),
        sleep=sleeps,
        clock=sleeps.clock,
        jitter=lambda: 0.0,
    )


class RecordingLimiter(LocalRateLimiter):
    """The local limiter, noting the priority of every request it lets through."""

    def __init__(self) -> None:
        super().__init__()
        self.priorities: list[str] = []

    async def reserve(self, priority: str = "interactive") -> float:
        wait = await super().reserve(priority)  # type: ignore[arg-type]
        if wait <= 0:
            self.priorities.append(priority)
        return wait


@pytest.fixture
def recording_limiter() -> RecordingLimiter:
    """A `LocalRateLimiter` whose ``priorities`` list the priority of each request sent."""
    return RecordingLimiter()
