"""A 2xx body no decoder can hold (nesting 100,000 levels) is a MalformedResponseError.

A real aiohttp.web server on loopback sends the bodies; the client must never let msgspec's
``RecursionError`` out, and must say a keyless create may have been carried out.
"""

from __future__ import annotations

import pytest
from aiohttp import web
from e2e_helpers import serve

from voucherify_async import AsyncVoucherify, MalformedResponseError, NotFoundError

DEPTH = 100_000
ARRAYS = "[" * DEPTH + "]" * DEPTH
OBJECTS = '{"a": ' * DEPTH + "1" + "}" * DEPTH
IN_METADATA = '{"id": "cust_1", "object": "customer", "metadata": {"x": ' + ARRAYS + "}}"


def answering(status: int, body: str, seen: list[str]):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.Response:
        seen.append(request.method)
        return web.Response(status=status, text=body, content_type="application/json")

    return handler


def client(url: str) -> AsyncVoucherify:
    return AsyncVoucherify(app_id="id", app_token="tok", base_url=url, max_retries=2)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(IN_METADATA, id="in-metadata"),
        pytest.param(ARRAYS, id="arrays-at-the-root"),
        pytest.param(OBJECTS, id="objects-at-the-root"),
    ],
)
async def test_a_deeply_nested_2xx_body_is_a_malformed_response(body: str) -> None:
    seen: list[str] = []
    async with serve(answering(200, body, seen)) as url, client(url) as vf:
        with pytest.raises(MalformedResponseError) as info:
            await vf.customers.get("cust_1")
    error = info.value
    # An object nesting deep is skipped field by field until the stack runs out; an array at
    # the root is refused at its first byte: either way, one MalformedResponseError.
    assert "nests deeper than the decoder allows" in str(error) or "Expected `object`" in str(error)
    assert error.status == 200
    assert error.__cause__ is None and error.__context__ is None
    assert not error.maybe_applied  # a GET changes nothing
    assert seen == ["GET"]


async def test_a_deeply_nested_answer_to_a_keyless_create_may_have_been_applied() -> None:
    seen: list[str] = []
    async with serve(answering(200, OBJECTS, seen)) as url, client(url) as vf:
        with pytest.raises(MalformedResponseError) as info:
            await vf.customers.create(name="Keyless")
    assert "nests deeper" in str(info.value)
    assert info.value.maybe_applied
    assert "may have been created" in str(info.value.note)
    assert seen == ["POST"]  # not sent again


async def test_a_deeply_nested_page_of_a_list_is_a_malformed_response() -> None:
    seen: list[str] = []
    body = '{"object": "list", "customers": ' + ARRAYS + "}"
    async with serve(answering(200, body, seen)) as url, client(url) as vf:
        with pytest.raises(MalformedResponseError):
            async for _ in vf.customers.list():
                pass


async def test_a_deeply_nested_error_body_is_still_the_status_error() -> None:
    seen: list[str] = []
    async with serve(answering(404, ARRAYS, seen)) as url, client(url) as vf:
        with pytest.raises(NotFoundError) as info:
            await vf.customers.get("cust_1")
    assert "not a JSON error object" in str(info.value)
