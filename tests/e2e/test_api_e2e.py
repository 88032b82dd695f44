"""Every endpoint of ``vf.customers`` and ``vf.async_actions`` against the emulator, over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from e2e_helpers import at, finished, iso, requests_total

from voucherify_async import (
    AsyncVoucherify,
    Customer,
    CustomerBulkUpdate,
    CustomerCreate,
    CustomerUpdate,
    NotFoundError,
)
from voucherify_async.emulator import Emulator

WEIRD_SOURCE_IDS = ["a/b?c#d", "../x", "..", "ząb 1", "%2F", ".", "a b+c&d=e", "cust_?"]


# --- single customers ---------------------------------------------------------------------


@pytest.mark.parametrize("source_id", WEIRD_SOURCE_IDS)
async def test_weird_source_ids_round_trip_through_every_customer_path(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, source_id: str
) -> None:
    vf = voucherify_client
    created = await vf.customers.create(source_id=source_id, name="Weird")
    assert created.source_id == source_id
    # The server stored exactly this string, not a decoded or normalised one.
    state = await voucherify_emulator.customer_state()
    assert state["source_ids"] == [source_id]

    fetched = await vf.customers.get(source_id)
    assert (fetched.id, fetched.source_id, fetched.name) == (created.id, source_id, "Weird")
    updated = await vf.customers.update(source_id, name="Renamed")
    assert (updated.id, updated.name) == (created.id, "Renamed")

    events = [event async for event in vf.customers.list_activity(source_id)]
    assert [event.type for event in events] == ["customer.updated", "customer.created"]
    segment = await voucherify_emulator.seed_segment("weird", [created.id])
    segments = await vf.customers.list_segments(source_id)
    assert [s.id for s in segments.data] == [segment["id"]]
    held = await voucherify_emulator.seed_redeemable(created.id)
    redeemables = [r async for r in vf.customers.list_redeemables(source_id)]
    assert [r.id for r in redeemables] == [held["id"]]
    with pytest.warns(DeprecationWarning, match="list_activity"):
        pager = vf.customers.list_activities(source_id)
    assert len([event async for event in pager]) == 2

    await vf.customers.delete(source_id)
    with pytest.raises(NotFoundError) as caught:
        await vf.customers.get(source_id)
    assert caught.value.resource_id == source_id
    assert await voucherify_emulator.customer_ids() == []


@pytest.mark.parametrize("source_id", ["a/b?c#d", "..", "%2F"])
async def test_delete_permanently_by_weird_source_id(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, source_id: str
) -> None:
    vf = voucherify_client
    customer = await vf.customers.create(source_id=source_id)
    await vf.customers.update(source_id, email="x@example.com")
    deletion = await vf.customers.delete_permanently(source_id)
    assert deletion.related_object_id == customer.id
    assert deletion.status == "DONE"
    assert deletion.data_json is not None and deletion.data_json.customer_events == 2
    for ref in (customer.id, source_id):
        with pytest.raises(NotFoundError):
            await vf.customers.get(ref)
    with pytest.raises(NotFoundError):  # the activity went with it
        await vf.customers.list_activity(customer.id)


async def test_create_upserts_by_source_id_and_by_id(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    vf = voucherify_client
    first = await vf.customers.create(source_id="bob", name="Bob", email="bob@example.com")
    again = await vf.customers.create(CustomerCreate(source_id="bob", phone="+48 600 000 000"))
    assert again.id == first.id
    assert (again.name, again.email, again.phone) == ("Bob", "bob@example.com", "+48 600 000 000")
    by_id = await vf.customers.create({"id": first.id, "name": "Robert"})
    assert (by_id.id, by_id.name, by_id.source_id) == (first.id, "Robert", "bob")
    other = await vf.customers.create(name="No source id")
    assert other.id != first.id and other.source_id is None
    assert set(await voucherify_emulator.customer_ids()) == {first.id, other.id}


async def test_update_changes_only_the_given_fields_and_sends_none_as_null(
    voucherify_client: AsyncVoucherify,
) -> None:
    vf = voucherify_client
    await vf.customers.create(
        source_id="ann",
        name="Ann",
        email="ann@example.com",
        phone="+1 555 0100",
        description="first",
        address={"city": "Warsaw", "country": "PL", "line_1": "Main 1"},
        metadata={"tier": "gold", "visits": 3},
    )
    changed = await vf.customers.update("ann", phone=None, description="second")
    assert changed.phone is None
    assert changed.description == "second"
    assert (changed.name, changed.email) == ("Ann", "ann@example.com")
    assert changed.address is not None and changed.address.city == "Warsaw"
    assert changed.metadata == {"tier": "gold", "visits": 3}
    nested = await vf.customers.update("ann", CustomerUpdate(address=None, metadata={"k": 1}))
    assert nested.address is None or nested.address.city is None
    assert nested.metadata == {"k": 1}
    assert nested.name == "Ann"
    stored = await vf.customers.get("ann")
    assert (stored.phone, stored.description, stored.metadata) == (None, "second", {"k": 1})
    assert stored.updated_at is not None and stored.created_at is not None
    assert stored.updated_at >= stored.created_at


async def test_delete_then_every_path_answers_not_found(voucherify_client: AsyncVoucherify) -> None:
    vf = voucherify_client
    customer = await vf.customers.create(source_id="gone")
    await vf.customers.delete(customer.id)
    with pytest.raises(NotFoundError):
        await vf.customers.get("gone")
    with pytest.raises(NotFoundError):
        await vf.customers.update(customer.id, name="x")
    with pytest.raises(NotFoundError):
        await vf.customers.delete(customer.id)
    with pytest.raises(NotFoundError):
        await vf.customers.list_redeemables("gone")


# --- listing customers --------------------------------------------------------------------


@pytest.fixture
async def sixty(voucherify_emulator: Emulator) -> list[str]:
    """60 customers, one a second from EPOCH, in three cities; returns their ids, oldest first."""
    await voucherify_emulator.seed_customers(60, start=iso(at(0)), step_ms=1000, city="City {i%3}")
    return await voucherify_emulator.customer_ids()


async def collect(pager: AsyncIterable[Customer]) -> list[Customer]:
    return [customer async for customer in pager]


async def test_list_filters_by_city_email_name_and_segment(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, sixty: list[str]
) -> None:
    vf = voucherify_client
    warsaw = await collect(vf.customers.list(city="City 1", limit=7))
    assert len(warsaw) == 20
    assert all(c.address is not None and c.address.city == "City 1" for c in warsaw)
    page = await vf.customers.list(city="City 1", limit=7)
    assert page.total == 20 and len(page.customers) == 7 and page.has_more is True

    by_email = await collect(vf.customers.list(email="customer7@example.com"))
    assert [c.source_id for c in by_email] == ["seed-7"]
    by_name = await collect(vf.customers.list(name="Customer 8"))
    assert [c.source_id for c in by_name] == ["seed-8"]
    assert await collect(vf.customers.list(name="Nobody")) == []

    members = sixty[5:17]
    segment = await voucherify_emulator.seed_segment("vip", members)
    in_segment = await collect(vf.customers.list(segment_id=segment["id"], limit=5))
    assert sorted(c.id for c in in_segment) == sorted(members)
    both = await collect(vf.customers.list(segment_id=segment["id"], city="City 0"))
    assert {c.id for c in both} == {
        c.id for c in in_segment if c.address is not None and c.address.city == "City 0"
    }


async def test_list_filters_by_created_at_and_updated_at(
    voucherify_client: AsyncVoucherify, sixty: list[str]
) -> None:
    vf = voucherify_client
    window = await collect(
        vf.customers.list(
            created_at_after=at(10_000), created_at_before=at(20_000), order="created_at"
        )
    )
    # The emulator's created_at filters are strict, like the API's documented intent.
    assert [c.id for c in window] == sixty[11:20]
    # Aware datetimes in another zone mean the same instant.
    plus_two = timezone(timedelta(hours=2))
    shifted = await collect(
        vf.customers.list(created_at_before=at(3_000).astimezone(plus_two), order="created_at")
    )
    assert [c.id for c in shifted] == sixty[:3]

    mark = datetime.now(timezone.utc) - timedelta(seconds=1)
    for customer_id in sixty[40:44]:
        await vf.customers.update(customer_id, description="touched")
    touched = await collect(vf.customers.list(updated_at_after=mark))
    assert {c.id for c in touched} == set(sixty[40:44])
    assert all(c.description == "touched" for c in touched)
    untouched = await collect(vf.customers.list(updated_at_before=mark))
    assert {c.id for c in untouched} == set(sixty) - set(sixty[40:44])


@pytest.mark.parametrize(
    "order", ["created_at", "-created_at", "updated_at", "-updated_at", "source_id", "-source_id"]
)
async def test_list_every_order_pages_to_the_end(
    voucherify_client: AsyncVoucherify, sixty: list[str], order: str
) -> None:
    vf = voucherify_client
    for customer_id in sixty[::9]:  # a few updated customers move in the updated_at orders
        await vf.customers.update(customer_id, description="moved")
    listed = await collect(vf.customers.list(order=order, limit=7))
    assert len(listed) == len(set(c.id for c in listed)) == 60
    assert {c.id for c in listed} == set(sixty)
    field = order.lstrip("-")

    def sort_key(customer: Customer) -> object:
        if field == "source_id":
            return customer.source_id
        if field == "updated_at":
            return customer.updated_at or customer.created_at
        return customer.created_at

    keys = [sort_key(c) for c in listed]
    assert keys == sorted(keys, reverse=order.startswith("-"))  # type: ignore[type-var]
    if field == "updated_at":
        moved = {c.id for c in listed[-7:]} if order == "updated_at" else {c.id for c in listed[:7]}
        assert moved == set(sixty[::9])


async def test_list_single_pages_with_page_limit_and_starting_after(
    voucherify_client: AsyncVoucherify, sixty: list[str]
) -> None:
    vf = voucherify_client
    third = await vf.customers.list(limit=5, page=3, order="created_at")
    assert [c.id for c in third.customers] == sixty[10:15]
    assert third.total == 60 and third.has_more is True
    newest = await vf.customers.list(limit=4)
    assert [c.id for c in newest.customers] == sixty[::-1][:4]
    after = await collect(vf.customers.list(starting_after=at(50_000), order="created_at"))
    assert [c.id for c in after] == sixty[51:]
    before = await collect(vf.customers.list(starting_after=at(5_000)))
    assert [c.id for c in before] == sixty[:5][::-1]
    from_page = await collect(vf.customers.list(limit=10, page=5, order="source_id"))
    assert len(from_page) == 20  # pages 5 and 6 of ten


async def test_list_pages_yields_pages_of_new_customers(
    voucherify_client: AsyncVoucherify, sixty: list[str]
) -> None:
    pages = [page async for page in voucherify_client.customers.list(limit=25).pages()]
    # Each window starts at the last created_at fetched, so later pages drop one repeat.
    assert len(pages) == 3 and len(pages[0].customers) == 25
    assert [c.id for page in pages for c in page.customers] == sixty[::-1]


# --- activity, redeemables, segments ------------------------------------------------------


async def customer_with_events(vf: AsyncVoucherify, updates: int) -> Customer:
    customer = await vf.customers.create(source_id="busy", name="v0")
    for number in range(1, updates + 1):
        await vf.customers.update(customer.id, name=f"v{number}")
    return customer


async def test_list_activity_filters_orders_and_pages_to_the_end(
    voucherify_client: AsyncVoucherify,
) -> None:
    vf = voucherify_client
    customer = await customer_with_events(vf, 60)
    newest_first = [e async for e in vf.customers.list_activity("busy", limit=7)]
    assert len(newest_first) == len({e.id for e in newest_first}) == 61
    assert [e.type for e in newest_first] == ["customer.updated"] * 60 + ["customer.created"]
    stamps = [e.created_at for e in newest_first]
    assert stamps == sorted(stamps, reverse=True)  # type: ignore[type-var]
    oldest_first = [
        e async for e in vf.customers.list_activity(customer.id, limit=9, order="created_at")
    ]
    assert [e.id for e in oldest_first] == [e.id for e in newest_first][::-1]

    updates = [e async for e in vf.customers.list_activity("busy", type="customer.updated")]
    assert len(updates) == 60
    actions = [e async for e in vf.customers.list_activity("busy", category="ACTION")]
    assert len(actions) == 61
    middle = newest_first[30].created_at
    assert middle is not None
    since = [e async for e in vf.customers.list_activity("busy", start_date=middle, limit=10)]
    stamped = [(e.id, e.created_at) for e in newest_first if e.created_at is not None]
    assert {e.id for e in since} == {i for i, when in stamped if when >= middle}
    until = [e async for e in vf.customers.list_activity("busy", end_date=middle, limit=10)]
    assert {e.id for e in until} == {i for i, when in stamped if when <= middle}
    none = [e async for e in vf.customers.list_activity("busy", campaign_id="camp_x")]
    assert none == []
    after = [
        e async for e in vf.customers.list_activity("busy", starting_after_id=newest_first[9].id)
    ]
    assert [e.id for e in after] == [e.id for e in newest_first[10:]]
    page = await vf.customers.list_activity("busy", limit=5)
    assert page.has_more is True and page.more_starting_after == page.data[-1].id


async def test_list_activities_is_deprecated_and_pages_to_the_end(
    voucherify_client: AsyncVoucherify,
) -> None:
    vf = voucherify_client
    await customer_with_events(vf, 45)
    with pytest.warns(DeprecationWarning, match="deprecated"):
        pager = vf.customers.list_activities("busy", limit=10)
    events = [e async for e in pager]
    assert len(events) == len({e.id for e in events}) == 46
    with pytest.warns(DeprecationWarning):
        ordered = vf.customers.list_activities("busy", limit=8, order="created_at")
    assert [e.id async for e in ordered] == [e.id for e in events][::-1]
    with pytest.warns(DeprecationWarning):
        page = await vf.customers.list_activities("busy", limit=3)
    assert page.total == 46 and len(page.data) == 3


async def test_list_redeemables_filters_orders_and_pages_to_the_end(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    vf = voucherify_client
    customer = await vf.customers.create(source_id="holder")
    roles = ["OWNER", "REFERRER", "REFEREE"]
    seeded = [
        await voucherify_emulator.seed_redeemable(
            customer.id,
            holder_role=roles[n % 3],
            voucher_type="GIFT_VOUCHER" if n % 4 == 0 else "DISCOUNT_VOUCHER",
        )
        for n in range(31)
    ]
    ids = [r["id"] for r in seeded]
    every = [r async for r in vf.customers.list_redeemables("holder", limit=4)]
    assert [r.id for r in every] == sorted(ids, reverse=True)  # -id, the default order
    ascending = [r.id async for r in vf.customers.list_redeemables("holder", order="id", limit=6)]
    assert ascending == sorted(ids)

    referrers = [
        r
        async for r in vf.customers.list_redeemables(
            "holder", limit=3, filters={"holder_role": {"conditions": {"$in": ["REFERRER"]}}}
        )
    ]
    assert {r.id for r in referrers} == {r["id"] for r in seeded if r["holder_role"] == "REFERRER"}
    gifts_or_referees = [
        r.id
        async for r in vf.customers.list_redeemables(
            "holder",
            filters={
                "junction": "or",
                "voucher_type": {"conditions": {"$is": "GIFT_VOUCHER"}},
                "holder_role": {"conditions": {"$in": ["REFEREE"]}},
            },
        )
    ]
    assert set(gifts_or_referees) == {
        r["id"]
        for r in seeded
        if r["voucher_type"] == "GIFT_VOUCHER" or r["holder_role"] == "REFEREE"
    }
    after = [r.id async for r in vf.customers.list_redeemables("holder", starting_after_id=ids[20])]
    assert after == sorted(ids[:20], reverse=True)
    first = await vf.customers.list_redeemables("holder", limit=10)
    assert first.total == 31 and first.has_more is True
    assert first.data[0].redeemable is not None and first.data[0].redeemable.voucher is not None


async def test_list_segments(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    vf = voucherify_client
    customer = await vf.customers.create(source_id="member")
    assert (await vf.customers.list_segments("member")).data == []
    one = await voucherify_emulator.seed_segment("One", [customer.id])
    two = await voucherify_emulator.seed_segment("Two", ["member"])
    listed = await vf.customers.list_segments(customer.id)
    assert sorted((s.id, s.name) for s in listed.data) == sorted(
        [(one["id"], "One"), (two["id"], "Two")]
    )
    assert listed.total == 2


# --- bulk, CSV and async actions ----------------------------------------------------------

CSV = (
    "Source_id,Name,Email,Address_City,tier,visits\n"
    "csv-1,Ala,ala@example.com,Krakow,gold,3\n"
    "csv-2,Ola,,Gdansk,silver,7\n"
)


async def test_import_csv_from_bytes_path_file_and_async_iterable(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, tmp_path: Path
) -> None:
    vf = voucherify_client
    job = await vf.customers.import_csv(CSV.encode())
    action = await finished(vf, job.async_action_id)
    assert action.status == "DONE"
    assert action.type == "CUSTOMERS.IMPORT_CSV"
    assert action.result is not None and action.result.done_count == 2
    ala = await vf.customers.get("csv-1")
    assert (ala.name, ala.email) == ("Ala", "ala@example.com")
    assert ala.address is not None and ala.address.city == "Krakow"
    assert ala.metadata == {"tier": "gold", "visits": 3}

    path = tmp_path / "update.csv"
    path.write_bytes(b"Source_id,Name\ncsv-1,Alicja\ncsv-3,Ewa\n")
    await finished(vf, (await vf.customers.import_csv(path)).async_action_id)
    assert (await vf.customers.get("csv-1")).name == "Alicja"
    with path.open("rb") as handle:
        job = await vf.customers.import_csv(handle, filename="again.csv")
    await finished(vf, job.async_action_id)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"Source_id,Name,"
        yield b"Phone\ncsv-4,Iga,+48 500 100 200\n"

    await finished(vf, (await vf.customers.import_csv(chunks())).async_action_id)
    iga = await vf.customers.get("csv-4")
    assert (iga.name, iga.phone) == ("Iga", "+48 500 100 200")
    state = await voucherify_emulator.customer_state()
    assert sorted(state["source_ids"]) == ["csv-1", "csv-2", "csv-3", "csv-4"]


async def test_update_in_bulk_upserts_and_reports(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    vf = voucherify_client
    await voucherify_emulator.seed_customers(3)
    job = await vf.customers.update_in_bulk(
        [
            CustomerBulkUpdate(source_id="seed-1", name="First", metadata={"a": 1}),
            {"source_id": "seed-2", "phone": None, "address": {"city": "Lodz"}},
            {"source_id": "brand-new", "email": "new@example.com"},
        ]
    )
    assert job.async_action_id.startswith("aa_")
    action = await finished(vf, job.async_action_id)
    assert (action.status, action.type) == ("DONE", "CUSTOMERS.BULK_UPDATE")
    assert action.result is not None and action.result.done_count == 3
    assert (await vf.customers.get("seed-1")).metadata == {"a": 1}
    second = await vf.customers.get("seed-2")
    assert second.address is not None and second.address.city == "Lodz"
    assert (await vf.customers.get("brand-new")).email == "new@example.com"
    assert len(await voucherify_emulator.customer_ids()) == 4


async def test_update_in_bulk_sends_a_body_of_several_megabytes_intact(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    # Over aiohttp's 1 MB threshold for raw bytes bodies (it warns, an error under -W error).
    items = [{"source_id": f"big-{n}", "description": f"{n}:" + "x" * 1000} for n in range(3000)]
    job = await voucherify_client.customers.update_in_bulk(items)
    action = await finished(voucherify_client, job.async_action_id, seconds=30)
    assert action.status == "DONE" and action.result is not None
    assert action.result.done_count == 3000
    last = await voucherify_client.customers.get("big-2999")
    assert last.description == "2999:" + "x" * 1000


async def test_update_metadata_in_bulk(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    vf = voucherify_client
    await voucherify_emulator.seed_customers(4, metadata={"keep": True})
    job = await vf.customers.update_metadata_in_bulk(["seed-1", "seed-3"], {"tier": "gold"})
    action = await finished(vf, job.async_action_id)
    assert action.status == "DONE" and action.result is not None
    assert action.result.done_count == 2
    for source_id, expected in [
        ("seed-1", {"keep": True, "tier": "gold"}),
        ("seed-2", {"keep": True}),
        ("seed-3", {"keep": True, "tier": "gold"}),
    ]:
        assert (await vf.customers.get(source_id)).metadata == expected


async def test_async_actions_get_and_list_to_the_end(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    vf = voucherify_client
    await voucherify_emulator.seed_customers(2)
    created = []
    for number in range(23):
        job = await vf.customers.update_metadata_in_bulk(["seed-1"], {"n": number})
        created.append(job.async_action_id)
        # One action per millisecond: the list's only cursor is a created_at (end_date), and
        # more actions in one millisecond than a page holds cannot be paged through.
        await asyncio.sleep(0.002)
    await finished(vf, created[-1])
    listed = [action async for action in vf.async_actions.list(limit=3)]
    assert len(listed) == len({a.id for a in listed}) == 23
    assert {a.id for a in listed} == set(created)
    stamps = [a.created_at for a in listed]
    assert stamps == sorted(stamps, reverse=True)  # type: ignore[type-var]
    one = await vf.async_actions.get(created[0])
    assert one.id == created[0] and one.status == "DONE"
    assert one.result is not None and one.result.done_count == 1
    first_page = await vf.async_actions.list(limit=4)
    assert len(first_page.async_actions) == 4 and first_page.has_more is True
    cutoff = listed[10].created_at
    assert cutoff is not None
    older = [a.id async for a in vf.async_actions.list(end_date=cutoff, limit=3)]
    assert set(older) == {a.id for a in listed[11:]}
    with pytest.raises(NotFoundError):
        await vf.async_actions.get("aa_missing/../x")


async def test_client_reports_rate_limit_headers_and_talks_to_the_emulator_only_as_asked(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    await voucherify_emulator.configure(rate_limit=1000, rate_limit_period=60)
    before = await requests_total(voucherify_emulator)
    pager = voucherify_client.customers.list()
    await asyncio.sleep(0.05)
    assert await requests_total(voucherify_emulator) == before  # a pager is lazy
    await pager
    assert await requests_total(voucherify_emulator) == before + 1
    limits = voucherify_client.rate_limit
    assert limits is not None and limits.limit == 1000 and limits.remaining == 999
