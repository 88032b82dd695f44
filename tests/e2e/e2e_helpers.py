"""Small helpers shared by the end-to-end tests (SDK against the emulator over loopback HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import anyio
from aiohttp import web

from voucherify_async import AsyncAction, AsyncVoucherify
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
