"""RedisRateLimiter's waiting line and priorities, against a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from voucherify_async import ConfigurationError, RateLimit
from voucherify_async.contrib.redis import RedisRateLimiter

from .redis_server import RedisServer


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def limiter(server: RedisServer, clock: Clock, **options: Any) -> RedisRateLimiter:
    # Leases long enough that the clock's jumps do not end them.
    return RedisRateLimiter(server.url, app_id="fair", clock=clock, lease=3600, **options)


async def inform(lim: RedisRateLimiter, remaining: int, end: float, limit: int) -> None:
    assert await lim.reserve() == 0.0
    await lim.settle(200, RateLimit(limit=limit, remaining=remaining, retry_at=end))


class Asker:
    """One task asking a limiter again and again: the line knows a waiter by its task."""

    def __init__(self, lim: RedisRateLimiter, priority: str = "interactive") -> None:
        self.lim = lim
        self.priority = priority
        self._jobs: asyncio.Queue[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]]
        self._jobs = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            job, answer = await self._jobs.get()
            try:
                answer.set_result(await job())
            except Exception as exc:
                answer.set_exception(exc)

    async def _do(self, job: Callable[[], Awaitable[Any]]) -> Any:
        answer = asyncio.get_running_loop().create_future()
        self._jobs.put_nowait((job, answer))
        return await asyncio.wait_for(answer, 10)

    async def ask(self) -> float:
        wait: float = await self._do(lambda: self.lim.reserve(self.priority))  # type: ignore[arg-type]
        return wait

    async def withdraw(self) -> None:
        await self._do(self.lim.withdraw)

    def close(self) -> None:
        self._task.cancel()


async def test_background_waits_within_the_share_while_interactive_goes(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    web, job = limiter(redis_server, clock), limiter(redis_server, clock)
    end = clock.now + 30
    await inform(web, remaining=3, end=end, limit=10)  # an interactive request: the share is kept
    backfill = Asker(job, "background")
    assert await backfill.ask() == 0.0  # 3 left, 2 of them the interactive share
    await job.settle(200, RateLimit(limit=10, remaining=2, retry_at=end))
    assert await backfill.ask() == pytest.approx(30.0)  # only the share is left
    clock.now = end - 10  # a third of the period left: a third of the share is kept
    assert await backfill.ask() == 0.0
    await job.settle(200, RateLimit(limit=10, remaining=1, retry_at=end))
    assert await backfill.ask() == pytest.approx(10.0)
    assert await web.reserve() == 0.0  # what is kept is the interactive requests'
    backfill.close()
    await web.aclose()
    await job.aclose()


async def test_background_alone_uses_the_whole_budget(redis_server: RedisServer) -> None:
    clock = Clock()
    job = limiter(redis_server, clock, interactive_idle=5)
    end = clock.now + 30
    await inform(job, remaining=3, end=end, limit=10)
    clock.now += 5  # no interactive request for interactive_idle seconds
    backfill = Asker(job, "background")
    assert [await backfill.ask() for _ in range(3)] == [0.0, 0.0, 0.0]
    backfill.close()
    await job.aclose()


async def spent(clock: Clock, lim: RedisRateLimiter, limit: int = 1) -> float:
    """Tell ``lim`` the period is spent; returns its end."""
    end = clock.now + 30
    await inform(lim, remaining=0, end=end, limit=limit)
    await lim.settle(200, RateLimit(limit=limit, remaining=0, retry_at=end))
    return end


async def test_the_oldest_waiter_of_any_process_goes_first(redis_server: RedisServer) -> None:
    clock = Clock()
    a, b = limiter(redis_server, clock), limiter(redis_server, clock)
    end = await spent(clock, a)
    first, second = Asker(b), Asker(a)
    assert await first.ask() == pytest.approx(30.0)
    clock.now += 0.1
    assert await second.ask() == pytest.approx(29.9)
    clock.now = end + 0.5  # a fresh period with room for one: the second asks first
    assert await second.ask() > 0
    assert await first.ask() == 0.0
    assert await second.ask() > 0  # the one is in flight
    first.close()
    second.close()
    await a.aclose()
    await b.aclose()


async def test_interactive_waiters_go_before_older_background_ones(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    a, b = limiter(redis_server, clock), limiter(redis_server, clock)
    end = await spent(clock, a)
    job, web = Asker(a, "background"), Asker(b)
    assert await job.ask() > 0
    clock.now += 0.1
    assert await web.ask() > 0
    clock.now = end + 0.5
    assert await job.ask() > 0  # older, but background
    assert await web.ask() == 0.0
    job.close()
    web.close()
    await a.aclose()
    await b.aclose()


async def test_a_waiter_that_stops_asking_loses_its_place(redis_server: RedisServer) -> None:
    clock = Clock()
    a, b = limiter(redis_server, clock), limiter(redis_server, clock)
    end = await spent(clock, a)
    dead, alive, gone = Asker(a), Asker(b), Asker(b)
    assert await dead.ask() > 0  # its process dies: it never asks again
    assert await gone.ask() > 0  # it gives up (its deadline, a cancellation)
    await gone.withdraw()
    clock.now += 0.1
    assert await alive.ask() > 0
    clock.now = end + 0.5
    assert await alive.ask() > 0  # the dead waiter is older, and still in its time
    clock.now = end + 2.1  # two seconds after it should have asked again: forgotten
    assert await alive.ask() == 0.0
    for asker in (dead, alive, gone):
        asker.close()
    await a.aclose()
    await b.aclose()


async def test_the_process_served_least_in_the_period_goes_first(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    a, b = limiter(redis_server, clock), limiter(redis_server, clock)
    await inform(a, remaining=300, end=clock.now + 10, limit=300)
    busy, other, slow = Asker(a), Asker(a), Asker(b)
    # The burst, all to one process.
    assert [await busy.ask() for _ in range(30)] == [0.0] * 30
    assert await busy.ask() > 0  # waits first...
    clock.now += 0.001
    assert await slow.ask() > 0
    clock.now += 0.03  # room for one more
    assert await busy.ask() > 0  # ...but its process was let through 30 times
    assert await other.ask() > 0  # so are its other tasks
    assert await slow.ask() == 0.0
    for asker in (busy, other, slow):
        asker.close()
    await a.aclose()
    await b.aclose()


async def test_a_place_follows_its_process_count_as_it_is_when_it_asks_again(
    redis_server: RedisServer,
) -> None:
    clock = Clock()  # a period of 4 s: not spread, so the room is what the counts say
    a, b = (limiter(redis_server, clock, interactive_share=0) for _ in range(2))
    end = clock.now + 4
    await inform(b, remaining=2, end=end, limit=300)
    fill, job_a, web_a, job_b = Asker(b), Asker(a, "background"), Asker(a), Asker(b, "background")

    async def one_ends(lim: RedisRateLimiter) -> None:  # room for one more
        await lim.settle(200, RateLimit(limit=300, remaining=2, retry_at=end))

    assert [await fill.ask() for _ in range(2)] == [0.0, 0.0]  # b: 3 this period
    assert await job_a.ask() > 0  # takes its place while a was let through 0 times
    for _ in range(5):  # then a's interactive task goes ahead of it 5 times
        await one_ends(b if _ < 2 else a)
        assert await web_a.ask() == 0.0
    assert await job_b.ask() > 0  # b: 3, a: 5
    await one_ends(a)
    assert await job_a.ask() > 0  # older, but its process was let through more since
    assert await job_b.ask() == 0.0
    for asker in (fill, job_a, web_a, job_b):
        asker.close()
    await a.aclose()
    await b.aclose()


async def test_when_a_period_starts_the_oldest_waiter_goes_first_again(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    a, b = limiter(redis_server, clock), limiter(redis_server, clock)
    end = clock.now + 4
    await inform(a, remaining=1, end=end, limit=300)
    busy, slow = Asker(a), Asker(b)
    assert await busy.ask() == 0.0
    assert await busy.ask() > 0  # waits, ranked by a's 2 requests
    clock.now += 1  # a new period (within the waiter's time), with room for one
    await a.settle(200, RateLimit(limit=300, remaining=1, retry_at=clock.now + 3.5))
    assert await slow.ask() > 0  # the counts start again: the older waiter is first
    assert await busy.ask() == 0.0
    assert await slow.ask() > 0
    busy.close()
    slow.close()
    await a.aclose()
    await b.aclose()


async def test_when_a_period_ends_a_burst_goes_in_line_and_counts_for_the_next(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    a, b = limiter(redis_server, clock), limiter(redis_server, clock)
    end = await spent(clock, a, limit=100)  # a period of 30 s: a burst is 10
    first = [Asker(a) for _ in range(11)]
    for asker in first:
        assert await asker.ask() > 0
        clock.now += 0.001
    late = Asker(b)
    assert await late.ask() > 0
    clock.now = end + 0.01  # over; the next period's first answer is not in yet
    waiting = [*first, late]
    for _ in range(12):  # each asks again, as they do every few milliseconds
        waiting = [asker for asker in waiting if await asker.ask() > 0]
    assert len(waiting) == 2  # a burst of ten, not all of them at once
    assert late not in waiting  # b's waiter among them: a was let through more
    later = Asker(b)
    assert await later.ask() > 0
    await a.settle(200, RateLimit(limit=100, remaining=89, retry_at=end + 30))
    clock.now += 0.3  # room for one: a's nine count for this period, b's one too
    assert all([await asker.ask() > 0 for asker in waiting])  # older, but a's
    assert await later.ask() == 0.0
    for asker in (*first, late, later):
        asker.close()
    await a.aclose()
    await b.aclose()


async def test_when_no_answer_comes_after_a_period_ends_the_rest_go_two_seconds_on(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    lim = limiter(redis_server, clock)
    end = await spent(clock, lim, limit=100)
    clock.now = end + 0.01
    asker = Asker(lim)
    assert [await asker.ask() for _ in range(11)] == [0.0] * 10 + [pytest.approx(0.05)]
    clock.now = end + 2.01  # the burst's answers never came
    assert [await asker.ask() for _ in range(5)] == [0.0] * 5
    asker.close()
    await lim.aclose()


async def test_the_budget_is_spread_over_the_period_after_a_burst(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    lim = limiter(redis_server, clock)
    await inform(lim, remaining=300, end=clock.now + 10, limit=300)
    asker = Asker(lim)

    async def sendable() -> int:
        count = 0
        while count < 300 and await asker.ask() == 0.0:
            count += 1
        return count

    assert await sendable() == 30  # a tenth of the limit at once
    clock.now += 0.5  # then one every (0.75 * 9.5 s - 1 s) / 270, 22.7 ms
    assert 20 <= await sendable() <= 23
    asker.close()
    await lim.aclose()


def test_bad_priority_options_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="interactive_share"):
        RedisRateLimiter("redis://127.0.0.1:1/0", app_id="a", interactive_share=1.5)
    with pytest.raises(ConfigurationError, match="interactive_idle"):
        RedisRateLimiter("redis://127.0.0.1:1/0", app_id="a", interactive_idle=-1)


async def test_an_unknown_priority_is_refused(redis_server: RedisServer) -> None:
    lim = limiter(redis_server, Clock())
    with pytest.raises(ConfigurationError, match="'interactive' or 'background'"):
        await lim.reserve("urgent")  # type: ignore[arg-type]
    await lim.aclose()
