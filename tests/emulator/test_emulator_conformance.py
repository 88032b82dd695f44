"""Every emulator response validates against the vendor's OpenAPI response schemas.

The validators, and how the OpenAPI 3.0 schemas are translated, are in ``spec_helpers``.
"""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import pytest
from emulator_helpers import Http, Reply, quote_id
from spec_helpers import SpecValidator

from voucherify_async.emulator import Emulator


@pytest.fixture(scope="module")
def spec() -> SpecValidator:
    return SpecValidator()


C = "/v1/customers"
CID = "/v1/customers/{customerId}"


async def test_every_endpoint_matches_the_spec(
    emu: Emulator, http: Http, spec: SpecValidator
) -> None:
    async def call(method: str, route: str, path: str, **kwargs: Any) -> Any:
        reply = await http.request(method, path, **kwargs)
        if reply.status == 204:
            assert reply.text == ""
            spec.checked.add((method, route, "204"))
            return None
        return spec.check(method, route, reply)

    # Customers: create (full and minimal), get, update, list.
    full = await call(
        "POST",
        C,
        C,
        json={
            "source_id": "conf-1",
            "name": "Bob Smith",
            "description": "A frequent customer",
            "email": "bob@example.com",
            "phone": "+1 933 222 3333",
            "birthdate": "2022-01-01",
            "birthday": "2022-01-02",
            "address": {"city": "New York", "state": "NY", "line_1": "1 Main St.",
                        "line_2": "APT 3", "country": "US", "postal_code": "10001"},
            "metadata": {"lang": "en", "test": True},
        },
    )  # fmt: skip
    minimal = await call("POST", C, C, json={})
    await call("POST", C, C, json={"source_id": "conf-2", "address": None})
    await call("GET", CID, f"{C}/{full['id']}")
    await call("GET", CID, f"{C}/{quote_id('conf-1')}")
    await call("GET", CID, f"{C}/cust_missing")
    await call("PUT", CID, f"{C}/conf-1", json={"name": "Alice", "metadata": {"x": 1}})
    await call("PUT", CID, f"{C}/cust_missing", json={"name": "x"})
    await emu.seed_customers(30, city="City {i%3}")
    await call("GET", C, C)
    await call("GET", C, C, params={"limit": "100", "order": "source_id"})
    await call("GET", C, C, params={"city": "City 1", "created_at[after]": "2019-01-01"})
    await call("GET", C, C, params={"page": "100"})

    # Activity (current and deprecated), segments, redeemables.
    await call("GET", f"{CID}/activity", f"{C}/conf-1/activity")
    await call("GET", f"{CID}/activity", f"{C}/conf-1/activity", params={"limit": "1"})
    await call("GET", f"{CID}/activity", f"{C}/nobody/activity")
    await call("GET", f"{CID}/activities", f"{C}/conf-1/activities")
    await emu.seed_segment("VIP", ["conf-1"])
    await call("GET", f"{CID}/segments", f"{C}/conf-1/segments")
    await call("GET", f"{CID}/segments", f"{C}/nobody/segments")
    for role, kind in (
        ("OWNER", "DISCOUNT_VOUCHER"),
        ("REFERRER", "DISCOUNT_VOUCHER"),
        ("OWNER", "GIFT_VOUCHER"),
        ("OWNER", "LOYALTY_CARD"),
    ):
        await emu.seed_redeemable("conf-1", holder_role=role, voucher_type=kind)  # fmt: skip
    await call("GET", f"{CID}/redeemables", f"{C}/conf-1/redeemables")
    await call("GET", f"{CID}/redeemables", f"{C}/conf-1/redeemables", params={"limit": "2"})
    await call("GET", f"{CID}/redeemables", f"{C}/nobody/redeemables")

    # Bulk jobs, their async actions, and the 413.
    bulk = await call(
        "POST",
        f"{C}/bulk/async",
        f"{C}/bulk/async",
        json=[{"source_id": "conf-1", "name": "Bulk"}, {"name": "no source id"}],
    )
    metadata = await call(
        "POST",
        f"{C}/metadata/async",
        f"{C}/metadata/async",
        json={"source_ids": ["conf-1", "conf-new"], "metadata": {"vip": True}},
    )
    form = aiohttp.FormData()
    form.add_field("file", b"Source_id,Name,Email\ncsv-1,Ann,ann@example.com\ncsv-2,Bo,bad\n",
                   filename="customers.csv", content_type="text/csv")  # fmt: skip
    imported = await call("POST", f"{C}/importCSV", f"{C}/importCSV", data=form)
    too_big = io.BytesIO(b"[" + b" " * 10_485_760 + b"]")
    await call("POST", f"{C}/bulk/async", f"{C}/bulk/async", data=too_big,
               headers={"Content-Type": "application/json"})  # fmt: skip
    too_big = io.BytesIO(b"{" + b" " * 10_485_760 + b"}")
    await call("POST", f"{C}/metadata/async", f"{C}/metadata/async", data=too_big,
               headers={"Content-Type": "application/json"})  # fmt: skip
    for accepted in (bulk, metadata, imported):
        # Queued or running first (ENQUEUED / IN_PROGRESS), then finished: all in the enum.
        await call("GET", "/v1/async-actions/{asyncActionId}",
                   f"/v1/async-actions/{accepted['async_action_id']}")  # fmt: skip
        await http.wait_job(accepted["async_action_id"])
        await call("GET", "/v1/async-actions/{asyncActionId}",
                   f"/v1/async-actions/{accepted['async_action_id']}")  # fmt: skip
    await call("GET", "/v1/async-actions/{asyncActionId}", "/v1/async-actions/aa_missing")
    await call("GET", "/v1/async-actions", "/v1/async-actions")
    await call("GET", "/v1/async-actions", "/v1/async-actions", params={"end_date": "soon"})

    # Deletion, permanent deletion, and the error answers every route can give.
    await call("DELETE", CID, f"{C}/{minimal['id']}")
    await call("DELETE", CID, f"{C}/{minimal['id']}")
    purged = await call("POST", f"{CID}/permanent-deletion", f"{C}/conf-1/permanent-deletion")
    assert purged["object"] == "pernament_deletion"
    await call("POST", f"{CID}/permanent-deletion", f"{C}/conf-1/permanent-deletion")
    await call("GET", C, C, auth=False)
    await call("PATCH", C, C)
    await emu.script_faults([{"kind": "rate_limit", "path": f"{C}/bulk"}])
    await call("POST", f"{C}/bulk/async", f"{C}/bulk/async", json=[])

    missing = spec.documented() - spec.checked
    assert not missing, f"documented responses never exercised: {sorted(missing)}"


