"""``fan_out`` without a network: order, the concurrency bound, fail-fast, per-item results."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator

import anyio
import pytest
from aioresponses import aioresponses

from voucherify_async import AsyncVoucherify, fan_out


class Probe:
    """A coroutine function that records how many calls run at once and which got cancelled."""

    def __init__(self, delay: float = 0.001, fail_on: set[int] | None = None) -> None:
        self.delay = delay
        self.fail_on = fail_on or set()
        self.running = 0
        self.peak = 0
        self.started: list[int] = []
        self.cancelled: list[int] = []
        self.finished: list[int] = []

    async def __call__(self, item: int) -> str:
        self.started.append(item)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            # Later items finish sooner, so results arrive out of input order.
            await anyio.sleep(self.delay * (1 + (item * 7919) % 5))
            if item in self.fail_on:
                raise LookupError(f"no item {item}")
            self.finished.append(item)
            return f"r{item}"
        except anyio.get_cancelled_exc_class():
            self.cancelled.append(item)
            raise
        finally:
            self.running -= 1


async def test_results_come_back_in_input_order() -> None:
    probe = Probe()
    results = await fan_out(probe, range(200), concurrency=16)
    assert results == [f"r{i}" for i in range(200)]
    assert probe.finished != sorted(probe.finished)  # they did finish out of order


async def test_concurrency_bounds_the_calls_in_flight() -> None:
    probe = Probe()
    await fan_out(probe, range(300), concurrency=7)
    assert probe.peak == 7
    probe = Probe(delay=0.0001)
    await fan_out(probe, range(40), concurrency=1)
    assert probe.peak == 1
    assert probe.started == list(range(40))


async def test_inputs_are_read_lazily() -> None:
    pulled: list[int] = []
    probe = Probe()

    def items() -> Iterator[int]:
        for i in range(100):
            pulled.append(i)
            # Never more than `concurrency` items taken ahead of the calls that finished.
            assert len(pulled) - len(probe.finished) <= 5
            yield i

    assert len(await fan_out(probe, items(), concurrency=5)) == 100


async def test_the_first_failure_cancels_the_rest_and_is_raised_as_itself() -> None:
    probe = Probe(delay=0.01, fail_on={3})
    with pytest.raises(LookupError, match="no item 3") as caught:
        await fan_out(probe, range(1000), concurrency=10)
    assert probe.cancelled, "calls in flight were not cancelled"
    assert len(probe.started) < 30, "new calls kept starting after the failure"
    assert probe.running == 0
    if sys.version_info >= (3, 11):
        assert any("item 3" in note for note in caught.value.__notes__)


async def test_return_exceptions_puts_each_failure_in_its_place() -> None:
    probe = Probe(fail_on={2, 5})
    results = await fan_out(probe, range(8), concurrency=3, return_exceptions=True)
    assert [type(r).__name__ for r in results] == [
        "str",
        "str",
        "LookupError",
        "str",
        "str",
        "LookupError",
        "str",
        "str",
    ]
    assert str(results[5]) == "no item 5"
    assert not probe.cancelled


async def test_a_broken_iterable_stops_the_fan_out() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        await fan_out(Probe(), items(), concurrency=4)


async def test_cancelling_the_caller_cancels_every_call_and_leaves_no_task() -> None:
    probe = Probe(delay=0.1)
    before = len(asyncio.all_tasks())
    with anyio.move_on_after(0.03):
        await fan_out(probe, range(1000), concurrency=20)
    assert len(probe.started) == 20 and len(probe.cancelled) == 20
    assert probe.running == 0
    assert len(asyncio.all_tasks()) == before
    await anyio.sleep(0.15)
    assert len(probe.started) == 20, "calls started after the fan-out was cancelled"


async def test_empty_input_and_fewer_items_than_concurrency() -> None:
    assert await fan_out(Probe(), [], concurrency=5) == []
    assert await fan_out(Probe(), [4], concurrency=50) == ["r4"]


@pytest.mark.parametrize(
    ("concurrency", "error"),
    [(0, ValueError), (-3, ValueError), (True, TypeError), (2.5, TypeError), ("4", TypeError)],
)
async def test_bad_concurrency_is_refused(concurrency: object, error: type[Exception]) -> None:
    probe = Probe()
    with pytest.raises(error, match="concurrency must be an int >= 1"):
        await fan_out(probe, range(3), concurrency=concurrency)  # type: ignore[call-overload]
    assert not probe.started


async def test_a_string_is_not_taken_for_a_list_of_inputs() -> None:
    with pytest.raises(TypeError, match="not str"):
        await fan_out(Probe(), "abc")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ids", "options", "error", "message"),
    [
        (["bob", ""], {}, ValueError, "customer_ids[1] must be a non-empty string"),
        (["bob", 7], {}, TypeError, "customer_ids[1] must be a str"),
        ("bob", {}, TypeError, "customer_ids must be an iterable of str"),
        (["bob"], {"concurrency": 0}, ValueError, "concurrency must be an int >= 1"),
    ],
)
async def test_get_many_checks_its_arguments_before_sending(
    vf: AsyncVoucherify,
    api: aioresponses,
    ids: object,
    options: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        await vf.customers.get_many(ids, **options)  # type: ignore[call-overload]
    assert not api.requests
