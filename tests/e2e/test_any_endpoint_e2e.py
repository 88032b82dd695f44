"""``vf.request`` and the ``extra_*`` options: any endpoint, with the guarantees of the rest.

The emulator (with scripted 429s, 503s and drops) and a capturing aiohttp.web server on
loopback answer; every check goes through the client's public surface.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from aiohttp import web
from e2e_helpers import FakeTime, serve

from voucherify_async import (
    APIConnectionError,
    AsyncVoucherify,
    ConfigurationError,
    NotFoundError,
)
from voucherify_async.emulator import Emulator
from voucherify_async.models import CustomerList


async def no_wait(seconds: float) -> None:
    pass


async def test_a_get_through_request_reads_plain_values_or_a_struct() -> None:
    async with Emulator() as emu, emu.client() as vf:
        await emu.seed_customers(7)
        page = await vf.request("get", "/v1/customers", query={"limit": 5})
        typed = await vf.request("GET", "/v1/customers", query={"limit": 5}, cast_to=CustomerList)
    assert isinstance(page, dict) and len(page["customers"]) == 5
    assert isinstance(typed, CustomerList) and len(typed.customers) == 5
    assert [c["id"] for c in page["customers"]] == [c.id for c in typed.customers]


async def test_an_unknown_route_is_a_typed_404() -> None:
    async with Emulator() as emu, emu.client() as vf:
        with pytest.raises(NotFoundError) as info:
            await vf.request("GET", "/v1/no-such-route")
    assert info.value.status == 404
    assert "/v1/no-such-route" in str(info.value.url)


async def test_a_429_and_a_503_in_between_are_paced_and_retried() -> None:
    fake = FakeTime()
    async with (
        Emulator() as emu,
        emu.client(sleep=fake.sleep, clock=fake.clock, max_retries=3) as vf,
    ):
        await emu.seed_customers(3)
        await emu.script_faults(
            [
                {"kind": "rate_limit", "method": "GET", "path": "/v1/customers"},
                {"kind": "error", "status": 503, "method": "GET", "path": "/v1/customers"},
            ]
        )
        page = await vf.request("GET", "/v1/customers")
        stats = await emu.stats()
    assert len(page["customers"]) == 3
    assert stats["by_status"] == {"429": 1, "503": 1, "200": 1}
    assert sum(fake.slept) > 0  # the 429's wait and the 503's backoff were waited for


async def test_a_keyless_post_dropped_after_sending_is_not_sent_again() -> None:
    async with Emulator() as emu, emu.client(sleep=no_wait) as vf:
        await emu.script_faults([{"kind": "drop", "method": "POST", "path": "/v1/customers"}])
        with pytest.raises(APIConnectionError) as info:
            await vf.request("POST", "/v1/customers", json={"name": "Keyless"})
        stats = await emu.stats()
    assert info.value.maybe_applied
    assert "retry_safe=True" in str(info.value.note)
    assert stats["requests_total"] == 1


async def test_a_post_marked_retry_safe_is_sent_again_after_a_drop() -> None:
    async with Emulator() as emu, emu.client(sleep=no_wait) as vf:
        await emu.script_faults([{"kind": "drop", "method": "POST", "path": "/v1/customers"}])
        created = await vf.request(
            "POST", "/v1/customers", json={"source_id": "ada", "name": "Ada"}, retry_safe=True
        )
        stats = await emu.stats()
    assert created["source_id"] == "ada"
    assert stats["requests_total"] == 2


class Seen(msgspec.Struct):
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any


def capturing(seen: list[Seen]) -> Any:
    async def handler(request: web.Request) -> web.Response:
        raw = await request.read()
        seen.append(
            Seen(
                request.method,
                request.path,
                list(request.query.items()),
                dict(request.headers),
                msgspec.json.decode(raw) if raw else None,
            )
        )
        if request.path == "/v1/customers" and request.method == "GET":
            return web.json_response({"object": "list", "customers": [], "total": 0})
        return web.json_response({"id": "cust_1", "object": "customer", "source_id": "bob"})

    return handler


def client(url: str) -> AsyncVoucherify:
    return AsyncVoucherify(app_id="id", app_token="secret-token", base_url=url, max_retries=0)


async def test_extras_reach_the_api_on_every_single_request_method() -> None:
    seen: list[Seen] = []
    extras: dict[str, Any] = {
        "extra_headers": {"X-Beta": "on"},
        "extra_query": {"expand": ["a", "b"], "flag": True},
    }
    async with serve(capturing(seen)) as url, client(url) as vf:
        await vf.customers.get("bob", **extras)
        await vf.customers.create(source_id="bob", extra_body={"new_field": 1}, **extras)
        await vf.customers.update("bob", name="B", extra_body={"name": "Over"}, **extras)
        await vf.customers.delete("bob", **extras)
        await vf.async_actions.get("aa_1", **extras)
    assert [s.method for s in seen] == ["GET", "POST", "PUT", "DELETE", "GET"]
    for request in seen:
        assert request.headers["X-Beta"] == "on"
        assert request.headers["X-App-Token"] == "secret-token"
        assert request.query == [("expand", "a"), ("expand", "b"), ("flag", "true")]
    assert seen[1].body == {"source_id": "bob", "new_field": 1}
    assert seen[2].body == {"name": "Over"}  # extra_body wins over the typed field


async def test_with_options_adds_extras_to_every_page_of_a_list() -> None:
    seen: list[Seen] = []
    async with serve(capturing(seen)) as url, client(url) as vf:
        beta = vf.with_options(extra_query={"new_filter": "x"}, extra_headers={"X-Beta": "on"})
        assert [c async for c in beta.customers.list(order="source_id")] == []
        await vf.customers.get("bob")  # the parent is unchanged
    assert ("new_filter", "x") in seen[0].query and seen[0].headers["X-Beta"] == "on"
    assert seen[1].query == [] and "X-Beta" not in seen[1].headers


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda vf: vf.request("FETCH", "/v1/x"), "method must be one of GET"),
        (lambda vf: vf.request("GET", "v1/x"), "path must be the API path"),
        (lambda vf: vf.request("GET", "https://evil.example/v1/x"), "path must be the API path"),
        (lambda vf: vf.request("GET", "/v1/x?a=1"), "pass query="),
        (lambda vf: vf.request("POST", "/v1/x", json={1j}), "json cannot be sent"),
        (lambda vf: vf.request("GET", "/v1/x", headers={"X-App-Token": "t"}), "cannot set"),
        (lambda vf: vf.request("GET", "/v1/x", query={"a": object()}), "query['a']"),
        (lambda vf: vf.request("GET", "/v1/x", retry_safe="yes"), "retry_safe must be"),
        (lambda vf: vf.customers.get("b", extra_headers={"X-App-Id": "x"}), "extra_headers"),
        (lambda vf: vf.customers.get("b", extra_query=["a"]), "extra_query must be a mapping"),
        (lambda vf: vf.customers.create(name="n", extra_body=[1]), "extra_body must be"),
    ],
)
async def test_bad_arguments_fail_before_any_request(call: Any, says: str) -> None:
    seen: list[Seen] = []
    async with serve(capturing(seen)) as url, client(url) as vf:
        with pytest.raises((TypeError, ValueError)) as info:
            await call(vf)
    assert says in str(info.value)
    assert seen == []


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"base_url": "https://api.voucherify.io/v1"}, "'https://api.voucherify.io', not"),
        ({"base_url": "https://api.voucherify.io/v1/"}, "without the API version"),
        ({"base_url": "https://u:hunter2@api.voucherify.io"}, "must not carry credentials"),
        ({"base_url": "https://api.voucherify.io?x=1"}, "query or fragment"),
        ({"base_url": "https://"}, "has no host"),
        ({"proxy": "socks5://proxy:1080"}, "proxy must be an http:// or https:// URL"),
        ({"proxy": "http://u:hunter2@proxy:99999"}, "invalid port"),
        ({"proxy": 3128}, "proxy must be a URL string"),
        ({"ssl": "/no/such/ca.pem"}, "ssl: cannot read a CA bundle from '/no/such/ca.pem'"),
        ({"ssl": 1}, "ssl must be an ssl.SSLContext"),
        ({"client_cert": "/no/such/cert.pem"}, "client_cert: cannot load"),
        ({"client_cert": 5}, "client_cert must be"),
        ({"trust_env": "yes"}, "trust_env must be True or False"),
    ],
)
def test_impossible_settings_are_configuration_errors_at_construction(
    options: dict[str, Any], says: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        AsyncVoucherify(app_id="id", app_token="tok", **options)
    assert says in str(info.value)
    assert "hunter2" not in str(info.value)