def test_the_validator_is_not_vacuous(spec: SpecValidator) -> None:
    customer = {"id": "cust_1", "object": "customer", "loyalty": None, "referrals": None}
    with pytest.raises(AssertionError, match="summary"):
        spec.check("GET", CID, Reply(200, {}, json.dumps(customer)))
    with pytest.raises(AssertionError, match="code"):
        spec.check("GET", CID, Reply(404, {}, json.dumps({"code": "404", "message": "x"})))
    bad_action = {"id": "aa_1", "status": "WAITING", "object": "async_action"}
    with pytest.raises(AssertionError, match="status"):
        spec.check(
            "GET", "/v1/async-actions/{asyncActionId}", Reply(200, {}, json.dumps(bad_action))
        )


def test_the_emulator_takes_exactly_the_query_enums_the_spec_lists(spec: SpecValidator) -> None:
    from voucherify_async.emulator import _listing, _routes

    schemas = spec.docs["customers"]["components"]["schemas"]
    pairs = {
        "ParameterCustomerEvent": _routes.EVENT_TYPES,
        "ParameterCampaignType": _routes.CAMPAIGN_TYPES,
        "ParameterActivityCategory": _routes.CATEGORIES,
        "ParameterOrder": _routes.ACTIVITIES_ORDERS,
        "ParameterOrderListCustomers": _listing.ORDERS,
    }
    for name, accepted in pairs.items():
        assert sorted(schemas[name]["enum"]) == sorted(accepted), name
