"""The streaming guarantees, against the emulator over loopback HTTP.

Every ``async for`` over a list yields each item exactly once, in order, whatever the
server's cursor semantics, however many customers share a millisecond, while customers are
created and deleted, through 429s and dropped connections, and across a resumed scan; the
client paces itself so a scan meets no 429; the next page is fetched while the caller works
on this one, and breaking out early leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import gc
import random
import warnings
from collections.abc import AsyncIterator

import aiohttp
import anyio
import pytest
from e2e_helpers import at, iso, requests_total, wait_for_requests

from voucherify_async import AsyncVoucherify, Customer, PaginationError
from voucherify_async.emulator import Emulator

MODES = ["exclusive", "inclusive"]
ORDERS = [None, "created_at"]  # None: the API's default, -created_at


def expected_order(oldest_first: list[str], order: str | None) -> list[str]:
    return oldest_first if order == "created_at" else oldest_first[::-1]


def assert_in_created_at_order(customers: list[Customer], order: str | None) -> None:
    stamps = [c.created_at for c in customers]
    assert None not in stamps
    assert stamps == sorted(stamps, reverse=order != "created_at")  # type: ignore[type-var]


# --- many customers per millisecond ------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS, ids=["desc", "asc"])
@pytest.mark.parametrize("mode", MODES)
async def test_25k_customers_in_runs_of_300_per_millisecond(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, mode: str, order: str | None
) -> None:
    await voucherify_emulator.seed_customers(25_000, same_created_at=300)
    oldest_first = await voucherify_emulator.customer_ids()
    await voucherify_emulator.configure(starting_after_mode=mode)
    streamed = [c async for c in voucherify_client.customers.list(limit=100, order=order)]
    ids = [c.id for c in streamed]
    assert len(ids) == len(set(ids)) == 25_000  # no repeats
    assert set(ids) == set(oldest_first)  # nothing missing, nothing foreign
    assert ids == expected_order(oldest_first, order)  # in the scan's order
    assert_in_created_at_order(streamed, order)
    stats = await voucherify_emulator.stats()
    assert set(stats["by_status"]) == {"200"}
    assert stats["requests_total"] < 25_000 / 100 * 2  # pages are not re-read wholesale


@pytest.mark.parametrize("order", ORDERS, ids=["desc", "asc"])
@pytest.mark.parametrize("mode", MODES)
async def test_hundreds_in_one_millisecond_across_a_page_boundary(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, mode: str, order: str | None
) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(150, start=iso(at(0)))
    await emu.seed_customers(347, same_created_at=347, start=iso(at(500)))
    await emu.seed_customers(150, start=iso(at(1_000)))
    oldest_first = await emu.customer_ids()
    await emu.configure(starting_after_mode=mode)
    # 37 divides neither 150 nor 347: the group starts and ends in the middle of pages.
    ids = [c.id async for c in voucherify_client.customers.list(limit=37, order=order)]
    assert ids == expected_order(oldest_first, order)


# --- writes during a scan -----------------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS, ids=["desc", "asc"])
@pytest.mark.parametrize("mode", MODES)
async def test_inserts_and_deletes_during_a_scan(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, mode: str, order: str | None
) -> None:
    emu, vf = voucherify_emulator, voucherify_client
    # Runs of 150 in one millisecond, three pages of 50: deleting a customer already
    # yielded from the run being read moves the rest of the run up a place.
    await emu.seed_customers(1_500, same_created_at=150)
    initial = await emu.customer_ids()
    ahead = expected_order(initial, order)
    await emu.configure(starting_after_mode=mode)
    rng = random.Random(4)
    yielded: list[str] = []
    deleted: set[str] = set()
    created: set[str] = set()
    async for customer in vf.customers.list(limit=50, order=order):
        yielded.append(customer.id)
        if len(yielded) % 20:
            continue
        # One new customer, one deleted from those already yielded (recently, so from the
        # run being read), one deleted from those not reached yet.
        new = await vf.customers.create(source_id=f"new-{len(yielded)}")
        created.add(new.id)
        for victim in (
            rng.choice(yielded[-15:]),
            rng.choice(ahead[len(yielded) + 60 : len(yielded) + 400] or [yielded[0]]),
        ):
            if victim not in deleted:
                await vf.customers.delete(victim)
                deleted.add(victim)
    assert len(deleted) > 100 and len(created) > 50
    assert len(yielded) == len(set(yielded)), "a customer was yielded twice"
    survivors = set(initial) - deleted
    missing = survivors - set(yielded)
    assert not missing, f"{len(missing)} customers that existed throughout were skipped"
    assert set(yielded) <= set(initial) | created
    if order is None:  # descending: customers created during the scan are newer than it
        assert not set(yielded) & created


# --- 429s and dropped connections in the middle -------------------------------------------


async def test_a_429_and_a_dropped_connection_mid_scan_are_survived(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(3_000, same_created_at=7)
    expected = (await emu.customer_ids())[::-1]
    ids: list[str] = []
    async for customer in voucherify_client.customers.list(limit=100):
        ids.append(customer.id)
        if len(ids) == 700:
            await emu.script_faults(
                [{"kind": "rate_limit", "retry_after": 1, "method": "GET", "path": "/v1/customers"}]
            )
        elif len(ids) == 1_900:
            # aiohttp resends an idempotent request once on its own; the second drop is ours.
            await emu.script_faults([{"kind": "drop", "count": 2, "method": "GET"}])
    assert ids == expected
    stats = await emu.stats()
    assert stats["faults"] == {"rate_limit": 1, "drop": 2}
    assert stats["by_status"]["429"] == 1


async def test_a_real_rate_limit_mid_scan_is_survived(voucherify_emulator: Emulator) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(1_000, same_created_at=3)
    expected = await emu.customer_ids()
    await emu.configure(rate_limit=25, rate_limit_period=2.0)
    async with emu.client() as vf, aiohttp.ClientSession(headers=emu.headers) as raw:
        ids: list[str] = []
        async for customer in vf.customers.list(limit=50, order="created_at"):
            ids.append(customer.id)
            if len(ids) == 300:
                # Someone else spends the rest of the period behind the client's back.
                while True:
                    async with raw.get(f"{emu.url}/v1/customers/{expected[0]}") as answer:
                        if answer.status == 429:
                            break
    assert ids == expected
    stats = await emu.stats()
    # One 429 for the raw spender, at least one for the scan, which waited and went on.
    assert stats["too_many_requests"] >= 2


# --- resuming -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run", "limit", "stop"), [(7, 50, 777), (150, 50, 1_010), (1, 100, 1_234)]
)
@pytest.mark.parametrize("order", ORDERS, ids=["desc", "asc"])
async def test_a_resumed_scan_yields_the_rest_exactly_once(
    voucherify_emulator: Emulator,
    voucherify_client: AsyncVoucherify,
    order: str | None,
    run: int,
    limit: int,
    stop: int,
) -> None:
    emu, vf = voucherify_emulator, voucherify_client
    await emu.seed_customers(2_000, same_created_at=run)
    expected = expected_order(await emu.customer_ids(), order)
    await emu.configure(starting_after_mode="inclusive" if run == 150 else "exclusive")

    handled: list[str] = []
    saved: str | None = None
    pager = vf.customers.list(limit=limit, order=order)  # prefetch on (the default)
    async for customer in pager:
        handled.append(customer.id)  # the work ...
        saved = pager.position  # ... then the checkpoint
        if len(handled) == stop:
            break  # the worker dies here; a page or two was fetched ahead
    assert saved is not None and isinstance(saved, str)

    again = vf.customers.list(limit=limit, order=order, resume_from=saved)
    rest = [customer.id async for customer in again]
    assert handled + rest == expected


# --- the id-cursor lists ------------------------------------------------------------------


async def test_activity_redeemables_and_activities_stream_exactly_once(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    vf = voucherify_client
    customer = await vf.customers.create(source_id="busy", name="v0")
    for number in range(1, 250):
        await vf.customers.update("busy", name=f"v{number}")
    seeded = await asyncio.gather(
        *(voucherify_emulator.seed_redeemable(customer.id) for _ in range(140))
    )
    redeemable_ids = {r["id"] for r in seeded}

    events = [e async for e in vf.customers.list_activity("busy", limit=100)]
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids)) == 250
    assert [e.type for e in events].count("customer.updated") == 249
    stamps = [e.created_at for e in events]
    assert stamps == sorted(stamps, reverse=True)  # type: ignore[type-var]
    oldest_first = [e.id async for e in vf.customers.list_activity("busy", order="created_at")]
    assert oldest_first == ids[::-1]

    with pytest.warns(DeprecationWarning):
        deprecated = vf.customers.list_activities("busy", limit=100)
    old_ids = [e.id async for e in deprecated]
    assert len(old_ids) == len(set(old_ids)) == 250
    assert set(old_ids) == set(ids)

    held = [r.id async for r in vf.customers.list_redeemables("busy", limit=9)]
    assert len(held) == len(set(held)) == 140
    assert set(held) == redeemable_ids
    assert held == sorted(held, reverse=True)
    by_id = [r.id async for r in vf.customers.list_redeemables("busy", order="id", limit=100)]
    assert by_id == sorted(redeemable_ids)


# --- more than 99 pages in one millisecond ------------------------------------------------


@pytest.mark.parametrize("order", ORDERS, ids=["desc", "asc"])
async def test_more_ties_than_99_pages_raise_after_yielding_what_they_could(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, order: str | None
) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(20, start=iso(at(0)))
    await emu.seed_customers(600, same_created_at=600, start=iso(at(100)))
    await emu.seed_customers(20, start=iso(at(200)))
    expected = expected_order(await emu.customer_ids(), order)
    yielded: list[str] = []
    with pytest.raises(PaginationError) as caught:
        async for customer in voucherify_client.customers.list(limit=5, order=order):
            yielded.append(customer.id)
    message = str(caught.value)
    assert "share created_at 2024-01-01T00:00:00.100Z" in message
    assert "99 pages of 5" in message
    # What came before the error is a gapless prefix of the list: nothing was skipped.
    assert yielded == expected[: len(yielded)]
    assert len(yielded) == 20 + 99 * 5


# --- pacing -------------------------------------------------------------------------------


async def test_a_paced_scan_meets_no_429(voucherify_emulator: Emulator) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(450, same_created_at=2)
    expected = (await emu.customer_ids())[::-1]
    await emu.configure(rate_limit=30, rate_limit_period=1.0)
    async with emu.client() as vf:
        ids = [c.id async for c in vf.customers.list(limit=10)]
        limits = vf.rate_limit
    assert ids == expected
    stats = await emu.stats()
    assert stats["requests_total"] > 45  # the quota ran out at least once ...
    assert stats["too_many_requests"] == 0  # ... and the client waited instead of a 429
    assert set(stats["by_status"]) == {"200"}
    assert limits is not None and limits.limit == 30


async def test_concurrent_scans_and_lookups_of_one_client_meet_no_429(
    voucherify_emulator: Emulator,
) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(120, same_created_at=3)
    oldest_first = await emu.customer_ids()
    await emu.configure(rate_limit=30, rate_limit_period=1.0)
    async with emu.client() as vf:
        patient = vf.with_options(timeout=30)  # shares the pacing with vf

        async def scan(order: str | None) -> list[str]:
            return [c.id async for c in vf.customers.list(limit=20, order=order)]

        async def lookups(start: int) -> list[str]:
            picked = range(start, 120, 24)
            return [(await patient.customers.get(oldest_first[n])).id for n in picked]

        # A burst larger than the whole quota at once, before any answer came back.
        burst = await asyncio.gather(*(vf.customers.get(cid) for cid in oldest_first[:35]))
        results = await asyncio.gather(scan(None), scan("created_at"), lookups(0), lookups(5))
    assert [c.id for c in burst] == oldest_first[:35]
    assert results[0] == oldest_first[::-1] and results[1] == oldest_first
    assert results[2] == oldest_first[0:120:24] and results[3] == oldest_first[5:120:24]
    stats = await emu.stats()
    assert stats["requests_total"] > 50
    assert stats["too_many_requests"] == 0
    assert set(stats["by_status"]) == {"200"}


# --- prefetch -----------------------------------------------------------------------------


async def test_the_next_page_is_requested_while_the_caller_works_on_this_one(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(250)
    await emu.configure(latency_ms=100)
    seen: list[int] = []
    position = 0
    async for _ in voucherify_client.customers.list(limit=100):
        position += 1
        if position in (1, 101):
            # Still on the first item of page N: page N + 1 has been asked for already.
            page = (position - 1) // 100 + 1
            seen.append(await wait_for_requests(emu, page + 1))
    assert seen == [2, 3]
    assert position == 250


async def test_without_prefetch_the_next_page_waits_for_the_caller(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(150)
    position = 0
    async for _ in voucherify_client.customers.list(limit=100, prefetch=False):
        position += 1
        if position == 1:
            await asyncio.sleep(0.2)
            assert await requests_total(emu) == 1
    assert position == 150 and await requests_total(emu) == 2


async def test_breaking_out_early_leaves_no_task_connection_or_warning(
    voucherify_emulator: Emulator,
) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(500)
    ids = await emu.customer_ids()
    await emu.configure(latency_ms=300)
    # One connection in the pool: a prefetch that kept its connection would block the next call.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        vf = AsyncVoucherify(
            app_id=emu.app_id, app_token=emu.app_token, base_url=emu.url, session=session
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tasks_before = asyncio.all_tasks()
            async for _ in vf.customers.list(limit=100):
                await wait_for_requests(emu, 2)  # page 2 is in flight (the server sleeps)
                break
            # The loop closes the abandoned generator soon, which cancels the prefetch: well
            # before the server would have answered it (300 ms).
            for _ in range(15):
                if asyncio.all_tasks() == tasks_before:
                    break
                await asyncio.sleep(0.01)
            assert asyncio.all_tasks() == tasks_before, "a prefetch task outlived the loop"
            await emu.configure(latency_ms=0)
            with anyio.fail_after(5):
                assert (await vf.customers.get(ids[0])).id == ids[0]
            await vf.aclose()
            gc.collect()
        assert [str(w.message) for w in caught] == []
    assert await requests_total(emu) == 3


async def test_closing_the_iterator_cancels_the_prefetch_at_once(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    emu = voucherify_emulator
    await emu.seed_customers(300)
    await emu.configure(latency_ms=600)
    iterator: AsyncIterator[Customer] = aiter(voucherify_client.customers.list(limit=100))
    with anyio.fail_after(10):
        await anext(iterator)
    await wait_for_requests(emu, 2)
    with anyio.fail_after(0.3):  # does not wait for the answer of the page in flight
        await iterator.aclose()  # type: ignore[attr-defined]
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
