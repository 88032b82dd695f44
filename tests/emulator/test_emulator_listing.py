"""GET /v1/customers: filters, orders, pages, limits, the starting_after cursor, ties."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from emulator_helpers import Http, create
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voucherify_async.emulator import Emulator, Store
from voucherify_async.emulator._listing import ORDERS, CustomerQuery, list_customers
from voucherify_async.emulator._models import Customer
from voucherify_async.emulator._time import format_ms, parse_datetime_ms

C = "/v1/customers"
START = "2021-03-01T00:00:00.000Z"
START_MS = parse_datetime_ms(START)


async def listing(http: Http, **params: Any) -> dict[str, Any]:
    reply = await http.get(C, params={k: str(v) for k, v in params.items()})
    assert reply.status == 200, reply.text
    return reply.json  # type: ignore[no-any-return]


def ids(page: dict[str, Any]) -> list[str]:
    return [c["id"] for c in page["customers"]]


async def test_default_page_is_ten_newest_first(http: Http, emu: Emulator) -> None:
    await emu.seed_customers(25, start=START, step_ms=1000)
    page = await listing(http)
    assert page["object"] == "list"
    assert page["data_ref"] == "customers"
    assert page["total"] == 25
    assert page["has_more"] is True
    assert len(page["customers"]) == 10
    stamps = [c["created_at"] for c in page["customers"]]
    assert stamps == sorted(stamps, reverse=True)
    assert page["customers"][0]["name"] == "Customer 25"


async def test_seed_groups_share_created_at_and_ties_order_by_id(http: Http, emu: Emulator) -> None:
    result = await emu.seed_customers(12, same_created_at=4, start=START, step_ms=10)
    assert result["first_created_at"] == START
    assert result["last_created_at"] == format_ms(START_MS + 20)
    ascending = (await listing(http, order="created_at", limit=100))["customers"]
    assert [c["created_at"] for c in ascending] == [format_ms(START_MS + 10 * (k // 4))
                                                    for k in range(12)]  # fmt: skip
    for group in range(3):
        chunk = [c["id"] for c in ascending[group * 4 : group * 4 + 4]]
        assert chunk == sorted(chunk)
    descending = (await listing(http, order="-created_at", limit=100))["customers"]
    assert [c["id"] for c in descending] == [c["id"] for c in reversed(ascending)]


@pytest.mark.parametrize("order", ORDERS)
async def test_paging_through_every_order_is_stable_and_complete(
    http: Http, emu: Emulator, order: str
) -> None:
    await emu.seed_customers(23, same_created_at=5, start=START, source_id="src-{i%7}-{i}")
    # Give some customers an updated_at, several of them identical ties.
    for source in ("src-1-1", "src-2-2", "src-3-3"):
        await http.put(f"{C}/{source}", json={"phone": "1"})
    seen: list[str] = []
    for page_number in range(1, 6):
        page = await listing(http, order=order, limit=5, page=page_number)
        assert page["total"] == 23
        seen += ids(page)
        assert page["has_more"] is (page_number * 5 < 23)
    assert len(seen) == len(set(seen)) == 23
    field = order.lstrip("-")
    everything = (await listing(http, order=order, limit=100))["customers"]
    assert [c["id"] for c in everything] == seen

    def key(c: dict[str, Any]) -> tuple[str, str]:
        value = c.get(field) or (c["created_at"] if field == "updated_at" else "")
        return (value, c["id"])

    assert everything == sorted(everything, key=key, reverse=order.startswith("-"))


async def test_filters(http: Http, emu: Emulator) -> None:
    await emu.seed_customers(30, start=START, step_ms=1000, city="City {i%3}", name="N{i%5}")
    bob = await create(http, source_id="bob", email="bob@example.com", name="Bob",
                       address={"city": "Oslo"})  # fmt: skip
    assert ids(await listing(http, email="bob@example.com")) == [bob["id"]]
    assert ids(await listing(http, city="Oslo")) == [bob["id"]]
    assert ids(await listing(http, name="Bob")) == [bob["id"]]
    city = await listing(http, city="City 1", limit=100)
    assert city["total"] == 10
    assert all(c["address"]["city"] == "City 1" for c in city["customers"])
    both = await listing(http, city="City 1", name="N2", limit=100)
    assert both["total"] == 2  # i = 7 and 22
    assert {c["name"] for c in both["customers"]} == {"N2"}
    window = await listing(
        http,
        **{"created_at[after]": format_ms(START_MS + 4000),
           "created_at[before]": format_ms(START_MS + 9000), "limit": 100},
    )  # fmt: skip
    assert [c["name"] for c in window["customers"]] == [f"N{i % 5}" for i in (9, 8, 7, 6)]
    assert window["total"] == 4  # strict on both ends: 5000..8000 ms


async def test_updated_at_filters_and_order(http: Http, emu: Emulator) -> None:
    await emu.seed_customers(5, start=START)
    first = await http.put(f"{C}/seed-2", json={"name": "x"})
    await asyncio.sleep(0.003)  # a later millisecond, so the order below is not a tie
    second = await http.put(f"{C}/seed-4", json={"name": "y"})
    after = first.json["updated_at"]
    page = await listing(http, **{"updated_at[after]": START, "order": "-updated_at"})
    assert [c["source_id"] for c in page["customers"]][:2] == ["seed-4", "seed-2"]
    # Never-updated customers count as updated when created; seed-1 is at START exactly.
    assert [c["source_id"] for c in page["customers"]][2:] == ["seed-5", "seed-3"]
    page = await listing(http, **{"updated_at[after]": after})
    assert second.json["updated_at"] > after
    assert {c["source_id"] for c in page["customers"]} == {"seed-4"}
    page = await listing(http, **{"updated_at[before]": format_ms(START_MS + 3)})
    assert {c["source_id"] for c in page["customers"]} == {"seed-1", "seed-3"}


async def test_segment_filter(http: Http, emu: Emulator) -> None:
    await emu.seed_customers(10, start=START)
    segment = await emu.seed_segment("VIP", ["seed-3", "seed-5"], segment_id="seg_vip")
    assert segment["id"] == "seg_vip"
    page = await listing(http, segment_id="seg_vip")
    assert [c["source_id"] for c in page["customers"]] == ["seed-5", "seed-3"]
    assert (await listing(http, segment_id="seg_nothing"))["total"] == 0


async def test_page_and_limit_bounds(http: Http, emu: Emulator) -> None:
    await emu.seed_customers(3, start=START)
    page99 = await listing(http, page=99, limit=100)
    assert page99["customers"] == []
    assert page99["total"] == 3
    assert page99["has_more"] is False
    assert len((await listing(http, limit=1))["customers"]) == 1
    assert len((await listing(http, limit=100))["customers"]) == 3
    bad = [
        {"page": "100"}, {"page": "0"}, {"limit": "0"}, {"limit": "101"}, {"limit": "abc"},
        {"limit": "1.5"}, {"order": "name"}, {"order": "created"},
        {"created_at[before]": "yesterday"}, {"updated_at[after]": "2021-13-01"},
        {"starting_after": "12:00"},
    ]  # fmt: skip
    for params in bad:
        reply = await http.get(C, params=params)
        assert reply.status == 400, params
        assert reply.json["key"] == "invalid_query_params"
        assert reply.json["details"].startswith("Property .")


async def walk(http: Http, order: str, limit: int) -> list[list[str]]:
    """Follow starting_after from the last item of each page until a page is empty."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while len(pages) < 50:
        params: dict[str, Any] = {"order": order, "limit": limit}
        if cursor is not None:
            params["starting_after"] = cursor
        page = await listing(http, **params)
        if not page["customers"]:
            return pages
        pages.append(ids(page))
        cursor = page["customers"][-1]["created_at"]
    raise AssertionError("the cursor never reached the end")


