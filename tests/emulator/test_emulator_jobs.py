"""Bulk update, metadata update and CSV import jobs, async actions, the 10 MB limit."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import aiohttp
import pytest
from emulator_helpers import Http, create

from voucherify_async.emulator import Emulator

C = "/v1/customers"


async def submit(http: Http, path: str, **kwargs: Any) -> str:
    reply = await http.post(path, **kwargs)
    assert reply.status == 202, reply.text
    action_id = reply.json["async_action_id"]
    assert re.fullmatch(r"aa_[0-9a-f]{18}", action_id)
    return action_id  # type: ignore[no-any-return]


def csv_form(content: bytes, field: str = "file") -> aiohttp.FormData:
    form = aiohttp.FormData()
    # A file object, not bytes: aiohttp warns about sending large bytes bodies directly.
    form.add_field(field, io.BytesIO(content), filename="customers.csv", content_type="text/csv")
    return form


async def test_bulk_update_upserts_by_source_id_and_reports_failures(
    http: Http, emu: Emulator
) -> None:
    existing = await create(http, source_id="b1", name="Old", email="old@example.com")
    action_id = await submit(
        http,
        f"{C}/bulk/async",
        json=[
            {"source_id": "b1", "name": "New"},
            {"source_id": "b2", "name": "Fresh", "metadata": {"tier": 1}},
            {"name": "no source id"},
            {"source_id": "b3", "birthdate": "not a date"},
            "not an object",
        ],
    )
    action = await http.wait_job(action_id)
    assert action["type"] == "CUSTOMERS.BULK_UPDATE"
    assert action["status"] == "DONE"
    assert action["progress"] == 100
    assert action["operation_status"] == "FAILED"
    assert isinstance(action["processing_time"], int)
    assert re.fullmatch(r"v-[0-9a-f]{18}", action["request_id"])
    result = action["result"]
    assert result["done_count"] == 2
    assert result["failed_count"] == 3
    assert result["reports"] == []
    assert "reports_available_till" in result
    assert [e["source_id"] for e in result["errors"]] == ["", "b3", ""]
    assert all(e["key"] == "invalid_customer" for e in result["errors"])
    assert result["errors"][1]["details"].startswith("birthdate")
    updated = (await http.get(f"{C}/b1")).json
    assert updated["id"] == existing["id"]
    assert updated["name"] == "New"
    assert updated["email"] == "old@example.com"
    assert (await http.get(f"{C}/b2")).json["metadata"] == {"tier": 1}
    assert (await http.get(f"{C}/b3")).status == 404
    # The job's changes are in the activity, grouped under its request id.
    events = (await http.get(f"{C}/b1/activity")).json["data"]
    assert events[0]["type"] == "customer.updated"
    assert events[0]["group_id"] == action["request_id"]


async def test_metadata_update_merges_and_upserts(http: Http) -> None:
    await create(http, source_id="m1", metadata={"keep": "yes", "tier": 1})
    action_id = await submit(
        http,
        f"{C}/metadata/async",
        json={"source_ids": ["m1", "m2", 7], "metadata": {"tier": 2, "vip": True}},
    )
    action = await http.wait_job(action_id)
    assert action["type"] == "CUSTOMERS.METADATA_UPDATE"
    assert action["result"]["done_count"] == 2
    assert action["result"]["failed_count"] == 1
    assert (await http.get(f"{C}/m1")).json["metadata"] == {"keep": "yes", "tier": 2, "vip": True}
    assert (await http.get(f"{C}/m2")).json["metadata"] == {"tier": 2, "vip": True}


async def test_bulk_bodies_of_the_wrong_shape_are_400(http: Http) -> None:
    assert (await http.post(f"{C}/bulk/async", json={"source_id": "x"})).status == 400
    for body in ([], {"source_ids": "x", "metadata": {}}, {"source_ids": [], "metadata": 1}):
        reply = await http.post(f"{C}/metadata/async", json=body)
        assert reply.status == 400, body
        assert reply.json["key"] == "invalid_payload"


async def test_csv_import_reports_each_row(http: Http) -> None:
    existing = await create(http, source_id="c-old", name="Old", metadata={"kept": 1})
    other = await create(http, source_id="by-id")
    content = (
        "Source_id,NAME,Email,Birthdate,Address_City,Id,loyal,score,ratio,note\n"
        "c-new,New,new@example.com,1990-05-17,Oslo,,true,42,0.5,hello\n"
        "c-old,Renamed,,,,,false,,,\n"
        ",Anon,anon@example.com,,,,,,,\n"
        "c-bad-email,Bad,nope,,,,,,,\n"
        "c-bad-date,Bad,,1990-02-31,,,,,,\n"
        "short,row\n"
        f",Via Id,,,,{other['id']},,,,\n"
        ",Unknown Id,,,,cust_nothere,,,,\n"
        "\n"
        "c-last,Last,,,,,,,,\n"
    ).encode()
    action_id = await submit(http, f"{C}/importCSV", data=csv_form(content))
    action = await http.wait_job(action_id)
    assert action["type"] == "CUSTOMERS.IMPORT_CSV"
    result = action["result"]
    assert result["done_count"] == 5
    assert result["failed_count"] == 4
    assert result["message"] == "5 customer(s) imported successfully, 4 failed."
    failed = {f["row"]: f for f in result["failed"]}
    assert set(failed) == {4, 5, 6, 8}
    assert failed[4]["source_id"] == "c-bad-email"
    assert "Email" in failed[4]["reason"]
    assert "Birthdate" in failed[5]["reason"]
    assert "cell" in failed[6]["reason"]
    assert "cust_nothere" in failed[8]["reason"]
    new = (await http.get(f"{C}/c-new")).json
    assert new["name"] == "New"
    assert new["birthdate"] == "1990-05-17"
    assert new["address"] == {"city": "Oslo"}
    assert new["metadata"] == {"loyal": True, "score": 42, "ratio": 0.5, "note": "hello"}
    old = (await http.get(f"{C}/c-old")).json
    assert old["id"] == existing["id"]
    assert old["name"] == "Renamed"
    assert old["metadata"] == {"kept": 1, "loyal": False}
    assert (await http.get(f"{C}/by-id")).json["name"] == "Via Id"
    assert (await http.get(f"{C}/c-last")).status == 200
    anonymous = await http.get(C, params={"email": "anon@example.com"})
    assert anonymous.json["total"] == 1


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"Source_id,First Name\nx,y\n", "First Name"),
        (b"Source_id,Name,name\n", "name"),
        (b"Source_id,,Name\n", "column 2"),
        (b"\xff\xfeS\x00o\x00", "UTF-8"),
    ],
)
async def test_csv_with_an_unusable_header_is_400(http: Http, content: bytes, named: str) -> None:
    reply = await http.post(f"{C}/importCSV", data=csv_form(content))
    assert reply.status == 400
    assert reply.json["key"] == "invalid_payload"
    assert named in reply.json["details"]


async def test_csv_upload_must_be_multipart_with_a_file_field(http: Http) -> None:
    reply = await http.post(f"{C}/importCSV", data=b"Source_id\nx\n")
    assert reply.status == 400
    reply = await http.post(f"{C}/importCSV", data=csv_form(b"Source_id\nx\n", field="upload"))
    assert reply.status == 400
    assert "file" in reply.json["details"]


TOO_BIG = {
    "statusCode": 413,
    "error": "Request Entity Too Large",
    "message": "Payload content length greater than maximum allowed: 10485760",
}


async def test_bodies_over_10_mb_get_the_documented_413(http: Http) -> None:
    padding = b" " * 10_485_760
    for path, body in (
        (f"{C}/bulk/async", b"[" + padding + b"]"),
        (f"{C}/metadata/async", b"{" + padding + b"}"),
    ):
        reply = await http.post(
            path, data=io.BytesIO(body), headers={"Content-Type": "application/json"}
        )
        assert reply.status == 413
        assert reply.json == TOO_BIG
    reply = await http.post(f"{C}/importCSV", data=csv_form(b"Source_id\n" + padding))
    assert reply.status == 413
    assert reply.json == TOO_BIG
    # Exactly 10 MB is still accepted.
    exact = b"[" + b" " * (10_485_760 - 2) + b"]"
    reply = await http.post(
        f"{C}/bulk/async", data=io.BytesIO(exact), headers={"Content-Type": "application/json"}
    )
    assert reply.status == 202


async def test_chunked_bodies_over_10_mb_are_413_too(http: Http) -> None:
    async def chunks() -> Any:
        yield b"["
        for _ in range(11):
            yield b" " * 1_048_576
        yield b"]"

    reply = await http.post(
        f"{C}/bulk/async", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert reply.status == 413


async def test_jobs_run_in_order_and_show_progress(http: Http, emu: Emulator) -> None:
    await emu.configure(job_item_delay_ms=20)
    first = await submit(http, f"{C}/bulk/async", json=[{"source_id": f"o{i}"} for i in range(5)])
    second = await submit(http, f"{C}/bulk/async", json=[{"source_id": "o9"}])
    queued = (await http.get(f"/v1/async-actions/{second}")).json
    assert queued["status"] == "ENQUEUED"
    assert queued["operation_status"] == "UNKNOWN"
    assert queued["progress"] == 0
    assert queued["processing_time"] == 0
    seen_in_progress = False
    for _ in range(200):
        running = (await http.get(f"/v1/async-actions/{first}")).json
        if running["status"] == "IN_PROGRESS" and 0 < running["progress"] < 100:
            seen_in_progress = True
            assert running["operation_status"] == "UNKNOWN"
            assert isinstance(running["processing_time"], int)
            assert (await http.get(f"/v1/async-actions/{second}")).json["status"] == "ENQUEUED"
            break
        await asyncio.sleep(0.005)
    assert seen_in_progress
    done = await http.wait_job(second)
    assert done["status"] == "DONE"
    assert done["operation_status"] == "SUCCESS"
    finished = (await http.get(f"/v1/async-actions/{first}")).json
    assert finished["status"] == "DONE" and finished["progress"] == 100
    assert finished["processing_time"] >= 5 * 20  # five items, 20 ms each
    assert done["created_at"] >= running["created_at"]


async def test_async_action_list_is_newest_first_with_limit_and_end_date(http: Http) -> None:
    made = [await submit(http, f"{C}/bulk/async", json=[]) for _ in range(4)]
    for action_id in made:
        await http.wait_job(action_id)
    body = (await http.get("/v1/async-actions", params={"limit": "3"})).json
    assert body["object"] == "list"
    assert body["data_ref"] == "async_actions"
    assert [a["id"] for a in body["async_actions"]] == made[::-1][:3]
    assert body["has_more"] is True
    assert all("result" not in a for a in body["async_actions"])
    everything = (await http.get("/v1/async-actions")).json
    assert everything["has_more"] is False
    assert len(everything["async_actions"]) == 4
    before = (await http.get("/v1/async-actions", params={"end_date": "2000-01-01"})).json
    assert before["async_actions"] == []
    bad = await http.get("/v1/async-actions", params={"end_date": "later"})
    assert bad.status == 400
    assert bad.json["key"] == "invalid_query_params"
    missing = await http.get("/v1/async-actions/aa_000000000000000000")
    assert missing.status == 404
    assert missing.json["resource_type"] == "async_action"


async def test_reset_drops_queued_jobs_and_the_worker_keeps_running(
    http: Http, emu: Emulator
) -> None:
    await emu.configure(job_item_delay_ms=50)
    slow = await submit(http, f"{C}/bulk/async", json=[{"source_id": f"r{i}"} for i in range(20)])
    await emu.reset()
    assert (await http.get(f"/v1/async-actions/{slow}")).status == 404
    fresh = await submit(http, f"{C}/bulk/async", json=[{"source_id": "after"}])
    assert (await http.wait_job(fresh))["status"] == "DONE"
    assert (await http.get(f"{C}/after")).status == 200
