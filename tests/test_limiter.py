"""The rate-limiter seam: what the transport asks and tells a RateLimiter, with MockTransport."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import APP_ID, APP_TOKEN, BASE, Sleeps
from voucherify_async import (
    APIConnectionError,
    AsyncVoucherify,
    ConfigurationError,
    Delivery,
    LocalRateLimiter,
    MockRequest,
    MockResponse,
    MockTransport,
    QuotaExceededError,
    RateLimit,
    RateLimiter,
    SendError,
)
from voucherify_async._transport.mock import Handler

CUSTOMER = {"id": "cust_1", "object": "customer", "source_id": "bob"}


class Recorder:
    """A RateLimiter that logs every call; ``waits`` are what reserve answers, in turn."""

    def __init__(self, waits: list[float] | None = None) -> None:
        self.log: list[tuple[object, ...]] = []
        self.waits = list(waits or [])
        self.in_flight = 0
        self.most_in_flight = 0

    async def reserve(self) -> float:
        wait = self.waits.pop(0) if self.waits else 0.0
        self.log.append(("reserve", wait))
        if wait == 0:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        return wait

    async def settle(self, status: int | None, rate_limit: RateLimit | None) -> None:
        self.in_flight -= 1
        self.log.append(("settle", status, rate_limit))

    async def hold(self, until: float) -> None:
        self.log.append(("hold", until))


def client(
    handler: Handler, limiter: RateLimiter, sleeps: Sleeps, **options: object
) -> AsyncVoucherify:
    return AsyncVoucherify(
        app_id=APP_ID,
        app_token=APP_TOKEN,
        base_url=BASE,
        transport=MockTransport(handler),
        rate_limiter=limiter,
        sleep=sleeps,
        clock=sleeps.clock,
        jitter=lambda: 0.0,
        **options,  # type: ignore[arg-type]
    )


async def test_reserve_and_settle_around_every_attempt(sleeps: Sleeps) -> None:
    answers = iter(
        [
            MockResponse(503),
            MockResponse(200, json=CUSTOMER, headers={"X-Rate-Limit-Remaining": "7"}),
        ]
    )
    limiter = Recorder()
    async with client(lambda request: next(answers), limiter, sleeps) as vf:
        await vf.customers.get("bob")
    assert limiter.log == [
        ("reserve", 0.0),
        ("settle", 503, RateLimit()),
        ("reserve", 0.0),
        ("settle", 200, RateLimit(remaining=7)),
    ]
    assert sleeps == [0.5]
    assert vf.rate_limiter is limiter and vf.with_options(timeout=1).rate_limiter is limiter


async def test_a_wait_from_reserve_is_slept_then_asked_again(sleeps: Sleeps) -> None:
    limiter = Recorder(waits=[0.05, 0.05])
    async with client(lambda request: MockResponse(200, json=CUSTOMER), limiter, sleeps) as vf:
        await vf.customers.get("bob")
    assert [entry[0] for entry in limiter.log] == ["reserve"] * 3 + ["settle"]
    assert sleeps == [0.05, 0.05]


async def test_no_answer_settles_with_none(sleeps: Sleeps) -> None:
    def drop(request: MockRequest) -> MockResponse:
        raise SendError("reset", Delivery.MAY_HAVE_ARRIVED)

    limiter = Recorder()
    async with client(drop, limiter, sleeps, max_retries=1) as vf:
        with pytest.raises(APIConnectionError, match="reset"):
            await vf.customers.get("bob")
    assert limiter.log == [("reserve", 0.0), ("settle", None, None)] * 2


async def test_a_429_holds_every_call_until_its_wait_ends(sleeps: Sleeps) -> None:
    answers = iter(
        [MockResponse(429, headers={"Retry-After": "3"}), MockResponse(200, json=CUSTOMER)]
    )
    limiter = Recorder()
    async with client(lambda request: next(answers), limiter, sleeps) as vf:
        await vf.customers.get("bob")
    assert ("hold", sleeps.now + 3.0) in limiter.log
    assert limiter.log.index(("hold", sleeps.now + 3.0)) == 2  # after the 429 settled


async def test_a_spent_quota_is_never_held(sleeps: Sleeps) -> None:
    quota = {"Retry-After": "30", "X-Rate-Limit-Type": "api_calls_cycle"}
    limiter = Recorder()
    async with client(lambda request: MockResponse(429, headers=quota), limiter, sleeps) as vf:
        with pytest.raises(QuotaExceededError):
            await vf.customers.get("bob")
    assert [entry[0] for entry in limiter.log] == ["reserve", "settle"]


async def test_max_concurrency_is_taken_before_reserve(sleeps: Sleeps) -> None:
    async def slow(request: MockRequest) -> MockResponse:
        await asyncio.sleep(0.001)
        return MockResponse(200, json=CUSTOMER)

    limiter = Recorder()
    async with client(slow, limiter, sleeps, max_concurrency=2) as vf:
        await asyncio.gather(*(vf.customers.get("bob") for _ in range(10)))
    assert limiter.most_in_flight == 2 and limiter.in_flight == 0
    assert vf.in_flight == 0


async def test_the_default_limiter_is_local_and_paces_by_the_headers(sleeps: Sleeps) -> None:
    headers = {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Retry": str(int(sleeps.now) + 5)}
    transport = MockTransport(lambda request: MockResponse(200, json=CUSTOMER, headers=headers))
    async with AsyncVoucherify(
        app_id=APP_ID,
        app_token=APP_TOKEN,
        base_url=BASE,
        transport=transport,
        sleep=sleeps,
        clock=sleeps.clock,
    ) as vf:
        assert isinstance(vf.rate_limiter, LocalRateLimiter)
        await vf.customers.get("bob")
        await vf.customers.get("bob")  # waits out the spent period first
    assert len(sleeps) == 1 and 4.0 < sleeps[0] <= 5.0


def test_a_rate_limiter_without_the_methods_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="rate_limiter"):
        AsyncVoucherify(app_id="a", app_token="t", rate_limiter=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="transport"):
        AsyncVoucherify(app_id="a", app_token="t", transport=object())  # type: ignore[arg-type]
