"""The transport: retries, backoff, Retry-After, rate-limit headers, unsafe requests."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aioresponses import aioresponses

from tests.conftest import APP_TOKEN, Sleeps, calls, url
from voucherify_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncVoucherify,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    RateLimit,
    RateLimitError,
)
from voucherify_async._ratelimit import parse_rate_limit
from voucherify_async._retry import MAX_SERVER_WAIT, backoff_delay, retry_delay, server_wait

CUSTOMER = {"id": "cust_1", "object": "customer"}
JOB = {"async_action_id": "aa_1"}
ERROR_500 = {"code": 500, "key": "internal", "message": "boom"}
PATH = "/v1/customers/c1"


def count(api: aioresponses) -> int:
    return len(calls(api))


# --- pure decisions -----------------------------------------------------------------------


def test_backoff_doubles_from_half_a_second_to_eight() -> None:
    assert [backoff_delay(n, 0.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff_delay(0, 0.999) == pytest.approx(0.5 * 0.75, rel=0.01)
    assert backoff_delay(100, 0.0) == 8.0


def test_server_wait_rules() -> None:
    now = 1_000.0
    assert server_wait(503, RateLimit(retry_after=3), now) == 3
    # X-Rate-Limit-Retry is on every answer: it means "wait" only on 429 or with none left.
    assert server_wait(500, RateLimit(remaining=5, retry_at=now + 30), now) is None
    assert server_wait(429, RateLimit(retry_at=now + 7), now) == pytest.approx(7)
    assert server_wait(200, RateLimit(remaining=0, retry_at=now + 2), now) == pytest.approx(2)
    assert server_wait(429, None, now) is None
    assert retry_delay(1, 429, RateLimit(retry_after=MAX_SERVER_WAIT + 1), 0.0, now) is None
    assert retry_delay(1, 500, None, 0.0, now) == 1.0


def test_parse_rate_limit_headers() -> None:
    parsed = parse_rate_limit(
        {
            "X-Rate-Limit-Limit": "600",
            "X-Rate-Limit-Remaining": "12",
            "X-Rate-Limit-Retry": "1764000000",
            "Retry-After": "5",
            "X-Rate-Limit-Type": "api_calls",
        }
    )
    assert parsed == RateLimit(600, 12, 1764000000.0, 5.0, "api_calls")
    assert parse_rate_limit({"X-Rate-Limit-Limit": "lots", "Retry-After": "soon"}) == RateLimit()
    http_date = parse_rate_limit({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480)
    assert http_date.retry_after == pytest.approx(10)


# --- retries through the client ---------------------------------------------------------


async def test_retries_5xx_with_backoff_then_succeeds(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.get(url(PATH), status=503, body="<html>busy</html>", content_type="text/html")
    api.get(url(PATH), status=500, payload=ERROR_500)
    api.get(url(PATH), payload=CUSTOMER)
    customer = await vf.customers.get("c1")
    assert customer.id == "cust_1"
    assert sleeps == [0.5, 1.0]
    assert count(api) == 3


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_each_retryable_status_is_retried(
    api: aioresponses, vf: AsyncVoucherify, status: int
) -> None:
    api.get(url(PATH), status=status, body="")
    api.get(url(PATH), payload=CUSTOMER)
    assert (await vf.customers.get("c1")).id == "cust_1"


async def test_gives_up_after_max_retries(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.get(url(PATH), status=502, body="bad gateway", repeat=True)
    with pytest.raises(InternalServerError) as info:
        await vf.customers.get("c1")
    assert info.value.status == 502
    assert count(api) == 3  # 1 + max_retries (2)
    assert sleeps == [0.5, 1.0]


async def test_max_retries_zero_sends_once(api: aioresponses, vf: AsyncVoucherify) -> None:
    api.get(url(PATH), status=500, payload=ERROR_500, repeat=True)
    with pytest.raises(InternalServerError):
        await vf.with_options(max_retries=0).customers.get("c1")
    assert count(api) == 1


@pytest.mark.parametrize("status", [400, 401, 402, 404, 409, 413, 423])
async def test_client_errors_are_not_retried(
    api: aioresponses, vf: AsyncVoucherify, status: int
) -> None:
    api.get(url(PATH), status=status, payload={"code": status, "message": "no"}, repeat=True)
    with pytest.raises(Exception) as info:
        await vf.customers.get("c1")
    assert getattr(info.value, "status", None) == status
    assert count(api) == 1


async def test_429_honours_retry_after(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.get(url(PATH), status=429, payload={"code": 429, "message": "slow down"},
            headers={"Retry-After": "3", "X-Rate-Limit-Type": "api_calls"})
    api.get(url(PATH), payload=CUSTOMER, headers={"X-Rate-Limit-Remaining": "9"})
    assert (await vf.customers.get("c1")).id == "cust_1"
    assert sleeps == [pytest.approx(3.0, abs=0.05)]
    assert vf.rate_limit is not None and vf.rate_limit.remaining == 9


async def test_429_honours_x_rate_limit_retry(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    retry_at = sleeps.now + 4
    api.get(url(PATH), status=429, payload={"code": 429, "message": "slow down"},
            headers={"X-Rate-Limit-Retry": str(retry_at), "X-Rate-Limit-Remaining": "0"})
    api.get(url(PATH), payload=CUSTOMER)
    await vf.customers.get("c1")
    assert len(sleeps) == 1 and 3.0 < sleeps[0] <= 4.0


async def test_429_with_a_very_long_wait_is_raised(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.get(url(PATH), status=429, payload={"code": 429, "key": "too_many_requests",
            "message": "slow down"}, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimitError) as info:
        await vf.customers.get("c1")
    assert info.value.rate_limit.retry_after == 3600
    assert sleeps == []
    assert count(api) == 1


async def test_429_holds_back_the_other_calls_of_the_client(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.post(url("/v1/customers/bulk/async"), status=429,
             payload={"code": 429, "message": "slow down"}, headers={"Retry-After": "2"})
    api.get(url(PATH), payload=CUSTOMER)
    with pytest.raises(RateLimitError):
        await vf.with_options(max_retries=0).customers.update_in_bulk([{"source_id": "s1"}])
    await vf.customers.get("c1")  # waits out the limit before it is sent
    assert len(sleeps) == 1 and 1.5 < sleeps[0] <= 2.0


async def test_connection_errors_are_retried(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.get(url(PATH), exception=aiohttp.ServerDisconnectedError())
    api.get(url(PATH), exception=aiohttp.ClientPayloadError("cut short"))
    api.get(url(PATH), payload=CUSTOMER)
    assert (await vf.customers.get("c1")).id == "cust_1"
    assert sleeps == [0.5, 1.0]


async def test_connection_error_after_retries(api: aioresponses, vf: AsyncVoucherify) -> None:
    api.get(url(PATH), exception=aiohttp.ServerDisconnectedError(), repeat=True)
    with pytest.raises(APIConnectionError) as info:
        await vf.customers.get("c1")
    assert not isinstance(info.value, APITimeoutError)
    assert "ServerDisconnectedError" in str(info.value)
    assert info.value.method == "GET" and info.value.url.endswith(PATH)
    # The library's exception is described, not chained: it holds the request's headers.
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert info.value.cause_type == "ServerDisconnectedError"
    assert info.value.cause_message == "Server disconnected"
    assert info.value.sent and not info.value.maybe_applied  # a GET: retried, then raised
    assert count(api) == 3


async def test_timeouts_are_retried_then_raised(api: aioresponses, vf: AsyncVoucherify) -> None:
    api.get(url(PATH), exception=asyncio.TimeoutError(), repeat=True)
    with pytest.raises(APITimeoutError, match="timeout"):
        await vf.customers.get("c1")
    assert count(api) == 3


async def test_real_timeout_raises_api_timeout_error(unused_tcp_port: int) -> None:
    """A server that accepts and never answers: the per-attempt timeout fires."""
    release = asyncio.Event()
    handlers: list[asyncio.Task[None]] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        await reader.read(65536)
        await release.wait()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(silent, "127.0.0.1", unused_tcp_port)
    try:
        async with AsyncVoucherify(
            app_id="a", app_token=APP_TOKEN, base_url=f"http://127.0.0.1:{unused_tcp_port}",
            timeout=0.2, max_retries=0,
        ) as vf:
            with pytest.raises(APITimeoutError):
                await vf.customers.get("c1")
    finally:
        release.set()
        await asyncio.gather(*handlers, return_exceptions=True)
        server.close()
        await server.wait_closed()


async def test_refused_connection_raises_connection_error(unused_tcp_port: int) -> None:
    async with AsyncVoucherify(
        app_id="a", app_token=APP_TOKEN, base_url=f"http://127.0.0.1:{unused_tcp_port}",
        max_retries=1,
    ) as vf:
        slept: list[float] = []

        async def no_sleep(seconds: float) -> None:
            slept.append(seconds)

        vf._transport.shared.sleep = no_sleep
        with pytest.raises(APIConnectionError) as info:
            await vf.customers.get("c1")
    assert slept == [pytest.approx(0.5, abs=0.13)]
    assert APP_TOKEN not in str(info.value)


# --- requests that are not safe to repeat ---------------------------------------------------


async def test_bulk_post_is_not_retried_after_it_may_have_been_sent(
    api: aioresponses, vf: AsyncVoucherify
) -> None:
    api.post(url("/v1/customers/bulk/async"), status=503, body="", repeat=True)
    with pytest.raises(InternalServerError):
        await vf.customers.update_in_bulk([{"source_id": "s1"}])
    assert count(api) == 1


@pytest.mark.parametrize(
    "exception", [aiohttp.ServerDisconnectedError(), aiohttp.SocketTimeoutError()]
)
async def test_unsafe_requests_not_retried_on_errors_after_sending(
    api: aioresponses, vf: AsyncVoucherify, exception: Exception
) -> None:
    api.post(url("/v1/customers/c1/permanent-deletion"), exception=exception, repeat=True)
    api.post(url("/v1/customers/metadata/async"), exception=exception, repeat=True)
    api.post(url("/v1/customers/importCSV"), exception=exception, repeat=True)
    with pytest.raises(APIConnectionError):
        await vf.customers.delete_permanently("c1")
    with pytest.raises(APIConnectionError):
        await vf.customers.update_metadata_in_bulk(["s1"], {"a": 1})
    with pytest.raises(APIConnectionError):
        await vf.customers.import_csv(b"Source_id\ns1\n")
    assert count(api) == 3


async def test_unsafe_requests_retried_when_never_sent(
    api: aioresponses, vf: AsyncVoucherify
) -> None:
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("h", 1, False, False, None, None, None),
        OSError(111, "Connection refused"),
    )
    api.post(url("/v1/customers/bulk/async"), exception=refused)
    api.post(url("/v1/customers/bulk/async"), payload=JOB, status=202)
    job = await vf.customers.update_in_bulk([{"source_id": "s1"}])
    assert job.async_action_id == "aa_1"
    assert count(api) == 2


async def test_create_is_an_upsert_and_is_retried(api: aioresponses, vf: AsyncVoucherify) -> None:
    api.post(url("/v1/customers"), exception=aiohttp.ServerDisconnectedError())
    api.post(url("/v1/customers"), payload=CUSTOMER)
    assert (await vf.customers.create(source_id="s1")).id == "cust_1"


# --- rate-limit headers ---------------------------------------------------------------------


async def test_rate_limit_of_last_response(api: aioresponses, vf: AsyncVoucherify) -> None:
    assert vf.rate_limit is None
    api.get(url(PATH), payload=CUSTOMER, headers={
        "X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "599",
        "X-Rate-Limit-Retry": "1764000060"})
    api.get(url(PATH), payload=CUSTOMER, headers={
        "X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "598",
        "X-Rate-Limit-Retry": "1764000060"})
    api.get(url(PATH), status=404, payload={"code": 404, "key": "not_found", "message": "x"},
            headers={"X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "597"})
    await vf.customers.get("c1")
    assert vf.rate_limit == RateLimit(limit=600, remaining=599, retry_at=1764000060.0)
    await vf.with_options(timeout=5).customers.get("c1")  # shared with derived clients
    assert vf.rate_limit is not None and vf.rate_limit.remaining == 598
    with pytest.raises(NotFoundError) as info:
        await vf.customers.get("c1")
    assert info.value.rate_limit.remaining == 597
    assert vf.rate_limit.remaining == 597


async def test_answer_without_rate_limit_headers_keeps_the_last(
    api: aioresponses, vf: AsyncVoucherify
) -> None:
    api.get(url(PATH), payload=CUSTOMER, headers={"X-Rate-Limit-Remaining": "5"})
    api.get(url(PATH), payload=CUSTOMER)
    await vf.customers.get("c1")
    await vf.customers.get("c1")
    assert vf.rate_limit is not None and vf.rate_limit.remaining == 5


async def test_bad_request_is_raised_at_once(api: aioresponses, vf: AsyncVoucherify) -> None:
    api.put(url(PATH), status=400, payload={
        "code": 400, "key": "invalid_customer", "message": "Invalid customer",
        "details": "email must be a string", "request_id": "v-1"})
    with pytest.raises(BadRequestError) as info:
        await vf.customers.update("c1", email="x")
    assert info.value.key == "invalid_customer"
    assert info.value.details == "email must be a string"
