"""Bulk jobs without a network: chunking, the poll schedule, results, and waiting on a mock."""

from __future__ import annotations

import re
from itertools import count, islice, pairwise
from typing import Any

import msgspec
import pytest
from aioresponses import CallbackResult, aioresponses

from tests.conftest import BASE, mock_client, url
from voucherify_async import (
    AsyncActionFailedError,
    AsyncActionTimeoutError,
    AsyncJob,
    AsyncJobResult,
    AsyncVoucherify,
    InternalServerError,
    JobProgress,
    MockRequest,
    MockResponse,
    MockTransport,
    NotFoundError,
    PartialSubmissionError,
    QuotaExceededError,
    VoucherifyError,
    models,
)
from voucherify_async._core.chunking import BULK_BODY_LIMIT, ChunkTooLargeError, chunk_ranges
from voucherify_async.resources._jobs import JobPart, combine_results, job_progress, poll_delays

FAST: dict[str, Any] = {"poll_interval": 0.001, "max_poll_interval": 0.002}


def action(action_id: str, status: str, progress: int = 0, **result: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": action_id,
        "type": "CUSTOMERS.BULK_UPDATE",
        "status": status,
        "progress": progress,
        "object": "async_action",
    }
    if result:
        body["result"] = result
    return body


def posted(api: aioresponses, path: str) -> list[bytes]:
    """The bodies POSTed to ``path``, in order."""
    return [
        call.kwargs["data"]
        for (method, request_url), calls in api.requests.items()
        if method == "POST" and request_url.path == path
        for call in calls
    ]


def gets(api: aioresponses) -> int:
    return sum(len(calls) for (method, _), calls in api.requests.items() if method == "GET")


# --- pure decisions ------------------------------------------------------------------------


def test_poll_delays_grow_to_the_cap() -> None:
    assert list(islice(poll_delays(0.5, 5.0), 8)) == [
        0.5,
        0.75,
        1.125,
        1.6875,
        2.53125,
        3.796875,
        5.0,
        5.0,
    ]
    assert list(islice(poll_delays(2.0, 1.0), 2)) == [1.0, 1.0]


def test_chunk_ranges_fill_each_request_up_to_the_budget() -> None:
    # Three 4-byte items and commas: 4+1+4 = 9 fits a budget of 9, a third does not.
    assert chunk_ranges([4, 4, 4], budget=9) == [range(0, 2), range(2, 3)]
    assert chunk_ranges([4, 4, 4], budget=14) == [range(0, 3)]
    assert chunk_ranges([4, 4, 4], budget=13) == [range(0, 2), range(2, 3)]
    assert chunk_ranges([1] * 10, budget=100, max_items=4) == [
        range(0, 4),
        range(4, 8),
        range(8, 10),
    ]
    assert chunk_ranges([], budget=10) == []
    with pytest.raises(ChunkTooLargeError) as caught:
        chunk_ranges([3, 11, 2], budget=10)
    assert (caught.value.index, caught.value.size) == (1, 11)


def test_chunk_ranges_cover_every_item_once_and_respect_the_budget() -> None:
    sizes = [(i * 37) % 101 + 1 for i in range(2_000)]
    ranges = chunk_ranges(sizes, budget=1_000, max_items=30)
    assert [i for r in ranges for i in r] == list(range(2_000))
    for r in ranges:
        assert sum(sizes[i] for i in r) + len(r) - 1 <= 1_000 and len(r) <= 30
    # Greedy: adding the next item to any request would break a limit.
    for r, following in pairwise(ranges):
        grown = sum(sizes[i] for i in r) + len(r) + sizes[following.start]
        assert grown > 1_000 or len(r) == 30


def test_progress_counts_items_and_finished_actions() -> None:
    parts = [JobPart("aa_1", size=200), JobPart("aa_2", size=100), JobPart("aa_3", size=50)]
    progress = job_progress(
        parts,
        [
            models.AsyncAction(id="aa_1", status="DONE", progress=100),
            models.AsyncAction(id="aa_2", status="IN_PROGRESS", progress=40),
            None,
        ],
    )
    assert (progress.done, progress.total) == (240, 350)
    assert progress.fraction == pytest.approx(240 / 350) and not progress.finished
    unsized = job_progress([JobPart("aa_1")], [models.AsyncAction(id="aa_1", progress=30)])
    assert (unsized.done, unsized.total) == (30, 100)


