"""The mistakes a newcomer makes get one line that says what to do, against the emulator."""

from __future__ import annotations

import time

import pytest

from voucherify_async import APIConnectionError, AsyncVoucherify, RateLimitError
from voucherify_async.emulator import Emulator


def test_with_instead_of_async_with_says_async_with() -> None:
    client = AsyncVoucherify(app_id="id", app_token="token")
    with pytest.raises(TypeError, match="use 'async with AsyncVoucherify"), client:
        pass


async def test_for_instead_of_async_for_says_async_for() -> None:
    async with Emulator() as emu, emu.client() as vf:
        with pytest.raises(TypeError, match="read with 'async for'"):
            for _ in vf.customers.list():
                pass


async def test_a_429_not_retried_because_of_its_long_wait_says_why() -> None:
    async with Emulator() as emu, emu.client(max_retry_wait=5) as vf:
        await emu.script_faults([{"kind": "rate_limit", "method": "GET", "retry_after": 30}])
        with pytest.raises(RateLimitError) as info:
            await vf.customers.get("anyone")
    message = str(info.value)
    assert "not retried: the API asks to wait 30 s, longer than max_retry_wait (5 s)" in message
    assert info.value.retry_after == 30


async def test_a_429_after_the_retries_says_they_are_spent() -> None:
    async with Emulator() as emu, emu.client(max_retries=1) as vf:
        await emu.script_faults(
            [{"kind": "rate_limit", "method": "GET", "retry_after": 0, "count": 2}]
        )
        with pytest.raises(RateLimitError, match="the 1 retries max_retries allows are spent"):
            await vf.customers.get("anyone")


async def test_a_connection_error_says_how_many_attempts_were_made() -> None:
    slept: list[float] = []

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)

    # A closed port: refused three times (two retries), nothing sent.
    async with Emulator() as emu:
        url = emu.url
    started = time.monotonic()
    async with AsyncVoucherify(
        app_id="id", app_token="secret-token-123", base_url=url, sleep=no_wait
    ) as vf:
        with pytest.raises(APIConnectionError) as info:
            await vf.customers.get("anyone")
    assert time.monotonic() - started < 10
    assert info.value.attempts == 3 and len(slept) == 2
    assert "after 3 attempts, the last: " in str(info.value)
