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


def sendable(pacer: Pacer, most: int = 100) -> int:
    """How many requests may go now (each counted as sent); at most ``most``."""
    count = 0
    while count < most and pacer.try_send() == 0:
        count += 1
    return count


def answered(pacer: Pacer, rate_limit: RateLimit, times: int = 1) -> None:
    for _ in range(times):
        pacer.observe(rate_limit)
        pacer.answered()


def test_a_lowered_limit_is_obeyed_from_the_next_request() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    answered(pacer, RateLimit(limit=1_000_000, remaining=999_990, retry_at=1_060.0))
    assert sendable(pacer, 3) == 3
    # The project's limit went down to 10 per 3 s: the API answers from a new period, whose
    # end is earlier than the one known. Its count is the truth, less what is in flight.
    answered(pacer, RateLimit(limit=10, remaining=9, retry_at=1_003.0))
    assert sendable(pacer) == 9 - 2
    assert pacer.wait_time() > 0
    answered(pacer, RateLimit(limit=10, remaining=0, retry_at=1_003.0), times=9)
    assert pacer.wait_time() == pytest.approx(3.0)
    clock.now = 1_003.0
    assert sendable(pacer) == 10  # the new period: the new limit, not a million


def test_a_lowered_limit_is_obeyed_whatever_its_end() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    answered(pacer, RateLimit(limit=1_000_000, remaining=999_990, retry_at=1_060.0))
    answered(pacer, RateLimit(limit=10, remaining=9, retry_at=1_059.0))  # 10 per 59 s now
    assert sendable(pacer) == 9
    answered(pacer, RateLimit(limit=10, remaining=0, retry_at=1_059.0), times=9)
    assert pacer.wait_time() == pytest.approx(59.0)
    # 1,000 per 2 s down to 10 a minute: the new end is later than the known one.
    pacer = Pacer(clock)
    answered(pacer, RateLimit(limit=1_000, remaining=990, retry_at=1_002.0))
    answered(pacer, RateLimit(limit=10, remaining=9, retry_at=1_060.0))
    assert sendable(pacer) == 9
    answered(pacer, RateLimit(limit=10, remaining=0, retry_at=1_060.0), times=9)
    clock.now = 1_002.0  # the old period's end frees nothing
    assert pacer.wait_time() == pytest.approx(58.0)


def test_an_earlier_reset_still_ahead_ends_the_period_there() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    answered(pacer, RateLimit(limit=10, remaining=8, retry_at=1_060.0))
    # Same limit, a period of 3 s instead of a minute: the period ends at 1003.
    answered(pacer, RateLimit(limit=10, remaining=2, retry_at=1_003.0))
    assert sendable(pacer) == 2
    answered(pacer, RateLimit(limit=10, remaining=0, retry_at=1_003.0), times=2)
    assert pacer.wait_time() == pytest.approx(3.0)  # not 60
    clock.now = 1_003.0
    assert sendable(pacer) == 10
    # It never raises the count: the answer could come from a clock a little behind.
    pacer = Pacer(clock)
    answered(pacer, RateLimit(limit=10, remaining=1, retry_at=1_060.0))
    answered(pacer, RateLimit(limit=10, remaining=9, retry_at=1_006.0))
    assert sendable(pacer) == 1
    assert pacer.wait_time() > 0
    answered(pacer, RateLimit(limit=10, remaining=0, retry_at=1_006.0))
    assert pacer.wait_time() == pytest.approx(3.0)


