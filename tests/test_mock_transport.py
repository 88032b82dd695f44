"""MockTransport: the public way to answer the client's requests without a server."""

from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import APP_ID, APP_TOKEN, BASE
from voucherify_async import (
    APITimeoutError,
    AsyncVoucherify,
    ConfigurationError,
    Delivery,
    MockRequest,
    MockResponse,
    MockTransport,
    NotFoundError,
    SendError,
)


async def no_sleep(seconds: float) -> None:
    pass


async def test_an_async_handler_sees_the_request_as_sent() -> None:
    async def handler(request: MockRequest) -> MockResponse:
        assert request.json() == {"source_id": "bob", "name": "Bob"}
        return MockResponse(200, json={"id": "cust_1", "source_id": "bob", "name": "Bob"})

    transport = MockTransport(handler)
    async with AsyncVoucherify(
        app_id=APP_ID, app_token=APP_TOKEN, base_url=BASE, transport=transport, timeout=7
    ) as vf:
        customer = await vf.customers.create(source_id="bob", name="Bob")
    assert customer.id == "cust_1"
    [request] = transport.requests
    assert (request.method, request.url) == ("POST", BASE + "/v1/customers")
    assert request.headers["content-type"] == "application/json"
    assert request.timeout == 7.0
    assert not transport.closed  # a transport passed in is the caller's to close


async def test_status_answers_become_the_usual_errors() -> None:
    body = {"code": 404, "key": "not_found", "message": "Resource not found"}
    transport = MockTransport(lambda request: MockResponse(404, json=body))
    async with AsyncVoucherify(
        app_id=APP_ID, app_token=APP_TOKEN, base_url=BASE, transport=transport
    ) as vf:
        with pytest.raises(NotFoundError) as info:
            await vf.customers.get("ghost")
    assert info.value.key == "not_found"


async def test_a_timeout_before_sending_is_retried_even_for_an_unsafe_create() -> None:
    def handler(request: MockRequest) -> MockResponse:
        raise SendError("pool timeout", Delivery.NOT_SENT, timeout=True, cause_type="Timeout")

    transport = MockTransport(handler)
    async with AsyncVoucherify(
        app_id=APP_ID,
        app_token=APP_TOKEN,
        base_url=BASE,
        transport=transport,
        sleep=no_sleep,
    ) as vf:
        with pytest.raises(APITimeoutError) as info:
            await vf.customers.create(name="no key")
    assert len(transport.requests) == 3  # sent again: it surely never left
    assert info.value.sent is False and info.value.cause_type == "Timeout"
    assert info.value.__context__ is None and info.value.__cause__ is None


async def test_a_handler_returning_something_else_is_a_clear_error() -> None:
    transport = MockTransport(lambda request: {"id": "x"})  # type: ignore[arg-type,return-value]
    async with AsyncVoucherify(
        app_id=APP_ID, app_token=APP_TOKEN, base_url=BASE, transport=transport
    ) as vf:
        with pytest.raises(TypeError, match="MockResponse"):
            await vf.customers.get("x")


async def test_session_and_transport_together_are_refused() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ConfigurationError, match="session or transport"):
            AsyncVoucherify(
                app_id="a",
                app_token="t",
                transport=MockTransport(lambda r: MockResponse()),
                session=session,
            )
