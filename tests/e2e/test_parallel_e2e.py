"""``customers.list(parallel=...)`` against the emulator over loopback HTTP.

Every customer exactly once with several streams at once: under runs of 300 customers per
millisecond in both cursor modes, through faults, with windows of very different sizes (so
streams steal work), after cancelling mid-scan and after resuming from a position taken
mid-scan. Bad arguments are refused before any request; a page out of order is an error.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from e2e_helpers import at, iso, requests_total

from voucherify_async import (
    AsyncVoucherify,
    AuthenticationError,
    Hooks,
    ListOrderError,
    MockRequest,
    MockResponse,
    MockTransport,
    ResponseEvent,
)
from voucherify_async.emulator import Emulator

MODES = ["exclusive", "inclusive"]


async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


async def scan(vf: AsyncVoucherify, **options: Any) -> list[str]:
    return [c.id async for c in vf.customers.list(**options)]


def assert_once(ids: list[str], expected: list[str]) -> None:
    assert len(ids) == len(set(ids)), "a customer came twice"
    assert set(ids) == set(expected), "a customer is missing or foreign"


@pytest.mark.parametrize("parallel", [4, "auto"])
@pytest.mark.parametrize("mode", MODES)
async def test_runs_of_300_per_millisecond_exactly_once(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, mode: str, parallel: Any
) -> None:
    await voucherify_emulator.seed_customers(12_000, same_created_at=300)
    expected = await voucherify_emulator.customer_ids()
    await voucherify_emulator.configure(starting_after_mode=mode)
    ids = await scan(voucherify_client, limit=100, parallel=parallel)
    assert_once(ids, expected)


@pytest.mark.parametrize("order", [None, "created_at", "-created_at"])
async def test_every_order_of_the_created_at_scan_works_in_parallel(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, order: str | None
) -> None:
    await voucherify_emulator.seed_customers(1_500, same_created_at=7)
    expected = await voucherify_emulator.customer_ids()
    assert_once(await scan(voucherify_client, limit=50, parallel=3, order=order), expected)


async def test_exactly_once_through_a_fault_every_seventh_request(
    voucherify_emulator: Emulator,
) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(5_000, same_created_at=3)
    expected = await emu.customer_ids()
    # A seventh of the answers fail: errors and dropped connections, each retried.
    await emu.configure(error_rate=0.08, drop_rate=0.06, fault_seed=7)
    async with emu.client(max_retries=8, sleep=no_sleep) as vf:
        ids = await scan(vf, limit=50, parallel=6)
    stats = await emu.stats()
    assert stats["faults"], "no fault was injected"
    assert_once(ids, expected)


async def test_streams_steal_from_a_window_much_larger_than_the_others(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    emu = voucherify_emulator
    # One customer a second for 100 s, then 6,000 in 6 s: cut by time, one
    # window holds nearly everything, and the streams whose windows were empty split it.
    await emu.seed_customers(100, start=iso(at(0)), step_ms=1_000)
    await emu.seed_customers(6_000, start=iso(at(100_000)))
    expected = await emu.customer_ids()
    pager = voucherify_client.customers.list(limit=20, parallel=4)
    ids = [c.id async for c in pager]
    assert_once(ids, expected)
    progress = pager.progress
    assert progress is not None
    assert progress.splits > 0, "no stream took work from another"
    assert progress.yielded == progress.total == len(expected)


async def test_cancelling_mid_scan_leaves_no_task_behind(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    await voucherify_emulator.seed_customers(3_000)
    tasks_before = asyncio.all_tasks()

    async def consume() -> None:
        async for _ in voucherify_client.customers.list(limit=20, parallel=8):
            await asyncio.sleep(0.001)

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0.15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The abandoned generator is closed by the loop's finalizer in the next turns.
    for _ in range(200):
        if asyncio.all_tasks() - tasks_before == set():
            break
        await asyncio.sleep(0.01)
    assert asyncio.all_tasks() - tasks_before == set(), "a stream outlived its scan"
    # Nothing is sent once the scan is gone.
    sent = await requests_total(voucherify_emulator)
    await asyncio.sleep(0.1)
    assert await requests_total(voucherify_emulator) == sent


async def test_breaking_out_closes_the_streams(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    await voucherify_emulator.seed_customers(2_000)
    tasks_before = asyncio.all_tasks()
    iterator = voucherify_client.customers.list(limit=20, parallel=5).__aiter__()
    for _ in range(30):
        await iterator.__anext__()
    await iterator.aclose()  # type: ignore[attr-defined]
    assert asyncio.all_tasks() - tasks_before == set()


@pytest.mark.parametrize("stop_after", [1, 777, 2_500])
async def test_resuming_from_a_position_taken_mid_scan_yields_the_rest_once(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, stop_after: int
) -> None:
    await voucherify_emulator.seed_customers(3_000, same_created_at=5)
    expected = await voucherify_emulator.customer_ids()
    first: list[str] = []
    pager = voucherify_client.customers.list(limit=25, parallel=6)
    iterator = pager.__aiter__()
    for _ in range(stop_after):
        first.append((await iterator.__anext__()).id)
    position = pager.position
    await iterator.aclose()  # type: ignore[attr-defined]
    assert position is not None
    rest = await scan(voucherify_client, limit=25, parallel=3, resume_from=position)
    assert_once(first + rest, expected)


async def test_a_finished_scan_resumes_to_nothing(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    await voucherify_emulator.seed_customers(300)
    pager = voucherify_client.customers.list(limit=50, parallel=3)
    assert len(await scan(voucherify_client, limit=50, parallel=3)) == 300
    async for _ in pager:
        pass
    assert pager.position is not None
    assert await scan(voucherify_client, parallel=2, resume_from=pager.position) == []


async def test_an_empty_list_and_one_customer(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    assert await scan(voucherify_client, parallel="auto") == []
    await voucherify_emulator.seed_customers(1)
    assert len(await scan(voucherify_client, parallel=8)) == 1


async def test_filters_still_apply(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    await voucherify_emulator.seed_customers(
        900, start=iso(at(0)), city=["Warsaw", "Paris", "Oslo"]
    )
    ids = await scan(
        voucherify_client,
        parallel=4,
        city="Paris",
        created_at_after=at(100),
        created_at_before=at(800),
    )
    serial = await scan(
        voucherify_client, city="Paris", created_at_after=at(100), created_at_before=at(800)
    )
    assert serial and sorted(ids) == sorted(serial)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"parallel": 0}, "parallel must be"),
        ({"parallel": -1}, "parallel must be"),
        ({"parallel": True}, "parallel must be"),
        ({"parallel": "fastest"}, "parallel must be"),
        ({"parallel": 4, "order": "updated_at"}, "parallel works with order="),
        ({"parallel": 4, "page": 2}, "parallel cannot be combined with page"),
        ({"parallel": 4, "resume_from": "nonsense"}, "resume_from must be a position"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    voucherify_emulator: Emulator,
    voucherify_client: AsyncVoucherify,
    options: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        voucherify_client.customers.list(**options)
    assert await requests_total(voucherify_emulator) == 0


async def test_a_sequential_position_is_not_taken_for_a_parallel_one(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    await voucherify_emulator.seed_customers(30)
    pager = voucherify_client.customers.list(limit=10)
    async for _ in pager:
        break
    assert pager.position is not None
    with pytest.raises(ValueError, match="resume_from must be a position taken from a scan"):
        voucherify_client.customers.list(parallel=2, resume_from=pager.position)


def _customer(index: int) -> dict[str, Any]:
    return {
        "id": f"cust_{index}",
        "object": "customer",
        "created_at": iso(at(index * 10)),
    }


@pytest.mark.parametrize("parallel", [None, 2])
async def test_a_page_out_of_the_order_asked_for_is_an_error_not_a_loss(
    parallel: int | None,
) -> None:
    # A wrong mock (or a broken proxy): ascending answers whatever order was asked for.
    def handler(request: MockRequest) -> MockResponse:
        limit = int(dict(request.params).get("limit", "10"))
        customers = [_customer(i) for i in range(1, 3)][:limit]
        return MockResponse(
            200,
            json={
                "object": "list",
                "data_ref": "customers",
                "customers": customers,
                "total": 2,
                "has_more": False,
            },
        )

    async with AsyncVoucherify(
        app_id="a", app_token="t", base_url="https://api.example", transport=MockTransport(handler)
    ) as vf:
        with pytest.raises(ListOrderError, match="out of order"):
            # The default order is newest first; the answer is oldest first.
            await scan(vf, limit=100, order=None if parallel is None else "-created_at")


async def test_an_error_finding_the_range_comes_out_as_itself(
    voucherify_emulator: Emulator,
) -> None:
    await voucherify_emulator.seed_customers(10)
    async with AsyncVoucherify(
        app_id=voucherify_emulator.app_id, app_token="wrong", base_url=voucherify_emulator.url
    ) as vf:
        with pytest.raises(AuthenticationError):
            await scan(vf, parallel=4)


class _SwallowsOneCancel(Hooks):
    """Once ``hold`` is set, an on_response hook that waits until it is cancelled and
    swallows the cancellation: what a library under a stream may do when a cancellation
    races with an answer."""

    def __init__(self) -> None:
        self.hold = False
        self.waiting = 0
        self.swallowed = 0

    async def on_response(self, event: ResponseEvent) -> None:
        if not self.hold:
            return
        self.waiting += 1
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.swallowed += 1


async def test_closing_ends_a_stream_that_swallowed_its_cancellation(
    voucherify_emulator: Emulator,
) -> None:
    await voucherify_emulator.seed_customers(2_000)
    hook = _SwallowsOneCancel()
    async with voucherify_emulator.client(hooks=hook) as vf:
        iterator = vf.customers.list(limit=20, parallel=5).__aiter__()
        for _ in range(30):
            await iterator.__anext__()
        hook.hold = True
        for _ in range(200):  # a stream fetching ahead gets an answer and waits in the hook
            if hook.waiting:
                break
            await asyncio.sleep(0.01)
        assert hook.waiting, "no stream reached the hook"
        # Bounded: a stream left waiting to hand over its page would hang the close.
        await asyncio.wait_for(iterator.aclose(), 10)  # type: ignore[attr-defined]
    assert hook.swallowed > 0
