"""Small helpers shared by the end-to-end tests (SDK against the emulator over loopback HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
from aiohttp import web

from voucherify_async import (
    AsyncAction,
    AsyncVoucherify,
    LocalRateLimiter,
    RateLimit,
    RateLimiter,
)
from voucherify_async.emulator import Emulator

EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


def at(ms: int) -> datetime:
    """``EPOCH`` plus ``ms`` milliseconds."""
    return EPOCH + timedelta(milliseconds=ms)


def iso(moment: datetime) -> str:
    """``moment`` as the emulator's seed ``start`` takes it."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


async def requests_total(emulator: Emulator) -> int:
    """How many /v1 requests the emulator has received since its last reset."""
    total: int = (await emulator.stats())["requests_total"]
    return total


async def wait_for_requests(emulator: Emulator, count: int) -> int:
    """Poll the emulator until it has received ``count`` requests (at most 5 s); return it."""
    with anyio.fail_after(5):
        seen = await requests_total(emulator)
        while seen < count:  # the counter lives in the emulator: poll it
            await asyncio.sleep(0.01)
            seen = await requests_total(emulator)
    return seen


async def finished(client: AsyncVoucherify, action_id: str, seconds: float = 10.0) -> AsyncAction:
    """Poll an async action until it is DONE or FAILED (at most ``seconds``)."""
    with anyio.fail_after(seconds):
        while True:
            action = await client.async_actions.get(action_id)
            if action.status in ("DONE", "FAILED"):
                return action
            await asyncio.sleep(0.02)


async def short_sleep(seconds: float) -> None:
    """A ``sleep=`` for clients whose retry backoff must be short (real waits, capped at 20 ms).

    For tests of *what* is retried; the waits the server asks for (``Retry-After`` and the
    rate-limit headers) are still honoured, since the transport keeps asking the limiter.
    """
    await asyncio.sleep(min(seconds, 0.02))


@asynccontextmanager
async def serve(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """An aiohttp.web server on loopback answering every route with ``handler``; its URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


class SentAfterAnnouncement:
    """A `RateLimiter` that records, for every attempt, whether it left before or after the
    first answer announcing a new limit, and how it ended.

    It wraps a real limiter (the client's default `LocalRateLimiter`, or a shared one) and
    only watches: every decision is the wrapped limiter's. An attempt is paired with its
    answer by the task that runs it (the transport reserves and settles in the call's task).
    """

    def __init__(self, limit: int, inner: RateLimiter | None = None) -> None:
        self.inner: RateLimiter = LocalRateLimiter() if inner is None else inner
        self.limit = limit
        self.announced = False
        #: Requests in flight (beside the announcing one) when the first announcement came.
        self.in_flight_at_announcement: int | None = None
        #: (sent after the announcement, status or None) of every attempt settled.
        self.attempts: list[tuple[bool, int | None]] = []
        self._sent: dict[asyncio.Task[Any], bool] = {}

    async def reserve(self) -> float:
        wait = await self.inner.reserve()
        if wait <= 0:
            task = asyncio.current_task()
            assert task is not None
            self._sent[task] = self.announced
        return wait

    async def settle(self, status: int | None, rate_limit: RateLimit | None) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.attempts.append((self._sent.pop(task), status))
        if not self.announced and rate_limit is not None and rate_limit.limit == self.limit:
            self.announced = True
            self.in_flight_at_announcement = len(self._sent)
        await self.inner.settle(status, rate_limit)

    async def hold(self, until: float) -> None:
        await self.inner.hold(until)

    def statuses(self, *, sent_after: bool) -> list[int | None]:
        """The statuses of the attempts sent before (or after) the announcement."""
        return [status for after, status in self.attempts if after is sent_after]


class FakeTime:
    """A clock the client's sleep moves forward: rate-limit waits and backoffs take no real
    time (pass ``clock=fake.clock, sleep=fake.sleep`` to the client)."""

    def __init__(self) -> None:
        import time

        self.now = time.time()
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
