"""The bodies of the ``/_emulator/`` control routes: checked, refusals worded, documented.

A key a route does not take is refused naming it and the keys it takes (``{"n": 30000}``
to ``seed/customers`` used to create nothing, silently); a value of the wrong type is
refused naming its key and the value; a fault script may be a bare list; and
docs/emulator.md has a row for every route listing every field it takes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from emulator_helpers import Http

from voucherify_async.emulator import Emulator
from voucherify_async.emulator._control import CONTROL_ROUTES, SETTINGS

ROOT = Path(__file__).resolve().parents[2]
SETTING_NAMES = "app_id, app_token, rate_limit, rate_limit_period, bulk_rate_limit, quota"


def details(reply: Any) -> str:
    assert reply.status == 400, reply.text
    body = reply.json
    assert body["key"] == "invalid_payload", body
    text: str = body["details"]
    return text


async def test_an_unknown_seed_key_is_refused_naming_it_and_the_keys_taken(
    http: Http, emu: Emulator
) -> None:
    reply = await http.post("/_emulator/seed/customers", json={"n": 30000})
    assert details(reply) == (
        "n: unknown field; POST /_emulator/seed/customers takes count, same_created_at,"
        " start, step_ms, order, source_id, name, email, city, phone, metadata, activity"
    )
    assert (await emu.stats())["customers"] == 0
    reply = await http.post("/_emulator/seed/customers", json={})
    assert details(reply).startswith("count: required")


BODY_ROUTES = [route for route in CONTROL_ROUTES if route.method != "GET"]


@pytest.mark.parametrize("route", BODY_ROUTES, ids=[f"{r.method} {r.path}" for r in BODY_ROUTES])
async def test_every_control_route_refuses_an_unknown_key(http: Http, route: Any) -> None:
    reply = await http.request(route.method, route.path, json={"bogus": 1})
    text = details(reply)
    if route.fields == SETTINGS:
        assert text.startswith(f"bogus: unknown setting; the settings are {SETTING_NAMES}")
    elif not route.fields:
        assert text == f"bogus: {route.method} {route.path} takes no body"
    else:
        assert text == (
            f"bogus: unknown field; {route.method} {route.path} takes {', '.join(route.fields)}"
        )


FAULT_KINDS = "error, drop, truncate, html, rate_limit, latency"
FAULT_FIELDS = "kind, status, method, path, count, latency_ms, retry_after"
WRONG_TYPES: list[tuple[str, dict[str, Any], str]] = [
    ("seed/customers", {"count": "3"}, "count: must be an integer >= 0, got '3'"),
    ("seed/customers", {"count": 1, "activity": "yes"}, "activity: must be true or false, got"),
    ("seed/customers", {"count": 1, "start": "soon"}, "start: must be an ISO 8601 date-time"),
    ("seed/customers", {"count": 1, "name": 7}, "name: must be a string pattern (with {i})"),
    ("seed/segments", {"name": 5}, "name: must be a non-empty string, got 5"),
    ("seed/segments", {"name": "S", "customer_ids": "s"}, "customer_ids: must be a list"),
    ("seed/redeemables", {"customer_id": 5}, "customer_id: required, a customer id or source"),
    (
        "seed/redeemables",
        {"customer_id": "seed-1", "created_at": 5},
        "created_at: must be an ISO 8601 date-time, got 5",
    ),
    (
        "seed/redeemables",
        {"customer_id": "seed-1", "holder_role": ""},
        "holder_role: must be a non-empty string, got ''",
    ),
    ("faults/script", {"faults": [], "replace": "yes"}, "replace: must be true or false, got"),
    ("faults/script", {"faults": "drop"}, "faults: must be a list of fault objects, got 'drop'"),
    ("faults/script", {"replace": True}, "faults: required, a list of fault objects such as"),
    (
        "faults/script",
        {"faults": ["drop"]},
        'faults[0]: must be an object such as {"kind": "error", "status": 503}, got',
    ),
    (
        "faults/script",
        {"faults": [{"kind": "explode"}]},
        f"faults[0].kind: must be one of {FAULT_KINDS}, got 'explode'",
    ),
    (
        "faults/script",
        {"faults": [{"kind": "drop", "colour": 1}]},
        f"faults[0].colour: unknown fault field; the fields are {FAULT_FIELDS}",
    ),
    ("config", {"error_rate": 5}, "error_rate: must be a number between 0 and 1, got 5"),
    ("reset", {"quota": "lots"}, "quota: must be a non-negative integer or null (no quota), got"),
]


@pytest.mark.parametrize(("path", "body", "expected"), WRONG_TYPES)
async def test_a_value_of_the_wrong_type_is_refused_naming_its_key(
    http: Http, emu: Emulator, path: str, body: dict[str, Any], expected: str
) -> None:
    await emu.seed_customers(1)
    reply = await http.post(f"/_emulator/{path}", json=body)
    assert details(reply).startswith(expected)


async def test_a_fault_script_may_be_a_bare_list(http: Http, emu: Emulator) -> None:
    reply = await http.post("/_emulator/faults/script", json=[{"kind": "error", "status": 503}])
    assert reply.status == 200, reply.text
    assert [f["kind"] for f in reply.json["faults"]] == ["error"]
    assert (await http.get("/v1/customers")).status == 503


async def test_a_body_that_is_not_an_object_is_shown_the_shape_expected(http: Http) -> None:
    reply = await http.post("/_emulator/seed/customers", json=[1])
    assert details(reply) == (
        'The body of POST /_emulator/seed/customers must be a JSON object such as {"count": 100},'
        " got a JSON list"
    )
    reply = await http.post("/_emulator/config", json="fast")
    assert details(reply).endswith('such as {"error_rate": 0.1}, got a JSON string')
    reply = await http.delete("/_emulator/faults/script", json=[1])
    assert details(reply) == "DELETE /_emulator/faults/script takes no body, got a JSON list"


async def test_the_seed_routes_still_take_every_field_they_document(
    http: Http, emu: Emulator
) -> None:
    seeded = await emu.seed_customers(
        4, same_created_at=2, start="2021-01-01T00:00:00Z", step_ms=5, order="descending",
        source_id="s-{i}", name="N {i}", email=None, city=["A", "B"], phone="+48 {i}",
        metadata={"tier": "gold"}, activity=True,
    )  # fmt: skip
    assert seeded["created"] == 4
    segment = await emu.seed_segment("S", ["s-1"], segment_id="seg_s")
    assert segment["id"] == "seg_s"
    fields = {
        "id": "rh_0123456789abcdef00", "created_at": "2022-01-01T00:00:00Z",
        "redeemable_id": "v_1", "holder_role": "REFERRER", "campaign_id": "camp_1",
        "campaign_type": "REFERRAL_PROGRAM", "campaign": "Friends",
        "voucher_type": "DISCOUNT_VOUCHER", "code": "CODE1", "status": "ACTIVE",
        "metadata": {}, "voucher": {"active": False},
    }  # fmt: skip
    held = await emu.seed_redeemable("s-1", **fields)
    assert (held["id"], held["redeemable"]["voucher"]["code"]) == (fields["id"], "CODE1")
    queued = await emu.script_faults([{"kind": "latency", "latency_ms": 1}], replace=True)
    assert len(queued) == 1
    await emu.clear_faults()
    assert await emu.scripted_faults() == []
    assert (await emu.quota())["quota"] is None
    assert (await emu.health())["customers"] == 4


# -- the docs -------------------------------------------------------------------------------

ROW = re.compile(
    r"^\|\s*(GET|POST|DELETE)\s*\|\s*`(/_emulator/[^`]+)`\s*\|(.*?)\|(.*?)\|\s*$", re.M
)


def test_the_docs_table_has_every_control_route_and_every_field_it_takes() -> None:
    page = (ROOT / "docs" / "emulator.md").read_text(encoding="utf-8")
    rows = {(method, path): (fields, answer) for method, path, fields, answer in ROW.findall(page)}
    declared = {(route.method, route.path): route for route in CONTROL_ROUTES}
    assert set(rows) == set(declared)
    for key, route in declared.items():
        fields, answer = rows[key]
        assert answer.strip(), key
        if route.fields == SETTINGS:
            assert "settings" in fields, key
        elif not route.fields:
            assert fields.strip() in ("", "none", "(none)"), key
        else:
            documented = set(re.findall(r"`(\w+)`", fields))
            assert set(route.fields) <= documented, (key, set(route.fields) - documented)
