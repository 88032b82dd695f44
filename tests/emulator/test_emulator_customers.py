"""Customer CRUD: auth, upsert, partial updates, deletion, odd source ids, validation."""

from __future__ import annotations

import re

import pytest
from emulator_helpers import Http, create, quote_id

from voucherify_async.emulator import Emulator

C = "/v1/customers"
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def test_requests_without_credentials_get_401(http: Http) -> None:
    for headers in ({}, {"X-App-Id": "emulator-app-id"}, {"X-App-Id": "x", "X-App-Token": "y"}):
        reply = await http.get(C, auth=False, headers=headers)
        assert reply.status == 401
        body = reply.json
        assert body["code"] == 401
        assert body["key"] == "unauthorized"
        assert body["message"] == "Unauthorized"
        assert re.fullmatch(r"v-[0-9a-f]{18}", body["request_id"])


async def test_create_renders_every_documented_field(http: Http) -> None:
    customer = await create(http, source_id="s1", name="Bob", metadata={"lang": "en"})
    assert re.fullmatch(r"cust_[A-Za-z0-9]{24}", customer["id"])
    assert customer["object"] == "customer"
    assert customer["summary"]["redemptions"]["total_redeemed"] == 0
    assert customer["loyalty"] == {"points": 0, "referred_customers": 0, "campaigns": {}}
    assert customer["referrals"] == {"total": 0, "campaigns": []}
    assert customer["system_metadata"] == {}
    assert customer["metadata"] == {"lang": "en"}
    assert STAMP.match(customer["created_at"])
    assert "updated_at" not in customer


async def test_post_upserts_by_source_id_and_by_id(http: Http) -> None:
    first = await create(http, source_id="s1", name="Bob", email="bob@example.com")
    again = await create(http, source_id="s1", name="Robert")
    assert again["id"] == first["id"]
    assert again["name"] == "Robert"
    assert again["email"] == "bob@example.com"  # fields not sent stay
    assert STAMP.match(again["updated_at"])
    by_id = await create(http, id=first["id"], phone="+48 1")
    assert by_id["id"] == first["id"]
    assert by_id["phone"] == "+48 1"
    missing = await http.post(C, json={"id": "cust_doesnotexist000000000000", "name": "x"})
    assert missing.status == 404
    assert missing.json["key"] == "not_found"
    assert missing.json["resource_type"] == "customer"
    other = await create(http, source_id="s2")
    assert other["id"] != first["id"]


async def test_post_with_id_can_move_the_source_id_unless_taken(http: Http) -> None:
    bob = await create(http, source_id="bob")
    await create(http, source_id="ann")
    moved = await create(http, id=bob["id"], source_id="robert")
    assert moved["source_id"] == "robert"
    assert (await http.get(f"{C}/robert")).json["id"] == bob["id"]
    assert (await http.get(f"{C}/bob")).status == 404
    clash = await http.post(C, json={"id": bob["id"], "source_id": "ann"})
    assert clash.status == 409
    assert clash.json["key"] == "duplicate_found"


async def test_put_changes_only_the_fields_sent_and_null_clears(http: Http) -> None:
    customer = await create(
        http,
        source_id="s1",
        name="Bob",
        email="bob@example.com",
        address={"city": "Paris", "line_1": "1 Rue"},
        metadata={"a": 1, "b": 2},
    )
    reply = await http.put(f"{C}/s1", json={"name": None, "address": {"city": "Rome"}})
    assert reply.status == 200
    updated = reply.json
    assert "name" not in updated  # null: the field is gone
    assert updated["email"] == "bob@example.com"
    assert updated["address"] == {"city": "Rome"}  # an address sent replaces the old one
    assert updated["metadata"] == {"a": 1, "b": 2}
    reply = await http.put(f"{C}/{customer['id']}", json={"metadata": {"c": 3}, "address": None})
    assert reply.json["metadata"] == {"c": 3}
    assert "address" not in reply.json
    assert (await http.put(f"{C}/nobody", json={"name": "x"})).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"email": "not an email"}, "email"),
        ({"birthdate": "2022-02-30"}, "birthdate"),
        ({"birthday": "01/02/2020"}, "birthday"),
        ({"address": "Main St."}, "address"),
        ({"address": {"city": 7}}, "address.city"),
        ({"metadata": [1]}, "metadata"),
        ({"source_id": 12}, "source_id"),
    ],
)
async def test_invalid_fields_are_400_invalid_customer_naming_the_field(
    http: Http, body: dict[str, object], field: str
) -> None:
    reply = await http.post(C, json=body)
    assert reply.status == 400
    assert reply.json["key"] == "invalid_customer"
    assert reply.json["details"].startswith(field)


