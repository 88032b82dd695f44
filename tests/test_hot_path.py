"""What the fast paths of a request and of a stream must keep: the same answers as the slow ones.

- ids and query values skip ``quote`` only when quoting would leave them as they are;
- a call cut short by ``aclose`` ends in `ClientClosedError`, while a cancellation of the
  caller's own (even at the same moment) stays a cancellation, and no cancellation is left
  counted on the task;
- the customers scan asks for the next page before decoding the current one, reading the
  cursor from the bytes, and a wrong guess costs one request, once, and loses nothing.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import mock_client
from voucherify_async import (
    AsyncVoucherify,
    ClientClosedError,
    MalformedResponseError,
    MockRequest,
    MockResponse,
)
from voucherify_async._core.query import encode_query, path_segment
from voucherify_async.resources._listing import peek_created_at

EPOCH = datetime(2024, 5, 1, tzinfo=timezone.utc)


@given(st.text(min_size=1))
def test_path_segments_are_what_quote_gives(text: str) -> None:
    if text not in (".", ".."):
        assert path_segment(text, "customer_id") == quote(text, safe="")


@given(st.lists(st.tuples(st.text(min_size=1), st.text())))
def test_query_strings_are_what_quote_gives(pairs: list[tuple[str, str]]) -> None:
    expected = "&".join(f"{quote(k, safe='[]$')}={quote(v, safe='')}" for k, v in pairs)
    assert encode_query(pairs) == expected


# -- closing against cancelling --------------------------------------------------------------


def _hanging_client() -> tuple[AsyncVoucherify, asyncio.Event]:
    """A client whose requests never get an answer; the event is set once one is sent."""
    started = asyncio.Event()

    async def handler(request: MockRequest) -> MockResponse:
        started.set()
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    return mock_client(handler), started


async def test_a_call_cut_short_by_aclose_raises_client_closed_and_leaves_no_cancel() -> None:
    vf, started = _hanging_client()
    caught: list[BaseException] = []

    async def call() -> None:
        try:
            await vf.customers.get("c1")
        except ClientClosedError as exc:
            caught.append(exc)
        # The task goes on normally: no cancellation of the client's is left pending on it.
        await asyncio.sleep(0)
        task = asyncio.current_task()
        assert task is not None
        if sys.version_info >= (3, 11):
            assert task.cancelling() == 0

    task = asyncio.ensure_future(call())
    await started.wait()
    await vf.aclose()
    await asyncio.wait_for(task, 5)
    assert len(caught) == 1 and "closed while GET /v1/customers/c1" in str(caught[0])
    assert caught[0].__context__ is None


async def test_the_callers_own_cancel_stays_a_cancel() -> None:
    vf, started = _hanging_client()
    async with vf:
        task = asyncio.ensure_future(vf.customers.get("c1"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert vf.in_flight == 0


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 counts no cancellations")
async def test_a_cancel_at_the_moment_of_aclose_is_not_swallowed() -> None:
    vf, started = _hanging_client()
    task = asyncio.ensure_future(vf.customers.get("c1"))
    await started.wait()
    task.cancel()  # the caller's own, delivered together with the client's
    await vf.aclose()
    with pytest.raises(asyncio.CancelledError):
        await task


# -- the scan's next page, asked for before decoding ---------------------------------------


def _customer(index: int, *, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    created = EPOCH - timedelta(milliseconds=index)
    customer: dict[str, Any] = {
        "id": f"cust_{index:05d}",
        "object": "customer",
        "created_at": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if metadata is not None:
        customer["metadata"] = metadata  # after created_at in the JSON
    return customer


def _scan_handler(
    count: int, *, bad_page: int | None = None, fooled_page: int | None = None
) -> tuple[Any, list[list[tuple[str, str]]]]:
    """Newest first, 100 a page, ``starting_after`` exclusive; records each page's query."""
    customers = list(range(count))
    queries: list[list[tuple[str, str]]] = []

    def handler(request: MockRequest) -> MockResponse:
        queries.append(request.params)
        params = dict(request.params)
        start = 0
        if "starting_after" in params:
            cursor = datetime.fromisoformat(params["starting_after"].replace("Z", "+00:00"))
            start = next(
                (i for i in customers if EPOCH - timedelta(milliseconds=i) < cursor), count
            )
        page = customers[start : start + 100]
        number = len(queries)
        items = [
            _customer(i, metadata={"created_at": "2001-01-01T00:00:00.000Z"})
            if number == fooled_page and i == page[-1]
            else _customer(i)
            for i in page
        ]
        body = {
            "object": "list",
            "data_ref": "customers",
            "customers": items,
            "total": count,
            "has_more": start + 100 < count,
        }
        content = msgspec.json.encode(body)
        if number == bad_page:
            content = content.replace(b'"object":"customer"', b'"object":customer"', 1)
        return MockResponse(200, content=content)

    return handler, queries


