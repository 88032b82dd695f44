"""The window arithmetic of parallel scans: cutting, stealing, positions, the "auto" count."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voucherify_async import RateLimit
from voucherify_async._core.scan import ScanPosition
from voucherify_async._core.windows import (
    MAX_STREAMS,
    Window,
    WindowPlan,
    auto_streams,
    check_parallel,
    dumps_windows,
    from_ms,
    is_parallel_token,
    loads_windows,
    to_ms,
)
from voucherify_async.resources._listing import CREATED_AT_ORDERS


def owners(windows: list[Window], ms: int) -> list[Window]:
    return [window for window in windows if window.contains(ms)]


@given(
    low=st.integers(0, 10**12),
    span=st.integers(0, 10**7),
    parts=st.integers(1, 64),
    probes=st.lists(st.integers(-(10**6), 10**7 + 10**6), max_size=50),
)
def test_cut_windows_cover_every_millisecond_once(
    low: int, span: int, parts: int, probes: list[int]
) -> None:
    plan = WindowPlan.cut(parts, low=low, high=low + span, limit=100)
    assert 1 <= len(plan.windows) <= parts
    for probe in probes:
        assert len(owners(plan.windows, low + probe)) == 1


@given(
    steps=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 10_000)), max_size=40),
    probes=st.lists(st.integers(-100, 200_000), max_size=40),
)
def test_stealing_keeps_the_windows_disjoint_and_covering(
    steps: list[tuple[int, int]], probes: list[int]
) -> None:
    plan = WindowPlan.cut(4, low=0, high=100_000, limit=10)
    for which, advance in steps:
        busy = [w for w in plan.windows if w.busy]
        if busy:
            # A reader moves on inside its window and fetches some items.
            window = busy[which % len(busy)]
            start = window.reached if window.reached is not None else (window.lo or 0)
            end = window.hi if window.hi is not None else 100_001
            window.reached = min(start + advance, end - 1)
            window.fetched += advance // 10
        taken = plan.take()
        if taken is not None:
            assert taken.busy
            # Nothing a reader fetched already moves into another window.
            for window in plan.windows:
                if window is not taken and window.reached is not None:
                    assert window.contains(window.reached)
    for probe in probes:
        assert len(owners(plan.windows, probe)) == 1


def test_a_free_stream_takes_the_far_half_of_the_largest_remainder() -> None:
    plan = WindowPlan.cut(2, low=0, high=9_999, limit=100)
    first, second = plan.windows
    assert (first.lo, first.hi, second.lo, second.hi) == (None, 5_000, 5_000, None)
    assert plan.take() is first and plan.take() is second
    first.reached, first.fetched = 999, 1_000  # 1 item a millisecond, 4,000 ms left
    second.reached, second.fetched = 9_999, 5_000
    second.exhausted = True
    thief = plan.take()
    assert thief is not None
    assert (first.hi, thief.lo, thief.hi) == (3_000, 3_000, 5_000)
    assert plan.splits == 1


def test_no_split_of_a_remainder_smaller_than_two_pages() -> None:
    plan = WindowPlan.cut(1, low=0, high=1_000, limit=100)
    (window,) = plan.windows
    assert plan.take() is window
    window.reached, window.fetched = 849, 850  # 150 items left: not worth a stream
    assert plan.take() is None
    window.reached = 499  # ~ 500 left
    window.fetched = 500
    assert plan.take() is not None


def test_positions_round_trip_and_closed_windows_drop_out() -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, 6_000, tzinfo=timezone.utc)
    windows = [
        Window(None, 10, ScanPosition(moment, {"a", "b"})),
        Window(10, 20, closed=True),
        Window(20, None),
    ]
    token = dumps_windows(windows)
    assert is_parallel_token(token)
    assert not is_parallel_token(ScanPosition(moment, {"a"}).dumps())
    back = loads_windows(token)
    assert [(w.lo, w.hi, w.position) for w in back] == [
        (None, 10, ScanPosition(moment, {"a", "b"})),
        (20, None, ScanPosition()),
    ]


@pytest.mark.parametrize(
    "token", ["", "xyz", ScanPosition().dumps(), "W1syLFtbMSwwLG51bGwsW11dXV0"]
)
def test_a_bad_parallel_token_is_a_value_error(token: str) -> None:
    with pytest.raises(ValueError, match="resume_from"):
        loads_windows(token)


def test_ms_round_trip() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, 999_000, tzinfo=timezone.utc)
    assert from_ms(to_ms(moment)) == moment


@pytest.mark.parametrize(
    ("parallel", "order", "message"),
    [
        (0, None, "parallel must be an int from 1"),
        (-3, None, "parallel must be an int from 1"),
        (True, None, "parallel must be an int from 1"),
        ("fast", None, "parallel must be an int from 1"),
        (2.0, None, "parallel must be an int from 1"),
        (1_001, None, "parallel must be an int from 1"),
        (4, "updated_at", "parallel works with order='created_at' or '-created_at' only"),
        ("auto", "-source_id", "parallel works with order="),
    ],
)
def test_bad_parallel_arguments(parallel: object, order: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_parallel(parallel, order, CREATED_AT_ORDERS)


@pytest.mark.parametrize("parallel", [None, 1, 16, "auto"])
@pytest.mark.parametrize("order", [None, "created_at", "-created_at"])
def test_good_parallel_arguments(parallel: object, order: str | None) -> None:
    check_parallel(parallel, order, CREATED_AT_ORDERS)


def test_auto_spends_a_period_within_a_quarter_of_it() -> None:
    budget = RateLimit(limit=300, remaining=300, retry_at=1.0)
    # 300 requests at 0.2 s each within 2.5 s: 24 streams.
    assert auto_streams(latency=0.2, rate_limit=budget, period=10.0, cap=64) == 24
    # A slower plan needs fewer: 100 a minute at 0.2 s.
    slow = RateLimit(limit=100, remaining=100, retry_at=1.0)
    assert auto_streams(latency=0.2, rate_limit=slow, period=60.0, cap=64) == 2
    # Bounded by max_concurrency and by MAX_STREAMS.
    assert auto_streams(latency=0.2, rate_limit=budget, period=10.0, cap=5) == 5
    huge = RateLimit(limit=10**6, remaining=10**6, retry_at=1.0)
    assert auto_streams(latency=0.2, rate_limit=huge, period=1.0, cap=10**6) == MAX_STREAMS


def test_auto_without_a_budget_follows_the_latency() -> None:
    assert auto_streams(latency=None, rate_limit=None, period=None, cap=64) == 4
    assert auto_streams(latency=0.001, rate_limit=None, period=None, cap=64) == 2
    assert auto_streams(latency=0.05, rate_limit=None, period=None, cap=64) == 5
    assert auto_streams(latency=0.5, rate_limit=None, period=None, cap=64) == 16
    assert auto_streams(latency=0.5, rate_limit=None, period=None, cap=1) == 1
