"""The transport: retries, backoff, Retry-After, rate-limit headers, unsafe requests."""

from __future__ import annotations

import asyncio
import math

import aiohttp
import msgspec
import pytest
from aioresponses import aioresponses
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import APP_ID, APP_TOKEN, BASE, Sleeps, calls, url
from voucherify_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncVoucherify,
    BadRequestError,
    InternalServerError,
    MalformedResponseError,
    NotFoundError,
    QuotaExceededError,
    RateLimit,
    RateLimitError,
)
from voucherify_async._core.pacing import Pacer
from voucherify_async._core.ratelimit import MAX_AHEAD, parse_rate_limit
from voucherify_async._core.retry import (
    MAX_SERVER_WAIT,
    Delivery,
    backoff_delay,
    create_is_retry_safe,
    is_quota_spent,
    may_resend,
    retry_delay,
    server_wait,
    status_delivery,
)

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
    api.get(
        url(PATH),
        status=429,
        payload={"code": 429, "message": "slow down"},
        headers={"Retry-After": "3", "X-Rate-Limit-Type": "api_calls"},
    )
    api.get(url(PATH), payload=CUSTOMER, headers={"X-Rate-Limit-Remaining": "9"})
    assert (await vf.customers.get("c1")).id == "cust_1"
    assert sleeps == [pytest.approx(3.0, abs=0.05)]
    assert vf.rate_limit is not None and vf.rate_limit.remaining == 9


