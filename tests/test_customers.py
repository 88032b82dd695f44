"""Every method of ``vf.customers`` and ``vf.async_actions`` against a mocked API.

Each test checks what goes on the wire (method, exact path, query, headers, body) and what
comes back (the typed result), or that a bad argument is refused before anything is sent.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import msgspec
import pytest
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from tests.conftest import APP_ID, APP_TOKEN, BASE, url
from voucherify_async import (
    AsyncJob,
    AsyncVoucherify,
    CustomerBulkUpdate,
    CustomerCreate,
    CustomerUpdate,
    InternalServerError,
    MockResponse,
    MockTransport,
    PaginationError,
    models,
)
from voucherify_async.resources.customers import BULK_BODY_LIMIT

UTC = timezone.utc
PLUS_2 = timezone(timedelta(hours=2))
MINUS_5 = timezone(timedelta(hours=-5))

CUSTOMER = {
    "id": "cust_1",
    "source_id": "bob",
    "name": "Bob",
    "email": "bob@example.com",
    "birthdate": "1990-05-17",
    "address": {"city": "Warsaw"},
    "metadata": {"tier": "gold"},
    "created_at": "2024-01-02T03:04:05.678Z",
    "object": "customer",
}
ACTION_CREATED = {"async_action_id": "aa_0a875d56c805df6601"}

# Source ids that must reach the server as one path segment, and how they are encoded.
TRICKY_IDS = [
    ("a/b?c#d", "a%2Fb%3Fc%23d"),
    ("../x", "..%2Fx"),
    ("..", "%2E%2E"),
    (".", "%2E"),
    ("ząb 1", "z%C4%85b%201"),
    ("%2F", "%252F"),
    ("bob@example.com", "bob%40example.com"),
]


# --- helpers -------------------------------------------------------------------------------


def sent(api: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    """Every request made, in order: (method, URL as recorded, call kwargs)."""
    return [
        (method, request_url, call.kwargs)
        for (method, request_url), made in api.requests.items()
        for call in made
    ]


def only_request(api: aioresponses) -> tuple[str, URL, dict[str, Any]]:
    made = sent(api)
    assert len(made) == 1, made
    return made[0]


def query(request_url: URL) -> list[tuple[str, str]]:
    """The query of a requested URL, decoded, in a stable order."""
    return sorted(parse_qsl(request_url.raw_query_string, keep_blank_values=True))


def body(kwargs: dict[str, Any]) -> Any:
    data = kwargs["data"]
    assert isinstance(data, bytes), f"expected a JSON body, got {type(data).__name__}"
    return msgspec.json.decode(data)


def check_headers(kwargs: dict[str, Any], *, json_body: bool) -> None:
    headers = kwargs["headers"]
    assert headers["X-App-Id"] == APP_ID
    assert headers["X-App-Token"] == APP_TOKEN
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("voucherify-async/")
    content_types = [value for key, value in headers.items() if key.lower() == "content-type"]
    assert content_types == (["application/json"] if json_body else [])


def check_get(api: aioresponses, path: str, expected_query: list[tuple[str, str]]) -> None:
    method, request_url, kwargs = only_request(api)
    assert method == "GET"
    assert request_url.raw_path == path
    assert query(request_url) == sorted(expected_query)
    assert kwargs["data"] is None
    check_headers(kwargs, json_body=False)


def customers(*ids: str) -> list[dict[str, Any]]:
    return [{"id": cid, "object": "customer"} for cid in ids]


def events(*ids: str) -> list[dict[str, Any]]:
    return [{"id": eid, "type": "customer.updated"} for eid in ids]


def held(*ids: str) -> list[dict[str, Any]]:
    return [{"id": rid, "holder_role": "OWNER"} for rid in ids]


# --- create -------------------------------------------------------------------------------


async def test_create_with_keyword_arguments(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.post(url("/v1/customers"), payload=CUSTOMER)
    customer = await vf.customers.create(
        source_id="bob",
        name="Bob",
        email="bob@example.com",
        phone=None,
        birthdate=date(1990, 5, 17),
        address={"city": "Warsaw"},
        metadata={"tier": "gold"},
    )
    method, request_url, kwargs = only_request(api)
    assert (method, str(request_url)) == ("POST", BASE + "/v1/customers")
    check_headers(kwargs, json_body=True)
    assert body(kwargs) == {
        "source_id": "bob",
        "name": "Bob",
        "email": "bob@example.com",
        "phone": None,
        "birthdate": "1990-05-17",
        "address": {"city": "Warsaw"},
        "metadata": {"tier": "gold"},
    }
    assert isinstance(customer, models.Customer)
    assert customer.id == "cust_1" and customer.birthdate == date(1990, 5, 17)
    assert customer.address == models.Address(city="Warsaw")
    assert customer.created_at == datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


async def test_create_with_a_model(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.post(url("/v1/customers"), payload=CUSTOMER)
    # An `Address` read from a customer is accepted too; the field cannot say so, msgspec
    # allows one Struct type per union.
    request = CustomerCreate(
        source_id="bob",
        address=models.Address(city="Warsaw"),  # type: ignore[arg-type]
    )
    customer = await vf.customers.create(request)
    method, request_url, kwargs = only_request(api)
    assert (method, request_url.raw_path) == ("POST", "/v1/customers")
    check_headers(kwargs, json_body=True)
    assert body(kwargs) == {"source_id": "bob", "address": {"city": "Warsaw"}}
    assert customer.source_id == "bob"


async def test_create_with_a_mapping(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.post(url("/v1/customers"), payload=CUSTOMER)
    await vf.customers.create({"id": "cust_1", "description": None})
    assert body(only_request(api)[2]) == {"id": "cust_1", "description": None}


async def test_create_refuses_a_model_and_keywords_together(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    with pytest.raises(TypeError, match="not both"):
        await vf.customers.create(CustomerCreate(source_id="bob"), name="Bob")
    assert not api.requests


async def test_create_refuses_an_unknown_keyword_naming_it(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    with pytest.raises(TypeError, match="create\\(\\) got an unexpected argument 'nmae'"):
        await vf.customers.create(source_id="bob", nmae="Bob")  # type: ignore[call-arg]
    assert not api.requests


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"email": 5}, "email"),
        ({"birthdate": "17 May 1990"}, "birthdate"),
        ({"address": {"city": 1}}, "address.city"),
        ({"metadata": ["tier"]}, "metadata"),
    ],
)
async def test_create_refuses_a_wrong_type_naming_the_field(
    vf: AsyncVoucherify, api: aioresponses, fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(TypeError, match=f"create\\(\\): invalid {re.escape(named)}: "):
        await vf.customers.create(**fields)
    assert not api.requests


async def test_create_refuses_something_else_positional(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    with pytest.raises(TypeError, match="customer must be a CustomerCreate or a mapping"):
        await vf.customers.create("bob")  # type: ignore[arg-type]
    assert not api.requests


# --- get, update, delete ------------------------------------------------------------------


async def test_get(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(url("/v1/customers/cust_1"), payload=CUSTOMER)
    customer = await vf.customers.get("cust_1")
    check_get(api, "/v1/customers/cust_1", [])
    assert str(only_request(api)[1]) == BASE + "/v1/customers/cust_1"
    assert isinstance(customer, models.Customer) and customer.metadata == {"tier": "gold"}


@pytest.mark.parametrize(("source_id", "encoded"), TRICKY_IDS)
async def test_get_sends_any_source_id_as_one_segment(
    vf: AsyncVoucherify, api: aioresponses, source_id: str, encoded: str
) -> None:
    api.get(re.compile(re.escape(BASE) + "/.*"), payload=CUSTOMER)
    await vf.customers.get(source_id)
    _, request_url, _ = only_request(api)
    assert str(request_url) == f"{BASE}/v1/customers/{encoded}"
    assert request_url.raw_path == f"/v1/customers/{encoded}"


@pytest.mark.parametrize(
    ("call", "method", "suffix"),
    [
        (lambda vf, cid: vf.customers.update(cid, name="x"), "PUT", ""),
        (lambda vf, cid: vf.customers.delete(cid), "DELETE", ""),
        (lambda vf, cid: vf.customers.delete_permanently(cid), "POST", "/permanent-deletion"),
        (lambda vf, cid: vf.customers.list_activity(cid), "GET", "/activity"),
        (lambda vf, cid: vf.customers.list_redeemables(cid), "GET", "/redeemables"),
        (lambda vf, cid: vf.customers.list_segments(cid), "GET", "/segments"),
    ],
    ids=[
        "update",
        "delete",
        "delete_permanently",
        "list_activity",
        "list_redeemables",
        "list_segments",
    ],
)
async def test_every_customer_path_encodes_the_id(
    vf: AsyncVoucherify, api: aioresponses, call: Any, method: str, suffix: str
) -> None:
    api.add(re.compile(re.escape(BASE) + "/.*"), method, payload={"id": "x"}, status=200)
    await call(vf, "a/b?c#d")
    made_method, request_url, _ = only_request(api)
    assert made_method == method
    assert request_url.raw_path == "/v1/customers/a%2Fb%3Fc%23d" + suffix


async def test_list_activities_path_encodes_the_id(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(re.compile(re.escape(BASE) + "/.*"), payload={"data": []})
    with pytest.warns(DeprecationWarning):
        pager = vf.customers.list_activities("..")
    await pager
    assert only_request(api)[1].raw_path == "/v1/customers/%2E%2E/activities"


@pytest.mark.parametrize(("bad", "error"), [("", ValueError), (None, TypeError), (7, TypeError)])
async def test_customer_id_is_checked_before_sending(
    vf: AsyncVoucherify, api: aioresponses, bad: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="customer_id must be"):
        await vf.customers.get(bad)
    with pytest.raises(error, match="customer_id must be"):
        await vf.customers.update(bad, name="x")
    with pytest.raises(error, match="customer_id must be"):
        vf.customers.list_activity(bad)
    assert not api.requests


async def test_update_sends_only_the_given_fields_and_none_as_null(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.put(url("/v1/customers/bob"), payload=CUSTOMER)
    customer = await vf.customers.update("bob", name="Robert", phone=None)
    method, request_url, kwargs = only_request(api)
    assert (method, str(request_url)) == ("PUT", BASE + "/v1/customers/bob")
    check_headers(kwargs, json_body=True)
    assert body(kwargs) == {"name": "Robert", "phone": None}
    assert isinstance(customer, models.Customer) and customer.id == "cust_1"


@pytest.mark.parametrize(
    "changes",
    [
        CustomerUpdate(email=None, birthday=date(2000, 2, 29)),
        {"email": None, "birthday": date(2000, 2, 29)},
    ],
    ids=["model", "mapping"],
)
async def test_update_with_a_model_or_mapping(
    vf: AsyncVoucherify, api: aioresponses, changes: Any
) -> None:
    api.put(url("/v1/customers/bob"), payload=CUSTOMER)
    await vf.customers.update("bob", changes)
    assert body(only_request(api)[2]) == {"email": None, "birthday": "2000-02-29"}


async def test_update_refuses_bad_arguments_before_sending(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    with pytest.raises(TypeError, match="unexpected argument 'source_id'"):
        await vf.customers.update("bob", source_id="other")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="update\\(\\): invalid phone: "):
        await vf.customers.update("bob", phone=48123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not both"):
        await vf.customers.update("bob", CustomerUpdate(name="x"), name="y")
    with pytest.raises(TypeError, match="changes has an unexpected field 'nmae'"):
        await vf.customers.update("bob", {"nmae": "x"})
    assert not api.requests


async def test_delete(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.delete(url("/v1/customers/cust_1"), status=204)
    result = await vf.customers.delete("cust_1")  # type: ignore[func-returns-value]
    method, request_url, kwargs = only_request(api)
    assert (method, str(request_url)) == ("DELETE", BASE + "/v1/customers/cust_1")
    assert kwargs.get("data") is None
    check_headers(kwargs, json_body=False)
    assert result is None


async def test_delete_permanently(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.post(
        url("/v1/customers/cust_1/permanent-deletion"),
        payload={
            "id": "del_1",
            "created_at": "2022-09-02T17:50:29.302Z",
            "related_object_id": "cust_1",
            "status": "DONE",
            "data_json": {"events": 16, "orders": 9, "customer": 1},
        },
    )
    deletion = await vf.customers.delete_permanently("cust_1")
    method, request_url, kwargs = only_request(api)
    assert (method, str(request_url)) == ("POST", BASE + "/v1/customers/cust_1/permanent-deletion")
    assert kwargs["data"] is None  # no body, so no Content-Type either
    check_headers(kwargs, json_body=False)
    assert isinstance(deletion, models.CustomerPermanentDeletion)
    assert deletion.data_json is not None
    assert deletion.related_object_id == "cust_1" and deletion.data_json.orders == 9
    assert deletion.created_at == datetime(2022, 9, 2, 17, 50, 29, 302000, tzinfo=UTC)


# --- list ---------------------------------------------------------------------------------


async def test_list_sends_every_query_parameter() -> None:
    transport = MockTransport(
        lambda request: MockResponse(200, json={"customers": customers("c1"), "total": 1})
    )
    vf = AsyncVoucherify(app_id=APP_ID, app_token=APP_TOKEN, base_url=BASE, transport=transport)
    page = await vf.customers.list(
        limit=50,
        page=3,
        email="bob+1@example.com",
        city="Nowy Sącz",
        name="Bob & Co",
        segment_id="seg_1",
        created_at_before=datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=PLUS_2),
        created_at_after=datetime(2023, 12, 31, 22, 0, tzinfo=MINUS_5),
        updated_at_before=datetime(2024, 2, 1, tzinfo=UTC),
        updated_at_after=datetime(2024, 1, 1, 0, 0, 0, 999, tzinfo=UTC),
        order="-updated_at",
        starting_after=datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
    )
    [request] = transport.requests
    assert (request.method, request.path) == ("GET", "/v1/customers")
    assert request.content == b"" and request.upload is None
    check_headers({"headers": request.headers}, json_body=False)
    assert sorted(request.params) == sorted(
        [
            ("limit", "50"),
            ("page", "3"),
            ("email", "bob+1@example.com"),
            ("city", "Nowy Sącz"),
            ("name", "Bob & Co"),
            ("segment_id", "seg_1"),
            ("created_at[before]", "2024-01-02T01:04:05.678Z"),
            ("created_at[after]", "2024-01-01T03:00:00.000Z"),
            ("updated_at[before]", "2024-02-01T00:00:00.000Z"),
            ("updated_at[after]", "2024-01-01T00:00:00.000Z"),
            ("order", "-updated_at"),
            ("starting_after", "2024-03-01T12:00:00.123Z"),
        ],
    )
    # Bracket names reach the wire readable, as the API documents them.
    raw = request.url
    assert "&created_at[before]=2024-01-02T01%3A04%3A05.678Z&" in raw
    assert "&updated_at[after]=" in raw
    assert isinstance(page, models.CustomerList)
    assert [customer.id for customer in page.customers] == ["c1"] and page.total == 1


async def test_list_without_parameters_sends_no_query(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.get(url("/v1/customers"), payload={"customers": []})
    await vf.customers.list()
    check_get(api, "/v1/customers", [])
    assert str(only_request(api)[1]) == BASE + "/v1/customers"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"limit": 0}, ValueError, "limit must be from 1 to 100, got 0"),
        ({"limit": 101}, ValueError, "limit must be from 1 to 100, got 101"),
        ({"limit": True}, TypeError, "limit must be an int"),
        ({"page": 0}, ValueError, "page must be from 1 to 99, got 0"),
        ({"page": 100}, ValueError, "page must be from 1 to 99, got 100"),
        ({"order": "name"}, ValueError, "order must be one of"),
        ({"email": 5}, TypeError, "email must be a str"),
        ({"created_at_before": datetime(2024, 1, 1)}, ValueError, "created_at_before must"),
        ({"created_at_after": datetime(2024, 1, 1)}, ValueError, "created_at_after must"),
        ({"updated_at_before": datetime(2024, 1, 1)}, ValueError, "updated_at_before must"),
        ({"updated_at_after": datetime(2024, 1, 1)}, ValueError, "updated_at_after must"),
        ({"starting_after": datetime(2024, 1, 1)}, ValueError, "starting_after must"),
        ({"starting_after": "2024-01-01"}, TypeError, "starting_after must"),
    ],
)
async def test_list_refuses_bad_parameters_before_sending(
    vf: AsyncVoucherify,
    api: aioresponses,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        vf.customers.list(**kwargs)
    assert not api.requests


def stamped(*items: tuple[str, int]) -> list[dict[str, Any]]:
    """Customers created at the given milliseconds after 2024-01-01T00:00:00Z."""
    base = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        {
            "id": cid,
            "object": "customer",
            "created_at": (base + timedelta(milliseconds=ms)).isoformat().replace("+00:00", "Z"),
        }
        for cid, ms in items
    ]


async def test_list_iterates_with_the_created_at_cursor(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    # Descending (the default): each window starts 1 ms after the last created_at, so the
    # customers sharing it come again and are dropped.
    api.get(
        url("/v1/customers"),
        payload={"customers": stamped(("c1", 50), ("c2", 40)), "has_more": True},
    )
    api.get(
        url("/v1/customers"),
        payload={"customers": stamped(("c2", 40), ("c3", 30)), "has_more": True},
    )
    api.get(url("/v1/customers"), payload={"customers": stamped(("c3", 30)), "has_more": False})
    api.get(url("/v1/customers"), payload={"customers": customers("never")}, repeat=True)
    seen = [customer.id async for customer in vf.customers.list(limit=2, city="Warsaw")]
    assert seen == ["c1", "c2", "c3"]
    assert [query(request_url) for _, request_url, _ in sent(api)] == [
        [("city", "Warsaw"), ("limit", "2")],
        [("city", "Warsaw"), ("limit", "2"), ("starting_after", "2024-01-01T00:00:00.041Z")],
        [("city", "Warsaw"), ("limit", "2"), ("starting_after", "2024-01-01T00:00:00.031Z")],
    ]
    for _, _, kwargs in sent(api):
        check_headers(kwargs, json_body=False)


async def test_list_ascending_cursor_steps_back(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(
        url("/v1/customers"), payload={"customers": stamped(("a", 1), ("b", 2)), "has_more": True}
    )
    api.get(
        url("/v1/customers"), payload={"customers": stamped(("b", 2), ("c", 3)), "has_more": False}
    )
    pager = vf.customers.list(limit=2, order="created_at")
    assert [c.id async for c in pager] == ["a", "b", "c"]
    assert dict(query(sent(api)[1][1]))["starting_after"] == "2024-01-01T00:00:00.001Z"
    assert isinstance(pager.position, str)


async def test_list_iteration_asks_for_full_pages(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(url("/v1/customers"), payload={"customers": stamped(("a", 1)), "has_more": False})
    assert [c.id async for c in vf.customers.list()] == ["a"]
    assert dict(query(sent(api)[0][1]))["limit"] == "100"


async def test_list_stops_on_a_short_page(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(url("/v1/customers"), payload={"customers": stamped(("c1", 9), ("c2", 8))})
    api.get(url("/v1/customers"), payload={"customers": stamped(("c3", 7))})
    api.get(url("/v1/customers"), payload={"customers": customers("never")}, repeat=True)
    seen = [customer.id async for customer in vf.customers.list(limit=2)]
    assert seen == ["c1", "c2", "c3"]
    assert len(sent(api)) == 2


async def test_list_other_orders_raise_past_page_99(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(url("/v1/customers"), payload={"customers": customers("a"), "has_more": True})
    api.get(url("/v1/customers"), payload={"customers": customers("b"), "has_more": True})
    api.get(url("/v1/customers"), payload={"customers": customers("never")}, repeat=True)
    seen: list[str] = []
    with pytest.raises(PaginationError, match="order='updated_at' cannot be listed past page"):
        async for customer in vf.customers.list(limit=1, page=98, order="updated_at"):
            seen.append(customer.id)
    assert seen == ["a", "b"]
    assert [dict(query(u))["page"] for _, u, _ in sent(api)] == ["98", "99"]


async def test_list_stops_on_an_empty_page(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(url("/v1/customers"), payload={"customers": [], "has_more": True})
    api.get(url("/v1/customers"), payload={"customers": customers("never")}, repeat=True)
    assert [customer async for customer in vf.customers.list()] == []
    assert len(sent(api)) == 1


async def test_list_prefetches_the_next_page(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(
        url("/v1/customers"), payload={"customers": stamped(("a", 3), ("b", 2)), "has_more": True}
    )
    api.get(url("/v1/customers"), payload={"customers": stamped(("c", 1)), "has_more": False})
    async for customer in vf.customers.list(limit=2):
        if customer.id == "a":
            for _ in range(5):
                await asyncio.sleep(0)
            assert len(sent(api)) == 2  # page 2 is in flight while page 1 is worked on
            break


async def test_list_without_prefetch_waits_for_the_caller(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.get(
        url("/v1/customers"), payload={"customers": stamped(("a", 3), ("b", 2)), "has_more": True}
    )
    api.get(url("/v1/customers"), payload={"customers": stamped(("c", 1)), "has_more": False})
    seen = []
    async for customer in vf.customers.list(limit=2, prefetch=False):
        seen.append(customer.id)
        for _ in range(5):
            await asyncio.sleep(0)
        assert len(sent(api)) == (1 if customer.id != "c" else 2)
    assert seen == ["a", "b", "c"]


async def test_list_resume_from(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(
        url("/v1/customers"), payload={"customers": stamped(("a", 3), ("b", 2)), "has_more": True}
    )
    api.get(
        url("/v1/customers"), payload={"customers": stamped(("b", 2), ("c", 1)), "has_more": False}
    )
    pager = vf.customers.list(limit=2, prefetch=False)
    async for customer in pager:
        if customer.id == "a":
            break
    token = pager.position
    assert token is not None
    with pytest.raises(ValueError, match="resume_from is not a scan position token"):
        vf.customers.list(resume_from="garbage")
    with pytest.raises(ValueError, match="created_at orders"):
        vf.customers.list(resume_from=token, order="source_id")
    rest = [c.id async for c in vf.customers.list(limit=2, resume_from=token)]
    assert rest == ["b", "c"]
    # The resumed scan started one millisecond after a's created_at.
    assert dict(query(sent(api)[1][1]))["starting_after"] == "2024-01-01T00:00:00.004Z"


async def test_awaiting_a_pager_fetches_one_page(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(
        url("/v1/customers"), payload={"customers": customers("c1"), "has_more": True}, repeat=True
    )
    pager = vf.customers.list(limit=1)
    assert not api.requests  # nothing is sent until the pager is used
    page = await pager
    assert isinstance(page, models.CustomerList) and page.has_more is True
    assert len(sent(api)) == 1


async def test_pages_yields_each_page_with_new_items_only(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.get(
        url("/v1/customers"), payload={"customers": stamped(("c1", 5), ("c2", 4)), "has_more": True}
    )
    api.get(
        url("/v1/customers"),
        payload={"customers": stamped(("c2", 4), ("c3", 3)), "has_more": False},
    )
    pages = [page async for page in vf.customers.list(limit=2).pages()]
    assert all(isinstance(page, models.CustomerList) for page in pages)
    assert [[c.id for c in page.customers] for page in pages] == [["c1", "c2"], ["c3"]]


# --- list_activity ------------------------------------------------------------------------


async def test_list_activity_sends_every_query_parameter(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.get(
        url("/v1/customers/cust_1/activity"),
        payload={"data": events("evcus_1"), "has_more": False},
    )
    page = await vf.customers.list_activity(
        "cust_1",
        limit=20,
        order="-created_at",
        starting_after_id="evcus_0",
        start_date=datetime(2024, 1, 1, 1, 0, tzinfo=PLUS_2),
        end_date=datetime(2024, 2, 1, 0, 0, 0, 500500, tzinfo=UTC),
        campaign_id="camp_1",
        campaign_type="LOYALTY_PROGRAM",
        category="ACTION",
        type="customer.created",
    )
    check_get(
        api,
        "/v1/customers/cust_1/activity",
        [
            ("limit", "20"),
            ("order", "-created_at"),
            ("starting_after_id", "evcus_0"),
            ("start_date", "2023-12-31T23:00:00.000Z"),
            ("end_date", "2024-02-01T00:00:00.500Z"),
            ("campaign_id", "camp_1"),
            ("campaign_type", "LOYALTY_PROGRAM"),
            ("category", "ACTION"),
            ("type", "customer.created"),
        ],
    )
    assert isinstance(page, models.CustomerActivityList)
    assert page.data[0].id == "evcus_1" and page.data[0].type == "customer.updated"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"limit": 0}, ValueError, "limit must be from 1 to 100"),
        ({"limit": 101}, ValueError, "limit must be from 1 to 100"),
        ({"order": "updated_at"}, ValueError, "order must be one of"),
        ({"start_date": datetime(2024, 1, 1)}, ValueError, "start_date must"),
        ({"end_date": datetime(2024, 1, 1)}, ValueError, "end_date must"),
        ({"type": 5}, TypeError, "type must be a str"),
    ],
)
async def test_list_activity_refuses_bad_parameters_before_sending(
    vf: AsyncVoucherify,
    api: aioresponses,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        vf.customers.list_activity("cust_1", **kwargs)
    assert not api.requests


async def test_list_activity_follows_more_starting_after(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    path = url("/v1/customers/cust_1/activity")
    api.get(
        path, payload={"data": events("e1", "e2"), "has_more": True, "more_starting_after": "e2"}
    )
    api.get(
        path, payload={"data": events("e3", "e4"), "has_more": True, "more_starting_after": "e4"}
    )
    api.get(path, payload={"data": events("e5"), "has_more": False, "more_starting_after": "e5"})
    api.get(path, payload={"data": events("never")}, repeat=True)
    seen = [event.id async for event in vf.customers.list_activity("cust_1", limit=2)]
    assert seen == ["e1", "e2", "e3", "e4", "e5"]
    assert [query(u) for _, u, _ in sent(api)] == [
        [("limit", "2")],
        [("limit", "2"), ("starting_after_id", "e2")],
        [("limit", "2"), ("starting_after_id", "e4")],
    ]


async def test_list_activity_falls_back_to_the_last_id_when_no_cursor_is_named(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    path = url("/v1/customers/cust_1/activity")
    api.get(path, payload={"data": events("e1", "e2"), "has_more": True})
    api.get(path, payload={"data": events("e3"), "has_more": False})
    seen = [event.id async for event in vf.customers.list_activity("cust_1")]
    assert seen == ["e1", "e2", "e3"]
    assert [dict(query(u)).get("starting_after_id") for _, u, _ in sent(api)] == [None, "e2"]


# --- list_activities (deprecated) ---------------------------------------------------------


async def test_list_activities_warns_and_sends_every_query_parameter(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.get(
        url("/v1/customers/cust_1/activities"),
        payload={"data": events("evcus_1"), "total": 1},
    )
    with pytest.warns(DeprecationWarning, match="list_activity") as warned:
        pager = vf.customers.list_activities(
            "cust_1",
            limit=5,
            order="-type",
            starting_after=datetime(2024, 1, 1, 0, 0, 0, 1500, tzinfo=UTC),
            starting_after_id="evcus_0",
            campaign_type="PROMOTION",
            campaign_id="camp_1",
            product_id="prod_1",
            start_date=datetime(2023, 12, 31, 19, 0, tzinfo=MINUS_5),
            end_date=datetime(2024, 6, 30, 23, 59, 59, 999999, tzinfo=UTC),
        )
    assert warned[0].filename == __file__  # points at the caller
    page = await pager
    check_get(
        api,
        "/v1/customers/cust_1/activities",
        [
            ("limit", "5"),
            ("order", "-type"),
            ("starting_after", "2024-01-01T00:00:00.001Z"),
            ("starting_after_id", "evcus_0"),
            ("campaign_type", "PROMOTION"),
            ("campaign_id", "camp_1"),
            ("product_id", "prod_1"),
            ("start_date", "2024-01-01T00:00:00.000Z"),
            ("end_date", "2024-06-30T23:59:59.999Z"),
        ],
    )
    assert isinstance(page, models.CustomerActivitiesList)
    assert page.total == 1 and page.data[0].id == "evcus_1"


async def test_list_activities_refuses_bad_parameters_before_sending(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="order must be"):
        vf.customers.list_activities("cust_1", order="id")
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="starting_after"):
        vf.customers.list_activities("cust_1", starting_after=datetime(2024, 1, 1))
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="limit must"):
        vf.customers.list_activities("cust_1", limit=101)
    assert not api.requests


async def test_list_activities_continues_after_the_last_item_of_full_pages(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    path = url("/v1/customers/cust_1/activities")
    api.get(path, payload={"data": events("e1", "e2"), "total": 5})
    api.get(path, payload={"data": events("e3", "e4"), "total": 5})
    api.get(path, payload={"data": events("e5"), "total": 5})
    api.get(path, payload={"data": events("never")}, repeat=True)
    with pytest.warns(DeprecationWarning):
        pager = vf.customers.list_activities("cust_1", limit=2)
    seen = [event.id async for event in pager]
    assert seen == ["e1", "e2", "e3", "e4", "e5"]
    assert [query(u) for _, u, _ in sent(api)] == [
        [("limit", "2")],
        [("limit", "2"), ("starting_after_id", "e2")],
        [("limit", "2"), ("starting_after_id", "e4")],
    ]


# --- list_redeemables ---------------------------------------------------------------------


async def test_list_redeemables_sends_filters_as_a_deep_object(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.get(
        url("/v1/customers/cust_1/redeemables"),
        payload={"data": held("rh_1"), "total": 1, "has_more": False},
    )
    page = await vf.customers.list_redeemables(
        "cust_1",
        limit=10,
        order="-id",
        starting_after_id="rh_0",
        filters={
            "holder_role": {"conditions": {"$in": ["OWNER", "REFERRER"]}},
            "created_at": {"conditions": {"$after": datetime(2024, 1, 1, 2, tzinfo=PLUS_2)}},
            "campaign_type": {"conditions": {"$is": "LOYALTY_PROGRAM"}},
            "junction": "and",
        },
    )
    check_get(
        api,
        "/v1/customers/cust_1/redeemables",
        [
            ("limit", "10"),
            ("order", "-id"),
            ("starting_after_id", "rh_0"),
            ("filters[holder_role][conditions][$in][0]", "OWNER"),
            ("filters[holder_role][conditions][$in][1]", "REFERRER"),
            ("filters[created_at][conditions][$after]", "2024-01-01T00:00:00.000Z"),
            ("filters[campaign_type][conditions][$is]", "LOYALTY_PROGRAM"),
            ("filters[junction]", "and"),
        ],
    )
    assert isinstance(page, models.CustomerRedeemableList)
    assert page.data[0].id == "rh_1" and page.data[0].holder_role == "OWNER"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"limit": 0}, ValueError, "limit must be from 1 to 100"),
        ({"order": "created_at"}, ValueError, "order must be one of '-id', 'id'"),
        ({"filters": ["OWNER"]}, TypeError, "filters must be a mapping"),
        (
            {"filters": {"created_at": {"conditions": {"$after": datetime(2024, 1, 1)}}}},
            ValueError,
            "filters[created_at][conditions][$after] must be",
        ),
    ],
)
async def test_list_redeemables_refuses_bad_parameters_before_sending(
    vf: AsyncVoucherify,
    api: aioresponses,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        vf.customers.list_redeemables("cust_1", **kwargs)
    assert not api.requests


async def test_list_redeemables_follows_more_starting_after(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    path = url("/v1/customers/cust_1/redeemables")
    filters = {"holder_role": {"conditions": {"$in": ["OWNER"]}}}
    api.get(path, payload={"data": held("r1", "r2"), "has_more": True, "more_starting_after": "r2"})
    api.get(path, payload={"data": held("r3"), "has_more": False})
    api.get(path, payload={"data": held("never")}, repeat=True)
    pager = vf.customers.list_redeemables("cust_1", limit=2, filters=filters)
    seen = [item.id async for item in pager]
    assert seen == ["r1", "r2", "r3"]
    owner = ("filters[holder_role][conditions][$in][0]", "OWNER")
    assert [query(u) for _, u, _ in sent(api)] == [
        sorted([("limit", "2"), owner]),
        sorted([("limit", "2"), ("starting_after_id", "r2"), owner]),
    ]


# --- list_segments ------------------------------------------------------------------------


async def test_list_segments(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(
        url("/v1/customers/cust_1/segments"),
        payload={"data": [{"id": "seg_1", "name": "VIP", "object": "segment"}], "total": 1},
    )
    segments = await vf.customers.list_segments("cust_1")
    check_get(api, "/v1/customers/cust_1/segments", [])
    assert isinstance(segments, models.CustomerSegmentList)
    assert segments.data == [models.Segment(id="seg_1", name="VIP")] and segments.total == 1


# --- import_csv ---------------------------------------------------------------------------

CSV = b"Source_id,Name,Email\nbob,Bob,bob@example.com\n"


def check_upload(api: aioresponses, filename: str) -> tuple[Any, aiohttp.FormData]:
    """Check the request was a multipart upload; return the file value and the form."""
    method, request_url, kwargs = only_request(api)
    assert (method, str(request_url)) == ("POST", BASE + "/v1/customers/importCSV")
    check_headers(kwargs, json_body=False)  # aiohttp sets the multipart Content-Type
    form = kwargs["data"]
    assert isinstance(form, aiohttp.FormData)
    [(options, headers, value)] = form._fields
    assert dict(options) == {"name": "file", "filename": filename}
    assert headers == {"Content-Type": "text/csv"}
    return value, form


async def rendered(form: aiohttp.FormData) -> bytes:
    return await form().as_bytes()


async def test_import_csv_from_a_path(
    vf: AsyncVoucherify, api: aioresponses, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(CSV)
    api.post(url("/v1/customers/importCSV"), status=202, payload=ACTION_CREATED)
    created = await vf.customers.import_csv(path)
    value, _ = check_upload(api, "people.csv")
    # The file is opened for the request, and closed once it is sent.
    assert Path(value.name) == path and value.closed
    assert isinstance(created, AsyncJob)
    assert created.async_action_id == "aa_0a875d56c805df6601"
    assert created.async_action_ids == ["aa_0a875d56c805df6601"]


async def test_import_csv_from_a_str_path_with_a_filename(
    vf: AsyncVoucherify, api: aioresponses, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(CSV)
    api.post(url("/v1/customers/importCSV"), status=202, payload=ACTION_CREATED)
    await vf.customers.import_csv(str(path), filename="renamed.csv")
    check_upload(api, "renamed.csv")


async def test_import_csv_from_bytes(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.post(url("/v1/customers/importCSV"), status=202, payload=ACTION_CREATED)
    created = await vf.customers.import_csv(CSV)
    _, form = check_upload(api, "customers.csv")
    multipart = await rendered(form)
    assert b'name="file"; filename="customers.csv"' in multipart
    assert b"\r\n\r\n" + CSV + b"\r\n--" in multipart
    assert created.async_action_id == "aa_0a875d56c805df6601"


async def test_import_csv_from_a_binary_file(
    vf: AsyncVoucherify, api: aioresponses, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(CSV)
    api.post(url("/v1/customers/importCSV"), status=202, payload=ACTION_CREATED)
    with path.open("rb") as handle:
        await vf.customers.import_csv(handle)
        _, form = check_upload(api, "export.csv")
        assert not handle.closed  # the caller's file is the caller's to close
        assert CSV in await rendered(form)


async def test_import_csv_from_a_bytes_io(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.post(url("/v1/customers/importCSV"), status=202, payload=ACTION_CREATED)
    await vf.customers.import_csv(io.BytesIO(CSV))
    _, form = check_upload(api, "customers.csv")
    assert CSV in await rendered(form)


async def test_import_csv_from_an_async_iterable(vf: AsyncVoucherify, api: aioresponses) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield CSV[:10]
        yield CSV[10:]

    # The stream is read while the request is sent (once), so render it then.
    uploaded: list[bytes] = []

    async def render_upload(_url: Any, **kwargs: Any) -> CallbackResult:
        check_upload(api, "stream.csv")
        uploaded.append(await rendered(kwargs["data"]))
        return CallbackResult(status=202, payload=ACTION_CREATED)

    api.post(url("/v1/customers/importCSV"), callback=render_upload)
    job = await vf.customers.import_csv(chunks(), filename="stream.csv")
    assert len(uploaded) == 1 and CSV in uploaded[0]
    assert job.async_action_id == "aa_0a875d56c805df6601"


async def test_import_csv_refuses_a_text_mode_file(
    vf: AsyncVoucherify, api: aioresponses, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(CSV)
    with path.open("r", encoding="utf-8") as handle, pytest.raises(TypeError, match="binary"):
        await vf.customers.import_csv(handle)
    with pytest.raises(TypeError, match="binary"):
        await vf.customers.import_csv(io.StringIO("Source_id\nbob\n"))
    assert not api.requests


async def test_import_csv_refuses_a_missing_file(
    vf: AsyncVoucherify, api: aioresponses, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        await vf.customers.import_csv(missing)
    with pytest.raises(FileNotFoundError):
        await vf.customers.import_csv(str(missing))
    assert not api.requests


async def test_import_csv_refuses_other_types(vf: AsyncVoucherify, api: aioresponses) -> None:
    with pytest.raises(TypeError, match="file must be a path, bytes"):
        await vf.customers.import_csv(12345)  # type: ignore[arg-type]
    assert not api.requests


# --- update_in_bulk -----------------------------------------------------------------------


async def test_update_in_bulk_with_models_and_mappings(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.post(url("/v1/customers/bulk/async"), status=202, payload=ACTION_CREATED)
    created = await vf.customers.update_in_bulk(
        [
            CustomerBulkUpdate(source_id="bob", name="Bob", phone=None),
            {"source_id": "alice", "metadata": {"tier": "gold"}, "birthdate": date(1991, 1, 2)},
        ]
    )
    method, request_url, kwargs = only_request(api)
    assert (method, str(request_url)) == ("POST", BASE + "/v1/customers/bulk/async")
    check_headers(kwargs, json_body=True)
    assert body(kwargs) == [
        {"source_id": "bob", "name": "Bob", "phone": None},
        {"source_id": "alice", "metadata": {"tier": "gold"}, "birthdate": "1991-01-02"},
    ]
    assert isinstance(created, AsyncJob)
    assert created.async_action_id == "aa_0a875d56c805df6601"


async def test_update_in_bulk_takes_any_iterable(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.post(url("/v1/customers/bulk/async"), status=202, payload=ACTION_CREATED)
    await vf.customers.update_in_bulk({"source_id": f"s{i}"} for i in range(3))
    assert body(only_request(api)[2]) == [
        {"source_id": "s0"},
        {"source_id": "s1"},
        {"source_id": "s2"},
    ]


@pytest.mark.parametrize(
    ("items", "error", "message"),
    [
        ([], ValueError, "needs at least one customer"),
        (
            [{"source_id": "a"}, {"name": "no id"}],
            TypeError,
            "customers[1]: Object missing required field `source_id`",
        ),
        (
            [{"source_id": "a"}, {"source_id": "b"}, {"source_id": "c", "email": 5}],
            TypeError,
            "customers[2].email",
        ),
        ([{"source_id": "a", "nmae": "x"}], TypeError, "customers[0] has an unexpected field"),
        ([{"source_id": "a"}, None], TypeError, "customers[1] must be a CustomerBulkUpdate"),
        ([{"source_id": "a"}, "bob"], TypeError, "customers[1] must be a CustomerBulkUpdate"),
        ("bob", TypeError, "must be an iterable of customer updates"),
        ({"source_id": "bob"}, TypeError, "must be an iterable of customer updates"),
    ],
)
async def test_update_in_bulk_refuses_bad_items_before_sending(
    vf: AsyncVoucherify, api: aioresponses, items: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        await vf.customers.update_in_bulk(items)
    assert not api.requests


def _bulk_body_of_size(size: int) -> list[dict[str, Any]]:
    """One bulk item whose JSON body is exactly ``size`` bytes."""
    overhead = len(msgspec.json.encode([{"source_id": "a", "description": ""}]))
    return [{"source_id": "a", "description": "x" * (size - overhead)}]


async def test_update_in_bulk_refuses_a_body_over_10_mb(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    with pytest.raises(ValueError, match="over the API's limit of 10,485,760 bytes"):
        await vf.customers.update_in_bulk(_bulk_body_of_size(BULK_BODY_LIMIT + 1))
    assert not api.requests


async def test_update_in_bulk_sends_a_body_of_exactly_10_mb() -> None:
    assert BULK_BODY_LIMIT == 10 * 1024 * 1024
    transport = MockTransport(lambda request: MockResponse(202, json=ACTION_CREATED))
    async with AsyncVoucherify(
        app_id=APP_ID, app_token=APP_TOKEN, base_url=BASE, transport=transport
    ) as vf:
        await vf.customers.update_in_bulk(_bulk_body_of_size(BULK_BODY_LIMIT))
    [request] = transport.requests
    assert request.path == "/v1/customers/bulk/async"
    assert len(request.content) == BULK_BODY_LIMIT


# --- update_metadata_in_bulk --------------------------------------------------------------


async def test_update_metadata_in_bulk(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.post(url("/v1/customers/metadata/async"), status=202, payload=ACTION_CREATED)
    created = await vf.customers.update_metadata_in_bulk(
        ("bob", "alice"), {"tier": "gold", "score": 7, "old": None}
    )
    method, request_url, kwargs = only_request(api)
    assert (method, str(request_url)) == ("POST", BASE + "/v1/customers/metadata/async")
    check_headers(kwargs, json_body=True)
    assert body(kwargs) == {
        "source_ids": ["bob", "alice"],
        "metadata": {"tier": "gold", "score": 7, "old": None},
    }
    assert created.async_action_id == "aa_0a875d56c805df6601"


@pytest.mark.parametrize(
    ("source_ids", "metadata", "error", "message"),
    [
        ([], {"a": 1}, ValueError, "needs at least one source id"),
        ("bob", {"a": 1}, TypeError, "source_ids must be an iterable of str"),
        (["bob", 7], {"a": 1}, TypeError, "source_ids[1] must be a str"),
        (["bob"], [("a", 1)], TypeError, "metadata must be a mapping"),
        (["bob"], {"blob": "x" * BULK_BODY_LIMIT}, ValueError, "over the API's limit"),
    ],
)
async def test_update_metadata_in_bulk_refuses_bad_arguments_before_sending(
    vf: AsyncVoucherify,
    api: aioresponses,
    source_ids: Any,
    metadata: Any,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        await vf.customers.update_metadata_in_bulk(source_ids, metadata)
    assert not api.requests


# --- what is retried ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "call"),
    [
        (
            "/v1/customers/cust_1/permanent-deletion",
            lambda vf: vf.customers.delete_permanently("cust_1"),
        ),
        ("/v1/customers/importCSV", lambda vf: vf.customers.import_csv(CSV)),
        ("/v1/customers/bulk/async", lambda vf: vf.customers.update_in_bulk([{"source_id": "a"}])),
        (
            "/v1/customers/metadata/async",
            lambda vf: vf.customers.update_metadata_in_bulk(["a"], {"k": 1}),
        ),
    ],
    ids=["delete_permanently", "import_csv", "update_in_bulk", "update_metadata_in_bulk"],
)
async def test_jobs_that_cannot_be_repeated_are_not_retried_after_sending(
    vf: AsyncVoucherify, api: aioresponses, path: str, call: Any
) -> None:
    api.post(url(path), status=503, body=b"", repeat=True)
    with pytest.raises(InternalServerError):
        await call(vf)
    assert len(sent(api)) == 1


async def test_reads_and_upserts_are_retried(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(url("/v1/customers/cust_1"), status=503, body=b"")
    api.get(url("/v1/customers/cust_1"), payload=CUSTOMER)
    api.post(url("/v1/customers"), status=503, body=b"")
    api.post(url("/v1/customers"), payload=CUSTOMER)
    assert (await vf.customers.get("cust_1")).id == "cust_1"
    assert (await vf.customers.create(source_id="bob")).id == "cust_1"
    assert len(sent(api)) == 4


# --- async actions ------------------------------------------------------------------------

ACTION = {
    "id": "aa_1",
    "type": "CUSTOMERS.IMPORT_CSV",
    "status": "DONE",
    "created_at": "2023-01-20T07:41:33.086Z",
    "progress": 100,
    "result": {
        "message": "1 customer(s) imported successfully, 1 failed.",
        "done_count": 1,
        "failed_count": 1,
        "failed": [{"source_id": "bob", "row": 2, "reason": "bad email"}],
    },
}


async def test_async_actions_get(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(url("/v1/async-actions/aa_1"), payload=ACTION)
    action = await vf.async_actions.get("aa_1")
    check_get(api, "/v1/async-actions/aa_1", [])
    assert isinstance(action, models.AsyncAction)
    assert action.is_final and action.progress == 100
    assert action.result is not None
    assert action.result.failed == [
        models.AsyncActionFailure(source_id="bob", row=2, reason="bad email")
    ]
    assert action.created_at == datetime(2023, 1, 20, 7, 41, 33, 86000, tzinfo=UTC)


async def test_async_actions_get_encodes_the_id(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(re.compile(re.escape(BASE) + "/.*"), payload=ACTION)
    await vf.async_actions.get("aa/1?x")
    assert only_request(api)[1].raw_path == "/v1/async-actions/aa%2F1%3Fx"
    with pytest.raises(ValueError, match="async_action_id must be a non-empty string"):
        await vf.async_actions.get("")
    assert len(sent(api)) == 1


async def test_async_actions_list_sends_its_parameters(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.get(url("/v1/async-actions"), payload={"async_actions": [ACTION], "has_more": False})
    page = await vf.async_actions.list(
        limit=25, end_date=datetime(2024, 1, 1, 1, 0, 0, 250999, tzinfo=PLUS_2)
    )
    check_get(api, "/v1/async-actions", [("limit", "25"), ("end_date", "2023-12-31T23:00:00.250Z")])
    assert isinstance(page, models.AsyncActionList)
    assert [action.id for action in page.async_actions] == ["aa_1"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"limit": 0}, ValueError, "limit must be from 1 to 100"),
        ({"limit": 101}, ValueError, "limit must be from 1 to 100"),
        ({"end_date": datetime(2024, 1, 1)}, ValueError, "end_date must"),
        ({"end_date": "2024-01-01"}, TypeError, "end_date must"),
    ],
)
async def test_async_actions_list_refuses_bad_parameters_before_sending(
    vf: AsyncVoucherify,
    api: aioresponses,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        vf.async_actions.list(**kwargs)
    assert not api.requests


def _actions(*stamps: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"id": aid, "created_at": created} for aid, created in stamps]


async def test_async_actions_list_walks_back_by_end_date(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    path = url("/v1/async-actions")
    api.get(
        path,
        payload={
            "has_more": True,
            "async_actions": _actions(
                ("aa_5", "2024-01-05T00:00:00.500Z"),
                ("aa_4", "2024-01-04T10:00:00.123456+02:00"),
            ),
        },
    )
    api.get(
        path,
        payload={
            "has_more": True,
            "async_actions": _actions(
                ("aa_3", "2024-01-03T00:00:00Z"),
                ("aa_2", "2024-01-02T00:00:00.001Z"),
            ),
        },
    )
    api.get(
        path,
        payload={
            "has_more": False,
            "async_actions": _actions(
                ("aa_1", "2024-01-01T00:00:00.000Z"),
            ),
        },
    )
    api.get(
        path, payload={"async_actions": _actions(("never", "2020-01-01T00:00:00Z"))}, repeat=True
    )
    seen = [action.id async for action in vf.async_actions.list(limit=2)]
    assert seen == ["aa_5", "aa_4", "aa_3", "aa_2", "aa_1"]
    assert [query(u) for _, u, _ in sent(api)] == [
        [("limit", "2")],
        [("end_date", "2024-01-04T08:00:00.124Z"), ("limit", "2")],
        [("end_date", "2024-01-02T00:00:00.002Z"), ("limit", "2")],
    ]


async def test_async_actions_list_raises_when_the_cursor_cannot_move(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    path = url("/v1/async-actions")
    stuck = {"has_more": True, "async_actions": _actions(("aa_1", "2024-01-01T00:00:00Z"))}
    api.get(path, payload=stuck, repeat=True)
    end = datetime(2024, 1, 1, tzinfo=UTC)
    seen: list[str] = []
    with pytest.raises(PaginationError, match="larger limit"):
        async for action in vf.async_actions.list(limit=1, end_date=end):
            seen.append(action.id)
    assert seen == ["aa_1"]
    # One more request 1 ms later (actions sharing the millisecond), then the cursor is stuck.
    assert len(sent(api)) == 2


async def test_async_actions_pages(vf: AsyncVoucherify, api: aioresponses) -> None:
    path = url("/v1/async-actions")
    api.get(
        path,
        payload={"has_more": True, "async_actions": _actions(("aa_2", "2024-01-02T00:00:00Z"))},
    )
    api.get(
        path,
        payload={"has_more": False, "async_actions": _actions(("aa_1", "2024-01-01T00:00:00Z"))},
    )
    pages = [page async for page in vf.async_actions.list(limit=1).pages()]
    assert [[a.id for a in page.async_actions] for page in pages] == [["aa_2"], ["aa_1"]]


# --- nested address and CSV size ---------------------------------------------------------


async def test_update_address_fields_null_and_typos(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.put(url("/v1/customers/bob"), payload=CUSTOMER)
    await vf.customers.update("bob", address={"city": "X", "line_2": None})
    assert body(only_request(api)[2]) == {"address": {"city": "X", "line_2": None}}
    with pytest.raises(TypeError, match="address: Object contains unknown field `cty`"):
        await vf.customers.update("bob", address={"cty": "X"})
    with pytest.raises(TypeError, match=r"customers\[0\] has an unexpected field 'nme'"):
        await vf.customers.update_in_bulk([{"source_id": "s", "nme": "x"}])


async def test_update_accepts_an_address_read_from_a_customer(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.put(url("/v1/customers/bob"), payload=CUSTOMER)
    await vf.customers.update("bob", address=models.Address(city="Y"))
    sent_address = body(only_request(api)[2])["address"]
    assert sent_address["city"] == "Y" and sent_address["line_1"] is None


async def test_import_csv_over_the_limit_is_refused_before_sending(
    vf: AsyncVoucherify, api: aioresponses, tmp_path: Path
) -> None:
    big = b"Source_id\n" + b"x" * BULK_BODY_LIMIT
    with pytest.raises(ValueError, match="over the API's limit"):
        await vf.customers.import_csv(big)
    path = tmp_path / "big.csv"
    path.write_bytes(big)
    with pytest.raises(ValueError, match="over the API's limit"):
        await vf.customers.import_csv(path)
    assert not api.requests