def test_combined_result_renumbers_csv_rows_across_parts() -> None:
    parts = [JobPart("aa_1", size=3, first_row=1), JobPart("aa_2", size=3, first_row=4)]
    failure = models.AsyncActionFailure
    actions = [
        models.AsyncAction(
            id="aa_1",
            status="DONE",
            result=models.AsyncActionResult(
                done_count=2, failed_count=1, failed=[failure(row=2, reason="bad email")]
            ),
        ),
        models.AsyncAction(
            id="aa_2",
            status="DONE",
            result=models.AsyncActionResult(
                done_count=1,
                failed_count=2,
                failed=[failure(row=1, reason="x"), failure(row=3, reason="y")],
            ),
        ),
    ]
    result = combine_results(parts, actions)
    assert [(f.row, f.reason) for f in result.failed] == [(2, "bad email"), (4, "x"), (6, "y")]
    assert (result.done_count, result.failed_count) == (3, 3)
    assert result.async_action_ids == ["aa_1", "aa_2"] and not result.succeeded


# --- waiting -------------------------------------------------------------------------------


async def test_wait_polls_until_done_and_reports_progress(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    aa = url("/v1/async-actions/aa_1")
    api.get(aa, payload=action("aa_1", "ENQUEUED"))
    api.get(aa, payload=action("aa_1", "IN_PROGRESS", 50))
    api.get(aa, payload=action("aa_1", "IN_PROGRESS", 50))
    errors = [
        {
            "message": "Invalid customer",
            "details": "email",
            "key": "invalid_customer",
            "source_id": "s7",
        }
    ]
    api.get(aa, payload=action("aa_1", "DONE", 100, done_count=9, failed_count=1, errors=errors))
    job = AsyncJob(vf.async_actions.get, [JobPart("aa_1", size=10)])
    seen: list[tuple[int, int]] = []
    result = await job.wait(on_progress=lambda p: seen.append((p.done, p.total)), **FAST)
    assert gets(api) == 4
    assert seen == [(0, 10), (5, 10), (10, 10)]  # unchanged progress is not reported twice
    assert isinstance(result, AsyncJobResult) and result.done_count == 9
    assert [e.source_id for e in result.errors] == ["s7"] and not result.succeeded
    assert job.finished and job.actions[0].status == "DONE"


async def test_wait_awaits_an_async_progress_callback(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.get(url("/v1/async-actions/aa_1"), payload=action("aa_1", "DONE", 100, done_count=1))
    calls: list[JobProgress] = []

    async def report(progress: JobProgress) -> None:
        calls.append(progress)

    await vf.async_actions.wait("aa_1", on_progress=report, **FAST)
    assert len(calls) == 1 and calls[0].finished and calls[0].fraction == 1.0


async def test_wait_combines_several_actions(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(
        url("/v1/async-actions/aa_1"),
        payload=action("aa_1", "DONE", 100, done_count=5, failed_count=0),
    )
    api.get(url("/v1/async-actions/aa_2"), payload=action("aa_2", "IN_PROGRESS", 10))
    api.get(
        url("/v1/async-actions/aa_2"),
        payload=action("aa_2", "DONE", 100, done_count=3, failed_count=0),
    )
    result = await vf.async_actions.wait("aa_1", "aa_2", **FAST)
    assert result.async_action_ids == ["aa_1", "aa_2"]
    assert result.done_count == 8 and result.succeeded
    assert gets(api) == 3  # a finished action is not read again


async def test_a_failed_action_raises_with_the_result_once_all_finished(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.get(
        url("/v1/async-actions/aa_1"),
        payload=action("aa_1", "FAILED", 30, message="The async action failed: boom"),
    )
    api.get(url("/v1/async-actions/aa_2"), payload=action("aa_2", "IN_PROGRESS", 10))
    api.get(url("/v1/async-actions/aa_2"), payload=action("aa_2", "DONE", 100, done_count=4))
    with pytest.raises(AsyncActionFailedError, match=r"aa_1.*boom") as caught:
        await vf.async_actions.wait("aa_1", "aa_2", **FAST)
    error = caught.value
    assert isinstance(error, VoucherifyError)
    assert [a.id for a in error.failed_actions] == ["aa_1"]
    assert error.result.done_count == 4 and error.async_action_ids == ["aa_1", "aa_2"]


async def test_a_timeout_raises_a_clear_error_and_leaves_the_job_running(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.get(url("/v1/async-actions/aa_1"), payload=action("aa_1", "IN_PROGRESS", 40), repeat=True)
    job = AsyncJob(vf.async_actions.get, [JobPart("aa_1")])
    with pytest.raises(AsyncActionTimeoutError, match=r"after 0.05 s: aa_1 IN_PROGRESS 40%") as c:
        await job.wait(timeout=0.05, poll_interval=0.005)
    assert isinstance(c.value, TimeoutError)
    assert c.value.actions[0].progress == 40 and c.value.progress is not None
    assert not job.finished
    assert not [m for (m, _) in api.requests if m != "GET"]  # nothing but reads was sent


async def test_transient_poll_errors_are_ridden_out(vf: AsyncVoucherify, api: aioresponses) -> None:
    vf = vf.with_options(max_retries=0)
    aa = url("/v1/async-actions/aa_1")
    api.get(aa, status=503, body=b"<html>busy</html>")
    api.get(aa, status=429, payload={"code": 429, "message": "slow down"})
    api.get(aa, payload=action("aa_1", "DONE", 100, done_count=1))
    result = await vf.async_actions.wait("aa_1", **FAST)
    assert result.done_count == 1 and gets(api) == 3


async def test_a_lasting_outage_is_raised_after_ten_failed_rounds(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    vf = vf.with_options(max_retries=0)
    api.get(url("/v1/async-actions/aa_1"), status=500, body=b"", repeat=True)
    with pytest.raises(InternalServerError):
        await vf.async_actions.wait("aa_1", **FAST)
    assert gets(api) == 10


async def test_an_unknown_action_is_raised_at_once(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.get(
        url("/v1/async-actions/aa_x"),
        status=404,
        payload={"code": 404, "key": "not_found", "message": "Resource not found"},
    )
    with pytest.raises(NotFoundError):
        await vf.async_actions.wait("aa_x", **FAST)
    assert gets(api) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "timeout must be a number of seconds > 0 or None"),
        ({"poll_interval": -1}, "poll_interval must be"),
        ({"max_poll_interval": "5"}, "max_poll_interval must be"),
    ],
)
async def test_wait_checks_its_arguments(
    vf: AsyncVoucherify, api: aioresponses, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await vf.async_actions.wait("aa_1", **options)
    with pytest.raises(TypeError, match="at least one async action id"):
        await vf.async_actions.wait()
    assert not api.requests


def test_a_job_of_several_actions_has_no_single_id(vf: AsyncVoucherify) -> None:
    job = AsyncJob(vf.async_actions.get, [JobPart("aa_1"), JobPart("aa_2")])
    assert job.async_action_ids == ["aa_1", "aa_2"]
    with pytest.raises(AttributeError, match="has 2 async actions"):
        _ = job.async_action_id
    assert "aa_1:not polled" in repr(job)


# --- bulk calls split into requests -------------------------------------------------------


def created() -> Any:
    """A callback answering each POST with the next id: aa_1, aa_2, ..."""
    numbers = count(1)

    def answer(_url: Any, **_kwargs: Any) -> CallbackResult:
        return CallbackResult(status=202, payload={"async_action_id": f"aa_{next(numbers)}"})

    return answer


async def test_update_in_bulk_splits_by_batch_size(vf: AsyncVoucherify, api: aioresponses) -> None:
    api.post(url("/v1/customers/bulk/async"), callback=created(), repeat=True)
    job = await vf.customers.update_in_bulk(
        ({"source_id": f"s{i}", "name": f"N{i}"} for i in range(25)), batch_size=10
    )
    bodies = [msgspec.json.decode(b) for b in posted(api, "/v1/customers/bulk/async")]
    assert [len(b) for b in bodies] == [10, 10, 5]
    assert [item["source_id"] for b in bodies for item in b] == [f"s{i}" for i in range(25)]
    assert job.async_action_ids == ["aa_1", "aa_2", "aa_3"]
    assert [p.size for p in job.parts] == [10, 10, 5]


def accept_jobs() -> Any:
    """A MockTransport handler answering each POST with the next id: aa_1, aa_2, ..."""
    numbers = count(1)

    def answer(request: MockRequest) -> MockResponse:
        return MockResponse(202, json={"async_action_id": f"aa_{next(numbers)}"})

    return answer


def mock_posted(vf: AsyncVoucherify, path: str) -> list[bytes]:
    """The bodies POSTed to ``path`` through the client's MockTransport, in order."""
    transport = vf.transport
    assert isinstance(transport, MockTransport)
    return [r.content for r in transport.requests if r.method == "POST" and r.path == path]


async def test_update_in_bulk_keeps_each_request_under_10_mb() -> None:
    big = "x" * (4 * 1024 * 1024)
    async with mock_client(accept_jobs()) as vf:
        job = await vf.customers.update_in_bulk(
            [{"source_id": f"s{i}", "description": big} for i in range(3)]
        )
    bodies = mock_posted(vf, "/v1/customers/bulk/async")
    assert [len(msgspec.json.decode(b)) for b in bodies] == [2, 1]
    assert all(len(b) <= BULK_BODY_LIMIT for b in bodies)
    assert len(job.async_action_ids) == 2


async def test_update_metadata_in_bulk_splits_the_ids() -> None:
    ids = [f"{i:07d}" + "y" * 200_000 for i in range(60)]  # 60 ids of ~200 kB: 12 MB
    path = "/v1/customers/metadata/async"
    async with mock_client(accept_jobs()) as vf:
        job = await vf.customers.update_metadata_in_bulk(ids, {"tier": "gold"})
        raw = mock_posted(vf, path)
        bodies = [msgspec.json.decode(b) for b in raw]
        assert len(bodies) == 2 and all(len(b) <= BULK_BODY_LIMIT for b in raw)
        assert [s for b in bodies for s in b["source_ids"]] == ids
        assert all(b["metadata"] == {"tier": "gold"} for b in bodies)
        assert job.async_action_ids == ["aa_1", "aa_2"]
        job = await vf.customers.update_metadata_in_bulk(["a", "b", "c"], {"k": 1}, batch_size=2)
        assert len(mock_posted(vf, path)) == 2 + 2


async def test_a_failure_after_the_first_request_says_what_was_started(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    bulk = url("/v1/customers/bulk/async")
    api.post(bulk, status=202, payload={"async_action_id": "aa_1"})
    api.post(bulk, status=503, body=b"", repeat=True)
    with pytest.raises(PartialSubmissionError, match=r"aa_1.*from 10 on") as caught:
        await vf.customers.update_in_bulk(
            [{"source_id": f"s{i}"} for i in range(30)], batch_size=10
        )
    error = caught.value
    assert error.job.async_action_ids == ["aa_1"] and error.first_unsent == 10
    assert isinstance(error.cause, InternalServerError) and error.__cause__ is error.cause
    assert len(posted(api, "/v1/customers/bulk/async")) == 2  # not retried, not continued


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
async def test_bad_batch_sizes_are_refused(
    vf: AsyncVoucherify, api: aioresponses, batch_size: Any
) -> None:
    with pytest.raises((TypeError, ValueError), match="batch_size"):
        await vf.customers.update_in_bulk([{"source_id": "a"}], batch_size=batch_size)
    with pytest.raises((TypeError, ValueError), match="batch_size"):
        await vf.customers.update_metadata_in_bulk(["a"], {}, batch_size=batch_size)
    assert not api.requests


async def test_job_wait_reads_the_actions_through_the_client(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    api.post(url("/v1/customers/metadata/async"), status=202, payload={"async_action_id": "aa/1"})
    api.get(
        re.compile(re.escape(BASE) + "/v1/async-actions/.*"),
        payload=action("aa/1", "DONE", 100, done_count=2),
    )
    job = await vf.customers.update_metadata_in_bulk(["a", "b"], {"k": 1})
    result = await job.wait(**FAST)
    [(_, request_url)] = [key for key in api.requests if key[0] == "GET"]
    assert request_url.raw_path == "/v1/async-actions/aa%2F1"
    assert result.done_count == 2


def test_statuses_are_the_apis() -> None:
    assert not hasattr(models.AsyncActionStatus, "ACCEPTED")
    assert {"DONE", "FAILED"} == models.AsyncActionStatus.FINAL
    assert not models.AsyncAction(id="aa_1", status="ENQUEUED").is_final


async def test_wait_keeps_waiting_through_a_long_queue(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    """Behind the project's earlier jobs an action stays ENQUEUED for many polls."""
    aa = url("/v1/async-actions/aa_1")
    for _ in range(60):
        api.get(aa, payload=action("aa_1", "ENQUEUED"))
    api.get(aa, payload=action("aa_1", "IN_PROGRESS", 40))
    api.get(aa, payload=action("aa_1", "DONE", 100, done_count=3, failed_count=0))
    job = AsyncJob(vf.async_actions.get, [JobPart("aa_1", size=3)])
    seen: list[str | None] = []
    result = await job.wait(
        timeout=30,
        poll_interval=0.001,
        max_poll_interval=0.001,
        on_progress=lambda p: seen.append(p.actions[0].status),
    )
    assert gets(api) == 62
    assert seen == ["ENQUEUED", "IN_PROGRESS", "DONE"]
    assert result.done_count == 3 and result.succeeded


async def test_wait_raises_a_spent_quota_at_once(vf: AsyncVoucherify, api: aioresponses) -> None:
    aa = url("/v1/async-actions/aa_1")
    api.get(
        aa,
        status=429,
        payload={"code": 429, "message": "quota"},
        headers={"X-Rate-Limit-Type": "api_calls_cycle"},
        repeat=True,
    )
    job = AsyncJob(vf.async_actions.get, [JobPart("aa_1")])
    with pytest.raises(QuotaExceededError):
        await job.wait(**FAST)
    assert gets(api) == 1
