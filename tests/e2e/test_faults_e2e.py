"""Errors, retries and refusals against the emulator: every status it can produce, injected
faults (scripted and random), 429s with Retry-After, and bad input refused before sending."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import requests_total, short_sleep

from voucherify_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncVoucherify,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    InternalServerError,
    LockedError,
    NotFoundError,
    PayloadTooLargeError,
    PaymentRequiredError,
    RateLimitError,
)
from voucherify_async.emulator import Emulator

TEN_MB = 10 * 1024 * 1024


async def seeded_id(emulator: Emulator) -> str:
    await emulator.seed_customers(1)
    return (await emulator.customer_ids())[0]


# --- what the API answers, mapped to our exceptions ---------------------------------------


async def test_wrong_credentials_raise_authentication_error(voucherify_emulator: Emulator) -> None:
    async with AsyncVoucherify(
        app_id=voucherify_emulator.app_id, app_token="wrong-token", base_url=voucherify_emulator.url
    ) as vf:
        with pytest.raises(AuthenticationError) as caught:
            await vf.customers.get("anyone")
    error = caught.value
    assert (error.status, error.key) == (401, "unauthorized")
    assert error.request_id is not None
    assert "wrong-token" not in str(error) and "wrong-token" not in repr(error)
    stats = await voucherify_emulator.stats()
    assert stats["by_status"] == {"401": 1}  # a 401 is not retried


async def test_missing_customer_raises_not_found(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await voucherify_client.customers.get("nobody/..")
    error = caught.value
    assert (error.status, error.key, error.resource_type) == (404, "not_found", "customer")
    assert error.resource_id == "nobody/.."
    assert "Cannot find customer" in str(error)


async def test_bad_filters_raise_bad_request(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    # The client validates every scalar query parameter; the filters object is free-form,
    # so a bad operator in it is the way to reach the API's invalid_query_params.
    with pytest.raises(BadRequestError) as caught:
        await voucherify_client.customers.list_redeemables(
            customer_id, filters={"holder_role": {"conditions": {"$bogus": "x"}}}
        )
    assert (caught.value.status, caught.value.key) == (400, "invalid_query_params")
    assert "$bogus" in (caught.value.details or "")
    assert (await voucherify_emulator.stats())["by_status"] == {"400": 1}  # not retried


async def test_duplicate_source_id_raises_conflict(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    vf = voucherify_client
    await vf.customers.create(source_id="taken")
    other = await vf.customers.create(source_id="free")
    with pytest.raises(ConflictError) as caught:
        await vf.customers.create(id=other.id, source_id="taken")
    assert (caught.value.status, caught.value.key) == (409, "duplicate_found")
    assert caught.value.resource_id == "taken"
    assert (await vf.customers.get(other.id)).source_id == "free"  # nothing changed


@pytest.mark.parametrize(
    ("status", "error_class", "key"),
    [
        (400, BadRequestError, "bad_request"),
        (401, AuthenticationError, "unauthorized"),
        (402, PaymentRequiredError, "payment_required"),
        (404, NotFoundError, "not_found"),
        (405, APIStatusError, "method_not_allowed"),
        (406, APIStatusError, "not_acceptable"),
        (409, ConflictError, "duplicate_found"),
        (413, PayloadTooLargeError, "payload_too_large"),
        (415, APIStatusError, "unsupported_media_type"),
        (423, LockedError, "locked"),
        (429, RateLimitError, "too_many_requests"),
        (500, InternalServerError, "internal_server_error"),
        (502, InternalServerError, "bad_gateway"),
        (503, InternalServerError, "service_unavailable"),
        (504, InternalServerError, "gateway_timeout"),
    ],
)
async def test_every_error_status_maps_to_its_exception(
    voucherify_emulator: Emulator,
    status: int,
    error_class: type[APIStatusError],
    key: str,
) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    await voucherify_emulator.script_faults([{"kind": "error", "status": status}])
    async with voucherify_emulator.client(max_retries=0) as vf:
        with pytest.raises(APIStatusError) as caught:
            await vf.customers.get(customer_id)
    error = caught.value
    assert type(error) is error_class
    assert (error.status, error.code, error.key) == (status, status, key)
    assert error.request_id is not None and error.request_id.startswith("v-")
    assert error.method == "GET" and customer_id in error.url


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_html_gateway_pages_raise_internal_server_error_with_an_excerpt(
    voucherify_emulator: Emulator, status: int
) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    await voucherify_emulator.script_faults([{"kind": "html", "status": status}])
    async with voucherify_emulator.client(max_retries=0) as vf:
        with pytest.raises(InternalServerError) as caught:
            await vf.customers.get(customer_id)
    error = caught.value
    assert error.status == status and error.body is None and error.key is None
    assert "not a JSON error object" in str(error)
    assert "text/html" in str(error)
    assert f"<h1>{status}" in str(error)  # the excerpt shows what the gateway said


async def test_truncated_body_without_retries_raises_connection_error(
    voucherify_emulator: Emulator,
) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    await voucherify_emulator.script_faults([{"kind": "truncate", "method": "GET"}])
    async with voucherify_emulator.client(max_retries=0) as vf:
        with pytest.raises(APIConnectionError) as caught:
            await vf.customers.get(customer_id)
    assert "ContentLength" in str(caught.value) or "payload" in str(caught.value).lower()
    assert not isinstance(caught.value, APITimeoutError)


async def test_dropped_connection_without_retries_raises_connection_error(
    voucherify_emulator: Emulator,
) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    # aiohttp itself resends an idempotent request once after a disconnect: drop two.
    await voucherify_emulator.script_faults([{"kind": "drop", "count": 2}])
    async with voucherify_emulator.client(max_retries=0) as vf:
        with pytest.raises(APIConnectionError, match="ServerDisconnected"):
            await vf.customers.get(customer_id)
    assert (await voucherify_emulator.stats())["faults"] == {"drop": 2}


async def test_slow_answer_raises_timeout_error(voucherify_emulator: Emulator) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    await voucherify_emulator.script_faults([{"kind": "latency", "latency_ms": 600}])
    async with voucherify_emulator.client(max_retries=0, timeout=0.2) as vf:
        with pytest.raises(APITimeoutError, match=r"timeout of 0\.2 s"):
            await vf.customers.get(customer_id)
        assert (await vf.customers.get(customer_id)).id == customer_id  # the next one is fine


# --- retries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "error", "status": 503},
        {"kind": "error", "status": 500},
        {"kind": "html", "status": 502},
        {"kind": "html", "status": 504},
        {"kind": "truncate"},
        {"kind": "drop", "count": 2},
    ],
    ids=["503", "500", "html-502", "html-504", "truncate", "drop"],
)
async def test_scripted_fault_then_success_is_retried(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, fault: dict[str, Any]
) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    await voucherify_emulator.script_faults([{**fault, "method": "GET"}])
    async with voucherify_emulator.client(sleep=short_sleep) as fast:
        customer = await fast.customers.get(customer_id)
    assert customer.id == customer_id
    stats = await voucherify_emulator.stats()
    assert stats["faults"] == {fault["kind"]: fault.get("count", 1)}
    assert stats["requests_total"] == fault.get("count", 1) + 1
    assert stats["by_status"]["200"] == 1 + (fault["kind"] == "truncate")


async def test_two_faults_then_success_with_the_default_two_retries(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    await voucherify_emulator.script_faults(
        [{"kind": "error", "status": 503}, {"kind": "html", "status": 502}]
    )
    started = time.monotonic()
    assert (await voucherify_client.customers.get(customer_id)).id == customer_id
    # Real backoff this time: 0.5 s then 1 s, less up to a quarter of jitter.
    assert time.monotonic() - started >= 0.5
    await voucherify_emulator.script_faults([{"kind": "error", "status": 503, "count": 3}])
    async with voucherify_emulator.client(sleep=short_sleep) as fast:
        with pytest.raises(InternalServerError):
            await fast.customers.get(customer_id)
    assert (await voucherify_emulator.stats())["by_status"]["503"] == 4


async def test_idempotent_writes_are_retried_and_unsafe_ones_are_not(
    voucherify_emulator: Emulator,
) -> None:
    async with voucherify_emulator.client(sleep=short_sleep) as vf:
        await _idempotent_writes_are_retried_and_unsafe_ones_are_not(voucherify_emulator, vf)


async def _idempotent_writes_are_retried_and_unsafe_ones_are_not(
    voucherify_emulator: Emulator, vf: AsyncVoucherify
) -> None:
    # POST /v1/customers is an upsert: safe to send again, and no duplicate comes of it.
    await voucherify_emulator.script_faults([{"kind": "drop", "method": "POST", "count": 1}])
    created = await vf.customers.create(source_id="once", name="Once")
    assert (await voucherify_emulator.customer_state())["source_ids"] == ["once"]
    await voucherify_emulator.script_faults([{"kind": "error", "status": 503, "method": "PUT"}])
    assert (await vf.customers.update("once", name="Twice")).name == "Twice"

    # A permanent deletion may have happened: it is not sent twice.
    before = await requests_total(voucherify_emulator)
    await voucherify_emulator.script_faults([{"kind": "drop", "method": "POST", "count": 1}])
    with pytest.raises(APIConnectionError):
        await vf.customers.delete_permanently(created.id)
    assert await requests_total(voucherify_emulator) == before + 1
    # So are the bulk endpoints: a 503 on one is raised, not retried.
    await voucherify_emulator.script_faults([{"kind": "error", "status": 503, "method": "POST"}])
    with pytest.raises(InternalServerError):
        await vf.customers.update_in_bulk([{"source_id": "once", "name": "x"}])
    await voucherify_emulator.script_faults([{"kind": "html", "status": 502, "method": "POST"}])
    with pytest.raises(InternalServerError):
        await vf.customers.update_metadata_in_bulk(["once"], {"a": 1})
    await voucherify_emulator.script_faults([{"kind": "drop", "method": "POST", "count": 1}])
    with pytest.raises(APIConnectionError):
        await vf.customers.import_csv(b"Source_id\nonce\n")
    assert await requests_total(voucherify_emulator) == before + 4
    assert (await vf.customers.get("once")).name == "Twice"


async def test_random_faults_with_a_fixed_seed_are_all_retried_away(
    voucherify_emulator: Emulator,
) -> None:
    await voucherify_emulator.seed_customers(300)
    ids = await voucherify_emulator.customer_ids()
    await voucherify_emulator.configure(
        error_rate=0.12, html_rate=0.06, truncate_rate=0.05, drop_rate=0.04, fault_seed=7
    )
    async with voucherify_emulator.client(max_retries=8, sleep=short_sleep) as vf:
        fetched = [(await vf.customers.get(customer_id)).id for customer_id in ids[:60]]
        scanned = [customer.id async for customer in vf.customers.list(limit=10)]
    assert fetched == ids[:60]
    assert scanned == ids[::-1]
    stats = await voucherify_emulator.stats()
    for kind in ("error", "html", "truncate", "drop"):
        assert stats["faults"].get(kind, 0) > 0, stats
    assert stats["requests_total"] > 60 + 31


# --- 429s and Retry-After -----------------------------------------------------------------


async def test_scripted_429_is_waited_out_then_retried(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    await voucherify_emulator.script_faults([{"kind": "rate_limit", "retry_after": 1}])
    started = time.monotonic()
    assert (await voucherify_client.customers.get(customer_id)).id == customer_id
    assert time.monotonic() - started >= 0.9  # Retry-After: 1 was honoured
    stats = await voucherify_emulator.stats()
    assert stats["by_status"] == {"200": 1, "429": 1}


async def test_unretried_429_still_holds_back_the_next_call(
    voucherify_emulator: Emulator,
) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    await voucherify_emulator.script_faults([{"kind": "rate_limit", "retry_after": 1}])
    async with voucherify_emulator.client(max_retries=0) as vf:
        with pytest.raises(RateLimitError) as caught:
            await vf.customers.get(customer_id)
        assert caught.value.rate_limit.retry_after == 1
        assert caught.value.rate_limit.type == "api_calls"
        started = time.monotonic()
        assert (await vf.customers.get(customer_id)).id == customer_id
        assert time.monotonic() - started >= 0.8
    assert (await voucherify_emulator.stats())["by_status"] == {"200": 1, "429": 1}


async def test_a_retry_after_too_long_to_wait_is_raised_at_once(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    await voucherify_emulator.script_faults([{"kind": "rate_limit", "retry_after": 3600}])
    with pytest.raises(RateLimitError) as caught:
        await voucherify_client.customers.get(customer_id)
    assert caught.value.rate_limit.retry_after == 3600
    assert await requests_total(voucherify_emulator) == 1


async def test_real_rate_limit_429_from_another_clients_spent_quota(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    await voucherify_emulator.configure(rate_limit=3, rate_limit_period=1.0)
    for _ in range(3):
        await voucherify_client.customers.get(customer_id)
    # A second client knows nothing of the spent quota: its first call meets the limit.
    async with voucherify_emulator.client(max_retries=0) as other:
        with pytest.raises(RateLimitError) as caught:
            await other.customers.get(customer_id)
        limits = caught.value.rate_limit
        assert (limits.limit, limits.remaining, limits.type) == (3, 0, "api_calls")
        assert limits.retry_after is not None and 1 <= limits.retry_after <= 2
    # The first client paced itself (remaining reached 0) and waits for the next period.
    assert (await voucherify_client.customers.get(customer_id)).id == customer_id
    stats = await voucherify_emulator.stats()
    assert stats["too_many_requests"] == 1 and stats["by_status"]["200"] == 4


async def test_a_real_429_is_retried_after_retry_after(voucherify_emulator: Emulator) -> None:
    customer_id = await seeded_id(voucherify_emulator)
    await voucherify_emulator.configure(rate_limit=4, rate_limit_period=1.0)
    async with voucherify_emulator.client() as vf, voucherify_emulator.client() as spender:
        await vf.customers.get(customer_id)  # vf learns: 3 left in this period
        for _ in range(3):
            await spender.customers.get(customer_id)  # ... which another client spends
        started = time.monotonic()
        found = await asyncio.gather(*(vf.customers.get(customer_id) for _ in range(2)))
        waited = time.monotonic() - started
    assert [customer.id for customer in found] == [customer_id] * 2
    stats = await voucherify_emulator.stats()
    assert stats["too_many_requests"] == 2  # met once each ...
    assert stats["by_status"]["200"] == 6  # ... then retried after the Retry-After
    assert waited >= 0.5


# --- refused before sending ---------------------------------------------------------------


class Scratch:
    """A temporary directory, and the files a refused call opened there (closed after)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened: list[Any] = []

    def text_file(self) -> Any:
        path = self.path / "text.csv"
        path.write_text("Source_id\nx\n")
        handle = path.open("r")  # closed by the test
        self.opened.append(handle)
        return handle

    def big_file(self) -> Path:
        path = self.path / "big.csv"
        with path.open("wb") as handle:
            handle.truncate(TEN_MB + 1)
        return path