def test_a_stale_answer_of_an_earlier_period_is_ignored() -> None:
    clock = Clock()
    clock.now = 1_000.2
    pacer = Pacer(clock)
    answered(pacer, RateLimit(limit=20, remaining=2, retry_at=1_061.0))  # the period from 1000.2
    assert sendable(pacer) == 2
    answered(pacer, RateLimit(limit=20, remaining=0, retry_at=1_061.0), times=2)
    # Late answers from the period that ended at 1000.2 (announced, rounded up, as 1001),
    # when the limit was still 10: neither their count, nor their end, nor their limit count.
    answered(pacer, RateLimit(limit=20, remaining=9, retry_at=1_001.0))
    answered(pacer, RateLimit(limit=10, remaining=5, retry_at=1_001.0))
    clock.now = 1_001.0
    answered(pacer, RateLimit(limit=10, remaining=7, retry_at=1_001.0))
    assert pacer.wait_time() == pytest.approx(60.0)  # 1001 was not this period's end
    clock.now = 1_061.0
    assert sendable(pacer) == 20


def test_a_late_answer_from_before_a_lowering_does_not_restore_the_old_quota() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    answered(pacer, RateLimit(limit=1_000_000, remaining=999_990, retry_at=1_060.0))
    answered(pacer, RateLimit(limit=10, remaining=3, retry_at=1_003.0))
    # Sent before the limit was lowered, answered after: a later end, the old limit.
    answered(pacer, RateLimit(limit=1_000_000, remaining=999_989, retry_at=1_060.0))
    assert sendable(pacer) == 3
    answered(pacer, RateLimit(limit=10, remaining=0, retry_at=1_003.0), times=3)
    assert pacer.wait_time() == pytest.approx(3.0)
    clock.now = 1_003.0
    assert sendable(pacer) == 10  # the fresh period is the new limit's


def test_a_raised_limit_in_the_same_period_is_believed_from_the_next_one() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    answered(pacer, RateLimit(limit=10, remaining=2, retry_at=1_030.0))
    # Raised to 20 in the same period, or a late answer from before a lowering to 10: the
    # headers alone cannot tell, so until the period ends its count may only lower the known.
    answered(pacer, RateLimit(limit=20, remaining=12, retry_at=1_030.0))
    assert sendable(pacer) == 2
    answered(pacer, RateLimit(limit=20, remaining=0, retry_at=1_030.0), times=2)
    assert pacer.wait_time() == pytest.approx(30.0)
    clock.now = 1_030.0
    assert sendable(pacer) == 10  # the known limit, until an answer of this period says more
    answered(pacer, RateLimit(limit=20, remaining=19, retry_at=1_090.0))
    assert sendable(pacer) == 19 - 9


def test_a_raised_limit_with_a_later_end_counts_down_until_the_known_period_ends() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    answered(pacer, RateLimit(limit=10, remaining=5, retry_at=1_003.0))
    answered(pacer, RateLimit(limit=1_000, remaining=999, retry_at=1_060.0))
    assert sendable(pacer) == 5  # not 999
    answered(pacer, RateLimit(limit=1_000, remaining=998, retry_at=1_060.0))
    assert sendable(pacer) == 1  # 5 known, 4 in flight
    answered(pacer, RateLimit(limit=1_000, remaining=3, retry_at=1_060.0))
    assert sendable(pacer) == 0  # 3 left there, 4 in flight: lower counts are believed
    clock.now = 1_003.0  # the known period is over: the new limit's answers are believed
    answered(pacer, RateLimit(limit=1_000, remaining=900, retry_at=1_060.0))
    assert sendable(pacer, 1_000) == 900 - 3


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


# Priority: background requests leave the interactive share and wait behind interactive ones.


def informed(clock: Clock, remaining: int, limit: int = 10, **options: object) -> Pacer:
    """A pacer told that ``remaining`` of ``limit`` are left until 30 s from now."""
    pacer = Pacer(clock, **options)  # type: ignore[arg-type]
    pacer.observe(RateLimit(limit=limit, remaining=remaining, retry_at=clock.now + 30))
    return pacer