async def test_the_next_page_is_asked_for_before_this_one_is_decoded() -> None:
    # Page 1 cannot be decoded, but its tail reads fine: the request for page 2 was already
    # on its way when decoding failed (with prefetch off, it never is).
    for prefetch, expected in ((True, 2), (False, 1)):
        handler, queries = _scan_handler(300, bad_page=1)
        async with mock_client(handler) as vf:
            with pytest.raises(MalformedResponseError):
                async for _ in vf.customers.list(prefetch=prefetch):
                    pass
            assert len(queries) == expected
            assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_every_guess_of_a_plain_scan_is_used() -> None:
    handler, queries = _scan_handler(1_000)
    async with mock_client(handler) as vf:
        ids = [c.id async for c in vf.customers.list()]
    assert ids == [f"cust_{i:05d}" for i in range(1_000)]
    assert len(queries) == 11  # ten full pages, then the empty end: nothing spent on guesses


async def test_a_wrong_guess_costs_one_request_once_and_loses_nothing() -> None:
    # The last customer of page 2 has a "created_at" in its metadata, after its own: the
    # cursor read from the bytes is wrong, the walk's own is asked for, and guessing stops.
    handler, queries = _scan_handler(1_000, fooled_page=2)
    async with mock_client(handler) as vf:
        ids = [c.id async for c in vf.customers.list()]
    assert ids == [f"cust_{i:05d}" for i in range(1_000)]
    assert len(queries) == 12
    assert ("starting_after", "2001-01-01T00:00:00.001Z") in queries[2]


def test_peek_reads_the_last_created_at_and_has_more() -> None:
    page = msgspec.json.encode(
        {"customers": [_customer(0), _customer(7)], "total": 2, "has_more": True}
    )
    assert peek_created_at(page) == (EPOCH - timedelta(milliseconds=7), True)
    spaced = b'{"customers": [{"id": "c", "created_at" : "2024-05-01T00:00:00.000Z"}],\n'
    assert peek_created_at(spaced + b' "has_more" : false}') == (EPOCH, False)


@pytest.mark.parametrize(
    "body",
    [
        b'{"customers": [], "has_more": false}',  # no created_at
        b'{"customers": [{"created_at": "2024-05-01T00:00:00.000Z"}]}',  # no has_more
        b'{"customers": [{"created_at": "2024-05-01T00:00:00"}], "has_more": true}',  # naive
        b'{"customers": [{"created_at": "soon"}], "has_more": true}',
        b'{"customers": [{"created_at": "2024-13-01T00:00:00Z"}], "has_more": true}',
        b'{"customers": [{"created_at": null}], "has_more": true}',
        b"",
    ],
)
def test_peek_says_nothing_when_it_cannot_tell(body: bytes) -> None:
    assert peek_created_at(body) is None


async def test_a_cancel_while_the_next_request_goes_out_leaves_no_task() -> None:
    # The consumer is cancelled at the very turn of the loop in which the prefetch task
    # sends the next page's request: that task must be found and cancelled too.
    scan, queries = _scan_handler(1_000)
    consumer: asyncio.Task[None] | None = None

    sent: list[MockRequest] = []

    async def handler(request: MockRequest) -> MockResponse:
        sent.append(request)
        if len(sent) == 2:
            assert consumer is not None
            consumer.cancel()
            await asyncio.sleep(30)
        response: MockResponse = scan(request)
        return response

    async with mock_client(handler) as vf:

        async def consume() -> None:
            async for _ in vf.customers.list():
                pass

        consumer = asyncio.ensure_future(consume())
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(consumer, 5)
        assert len(sent) == 2 and len(queries) == 1
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