# The client is typed Any here: most of these calls break its annotations on purpose.
Call = Callable[[Any, Scratch], Awaitable[Any] | Any]
NAIVE = datetime(2024, 1, 1)

REFUSED: list[tuple[str, Call, type[Exception], str]] = [
    ("empty id", lambda vf, _: vf.customers.get(""), ValueError, "customer_id"),
    ("id not str", lambda vf, _: vf.customers.get(12), TypeError, "customer_id"),
    ("unknown field", lambda vf, _: vf.customers.update("x", nmae="Bob"), TypeError, "nmae"),
    ("wrong type", lambda vf, _: vf.customers.create(email=5), TypeError, "email"),
    ("bad address", lambda vf, _: vf.customers.create(address={"town": "x"}), TypeError, "town"),
    (
        "both forms",
        lambda vf, _: vf.customers.create({"name": "a"}, name="b"),
        TypeError,
        "not both",
    ),
    ("limit 0", lambda vf, _: vf.customers.list(limit=0), ValueError, "limit"),
    ("limit 101", lambda vf, _: vf.customers.list(limit=101), ValueError, "limit"),
    ("page 100", lambda vf, _: vf.customers.list(page=100), ValueError, "page"),
    ("order", lambda vf, _: vf.customers.list(order="name"), ValueError, "order"),
    ("naive", lambda vf, _: vf.customers.list(created_at_after=NAIVE), ValueError, "aware"),
    ("not a date", lambda vf, _: vf.customers.list(starting_after="2024"), TypeError, "datetime"),
    ("resume", lambda vf, _: vf.customers.list(resume_from="garbage"), ValueError, "resume_from"),
    ("city", lambda vf, _: vf.customers.list(city=5), TypeError, "city"),
    ("activity limit", lambda vf, _: vf.customers.list_activity("x", limit=0), ValueError, "limit"),
    (
        "activity order",
        lambda vf, _: vf.customers.list_activity("x", order="id"),
        ValueError,
        "order",
    ),
    (
        "activity date",
        lambda vf, _: vf.customers.list_activity("x", end_date=NAIVE),
        ValueError,
        "end_date",
    ),
    (
        "redeemables order",
        lambda vf, _: vf.customers.list_redeemables("x", order="created_at"),
        ValueError,
        "order",
    ),
    (
        "filters",
        lambda vf, _: vf.customers.list_redeemables("x", filters="OWNER"),
        TypeError,
        "filters",
    ),
    ("segments id", lambda vf, _: vf.customers.list_segments(""), ValueError, "customer_id"),
    ("bulk empty", lambda vf, _: vf.customers.update_in_bulk([]), ValueError, "at least one"),
    ("bulk str", lambda vf, _: vf.customers.update_in_bulk("abc"), TypeError, "iterable"),
    (
        "bulk item",
        lambda vf, _: vf.customers.update_in_bulk([{"name": "no source id"}]),
        TypeError,
        "source_id",
    ),
    (
        "bulk 10 MB",
        lambda vf, _: vf.customers.update_in_bulk(
            [{"source_id": "big", "description": "x" * (TEN_MB + 1)}]
        ),
        ValueError,
        "10 MB",
    ),
    (
        "metadata ids",
        lambda vf, _: vf.customers.update_metadata_in_bulk("abc", {}),
        TypeError,
        "source_ids",
    ),
    (
        "metadata empty",
        lambda vf, _: vf.customers.update_metadata_in_bulk([], {"a": 1}),
        ValueError,
        "at least one",
    ),
    (
        "metadata map",
        lambda vf, _: vf.customers.update_metadata_in_bulk(["a"], "x"),
        TypeError,
        "mapping",
    ),
    (
        "metadata 10 MB",
        lambda vf, _: vf.customers.update_metadata_in_bulk(["a"], {"blob": "x" * (TEN_MB + 1)}),
        ValueError,
        "10 MB",
    ),
    (
        "csv missing",
        lambda vf, tmp: vf.customers.import_csv(tmp.path / "missing.csv"),
        FileNotFoundError,
        "does not exist",
    ),
    (
        "csv text mode",
        lambda vf, tmp: vf.customers.import_csv(tmp.text_file()),
        TypeError,
        "binary",
    ),
    (
        "csv row 10 MB",
        lambda vf, _: vf.customers.import_csv(b"Source_id\n" + b"x" * (TEN_MB + 1) + b"\n"),
        ValueError,
        "over the API.s limit",
    ),
    (
        "csv file 10 MB",
        lambda vf, tmp: vf.customers.import_csv(tmp.big_file()),
        ValueError,
        "over the API.s limit",
    ),
    ("csv type", lambda vf, _: vf.customers.import_csv(12), TypeError, "file must be"),
    ("action id", lambda vf, _: vf.async_actions.get(""), ValueError, "async_action_id"),
    ("actions limit", lambda vf, _: vf.async_actions.list(limit=500), ValueError, "limit"),
    ("actions date", lambda vf, _: vf.async_actions.list(end_date=NAIVE), ValueError, "end_date"),
]