def test_background_leaves_the_interactive_share_of_the_period() -> None:
    clock = Clock()
    pacer = informed(clock, remaining=5)  # the share: 20% of 10, 2 requests
    assert pacer.try_send("interactive") == 0  # an interactive request is being made
    pacer.answered()
    assert sendable_at(pacer, "background") == 5 - 2
    answered(pacer, RateLimit(limit=10, remaining=2, retry_at=clock.now + 30), times=3)
    # Within the share, background waits for the next period; interactive goes on.
    assert pacer.wait_time("background") == pytest.approx(30.0)
    assert sendable_at(pacer, "interactive") == 2
    answered(pacer, RateLimit(limit=10, remaining=0, retry_at=clock.now + 30), times=2)
    clock.now += 30  # a fresh period: up to the limit less the share, in flight
    assert sendable_at(pacer, "background") == 10 - 2


def sendable_at(pacer: Pacer, priority: str, most: int = 100) -> int:
    count = 0
    while count < most and pacer.try_send(priority) == 0:  # type: ignore[arg-type]
        count += 1
    return count


def test_background_alone_uses_the_whole_budget() -> None:
    clock = Clock()
    assert sendable_at(informed(clock, remaining=5), "background") == 5  # no interactive yet
    pacer = informed(clock, remaining=5, interactive_idle=10.0)
    pacer.wait_time("interactive")
    clock.now += 10  # no interactive request for interactive_idle seconds
    assert sendable_at(pacer, "background") == 5
    never_idle = informed(clock, remaining=5, interactive_idle=None, interactive_share=0.4)
    never_idle.wait_time("interactive")
    clock.now += 20  # long after, in the same period: a third of the share is left
    assert sendable_at(never_idle, "background") == 5 - 2


def test_the_share_shrinks_as_the_period_runs_out() -> None:
    clock = Clock()
    pacer = informed(clock, remaining=10, limit=20)  # a period of 30 s; the share is 4
    pacer.wait_time("interactive")
    assert sendable_at(pacer, "background") == 10 - 4
    answered(pacer, RateLimit(limit=20, remaining=4, retry_at=clock.now + 30), times=6)
    clock.now += 15  # half-way: half the share is kept
    assert sendable_at(pacer, "background") == 2
    answered(pacer, RateLimit(limit=20, remaining=2, retry_at=clock.now + 15), times=2)
    clock.now += 14  # a second before the end: one request is kept
    assert sendable_at(pacer, "background") == 1
    assert sendable_at(pacer, "interactive") == 1


def test_background_does_not_go_ahead_of_a_waiting_interactive_request() -> None:
    clock = Clock()
    pacer = informed(clock, remaining=0)
    assert pacer.try_send("interactive", "web-1") == pytest.approx(30.0)
    clock.now += 30
    # A fresh period: the background request asks first, and waits its turn.
    assert pacer.try_send("background", "job") > 0
    assert pacer.try_send("interactive", "web-1") == 0
    assert pacer.try_send("background", "job") == 0
    assert pacer.waiting == 0


def test_a_waiter_that_gives_up_or_never_asks_again_stops_holding_background_back() -> None:
    clock = Clock()
    pacer = informed(clock, remaining=0)
    assert pacer.try_send("interactive", "gone") > 0
    assert pacer.try_send("interactive", "withdrawn") > 0
    pacer.withdraw("withdrawn")
    assert pacer.waiting == 1
    clock.now += 30
    assert pacer.try_send("background") > 0  # "gone" should be asking again about now
    clock.now += 2.1  # past its wait and the grace: forgotten
    assert pacer.try_send("background") == 0
    assert pacer.waiting == 0


def test_the_share_held_back() -> None:
    from voucherify_async._core.pacing import held_back

    assert held_back(0.2, 300) == 60
    assert held_back(0.2, 2) == 1  # at least one
    assert held_back(0.2, 1) == 0  # never the whole limit
    assert held_back(0.0, 300) == 0
    assert held_back(0.2, None) == 0  # the limit is not known yet
    with pytest.raises(ValueError, match="interactive_share"):
        Pacer(Clock(), interactive_share=1.0)
    with pytest.raises(ValueError, match="interactive_idle"):
        Pacer(Clock(), interactive_idle=0)