async def test_starting_after_exclusive_in_both_orders(http: Http, emu: Emulator) -> None:
    await emu.seed_customers(12, same_created_at=3, start=START, step_ms=5)
    all_desc = ids(await listing(http, limit=100))
    all_asc = ids(await listing(http, limit=100, order="created_at"))
    # Exclusive: a page of 4 ends inside a group of 3, so the rest of that group is skipped.
    desc_pages = await walk(http, "-created_at", 4)
    assert desc_pages[0] == all_desc[:4]
    assert desc_pages[1] == all_desc[6:10]
    asc_pages = await walk(http, "created_at", 4)
    assert asc_pages[1] == all_asc[6:10]
    # Pages that end on a group boundary lose nothing.
    assert [i for page in await walk(http, "-created_at", 3) for i in page] == all_desc
    assert [i for page in await walk(http, "created_at", 3) for i in page] == all_asc


async def test_starting_after_inclusive_in_both_orders(http: Http, emu: Emulator) -> None:
    await emu.configure(starting_after_mode="inclusive")
    await emu.seed_customers(6, same_created_at=2, start=START, step_ms=5)
    cursor = format_ms(START_MS + 5)
    desc = await listing(http, starting_after=cursor, limit=100)
    assert desc["total"] == 4  # created_at <= cursor: the cursor's own group is repeated
    asc = await listing(http, starting_after=cursor, order="created_at", limit=100)
    assert asc["total"] == 4  # created_at >= cursor
    await emu.configure(starting_after_mode="exclusive")
    assert (await listing(http, starting_after=cursor, limit=100))["total"] == 2


