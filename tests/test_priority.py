"""Request priority at the client: the option, its copies, and what the limiters do with it."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import APP_ID, APP_TOKEN, BASE, Sleeps
from voucherify_async import (
    AsyncVoucherify,
    ConfigurationError,
    LocalRateLimiter,
    MockResponse,
    MockTransport,
    RateLimit,
    RateLimitError,
)
from voucherify_async._transport.limiter import takes_priority
from voucherify_async._transport.mock import Handler

CUSTOMER = {"id": "cust_1", "object": "customer", "source_id": "bob"}


class PriorityRecorder:
    """A limiter whose reserve takes the priority: logs it; ``waits`` are its answers."""

    def __init__(self, waits: list[float] | None = None) -> None:
        self.priorities: list[str] = []
        self.waits = list(waits or [])
        self.withdrawn = 0

    async def reserve(self, priority: str = "interactive") -> float:
        self.priorities.append(priority)
        return self.waits.pop(0) if self.waits else 0.0

    async def settle(self, status: int | None, rate_limit: RateLimit | None) -> None:
        return None

    async def hold(self, until: float) -> None:
        return None

    async def withdraw(self) -> None:
        self.withdrawn += 1


class OldLimiter:
    """A limiter written before priorities: ``reserve(self)``."""

    def __init__(self) -> None:
        self.asked = 0

    async def reserve(self) -> float:
        self.asked += 1
        return 0.0

    async def settle(self, status: int | None, rate_limit: RateLimit | None) -> None:
        return None

    async def hold(self, until: float) -> None:
        return None


def client(handler: Handler, sleeps: Sleeps, **options: object) -> AsyncVoucherify:
    settings: dict[str, object] = {"sleep": sleeps, "clock": sleeps.clock, "jitter": lambda: 0.0}
    settings.update(options)
    return AsyncVoucherify(
        app_id=APP_ID,
        app_token=APP_TOKEN,
        base_url=BASE,
        transport=MockTransport(handler),
        **settings,  # type: ignore[arg-type]
    )


def ok(request: object) -> MockResponse:
    return MockResponse(200, json=CUSTOMER)


@pytest.mark.parametrize("bad", ["urgent", "INTERACTIVE", "", None, 1])
def test_an_unknown_priority_is_refused_naming_the_choices(bad: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncVoucherify(app_id="a", app_token="t", priority=bad)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "priority" in message and "'interactive'" in message and "'background'" in message
    vf = AsyncVoucherify(app_id="a", app_token="t")
    with pytest.raises(ConfigurationError, match="priority must be 'interactive' or"):
        vf.with_options(priority=bad)  # type: ignore[arg-type]


async def test_the_priority_of_the_client_and_its_copies_reaches_the_limiter(
    sleeps: Sleeps,
) -> None:
    limiter = PriorityRecorder()
    async with client(ok, sleeps, rate_limiter=limiter) as vf:
        assert vf.priority == "interactive"
        background = vf.with_options(priority="background")
        again = background.with_options(timeout=5)  # a copy keeps its parent's priority
        await vf.customers.get("bob")
        await background.customers.get("bob")
        await again.customers.get("bob")
        await again.with_options(priority="interactive").customers.get("bob")
    assert (background.priority, again.priority) == ("background", "background")
    assert limiter.priorities == ["interactive", "background", "background", "interactive"]
    async with client(ok, sleeps, rate_limiter=PriorityRecorder(), priority="background") as vf:
        await vf.customers.get("bob")
        assert vf.rate_limiter.priorities == ["background"]  # type: ignore[attr-defined]


async def test_a_limiter_written_before_priorities_is_still_asked_without(
    sleeps: Sleeps,
) -> None:
    limiter = OldLimiter()
    assert not takes_priority(limiter) and takes_priority(PriorityRecorder())
    async with client(ok, sleeps, rate_limiter=limiter, priority="background") as vf:
        await vf.customers.get("bob")
    assert limiter.asked == 1


async def test_a_request_that_gives_up_waiting_is_withdrawn(sleeps: Sleeps) -> None:
    limiter = PriorityRecorder(waits=[0.05, 300.0])
    async with client(ok, sleeps, rate_limiter=limiter, max_retry_wait=10) as vf:
        with pytest.raises(RateLimitError):
            await vf.customers.get("bob")
    assert limiter.withdrawn == 1 and sleeps == [0.05]


def spent_but_the_share(sleeps: Sleeps) -> Handler:
    """Answers: 2 of 10 left (the interactive share) until 30 s from the first answer."""
    end = int(sleeps.now) + 30

    def handler(request: object) -> MockResponse:
        headers = {
            "X-Rate-Limit-Limit": "10",
            "X-Rate-Limit-Remaining": "2",
            "X-Rate-Limit-Retry": str(end),
        }
        return MockResponse(200, json=CUSTOMER, headers=headers)

    return handler


async def test_the_local_limiter_keeps_the_share_for_interactive_calls(sleeps: Sleeps) -> None:
    async with client(spent_but_the_share(sleeps), sleeps) as vf:
        assert isinstance(vf.rate_limiter, LocalRateLimiter)
        backfill = vf.with_options(priority="background")
        await vf.customers.get("bob")  # interactive: told 2 are left
        await vf.customers.get("bob")  # still within the share: goes at once
        assert sleeps == []
        await backfill.customers.get("bob")  # waits for the next period
        assert len(sleeps) == 1 and 28 < sleeps[0] <= 30


async def test_background_calls_wait_behind_interactive_ones(sleeps: Sleeps) -> None:
    """The period is spent; at its end the interactive call goes first, whoever asks first."""
    order: list[str] = []
    end = int(sleeps.now) + 5

    def handler(request: object) -> MockResponse:
        headers = {"X-Rate-Limit-Limit": "1", "X-Rate-Limit-Remaining": "0"}
        headers["X-Rate-Limit-Retry"] = str(end)
        return MockResponse(200, json=CUSTOMER, headers=headers)

    slept = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await sleeps(seconds)
        slept.set()
        await asyncio.sleep(0)

    limiter = LocalRateLimiter(sleeps.clock)
    async with client(handler, sleeps, rate_limiter=limiter, sleep=sleep) as vf:
        await vf.customers.get("bob")  # learns the period is spent

        async def call(who: str, copy: AsyncVoucherify) -> None:
            await copy.customers.get("bob")
            order.append(who)

        web = asyncio.create_task(call("interactive", vf))
        await slept.wait()  # the interactive call waits for the period's end
        end += 5  # the next period is spent by its first request too
        job = asyncio.create_task(call("background", vf.with_options(priority="background")))
        await asyncio.gather(web, job)
    assert order == ["interactive", "background"]
