"""One deadline per call, and the retry policy's knobs, against the emulator over loopback.

Each kind of wait a call can spend its deadline in (a slot under ``max_concurrency``, the
rate limit, the backoff, a slow attempt) ends at the deadline with an error that says where
the time went; nothing waits past it.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from voucherify_async import (
    AsyncVoucherify,
    ConfigurationError,
    DeadlineExceededError,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
)
from voucherify_async.emulator import Emulator


class Sleeps:
    """The client's sleep: records each wait and takes no time."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)


async def requests_total(emu: Emulator) -> int:
    total: int = (await emu.stats())["requests_total"]
    return total


async def test_a_call_queued_behind_max_concurrency_ends_at_its_deadline() -> None:
    async with Emulator() as emu, emu.client(max_concurrency=1) as vf:
        await vf.customers.create(source_id="bob")
        await emu.script_faults([{"kind": "latency", "latency_ms": 1500, "method": "GET"}])
        holder = asyncio.create_task(vf.customers.get("bob"))  # takes the only slot
        await asyncio.sleep(0.1)
        began = time.monotonic()
        with pytest.raises(DeadlineExceededError) as info:
            await vf.with_options(deadline=0.3).customers.get("bob")
        elapsed = time.monotonic() - began
        await holder
    error = info.value
    assert 0.25 < elapsed < 0.9
    assert "waiting for a slot" in str(error)
    assert error.queued == pytest.approx(0.3, abs=0.15)
    assert error.attempt_times == () and error.attempts == 0 and error.sent is False


async def test_a_rate_limit_wait_past_the_deadline_fails_at_once_with_retry_after() -> None:
    async with Emulator(rate_limit=2, rate_limit_period=20) as emu, emu.client(deadline=1.0) as vf:
        await vf.customers.create(source_id="bob")
        await vf.customers.get("bob")  # the period's two requests
        before = await requests_total(emu)
        began = time.monotonic()
        with pytest.raises(RateLimitError) as info:
            await vf.customers.get("bob")
        elapsed = time.monotonic() - began
        assert await requests_total(emu) == before  # nothing sent
    assert elapsed < 0.5
    assert info.value.retry_after is not None and 1.0 < info.value.retry_after <= 21
    assert "left of the call's deadline" in str(info.value)


async def test_a_backoff_that_would_pass_the_deadline_is_not_slept() -> None:
    async with Emulator() as emu, emu.client(deadline=0.3) as vf:
        await vf.customers.create(source_id="bob")
        await emu.script_faults([{"kind": "error", "status": 503, "method": "GET"}])
        began = time.monotonic()
        with pytest.raises(DeadlineExceededError) as info:
            await vf.customers.get("bob")  # the first backoff, 0.5 s at most, is too long
        elapsed = time.monotonic() - began
    assert elapsed < 0.25
    assert info.value.last_failure == "HTTP 503"
    assert info.value.attempts == 1
    assert "before a retry could be sent" in str(info.value)


async def test_a_slow_attempt_is_cut_at_the_deadline_and_a_write_may_be_applied() -> None:
    async with Emulator(latency_ms=2000) as emu, emu.client(deadline=0.3) as vf:
        began = time.monotonic()
        with pytest.raises(DeadlineExceededError) as info:
            await vf.customers.create(name="Keyless")
        elapsed = time.monotonic() - began
    error = info.value
    assert 0.25 < elapsed < 0.9
    assert "during an attempt" in str(error)
    assert error.sent is True and error.maybe_applied
    assert error.attempts == 1 and error.attempt_times[0] == pytest.approx(0.3, abs=0.2)


async def test_within_the_deadline_nothing_changes() -> None:
    async with Emulator() as emu, emu.client(deadline=5.0, sleep=Sleeps()) as vf:
        await vf.customers.create(source_id="bob")
        await emu.script_faults([{"kind": "error", "status": 503, "method": "GET"}])
        assert (await vf.customers.get("bob")).source_id == "bob"


# --- the retry policy -----------------------------------------------------------------------


async def test_the_backoff_follows_the_policy() -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(max_retries=3, initial_delay=0.1, max_delay=0.25, jitter=0.0)
    async with Emulator() as emu, emu.client(retry=policy, sleep=sleeps) as vf:
        await vf.customers.create(source_id="bob")
        await emu.script_faults([{"kind": "error", "status": 503, "method": "GET", "count": 3}])
        await vf.customers.get("bob")
    assert sleeps.seen == [0.1, 0.2, 0.25]


async def test_only_the_statuses_of_the_policy_are_retried() -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(statuses=frozenset({503}))
    async with Emulator() as emu, emu.client(retry=policy, sleep=sleeps) as vf:
        await vf.customers.create(source_id="bob")
        await emu.script_faults([{"kind": "error", "status": 503, "method": "GET"}])
        await vf.customers.get("bob")  # retried
        await emu.script_faults([{"kind": "error", "status": 500, "method": "GET"}])
        with pytest.raises(InternalServerError):
            await vf.customers.get("bob")  # not retried
    assert len(sleeps.seen) == 1


async def test_the_retry_budget_bounds_the_retries_of_an_outage() -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(max_retries=2, budget=0.1)
    async with Emulator(error_rate=1.0) as emu, emu.client(retry=policy, sleep=sleeps) as vf:
        for _ in range(40):
            with pytest.raises(InternalServerError):
                await vf.customers.get("bob")
        sent = await requests_total(emu)
    # 40 calls: a reserve of 10 retries plus one for every ten calls, not 80.
    assert len(sleeps.seen) <= 10 + 4 + 1
    assert sent == 40 + len(sleeps.seen)


async def test_with_options_sets_a_policy_and_a_deadline_for_one_call() -> None:
    async with Emulator() as emu, emu.client() as vf:
        quick = vf.with_options(retry=RetryPolicy.request_path(), deadline=1.5)
        assert quick.retry.max_retries == 1 and quick.retry.initial_delay == 0.05
        assert quick.deadline == 1.5 and vf.deadline is None and vf.retry == RetryPolicy()
        assert vf.with_options(max_retries=5).retry.max_retries == 5
        assert quick.with_options(max_retries=0).retry.initial_delay == 0.05
        assert vf.with_options(deadline=None).deadline is None


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"jitter": 2}, "jitter must be in [0, 1]"),
        ({"initial_delay": -1}, "initial_delay must be a finite number"),
        ({"initial_delay": 2, "max_delay": 1}, "max_delay (1) must be >= initial_delay"),
        ({"statuses": {200}}, "error statuses (400-599)"),
        ({"statuses": "503"}, "a set of HTTP statuses"),
        ({"budget": 0}, "budget must be in (0, 10]"),
        ({"max_retries": -1}, "max_retries must be an int >= 0"),
    ],
)
def test_a_bad_policy_names_the_field(options: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError) as info:
        RetryPolicy(**options)  # type: ignore[arg-type]
    assert says in str(info.value)


@pytest.mark.parametrize("deadline", [0, -1, float("inf"), True, "2"])
def test_a_bad_deadline_is_a_configuration_error(deadline: object) -> None:
    with pytest.raises(ConfigurationError, match="deadline must be a number of seconds > 0"):
        AsyncVoucherify(app_id="id", app_token="tok", deadline=deadline)  # type: ignore[arg-type]