async def test_429_honours_x_rate_limit_retry(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    retry_at = sleeps.now + 4
    api.get(
        url(PATH),
        status=429,
        payload={"code": 429, "message": "slow down"},
        headers={"X-Rate-Limit-Retry": str(retry_at), "X-Rate-Limit-Remaining": "0"},
    )
    api.get(url(PATH), payload=CUSTOMER)
    await vf.customers.get("c1")
    assert len(sleeps) == 1 and 3.0 < sleeps[0] <= 4.0


async def test_429_with_a_very_long_wait_is_raised(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.get(
        url(PATH),
        status=429,
        payload={"code": 429, "key": "too_many_requests", "message": "slow down"},
        headers={"Retry-After": "3600"},
    )
    with pytest.raises(RateLimitError) as info:
        await vf.customers.get("c1")
    assert info.value.rate_limit.retry_after == 3600
    assert sleeps == []
    assert count(api) == 1


async def test_429_holds_back_the_other_calls_of_the_client(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.post(
        url("/v1/customers/bulk/async"),
        status=429,
        payload={"code": 429, "message": "slow down"},
        headers={"Retry-After": "2"},
    )
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
            app_id="a",
            app_token=APP_TOKEN,
            base_url=f"http://127.0.0.1:{unused_tcp_port}",
            timeout=0.2,
            max_retries=0,
        ) as vf:
            with pytest.raises(APITimeoutError):
                await vf.customers.get("c1")
    finally:
        release.set()
        await asyncio.gather(*handlers, return_exceptions=True)
        server.close()
        await server.wait_closed()


async def test_refused_connection_raises_connection_error(unused_tcp_port: int) -> None:
    slept: list[float] = []

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    async with AsyncVoucherify(
        app_id="a",
        app_token=APP_TOKEN,
        base_url=f"http://127.0.0.1:{unused_tcp_port}",
        max_retries=1,
        sleep=no_sleep,
    ) as vf:
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
    api.get(
        url(PATH),
        payload=CUSTOMER,
        headers={
            "X-Rate-Limit-Limit": "600",
            "X-Rate-Limit-Remaining": "599",
            "X-Rate-Limit-Retry": "1764000060",
        },
    )
    api.get(
        url(PATH),
        payload=CUSTOMER,
        headers={
            "X-Rate-Limit-Limit": "600",
            "X-Rate-Limit-Remaining": "598",
            "X-Rate-Limit-Retry": "1764000060",
        },
    )
    api.get(
        url(PATH),
        status=404,
        payload={"code": 404, "key": "not_found", "message": "x"},
        headers={"X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "597"},
    )
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
    api.put(
        url(PATH),
        status=400,
        payload={
            "code": 400,
            "key": "invalid_customer",
            "message": "Invalid customer",
            "details": "email must be a string",
            "request_id": "v-1",
        },
    )
    with pytest.raises(BadRequestError) as info:
        await vf.customers.update("c1", email="x")
    assert info.value.key == "invalid_customer"
    assert info.value.details == "email must be a string"


# --- which failures may be sent again ------------------------------------------------------


def test_may_resend_depends_only_on_the_call_and_what_is_known_of_the_attempt() -> None:
    assert may_resend(True, Delivery.MAY_HAVE_ARRIVED)
    assert may_resend(False, Delivery.NOT_SENT)
    assert may_resend(False, Delivery.REFUSED)
    assert not may_resend(False, Delivery.MAY_HAVE_ARRIVED)


@pytest.mark.parametrize(
    ("status", "delivery"),
    [
        (429, Delivery.REFUSED),
        (500, Delivery.MAY_HAVE_ARRIVED),
        (502, Delivery.MAY_HAVE_ARRIVED),
        (503, Delivery.MAY_HAVE_ARRIVED),
        (504, Delivery.MAY_HAVE_ARRIVED),
        (404, Delivery.REFUSED),
        (302, Delivery.REFUSED),
    ],
)
def test_status_delivery(status: int, delivery: Delivery) -> None:
    assert status_delivery(status, RateLimit(type="api_calls")) is delivery
    assert status_delivery(status, RateLimit()) is delivery


def test_only_a_named_create_is_retry_safe() -> None:
    assert create_is_retry_safe("cust_1", None)
    assert create_is_retry_safe(msgspec.UNSET, "bob")
    assert not create_is_retry_safe(None, None)
    assert not create_is_retry_safe(msgspec.UNSET, msgspec.UNSET)
    assert not create_is_retry_safe("", "")


def test_quota_is_told_by_the_rate_limit_type() -> None:
    assert is_quota_spent(429, RateLimit(type="api_calls_cycle"))
    assert not is_quota_spent(429, RateLimit(type="api_calls"))
    assert not is_quota_spent(200, RateLimit(type="api_calls_cycle"))


def test_retry_delay_honours_max_wait() -> None:
    assert retry_delay(0, 429, RateLimit(retry_after=30), 0.0, 0.0, max_wait=60) == 30
    assert retry_delay(0, 429, RateLimit(retry_after=30), 0.0, 0.0, max_wait=10) is None


@pytest.mark.parametrize(
    "body", [{"email": "ann@example.com"}, {"id": None, "source_id": None, "name": "Ann"}]
)
async def test_keyless_create_is_not_resent_after_a_5xx(
    api: aioresponses, vf: AsyncVoucherify, body: dict[str, object]
) -> None:
    api.post(url("/v1/customers"), status=503, body="", repeat=True)
    with pytest.raises(InternalServerError) as info:
        await vf.customers.create(body)
    assert count(api) == 1
    assert info.value.maybe_applied
    assert "vf.customers.list(email=...)" in str(info.value)
    assert "source_id" in (info.value.note or "")


async def test_create_many_decides_per_item(api: aioresponses, vf: AsyncVoucherify) -> None:
    api.post(url("/v1/customers"), exception=aiohttp.ServerDisconnectedError(), repeat=True)
    results = await vf.with_options(max_retries=1).customers.create_many(
        [{"source_id": "bob"}, {"email": "ann@example.com"}], return_exceptions=True
    )
    assert all(isinstance(result, APIConnectionError) for result in results)
    keyed, keyless = results
    assert isinstance(keyed, APIConnectionError) and not keyed.maybe_applied
    assert isinstance(keyless, APIConnectionError) and keyless.maybe_applied
    assert count(api) == 3  # 2 attempts for bob, 1 for the keyless one


async def test_429_is_retried_even_for_a_bulk_job(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.post(
        url("/v1/customers/bulk/async"),
        status=429,
        payload={"code": 429, "message": "slow down"},
        headers={"Retry-After": "2", "X-Rate-Limit-Type": "bulk_api_calls"},
    )
    api.post(url("/v1/customers/bulk/async"), status=202, payload=JOB)
    job = await vf.customers.update_in_bulk([{"source_id": "s1"}])
    assert job.async_action_id == "aa_1"
    assert count(api) == 2 and sleeps == [pytest.approx(2.0, abs=0.05)]


async def test_malformed_2xx_of_a_job_says_it_was_started(
    api: aioresponses, vf: AsyncVoucherify
) -> None:
    api.post(url("/v1/customers/bulk/async"), status=202, body="<html>", repeat=True)
    with pytest.raises(MalformedResponseError) as info:
        await vf.customers.update_in_bulk([{"source_id": "s1"}])
    assert info.value.maybe_applied and "async_actions.list()" in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert count(api) == 1


async def test_quota_429_is_not_retried_and_does_not_pace(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.get(
        url(PATH),
        status=429,
        payload={"code": 429, "message": "quota"},
        headers={
            "Retry-After": "3000",
            "X-Rate-Limit-Type": "api_calls_cycle",
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Retry": str(sleeps.now + 3000),
        },
    )
    api.get(url(PATH), payload=CUSTOMER)
    with pytest.raises(QuotaExceededError) as info:
        await vf.customers.get("c1")
    assert info.value.retry_after == 3000
    assert "api_calls_cycle" in repr(info.value.rate_limit)
    await vf.customers.get("c1")
    assert sleeps == [] and count(api) == 2


async def test_pacing_wait_over_max_retry_wait_raises_before_sending(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.get(
        url(PATH),
        payload=CUSTOMER,
        headers={"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Retry": str(sleeps.now + 120)},
    )
    api.get(url(PATH), payload=CUSTOMER, repeat=True)
    await vf.customers.get("c1")
    with pytest.raises(RateLimitError, match="max_retry_wait") as info:
        await vf.customers.get("c1")
    assert info.value.retry_after == pytest.approx(120)
    assert count(api) == 1 and sleeps == []
    await vf.with_options(max_retry_wait=300).customers.get("c1")
    assert sleeps == [pytest.approx(120)]


async def test_hostile_headers_on_a_200_do_not_break_it(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    api.get(
        url(PATH),
        payload=CUSTOMER,
        headers={
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Retry": "inf",
            "X-Rate-Limit-Limit": "1e400",
        },
    )
    api.get(url(PATH), payload=CUSTOMER, headers={"X-Rate-Limit-Remaining": "1e400"})
    api.get(url(PATH), payload=CUSTOMER)
    for _ in range(3):
        assert (await vf.customers.get("c1")).id == "cust_1"
    assert sleeps == []


def test_unreadable_headers_are_logged_once_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    reported: set[str] = set()
    with caplog.at_level("DEBUG", logger="voucherify_async"):
        for _ in range(3):
            parse_rate_limit(
                {"X-Rate-Limit-Remaining": "1e400", "Retry-After": "nan"},
                now=0.0,
                reported=reported,
            )
    lines = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert len(lines) == 2
    assert all(r.levelname == "DEBUG" for r in caplog.records)
    assert {"X-Rate-Limit-Remaining", "Retry-After"} == reported


# --- rate-limit headers never raise, never give an absurd value ----------------------------

_NOW = 1_764_000_000.0
_HOSTILE = st.sampled_from(
    [
        "1e400",
        "inf",
        "-inf",
        "nan",
        "NaN",
        "-1",
        "-0.5",
        "1" * 400,
        "0x10",
        "\u0661\u0662\u0663",
        "\uff11\uff12",  # Arabic-Indic and full-width digits
        "1_000",
        " ",
        "",
        "10e3",
        "+5",
        "5.",
        ".5",
        "Infinity",
        "9" * 13,
        "12\x00",
        "\u00b2",
    ]
)
_HEADER_VALUE = st.one_of(
    _HOSTILE,
    st.text(max_size=40),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
_NAMES = [
    "X-Rate-Limit-Limit",
    "X-Rate-Limit-Remaining",
    "X-Rate-Limit-Retry",
    "Retry-After",
    "X-Rate-Limit-Type",
]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(_NAMES), _HEADER_VALUE))
def test_parse_rate_limit_never_raises_nor_gives_absurd_values(headers: dict[str, str]) -> None:
    parsed = parse_rate_limit(headers, now=_NOW, reported=set())
    for count_ in (parsed.limit, parsed.remaining):
        assert count_ is None or (type(count_) is int and 0 <= count_ < 10**12)
    if parsed.retry_at is not None:
        assert math.isfinite(parsed.retry_at) and 0 <= parsed.retry_at <= _NOW + MAX_AHEAD
    if parsed.retry_after is not None:
        assert math.isfinite(parsed.retry_after) and 0 <= parsed.retry_after <= MAX_AHEAD
    if parsed.type is not None:
        assert parsed.type.isascii() and parsed.type.isprintable() and len(parsed.type) <= 64
    wait = server_wait(429, parsed, _NOW)
    assert wait is None or (math.isfinite(wait) and 0 <= wait <= MAX_AHEAD)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=10**11), st.integers(min_value=0, max_value=10**6))
def test_sane_numbers_are_read_exactly(value: int, ahead: int) -> None:
    parsed = parse_rate_limit(
        {
            "X-Rate-Limit-Limit": str(value),
            "X-Rate-Limit-Remaining": f" {value}\t",
            "X-Rate-Limit-Retry": str(int(_NOW) + ahead % 86_400),
            "Retry-After": str(ahead % 86_400),
        },
        now=_NOW,
        reported=set(),
    )
    assert parsed.limit == value and parsed.remaining == value
    assert parsed.retry_at == int(_NOW) + ahead % 86_400
    assert parsed.retry_after == ahead % 86_400


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["1e400", "inf", "nan", "-1", "١٢", "9" * 30]))
def test_pacer_survives_hostile_headers(value: str) -> None:
    now = [_NOW]
    pacer = Pacer(lambda: now[0])
    pacer.observe(
        parse_rate_limit(
            {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Retry": value}, now=_NOW, reported=set()
        )
    )
    pacer.observe(
        parse_rate_limit(
            {"X-Rate-Limit-Remaining": value, "X-Rate-Limit-Retry": value}, now=_NOW, reported=set()
        )
    )
    wait = pacer.wait_time()
    assert math.isfinite(wait) and 0 <= wait <= MAX_AHEAD


async def test_max_retry_wait_zero_still_lets_concurrent_calls_start(
    api: aioresponses, vf: AsyncVoucherify, sleeps: Sleeps
) -> None:
    """Until a first answer the pacer polls briefly; that is no wait the API asked for."""

    async def slow(url: object, **kwargs: object) -> None:
        await asyncio.sleep(0)

    async def yielding_sleep(seconds: float) -> None:
        await sleeps(seconds)
        await asyncio.sleep(0)  # let the request in flight be answered

    api.get(url(PATH), payload=CUSTOMER, callback=slow, repeat=True)
    async with AsyncVoucherify(
        app_id=APP_ID,
        app_token=APP_TOKEN,
        base_url=BASE,
        max_retry_wait=0,
        sleep=yielding_sleep,
        clock=sleeps.clock,
        jitter=lambda: 0.0,
    ) as eager:
        results = await asyncio.gather(*(eager.customers.get("c1") for _ in range(3)))
    assert [customer.id for customer in results] == ["cust_1"] * 3
    assert sleeps and all(pause <= 0.1 for pause in sleeps)
