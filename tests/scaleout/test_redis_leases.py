"""A process's requests in flight count while it lives, and stop counting soon after it dies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import redis.asyncio as aioredis

from voucherify_async import RateLimit
from voucherify_async.contrib.redis import DEFAULT_LEASE, RedisRateLimiter

from .redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from voucherify_async.contrib.redis import RedisRateLimiter

    async def main():
        limiter = RedisRateLimiter(sys.argv[1], app_id="leases", on_unavailable="error")
        for _ in range(16):
            assert await limiter.reserve() == 0.0
        print("holding", flush=True)
        await asyncio.sleep(3600)  # 16 requests in flight, never answered

    asyncio.run(main())
    """
)


async def counted(server: RedisServer, limiter: RedisRateLimiter) -> int:
    """The requests in flight whose lease has not ended."""
    client = aioredis.Redis.from_url(server.url)
    try:
        return int(await client.zcount(limiter.keys[1], f"({time.time()}", "+inf"))
    finally:
        await client.aclose()


async def test_a_killed_process_stops_holding_its_requests_within_seconds(
    redis_server: RedisServer,
) -> None:
    assert DEFAULT_LEASE <= 5
    observer = RedisRateLimiter(redis_server.url, app_id="leases", on_unavailable="error")
    # 16 requests left in a period of a minute.
    assert await observer.reserve() == 0.0
    await observer.settle(200, RateLimit(limit=300, remaining=16, retry_at=time.time() + 60))
    holder = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block
        [sys.executable, "-c", HOLDER, redis_server.url],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None
        with anyio.fail_after(20):
            line = await asyncio.to_thread(holder.stdout.readline)
        assert line.strip() == b"holding"
        assert await counted(redis_server, observer) == 16
        assert await observer.reserve() > 0  # the budget is all in flight
        # Alive, the holder renews its leases: they outlast one lease and more.
        await asyncio.sleep(DEFAULT_LEASE + 1.5)
        assert holder.poll() is None
        assert await counted(redis_server, observer) == 16
        assert await observer.reserve() > 0
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        killed = time.monotonic()
        assert await observer.reserve() > 0  # still counted right after the kill
        with anyio.fail_after(15):
            while await observer.reserve() != 0.0:  # noqa: ASYNC110 - polling is the measure
                await asyncio.sleep(0.05)
        released = time.monotonic() - killed
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    print(f"the killed process's 16 requests stopped counting after {released:.2f} s")
    assert released < 5.0, released
    assert await counted(redis_server, observer) == 1  # only the observer's own request
    await observer.aclose()


async def test_leases_are_renewed_in_one_call_and_only_while_in_flight(
    redis_server: RedisServer,
) -> None:
    limiter = RedisRateLimiter(redis_server.url, app_id="renew", lease=0.6)
    tasks_before = len(asyncio.all_tasks())
    assert await limiter.reserve() == 0.0
    await limiter.settle(200, RateLimit(limit=300, remaining=100, retry_at=time.time() + 60))
    for _ in range(5):
        assert await limiter.reserve() == 0.0
    await asyncio.sleep(1.5)  # well past the lease: renewed meanwhile
    assert await counted(redis_server, limiter) == 5
    for _ in range(5):
        await limiter.settle(200, None)
    assert await counted(redis_server, limiter) == 0
    await asyncio.sleep(0.5)
    assert len(asyncio.all_tasks()) == tasks_before  # nothing in flight: no renewal runs
    await limiter.aclose()


async def test_aclose_stops_the_renewal(redis_server: RedisServer) -> None:
    limiter = RedisRateLimiter(redis_server.url, app_id="close", lease=0.6)
    tasks_before = len(asyncio.all_tasks())
    assert await limiter.reserve() == 0.0
    assert len(asyncio.all_tasks()) == tasks_before + 1  # the renewal, while in flight
    await limiter.aclose()
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == tasks_before
    await asyncio.sleep(0.8)
    # Still unsettled, yet no longer counted: nothing renews its lease after aclose().
    assert await counted(redis_server, limiter) == 0


def test_each_event_loop_renews_its_own_requests(redis_server: RedisServer) -> None:
    limiter = RedisRateLimiter(redis_server.url, app_id="loops", lease=0.6)

    async def hold() -> int:
        assert await limiter.reserve() == 0.0
        await asyncio.sleep(1.2)
        alive = await counted(redis_server, limiter)
        await limiter.settle(None, None)
        return alive

    assert [asyncio.run(hold()) for _ in range(2)] == [1, 1]
    asyncio.run(limiter.aclose())
