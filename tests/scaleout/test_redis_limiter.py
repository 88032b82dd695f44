"""RedisRateLimiter against a real redis-server: atomicity, header corrections, expiry, outages."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import warnings
from typing import Any

import anyio
import pytest

from voucherify_async import ConfigurationError, LocalRateLimiter, RateLimit, RateLimiter
from voucherify_async.contrib.redis import (
    RedisCheckpointStore,
    RedisRateLimiter,
    RedisUnavailableError,
    redact_url,
)

from .redis_server import RedisServer, free_port


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def limiter(server: RedisServer, clock: Clock, **options: object) -> RedisRateLimiter:
    return RedisRateLimiter(server.url, app_id="app-1", clock=clock, **options)  # type: ignore[arg-type]


async def inform(lim: RedisRateLimiter, remaining: int, end: float, limit: int = 300) -> None:
    assert await lim.reserve() == 0.0
    await lim.settle(200, RateLimit(limit=limit, remaining=remaining, retry_at=end))


async def test_reserve_is_atomic_across_many_workers(redis_server: RedisServer) -> None:
    clock = Clock()
    workers = [limiter(redis_server, clock) for _ in range(4)]
    await inform(workers[0], remaining=10, end=clock.now + 30)
    # 200 concurrent reserves over 4 connections: exactly the 10 left may go.
    answers = await asyncio.gather(*(workers[i % 4].reserve() for i in range(200)))
    assert sum(1 for wait in answers if wait == 0.0) == 10
    assert all(wait > 0 for wait in answers if wait != 0.0)
    for lim in workers:
        await lim.aclose()


async def test_any_workers_answer_corrects_the_shared_budget(redis_server: RedisServer) -> None:
    clock = Clock()
    a, b = limiter(redis_server, clock), limiter(redis_server, clock)
    end = clock.now + 60
    await inform(a, remaining=100, end=end)
    # Another application on the key spent most of it: b's answer says 1 is left.
    assert await b.reserve() == 0.0
    await b.settle(200, RateLimit(limit=300, remaining=1, retry_at=end))
    assert await a.reserve() == 0.0
    # The last one is in flight: a waits (polls) rather than overrun it.
    assert await a.reserve() > 0
    await a.settle(200, RateLimit(limit=300, remaining=0, retry_at=end))
    wait = await b.reserve()
    assert wait == pytest.approx(60.0)
    # An answer from an older period (out of order) does not raise the count again.
    assert await a.reserve() > 0
    # The period ends: a fresh quota, up to the limit in flight.
    clock.now = end + 0.5
    assert await a.reserve() == 0.0
    await a.settle(200, RateLimit(limit=5, remaining=4, retry_at=clock.now + 60))  # plan change
    for _ in range(4):
        assert await b.reserve() == 0.0
    assert await b.reserve() > 0
    await a.aclose()
    await b.aclose()


async def test_hold_after_a_429_holds_every_worker(redis_server: RedisServer) -> None:
    clock = Clock()
    a, b = limiter(redis_server, clock), limiter(redis_server, clock)
    await inform(a, remaining=50, end=clock.now + 60)
    await a.hold(clock.now + 7.5)
    assert await b.reserve() == pytest.approx(7.5)
    await a.hold(clock.now + 2)  # an earlier hold never shortens a later one
    assert await b.reserve() == pytest.approx(7.5)
    clock.now += 7.5
    assert await b.reserve() == 0.0
    await a.aclose()
    await b.aclose()


async def test_a_dead_workers_in_flight_count_expires_after_one_lease(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    dead, alive = limiter(redis_server, clock, lease=10), limiter(redis_server, clock, lease=10)
    await inform(alive, remaining=2, end=clock.now + 60)
    assert await dead.reserve() == 0.0
    assert await dead.reserve() == 0.0  # both left are in flight; the worker dies
    assert await alive.reserve() > 0
    clock.now += 9.9
    assert await alive.reserve() > 0
    clock.now += 0.2  # past the lease
    assert await alive.reserve() == 0.0
    await dead.aclose()
    await alive.aclose()


async def test_before_any_answer_one_request_at_a_time(redis_server: RedisServer) -> None:
    clock = Clock()
    a, b = limiter(redis_server, clock), limiter(redis_server, clock)
    assert await a.reserve() == 0.0
    assert 0 < await b.reserve() < 0.1
    await a.settle(200, RateLimit(limit=300, remaining=299, retry_at=clock.now + 10))
    assert await b.reserve() == 0.0
    await a.aclose()
    await b.aclose()


async def test_settle_without_an_answer_frees_the_slot(redis_server: RedisServer) -> None:
    clock = Clock()
    lim = limiter(redis_server, clock)
    await inform(lim, remaining=1, end=clock.now + 60)
    assert await lim.reserve() == 0.0
    assert await lim.reserve() > 0
    await lim.settle(None, None)  # connection failed: nothing learnt, the slot is free
    assert await lim.reserve() == 0.0
    await lim.aclose()


async def test_redis_down_falls_back_to_local_pacing_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    url = f"redis://user:hunter2@127.0.0.1:{free_port()}/0"
    lim = RedisRateLimiter(url, app_id="app-1", clock=clock)
    with caplog.at_level(logging.WARNING, logger="voucherify_async"):
        assert await lim.reserve() == 0.0
        await lim.settle(200, RateLimit(limit=3, remaining=1, retry_at=clock.now + 60))
        assert await lim.reserve() == 0.0
        assert await lim.reserve() > 0  # the local pacer still paces from the headers
    assert lim.falling_back
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "127.0.0.1" in warnings[0] and "hunter2" not in warnings[0]
    await lim.aclose()


async def test_redis_down_with_policy_error_names_the_url_not_the_password() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    lim = RedisRateLimiter(url, app_id="app-1", on_unavailable="error")
    with pytest.raises(RedisUnavailableError) as caught:
        await lim.reserve()
    error = caught.value
    assert f"127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}" in str(error)
    assert "hunter2" not in str(error) + repr(error) + error.url + repr(lim)
    assert error.__cause__ is None
    await lim.aclose()


async def test_redis_restarted_mid_scan_the_run_goes_on(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    lim = RedisRateLimiter(redis_server.url, app_id="app-1", retry_redis_after=0.0)
    now = time.time()
    await inform(lim, remaining=100, end=now + 60)
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="voucherify_async"):
        assert await lim.reserve() == 0.0  # local pacing
        await lim.settle(200, RateLimit(limit=300, remaining=98, retry_at=now + 60))
        redis_server.start()  # empty: state and the script cache are gone
        assert await lim.reserve() == 0.0
        assert not lim.falling_back
        await lim.settle(200, RateLimit(limit=300, remaining=97, retry_at=now + 60))
        assert await lim.reserve() == 0.0
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "cannot reach Redis" in messages and "again" in messages
    await lim.aclose()


def test_bad_arguments_are_refused_before_any_request() -> None:
    with pytest.raises(ConfigurationError, match="exactly one of url= or client="):
        RedisRateLimiter(app_id="a")
    with pytest.raises(ConfigurationError, match="app_id"):
        RedisRateLimiter("redis://127.0.0.1:1/0", app_id="")
    with pytest.raises(ConfigurationError, match="on_unavailable"):
        RedisRateLimiter("redis://127.0.0.1:1/0", app_id="a", on_unavailable="ignore")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="lease"):
        RedisRateLimiter("redis://127.0.0.1:1/0", app_id="a", lease=0)
    with pytest.raises(ConfigurationError, match="host"):
        RedisRateLimiter("redis://127.0.0.1:1/0", app_id="a", host="https://x/")


def test_keys_are_per_app_and_host() -> None:
    one = RedisRateLimiter("redis://127.0.0.1:1/0", app_id="a")
    other = RedisRateLimiter("redis://127.0.0.1:1/0", app_id="a", host="us1.api.voucherify.io")
    assert one.keys != other.keys and "{a@api.voucherify.io}" in one.keys[0]
    assert redact_url("redis://u:p@h:1/0") == "redis://u:***@h:1/0"


async def test_a_spent_billing_quota_says_nothing_about_the_period(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    lim = limiter(redis_server, clock)
    await inform(lim, remaining=10, end=clock.now + 60)
    assert await lim.reserve() == 0.0
    spent = RateLimit(limit=300, remaining=0, retry_at=clock.now + 60, type="api_calls_cycle")
    await lim.settle(429, spent)
    assert await lim.reserve() == 0.0  # the period's count was not taken from it
    await lim.aclose()


def test_it_is_a_rate_limiter_for_the_client() -> None:
    from voucherify_async import AsyncVoucherify, RateLimiter

    lim = RedisRateLimiter("redis://127.0.0.1:1/0", app_id="a")
    assert isinstance(lim, RateLimiter)
    client = AsyncVoucherify(app_id="a", app_token="t", rate_limiter=lim)
    assert "hunter" not in repr(client)


def test_one_client_and_limiter_across_successive_event_loops(redis_server: RedisServer) -> None:
    """As in a Celery task: a client and its Redis limiter made once, one asyncio.run per task."""
    from voucherify_async.emulator import Emulator

    limiter = RedisRateLimiter(redis_server.url, app_id="loops", on_unavailable="error")
    store = RedisCheckpointStore(redis_server.url)
    with Emulator(mode="thread") as emu:
        vf = emu.client(rate_limiter=limiter)

        async def task(n: int) -> int:
            await store.save(f"task-{n}", b"checkpoint")
            assert await store.load(f"task-{n}") == b"checkpoint"
            return (await vf.customers.list()).total or 0

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert [asyncio.run(task(n)) for n in range(3)] == [0, 0, 0]

            async def close() -> None:
                await vf.aclose()
                await limiter.aclose()
                await store.aclose()

            asyncio.run(close())
            gc.collect()
    assert not limiter.falling_back  # every call reached Redis, in every loop


T = Clock().now


def at(ahead: float, limit: int, remaining: int) -> RateLimit:
    """An answer saying ``remaining`` of ``limit`` left, the period ending ``ahead`` s after T."""
    return RateLimit(limit=limit, remaining=remaining, retry_at=T + ahead)


# Answers around a change of limit, and what may be sent after them. Steps: ("answer", rl)
# one request sent and answered; ("send", n) n requests sent (each must be let through);
# ("settle", rl, n) n of those answered; ("sendable", n) exactly n may go now (they are
# counted as sent); ("wait", s) the next must wait s; ("clock", s) the clock at T + s.
Step = tuple[Any, ...]
LIMIT_CHANGES: dict[str, list[Step]] = {
    "lowered, earlier end": [
        ("answer", at(60, 1_000_000, 999_990)),
        ("send", 2),
        ("settle", at(3, 10, 9), 1),
        ("sendable", 9 - 1),
        ("settle", at(3, 10, 0), 9),
        ("wait", 3.0),
        ("clock", 3),
        ("sendable", 10),
    ],
    "lowered, later end": [
        ("answer", at(2, 1_000, 990)),
        ("answer", at(60, 10, 9)),
        ("sendable", 9),
        ("settle", at(60, 10, 0), 9),
        ("clock", 2),
        ("wait", 58.0),
    ],
    "earlier end ahead": [
        ("answer", at(60, 10, 8)),
        ("answer", at(3, 10, 2)),
        ("sendable", 2),
        ("settle", at(3, 10, 0), 2),
        ("wait", 3.0),
    ],
    "late answers of an earlier period": [
        ("clock", 0.2),
        ("answer", at(61, 20, 5)),
        ("sendable", 5),
        ("settle", at(61, 20, 0), 3),
        ("settle", at(1, 20, 9), 1),
        ("settle", at(1, 10, 9), 1),
        ("clock", 1),
        ("wait", 60.0),
        ("clock", 61),
        # Past the end, before the next period's first answer: the shared limiter spreads
        # (periods of 5 s or more), so a burst of a tenth of the limit, 10 at least, goes.
        ("sendable", 20, 10),
    ],
    "late answer from before a lowering": [
        ("answer", at(60, 1_000_000, 999_990)),
        ("send", 1),
        ("answer", at(3, 10, 3)),
        ("settle", at(60, 1_000_000, 999_989), 1),
        ("sendable", 3),
        ("settle", at(3, 10, 0), 3),
        ("clock", 3),
        ("sendable", 10),
    ],
    "raised, same end": [
        ("answer", at(30, 10, 2)),
        ("answer", at(30, 20, 12)),
        ("sendable", 2),
        ("settle", at(30, 20, 0), 2),
        ("wait", 30.0),
        ("clock", 30),
        ("sendable", 10),
    ],
    "raised, later end": [
        ("answer", at(3, 10, 5)),
        ("answer", at(60, 1_000, 999)),
        ("sendable", 5),
    ],
}


async def play(steps: list[Step], clock: Clock, limiter: RateLimiter) -> list[object]:
    """Play ``steps`` against one limiter; what each "sendable" and "wait" step saw."""
    seen: list[object] = []
    for kind, *args in steps:
        if kind == "clock":
            clock.now = T + args[0]
        elif kind in ("answer", "send"):
            for _ in range(1 if kind == "answer" else args[0]):
                assert await limiter.reserve() == 0.0
            if kind == "answer":
                await limiter.settle(200, args[0])
        elif kind == "settle":
            for _ in range(args[1]):
                await limiter.settle(200, args[0])
        elif kind == "sendable":
            count = 0
            while count < 50 and await limiter.reserve() == 0.0:
                count += 1
            seen.append(count)
        else:
            seen.append(round(await limiter.reserve(), 6))
    return seen


async def test_a_change_of_limit_is_followed_as_the_in_process_pacer_follows_it(
    redis_server: RedisServer,
) -> None:
    for name, steps in LIMIT_CHANGES.items():
        seen = [args for kind, *args in steps if kind in ("sendable", "wait")]
        clock = Clock()
        assert await play(steps, clock, LocalRateLimiter(clock)) == [a[0] for a in seen], name
        clock = Clock()
        shared = RedisRateLimiter(redis_server.url, app_id=name, clock=clock)
        # The last value, where a step has two, is the shared limiter's.
        assert await play(steps, clock, shared) == [a[-1] for a in seen], name
        await shared.aclose()


async def test_workers_sharing_a_limit_follow_it_down_without_a_429(
    redis_server: RedisServer,
) -> None:
    """Two workers, warm under 1,000,000 a minute; the limit goes down to 10 per 3 s."""
    from voucherify_async.emulator import Emulator

    async with Emulator(rate_limit=1_000_000, rate_limit_period=60) as emu:
        await emu.seed_customers(10)
        ids = (await emu.customer_state())["source_ids"]
        limiters = [RedisRateLimiter(redis_server.url, app_id=emu.app_id) for _ in range(2)]
        # At most 5 in flight each: no more than the new limit when its first answer comes.
        workers = [emu.client(rate_limiter=limiter, max_concurrency=5) for limiter in limiters]
        for worker in workers:
            await worker.customers.get(ids[0])
        await emu.configure(rate_limit=10, rate_limit_period=3)
        with anyio.fail_after(20):  # 30 calls at 10 per 3 s: about 8 s
            found = await asyncio.gather(
                *(workers[i % 2].customers.get(ids[i % 10]) for i in range(30))
            )
        assert [getattr(worker.rate_limit, "limit", None) for worker in workers] == [10, 10]
        for worker in workers:
            await worker.aclose()
        for limiter in limiters:
            assert not limiter.falling_back
            await limiter.aclose()
        stats = await emu.stats()
    assert len(found) == 30
    assert stats["by_status"].get("429", 0) == 0, stats["by_status"]
    assert stats["by_status"]["200"] == 2 + 30