async def test_starting_after_with_other_orders_compares_created_at(
    http: Http, emu: Emulator
) -> None:
    await emu.seed_customers(6, start=START, step_ms=10)
    cursor = format_ms(START_MS + 20)
    desc = await listing(http, starting_after=cursor, order="-source_id", limit=100)
    assert [c["source_id"] for c in desc["customers"]] == ["seed-2", "seed-1"]
    asc = await listing(http, starting_after=cursor, order="updated_at", limit=100)
    assert [c["source_id"] for c in asc["customers"]] == ["seed-4", "seed-5", "seed-6"]


# -- the index planner against a brute-force oracle ------------------------------------------


def _oracle(store: Store, query: CustomerQuery) -> tuple[list[str], int]:
    low, high = query.created_interval()
    ulow, uhigh = query.updated_interval()
    segment = store.segments.by_id.get(query.segment_id) if query.segment_id else None

    def keep(c: Customer) -> bool:
        return (
            (query.email is None or c.email == query.email)
            and (query.name is None or c.name == query.name)
            and (query.city is None or c.city == query.city)
            and (query.segment_id is None or (segment is not None and c.id in segment.member_ids))
            and (low is None or c.created_at >= low)
            and (high is None or c.created_at <= high)
            and (ulow is None or c.sort_updated >= ulow)
            and (uhigh is None or c.sort_updated <= uhigh)
        )

    keys = {
        "created_at": lambda c: (c.created_at, c.id),
        "updated_at": lambda c: (c.sort_updated, c.id),
        "source_id": lambda c: (c.source_id or "", c.id),
    }
    found = sorted(
        (c for c in store.by_id.values() if keep(c)),
        key=keys[query.sort_field],
        reverse=query.descending,
    )
    offset = (query.page - 1) * query.limit
    return [c.id for c in found[offset : offset + query.limit]], len(found)


@pytest.fixture(scope="module")
def oracle_store() -> Store:
    store = Store()
    store.seed(400, same_created_at=4, start_ms=START_MS, step_ms=3, city="City {i%5}",
               name="N{i%7}", email="e{i%50}@example.com")  # fmt: skip
    customers = list(store.by_id.values())
    for position, customer in enumerate(customers[::9]):
        store.update(
            customer, {"phone": str(position)}, group_id="v-1", now=START_MS + 500 + position % 4
        )
    for customer in customers[1::37]:
        store.delete(customer, group_id="v-2")
    segment_members = [c for c in customers[::3] if c.id in store.by_id]
    from voucherify_async.emulator._segments import Segment

    segment = Segment(id="seg_a", name="A")
    for customer in segment_members:
        segment.add(customer)
    store.segments.put(segment)
    return store


times = st.one_of(st.none(), st.integers(START_MS - 5, START_MS + 320))


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    order=st.sampled_from(ORDERS),
    limit=st.integers(1, 30),
    page=st.integers(1, 8),
    email=st.one_of(st.none(), st.sampled_from(["e3@example.com", "e7@example.com", "none"])),
    name=st.one_of(st.none(), st.sampled_from(["N1", "N4"])),
    city=st.one_of(st.none(), st.sampled_from(["City 0", "City 2"])),
    segment=st.one_of(st.none(), st.sampled_from(["seg_a", "seg_zzz"])),
    created_before=times,
    created_after=times,
    updated_before=st.one_of(st.none(), st.integers(START_MS + 100, START_MS + 510)),
    updated_after=st.one_of(st.none(), st.integers(START_MS + 100, START_MS + 510)),
    starting_after=times,
    inclusive=st.booleans(),
)
def test_planner_matches_brute_force(oracle_store: Store, **params: Any) -> None:
    query = CustomerQuery(
        limit=params["limit"],
        page=params["page"],
        order=params["order"],
        email=params["email"],
        name=params["name"],
        city=params["city"],
        segment_id=params["segment"],
        created_before=params["created_before"],
        created_after=params["created_after"],
        updated_before=params["updated_before"],
        updated_after=params["updated_after"],
        starting_after=params["starting_after"],
        inclusive_cursor=params["inclusive"],
    )
    expected_ids, expected_total = _oracle(oracle_store, query)
    page = list_customers(oracle_store, query)
    assert [c.id for c in page.customers] == expected_ids
    assert page.total == expected_total
    assert page.has_more == ((query.page - 1) * query.limit + len(expected_ids) < expected_total)
