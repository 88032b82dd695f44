"""The retry decision, `decide`: tables of cases and properties over every input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voucherify_async import RateLimit
from voucherify_async._core.retry import (
    MAX_BACKOFF,
    QUOTA_TYPE,
    RETRYABLE_STATUSES,
    Delivery,
    Raise,
    Retry,
    decide,
    server_wait,
)

NOW = 1_700_000_000.0
NOT_SENT, MAY, REFUSED = Delivery.NOT_SENT, Delivery.MAY_HAVE_ARRIVED, Delivery.REFUSED


def run(
    status: int | None,
    delivery: Delivery | None = None,
    rate_limit: RateLimit | None = None,
    *,
    retries_done: int = 0,
    retry_safe: bool = True,
    max_retries: int = 2,
    max_wait: float = 60.0,
    jitter: float = 0.0,
) -> Retry | Raise:
    return decide(
        retries_done,
        status,
        delivery,
        rate_limit,
        retry_safe=retry_safe,
        max_retries=max_retries,
        max_wait=max_wait,
        now=NOW,
        jitter=jitter,
    )


@pytest.mark.parametrize(
    ("delivery", "retry_safe", "retries_done", "expected"),
    [
        (NOT_SENT, True, 0, Retry(0.5)),
        (NOT_SENT, False, 0, Retry(0.5)),
        (NOT_SENT, False, 1, Retry(1.0)),
        (MAY, True, 0, Retry(0.5)),
        (MAY, True, 1, Retry(1.0)),
        (MAY, False, 0, Raise(MAY)),
        (NOT_SENT, True, 2, Raise(NOT_SENT)),
        (MAY, True, 2, Raise(MAY)),
        (None, False, 0, Raise(MAY)),  # unknown delivery: assume it may have arrived
    ],
)
def test_send_failures(
    delivery: Delivery | None, retry_safe: bool, retries_done: int, expected: object
) -> None:
    assert run(None, delivery, retry_safe=retry_safe, retries_done=retries_done) == expected


@pytest.mark.parametrize(
    ("status", "rate_limit", "retry_safe", "expected"),
    [
        (500, None, True, Retry(0.5)),
        (502, None, True, Retry(0.5)),
        (503, None, True, Retry(0.5)),
        (504, None, True, Retry(0.5)),
        (500, None, False, Raise(MAY)),  # a 5xx may come after the work was done
        (503, RateLimit(retry_after=3.0), True, Retry(3.0)),  # the server's wait wins
        (503, RateLimit(retry_after=61.0), True, Raise(MAY)),  # longer than max_wait
        (400, None, True, Raise(REFUSED)),
        (404, None, True, Raise(REFUSED)),
        (409, None, True, Raise(REFUSED)),
        (301, None, True, Raise(REFUSED)),
        # A 429 did nothing: retried even when not retry-safe, every call held back.
        (429, RateLimit(retry_after=2.0), False, Retry(0.0, NOW + 2.0)),
        (429, RateLimit(retry_at=NOW + 5.0), True, Retry(0.0, NOW + 5.0)),
        (429, None, True, Retry(0.0, NOW + 0.5)),  # no wait given: the backoff, held
        # Longer than max_wait: raised, yet every other call still waits it out.
        (429, RateLimit(retry_after=120.0), True, Raise(REFUSED, 120.0, NOW + 120.0)),
        # A spent quota: never retried, never held.
        (429, RateLimit(retry_after=5.0, type=QUOTA_TYPE), True, Raise(REFUSED, 5.0, None)),
        (429, RateLimit(type=QUOTA_TYPE), True, Raise(REFUSED, None, None)),
    ],
)
def test_statuses(
    status: int, rate_limit: RateLimit | None, retry_safe: bool, expected: object
) -> None:
    assert run(status, None, rate_limit, retry_safe=retry_safe) == expected


def test_no_retries_left_raises_with_the_429_wait_held() -> None:
    decision = run(429, None, RateLimit(retry_after=4.0), retries_done=2)
    assert decision == Raise(REFUSED, 4.0, NOW + 4.0)


def test_backoff_doubles_to_its_cap_and_jitter_shortens_it() -> None:
    delays = [run(503, retries_done=n, max_retries=99) for n in range(8)]
    assert [d.after for d in delays if isinstance(d, Retry)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        8.0,
        8.0,
        8.0,
    ]
    jittered = run(503, jitter=0.999)
    assert isinstance(jittered, Retry) and 0.375 < jittered.after < 0.5


def test_max_wait_zero_still_backs_off_but_never_waits_for_the_server() -> None:
    assert run(503, max_wait=0.0) == Retry(0.5)
    assert run(429, None, RateLimit(retry_after=1.0), max_wait=0.0) == Raise(
        REFUSED, 1.0, NOW + 1.0
    )
    assert run(429, None, RateLimit(retry_after=0.0), max_wait=0.0) == Retry(0.0, NOW)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
rate_limits = st.none() | st.builds(
    RateLimit,
    limit=st.none() | st.integers(0, 10**6),
    remaining=st.none() | st.integers(0, 10**6),
    retry_at=st.none() | finite.map(lambda offset: NOW + offset),
    retry_after=st.none() | st.floats(0, 86_400, allow_nan=False),
    type=st.none() | st.sampled_from([QUOTA_TYPE, "api_calls", "bulk_api_calls"]),
)
statuses = (
    st.none()
    | st.sampled_from(
        sorted(RETRYABLE_STATUSES | {301, 302, 400, 401, 402, 403, 404, 409, 413, 423, 501})
    )
    | st.integers(300, 599)
)


@settings(max_examples=400, deadline=None)
@given(
    retries_done=st.integers(0, 40),
    status=statuses,
    delivery=st.none() | st.sampled_from([NOT_SENT, MAY]),
    rate_limit=rate_limits,
    retry_safe=st.booleans(),
    max_retries=st.integers(0, 10),
    max_wait=st.floats(0, 3600, allow_nan=False),
    jitter=st.floats(0, 1, exclude_max=True),
)
def test_decide_properties(
    retries_done: int,
    status: int | None,
    delivery: Delivery | None,
    rate_limit: RateLimit | None,
    retry_safe: bool,
    max_retries: int,
    max_wait: float,
    jitter: float,
) -> None:
    if status is None:
        rate_limit = None
    decision = decide(
        retries_done,
        status,
        delivery,
        rate_limit,
        retry_safe=retry_safe,
        max_retries=max_retries,
        max_wait=max_wait,
        now=NOW,
        jitter=jitter,
    )
    quota = status == 429 and rate_limit is not None and rate_limit.type == QUOTA_TYPE
    if decision.hold_until is not None:
        held = decision.hold_until - NOW
        assert math.isfinite(held) and held >= 0
        assert status == 429 and not quota  # only a 429 holds, never a spent quota
    if isinstance(decision, Retry):
        assert retries_done < max_retries  # never past max_retries
        asked_wait = server_wait(status, rate_limit, NOW) if status is not None else None
        # The backoff never exceeds MAX_BACKOFF; a wait the server asked for (a Retry-After
        # on a 503, say) is taken as asked, up to max_wait.
        ceiling = MAX_BACKOFF if asked_wait is None else max(MAX_BACKOFF, max_wait)
        assert math.isfinite(decision.after) and 0 <= decision.after <= ceiling
        assert not quota  # a spent quota is never retried
        assert status is None or status in RETRYABLE_STATUSES
        may_have_arrived = (status is None and delivery is not NOT_SENT) or (
            status is not None and status >= 500
        )
        assert retry_safe or not may_have_arrived  # never resends what may have been done
        if decision.hold_until is not None:
            # A 429's hold is the server's wait (never past max_wait) or, when it gave none,
            # the backoff (which max_wait does not shorten).
            asked = server_wait(status, rate_limit, NOW)
            bound = max_wait if asked is not None else MAX_BACKOFF
            assert decision.after == 0 and decision.hold_until - NOW <= bound
        elif status is not None and rate_limit is not None and rate_limit.retry_after:
            # The server's wait is never waited past max_wait.
            assert decision.after <= max_wait
    else:
        assert isinstance(decision, Raise)
        expected = (delivery or MAY) if status is None else (MAY if status >= 500 else REFUSED)
        assert decision.delivery is expected
        if decision.retry_after is not None:
            assert status == 429
            assert math.isfinite(decision.retry_after) and decision.retry_after >= 0