@pytest.mark.parametrize(
    ("call", "error", "words"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
async def test_bad_input_is_refused_before_any_request(
    voucherify_emulator: Emulator,
    voucherify_client: AsyncVoucherify,
    tmp_path: Path,
    call: Call,
    error: type[Exception],
    words: str,
) -> None:
    before = await requests_total(voucherify_emulator)
    scratch = Scratch(tmp_path)
    try:
        with pytest.raises(error, match=words):
            result = call(voucherify_client, scratch)
            if asyncio.iscoroutine(result):
                await result
    finally:
        for handle in scratch.opened:
            handle.close()
    await asyncio.sleep(0.01)
    assert await requests_total(voucherify_emulator) == before


def test_bad_client_options_are_refused_at_construction(voucherify_emulator: Emulator) -> None:
    url = voucherify_emulator.url
    cases: list[tuple[dict[str, Any], str]] = [
        ({"app_id": "", "app_token": "t", "base_url": url}, "missing credentials"),
        ({"app_id": "a", "app_token": "t", "base_url": "ftp://x"}, "base_url"),
        ({"app_id": "a", "app_token": "t", "cluster": "mars"}, "cluster"),
        ({"app_id": "a", "app_token": "t", "timeout": 0}, "timeout"),
        ({"app_id": "a", "app_token": "t", "max_retries": -1}, "max_retries"),
    ]
    for options, words in cases:
        with pytest.raises(ConfigurationError, match=words):
            AsyncVoucherify(**options)
