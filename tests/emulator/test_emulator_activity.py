"""Customer activity, segments and redeemables."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from emulator_helpers import Http, create

from voucherify_async.emulator import Emulator

C = "/v1/customers"


async def activity(http: Http, ref: str, **params: Any) -> dict[str, Any]:
    reply = await http.get(f"{C}/{ref}/activity", params={k: str(v) for k, v in params.items()})
    assert reply.status == 200, reply.text
    return reply.json  # type: ignore[no-any-return]


async def test_changes_record_events_with_the_documented_shape(http: Http) -> None:
    customer = await create(http, source_id="a1", name="Ann", email="ann@example.com")
    await http.put(f"{C}/a1", json={"name": "Anna", "metadata": {"k": 1}})
    await http.put(f"{C}/a1", json={"name": "Anna"})  # no change: no event
    page = await activity(http, "a1")
    assert page["object"] == "list"
    assert page["data_ref"] == "data"
    assert page["has_more"] is False
    assert "more_starting_after" not in page
    updated, created = page["data"]
    assert created["type"] == "customer.created"
    assert updated["type"] == "customer.updated"
    assert re.fullmatch(r"evcus_[0-9a-f]{18}", created["id"])
    assert re.fullmatch(r"v-[0-9a-f]{18}", created["group_id"])
    assert created["data"]["event_source"] == {"channel": "API"}
    # The customer as it was then, in full (CustomerWithSummaryLoyaltyReferrals): what
    # GET answered right after the create, summary, loyalty and referrals included.
    assert created["data"]["data"]["customer"] == customer
    for required in ("summary", "loyalty", "referrals"):
        assert required in updated["data"]["data"]["customer"]
    assert updated["data"]["data"]["customer"]["name"] == "Anna"
    assert updated["data"]["data"]["customer"]["metadata"] == {"k": 1}


async def test_activity_cursor_pages_to_the_end_in_both_orders(http: Http) -> None:
    await create(http, source_id="busy")
    for n in range(22):
        await http.put(f"{C}/busy", json={"phone": str(n)})
    for order in ("-created_at", "created_at"):
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 5, "order": order}
            if cursor:
                params["starting_after_id"] = cursor
            page = await activity(http, "busy", **params)
            seen += [event["id"] for event in page["data"]]
            if not page["has_more"]:
                assert "more_starting_after" not in page
                break
            assert page["more_starting_after"] == page["data"][-1]["id"]
            cursor = page["more_starting_after"]
        assert len(seen) == len(set(seen)) == 23
        assert seen == sorted(seen, reverse=order.startswith("-"))


async def test_activity_filters_and_errors(http: Http) -> None:
    await create(http, source_id="f1")
    await http.put(f"{C}/f1", json={"name": "x"})
    only_created = await activity(http, "f1", type="customer.created")
    assert [e["type"] for e in only_created["data"]] == ["customer.created"]
    assert len((await activity(http, "f1", category="ACTION"))["data"]) == 2
    assert (await activity(http, "f1", category="EFFECT"))["data"] == []
    assert (await activity(http, "f1", campaign_id="camp_1"))["data"] == []
    assert (await activity(http, "f1", start_date="2999-01-01"))["data"] == []
    assert len((await activity(http, "f1", end_date="2999-01-01"))["data"]) == 2
    for params in ({"type": "nope"}, {"order": "-type"}, {"limit": "0"}, {"end_date": "x"}):
        reply = await http.get(f"{C}/f1/activity", params=params)
        assert reply.status == 400, params
    assert (await http.get(f"{C}/nobody/activity")).status == 404
    assert (await http.get(f"{C}/nobody/activities")).status == 404


async def test_deprecated_activities_has_total_and_both_cursors(http: Http) -> None:
    await create(http, source_id="old")
    for n in range(5):
        await http.put(f"{C}/old", json={"phone": str(n)})
    reply = await http.get(f"{C}/old/activities", params={"limit": "2"})
    body = reply.json
    assert body["total"] == 6
    assert len(body["data"]) == 2
    newest_two = [e["id"] for e in body["data"]]
    after = await http.get(f"{C}/old/activities", params={"starting_after_id": newest_two[-1]})
    assert after.json["total"] == 4
    first = (await http.get(f"{C}/old/activities", params={"order": "created_at"})).json
    assert first["data"][0]["type"] == "customer.created"
    stamp = first["data"][0]["created_at"]
    later = await http.get(
        f"{C}/old/activities", params={"order": "created_at", "starting_after": stamp}
    )
    assert all(e["created_at"] > stamp for e in later.json["data"])


async def test_segments_of_a_customer(http: Http, emu: Emulator) -> None:
    ann = await create(http, source_id="ann")
    await create(http, source_id="bob")
    await emu.seed_segment("Everyone", ["ann", "bob"], segment_id="seg_all")
    await emu.seed_segment("Ann only", [ann["id"]])
    body = (await http.get(f"{C}/ann/segments")).json
    assert body["object"] == "list"
    assert body["data_ref"] == "data"
    assert body["total"] == 2
    assert body["data"][0] == {"id": "seg_all", "name": "Everyone", "object": "segment"}
    assert re.fullmatch(r"seg_[A-Za-z0-9]{24}", body["data"][1]["id"])
    assert (await http.get(f"{C}/bob/segments")).json["total"] == 1
    unknown = await http.get(f"{C}/nobody/segments")
    assert unknown.status == 200
    assert unknown.json["data"] == []


async def redeemables(http: Http, ref: str, params: Any = None) -> dict[str, Any]:
    reply = await http.get(f"{C}/{ref}/redeemables", params=params)
    assert reply.status == 200, reply.text
    return reply.json  # type: ignore[no-any-return]


async def test_redeemables_filters_order_and_cursor(http: Http, emu: Emulator) -> None:
    owner = await create(http, source_id="holder")
    specs = [
        {"holder_role": "OWNER", "campaign_type": "DISCOUNT_COUPONS", "campaign_id": "camp_a"},
        {"holder_role": "REFERRER", "campaign_type": "REFERRAL_PROGRAM", "campaign_id": "camp_b"},
        {"holder_role": "OWNER", "voucher_type": "GIFT_VOUCHER", "campaign_id": "camp_c",
         "created_at": "2020-01-01T00:00:00.000Z"},
        {"holder_role": "REFEREE", "voucher_type": "LOYALTY_CARD", "campaign_id": "camp_d"},
    ]  # fmt: skip
    seeded = [await emu.seed_redeemable("holder", **spec) for spec in specs]
    assert all(re.fullmatch(r"rh_[0-9a-f]{18}", r["id"]) for r in seeded)
    assert seeded[0]["customer_id"] == owner["id"]
    assert seeded[0]["redeemable"]["voucher"]["holder_id"] == owner["id"]
    everything = await redeemables(http, "holder")
    assert everything["total"] == 4
    assert [r["id"] for r in everything["data"]] == sorted((r["id"] for r in seeded), reverse=True)
    ascending = await redeemables(http, "holder", {"order": "id"})
    assert [r["id"] for r in ascending["data"]] == sorted(r["id"] for r in seeded)

    def ids(body: dict[str, Any]) -> set[str]:
        return {r["campaign_id"] for r in body["data"]}

    owners = {"filters[holder_role][conditions][$in][0]": "OWNER"}
    assert ids(await redeemables(http, "holder", owners)) == {"camp_a", "camp_c"}
    two_roles = {
        "filters[holder_role][conditions][$in][0]": "REFERRER",
        "filters[holder_role][conditions][$in][1]": "REFEREE",
    }
    assert ids(await redeemables(http, "holder", two_roles)) == {"camp_b", "camp_d"}
    not_in = {"filters[holder_role][conditions][$not_in][0]": "OWNER"}
    assert ids(await redeemables(http, "holder", not_in)) == {"camp_b", "camp_d"}
    cases = {
        "filters[campaign_id][conditions][$is]": ("camp_b", {"camp_b"}),
        "filters[campaign_id][conditions][$is_not]": ("camp_b", {"camp_a", "camp_c", "camp_d"}),
        "filters[voucher_type][conditions][$starts_with]": ("GIFT", {"camp_c"}),
        "filters[campaign_type][conditions][$ends_with]": ("PROGRAM", {"camp_b", "camp_d"}),
        "filters[created_at][conditions][$before]": ("2021-01-01", {"camp_c"}),
        "filters[created_at][conditions][$after]": ("2021-01-01", {"camp_a", "camp_b", "camp_d"}),
        "filters[redeemable_object][conditions][$is]": ("voucher", {"camp_a", "camp_b", "camp_c",
                                                                   "camp_d"}),
    }  # fmt: skip
    for key, (value, expected) in cases.items():
        assert ids(await redeemables(http, "holder", {key: value})) == expected, key
    either = {
        "filters[campaign_id][conditions][$is]": "camp_a",
        "filters[holder_role][conditions][$is]": "REFEREE",
        "filters[junction]": "or",
    }
    assert ids(await redeemables(http, "holder", either)) == {"camp_a", "camp_d"}
    both = {**either, "filters[junction]": "and"}
    assert ids(await redeemables(http, "holder", both)) == set()

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"starting_after_id": cursor} if cursor else {})}
        page = await redeemables(http, "holder", params)
        seen += [r["id"] for r in page["data"]]
        if not page["has_more"]:
            break
        assert page["more_starting_after"] == page["data"][-1]["id"]
        cursor = page["more_starting_after"]
    assert seen == [r["id"] for r in everything["data"]]


async def test_redeemables_errors(http: Http) -> None:
    await create(http, source_id="h")
    assert (await http.get(f"{C}/nobody/redeemables")).status == 404
    bad = [
        {"filters[color][conditions][$is]": "red"},
        {"filters[holder_role][conditions][$near]": "x"},
        {"filters[holder_role][$is]": "OWNER"},
        {"filters[junction]": "xor"},
        {"filters[created_at][conditions][$after]": "someday"},
        {"order": "created_at"},
    ]
    for params in bad:
        reply = await http.get(f"{C}/h/redeemables", params=params)
        assert reply.status == 400, params
        assert reply.json["key"] == "invalid_query_params"


async def test_seeded_activity_feeds_every_list_endpoint() -> None:
    async with Emulator(seed=12, seed_activity=True) as emu, aiohttp.ClientSession() as session:
        http = Http(session, emu.url, emu.headers)
        cities = [c["address"]["city"] for c in (await http.get(C, params={"limit": "12",
                  "order": "created_at"})).json["customers"]]  # fmt: skip
        assert cities[:6] == ["Warsaw", "Berlin", "Paris", "London", "Madrid", "Warsaw"]
        warsaw = (await http.get(C, params={"city": "Warsaw"})).json
        assert warsaw["total"] == 3
        # Customer 12 is a multiple of every campaign's step: four redeemables, five events.
        events = (await activity(http, "seed-12", limit=10))["data"]
        assert [e["type"] for e in events][-1] == "customer.created"
        assert len(events) == 5
        published = [e for e in events if e["type"] == "customer.publication.succeeded"]
        campaigns = {e["data"]["data"]["campaign"]["id"] for e in published}
        assert campaigns == {"camp_seed_summer", "camp_seed_loyalty", "camp_seed_gift",
                             "camp_seed_referral"}  # fmt: skip
        for event in events:
            assert {"summary", "loyalty", "referrals"} <= set(event["data"]["data"]["customer"])
        loyalty = await activity(http, "seed-12", campaign_id="camp_seed_loyalty")
        assert [e["type"] for e in loyalty["data"]] == ["customer.publication.succeeded"]
        typed = await activity(http, "seed-12", campaign_type="GIFT_VOUCHERS")
        assert [e["data"]["data"]["campaign"]["id"] for e in typed["data"]] == ["camp_seed_gift"]
        old = await http.get(f"{C}/seed-12/activities", params={"campaign_id": "camp_seed_gift"})
        assert old.status == 200 and old.json["total"] == 1
        # Customer 1 has only the campaign every customer gets.
        held = (await http.get(f"{C}/seed-1/redeemables")).json
        assert [r["campaign_id"] for r in held["data"]] == ["camp_seed_summer"]
        held = (await http.get(f"{C}/seed-12/redeemables", params={
            "filters[campaign_type][conditions][$in][0]": "LOYALTY_PROGRAM"})).json  # fmt: skip
        assert [r["voucher_type"] for r in held["data"]] == ["LOYALTY_CARD"]
    async with Emulator(seed=3) as emu, aiohttp.ClientSession() as session:
        http = Http(session, emu.url, emu.headers)
        assert (await activity(http, "seed-1"))["data"] == []  # no activity unless asked