async def test_bodies_that_are_not_json_objects_are_invalid_payload(http: Http) -> None:
    for data in (b"{not json", b"[1, 2]", b"", b'"text"'):
        reply = await http.post(C, data=data, headers={"Content-Type": "application/json"})
        assert reply.status == 400, data
        assert reply.json["key"] == "invalid_payload"
    await create(http, source_id="s1")
    reply = await http.put(f"{C}/s1", data=b"[]", headers={"Content-Type": "application/json"})
    assert reply.json["key"] == "invalid_payload"


async def test_delete_then_get_is_404(http: Http) -> None:
    customer = await create(http, source_id="gone")
    reply = await http.delete(f"{C}/gone")
    assert reply.status == 204
    assert reply.text == ""
    assert (await http.get(f"{C}/{customer['id']}")).status == 404
    assert (await http.get(f"{C}/gone")).status == 404
    assert (await http.delete(f"{C}/gone")).status == 404
    # The source id is free again.
    assert (await create(http, source_id="gone"))["id"] != customer["id"]


async def test_permanent_deletion_removes_the_customer_and_its_activity(
    http: Http, emu: Emulator
) -> None:
    customer = await create(http, source_id="p1", name="A")
    for name in ("B", "C"):
        await http.put(f"{C}/p1", json={"name": name})
    reply = await http.post(f"{C}/p1/permanent-deletion")
    assert reply.status == 200
    deletion = reply.json
    assert re.fullmatch(r"del_[A-Za-z0-9]{24}", deletion["id"])
    assert deletion["object"] == "pernament_deletion"
    assert deletion["status"] == "DONE"
    assert deletion["related_object"] == "customer"
    assert deletion["related_object_id"] == customer["id"]
    assert deletion["data_json"]["customer_events"] == 3
    assert deletion["data_json"]["customer"] == 1
    assert (await http.get(f"{C}/p1")).status == 404
    assert emu.store.activity.count(customer["id"]) == 0
    assert (await http.post(f"{C}/p1/permanent-deletion")).status == 404


async def test_a_deleted_customer_can_still_be_purged_by_id(http: Http, emu: Emulator) -> None:
    customer = await create(http, source_id="d1")
    await http.delete(f"{C}/d1")
    assert emu.store.activity.count(customer["id"]) == 2  # created + deleted
    reply = await http.post(f"{C}/{customer['id']}/permanent-deletion")
    assert reply.status == 200
    assert reply.json["data_json"]["customer_events"] == 2
    assert emu.store.activity.count(customer["id"]) == 0


WEIRD = ["a/b?c#d", "../x", "..", ".", "ząb 1", "%2F", "a+b&c=d", "100%", "sp ace/", "bulk"]


@pytest.mark.parametrize("source_id", WEIRD)
async def test_any_source_id_round_trips_through_the_path(http: Http, source_id: str) -> None:
    created = await create(http, source_id=source_id, name="W")
    path = f"{C}/{quote_id(source_id)}"
    got = await http.get(path)
    assert got.status == 200, got.text
    assert got.json["id"] == created["id"]
    assert got.json["source_id"] == source_id
    assert (await http.put(path, json={"name": "V"})).json["name"] == "V"
    assert (await http.get(f"{path}/activity")).status == 200
    assert (await http.get(f"{path}/segments")).status == 200
    assert (await http.get(f"{path}/redeemables")).status == 200
    assert (await http.delete(path)).status == 204


async def test_percent_2f_literal_and_slash_are_different_customers(http: Http) -> None:
    slash = await create(http, source_id="a/b")
    literal = await create(http, source_id="a%2Fb")
    assert (await http.get(f"{C}/{quote_id('a/b')}")).json["id"] == slash["id"]
    assert (await http.get(f"{C}/{quote_id('a%2Fb')}")).json["id"] == literal["id"]


async def test_unknown_routes_are_json_404_and_wrong_methods_json_405(http: Http) -> None:
    for path in ("/v1/nothing", "/v1/customers/x/unknown", "/v1", "/elsewhere", "/v1/customers/"):
        reply = await http.get(path)
        assert reply.status == 404, path
        assert reply.json["code"] == 404
    reply = await http.request("PATCH", C)
    assert reply.status == 405
    assert reply.json["key"] == "method_not_allowed"
    assert set(reply.headers["Allow"].split(", ")) == {"GET", "POST"}
    reply = await http.get(f"{C}/bulk/async")
    assert reply.status == 405
    assert reply.headers["Allow"] == "POST"
    reply = await http.request("PUT", "/_emulator/stats")
    assert reply.status == 405
    assert reply.json["code"] == 405


async def test_get_by_literal_route_names_is_a_customer_lookup(http: Http) -> None:
    # "importCSV" is a POST-only route; GET on it looks a customer up by source id.
    await create(http, source_id="importCSV")
    assert (await http.get(f"{C}/importCSV")).json["source_id"] == "importCSV"
