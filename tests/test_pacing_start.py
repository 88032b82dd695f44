"""The pacer before the first answer: one request at a time until the quota is known."""

from __future__ import annotations

from voucherify_async import RateLimit
from voucherify_async._core.pacing import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_before_any_answer_only_one_request_is_in_flight() -> None:
    pacer = Pacer(Clock())
    assert pacer.wait_time() == 0
    pacer.sent()
    assert 0 < pacer.wait_time() < 0.1  # the others wait for the first answer
    pacer.observe(RateLimit(limit=5, remaining=4, retry_at=1_060.0))
    pacer.answered()
    for _ in range(4):  # now the quota is known: four more may go at once
        assert pacer.wait_time() == 0
        pacer.sent()
    assert pacer.wait_time() > 0


def test_an_answer_without_rate_limit_headers_lifts_the_wait() -> None:
    pacer = Pacer(Clock())
    pacer.sent()
    assert pacer.wait_time() > 0
    pacer.observe(RateLimit())  # the API sent no rate-limit headers
    for _ in range(50):
        assert pacer.wait_time() == 0
        pacer.sent()


def test_a_failed_first_request_lets_the_next_one_try() -> None:
    pacer = Pacer(Clock())
    pacer.sent()
    pacer.answered()  # a connection error: no answer, nothing learnt
    assert pacer.wait_time() == 0
    pacer.sent()
    assert pacer.wait_time() > 0


def test_a_stuck_first_request_does_not_hold_the_others_for_long() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    pacer.sent()
    assert pacer.wait_time() > 0
    clock.now += 2.5
    assert pacer.wait_time() == 0
