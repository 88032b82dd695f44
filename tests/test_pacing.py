"""Client-wide pacing from X-Rate-Limit-Remaining / X-Rate-Limit-Retry / Retry-After."""

from __future__ import annotations

import pytest
from aioresponses import aioresponses

from tests.conftest import Sleeps, calls, url
from voucherify_async import AsyncVoucherify, RateLimit
from voucherify_async._core.pacing import Pacer

CUSTOMER = {"id": "cust_1", "object": "customer"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_no_headers_no_wait() -> None:
    pacer = Pacer(Clock())
    assert pacer.wait_time() == 0


def test_waits_for_the_period_end_once_the_quota_is_spent() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    pacer.observe(RateLimit(limit=10, remaining=1, retry_at=1_030.0))
    assert pacer.wait_time() == 0
    pacer.sent()
    # The last request of the period is in flight: wait for its answer, do not overshoot.
    assert 0 < pacer.wait_time() < 1
    pacer.observe(RateLimit(limit=10, remaining=0, retry_at=1_030.0))
    pacer.answered()
    assert pacer.wait_time() == pytest.approx(30.0)
    clock.now = 1_030.0
    assert pacer.wait_time() == 0  # a fresh period
    for _ in range(10):
        pacer.sent()
    assert pacer.wait_time() > 0  # ten in flight: the fresh quota is used up


def test_out_of_order_answers_keep_the_lowest_count() -> None:
    pacer = Pacer(Clock())
    pacer.observe(RateLimit(limit=10, remaining=3, retry_at=1_030.0))
    pacer.observe(RateLimit(limit=10, remaining=5, retry_at=1_030.0))  # older answer, late
    for _ in range(3):
        pacer.sent()
    assert pacer.wait_time() > 0
    pacer.observe(RateLimit(limit=10, remaining=9, retry_at=1_020.0))  # an earlier period
    assert pacer.wait_time() > 0


def test_block_holds_everything_back() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    pacer.block(5)
    assert pacer.wait_time() == pytest.approx(5)
    clock.now += 5
    assert pacer.wait_time() == 0


async def test_a_scan_waits_instead_of_collecting_429s(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    period_end = sleeps.now + 40
    for remaining in (2, 1, 0):
        api.get(
            url("/v1/customers/c1"),
            payload=CUSTOMER,
            headers={
                "X-Rate-Limit-Limit": "3",
                "X-Rate-Limit-Remaining": str(remaining),
                "X-Rate-Limit-Retry": str(period_end),
            },
        )
    api.get(
        url("/v1/customers/c1"),
        payload=CUSTOMER,
        headers={
            "X-Rate-Limit-Limit": "3",
            "X-Rate-Limit-Remaining": "2",
            "X-Rate-Limit-Retry": str(period_end + 60),
        },
    )
    for _ in range(3):
        await vf.customers.get("c1")
    assert sleeps == []
    await vf.customers.get("c1")  # the quota is spent: wait for the next period, no 429
    assert sleeps == [pytest.approx(40, abs=0.01)]
    assert len(calls(api)) == 4


async def test_derived_clients_share_the_pacing(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.get(
        url("/v1/customers/c1"),
        payload=CUSTOMER,
        headers={
            "X-Rate-Limit-Limit": "1",
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Retry": str(sleeps.now + 10),
        },
    )
    api.get(url("/v1/customers/c1"), payload=CUSTOMER)
    await vf.customers.get("c1")
    await vf.with_options(timeout=3).customers.get("c1")
    assert sleeps == [pytest.approx(10, abs=0.01)]
