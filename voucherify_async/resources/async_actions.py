"""``vf.async_actions``: read the jobs that bulk updates and CSV imports start."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from msgspec.structs import replace

from .._core.extras import with_extras
from .._core.query import check_int_range, format_datetime, params, path_segment
from .._core.request import Request
from .._core.scan import PaginationError
from .._transport.transport import APIResponse
from ..models import AsyncAction, AsyncActionList
from ._base import Resource
from ._jobs import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    AsyncJob,
    AsyncJobResult,
    JobPart,
    ProgressCallback,
)
from ._pagination import LastItemPaging, Pager, PagingWalk

__all__ = ["AsyncActions"]


def _created_at_cursor(action: AsyncAction) -> str | None:
    # One millisecond past the last action, so actions sharing its millisecond are asked for
    # again whether the server treats end_date as exclusive or inclusive; the walk drops the
    # ones the previous page already had.
    if action.created_at is None:
        return None
    return format_datetime(action.created_at + timedelta(milliseconds=1), "end_date")


def _with_actions(page: AsyncActionList, kept: list[AsyncAction]) -> AsyncActionList:
    return replace(page, async_actions=kept)


class AsyncActions(Resource):
    """The async actions API: ``GET /v1/async-actions`` and ``GET /v1/async-actions/{id}``."""

    @property
    def with_raw_response(self) -> AsyncActionsWithRawResponse:
        """`get`, answering with the `APIResponse` (``.parse()`` gives the `AsyncAction`)."""
        return AsyncActionsWithRawResponse(AsyncActions(self._transport.with_raw_responses()))

    async def get(
        self,
        async_action_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> AsyncAction:
        """Return an async action: its status, progress and, once finished, its result.

        Examples:
            ```python
            job = await vf.customers.update_metadata_in_bulk(["s1"], {"tier": "gold"})
            action = await vf.async_actions.get(job.async_action_id)
            action.status, action.result.done_count
            # ('DONE', 1)
            ```

        ``extra_headers`` and ``extra_query`` add what the typed signature does not have.
        """
        segment = path_segment(async_action_id, "async_action_id")
        request = Request("GET", f"/v1/async-actions/{segment}", AsyncAction)
        return await self._transport.request(
            with_extras(request, extra_headers=extra_headers, extra_query=extra_query)
        )

    def list(
        self,
        *,
        limit: int | None = None,
        end_date: datetime | None = None,
        prefetch: bool = True,
    ) -> Pager[AsyncActionList, AsyncAction]:
        """List async actions, newest first; iterating walks back in time past each page.

        Args:
            limit: actions per page, 1..100.
            end_date: only actions scheduled before this aware datetime.
        """
        if limit is not None:
            check_int_range(limit, "limit", 1, 100)
        if end_date is not None:
            format_datetime(end_date, "end_date")
        query = params([("limit", "limit", limit), ("end_date", "end_date", end_date)])

        fetch = self._page_getter("/v1/async-actions", AsyncActionList)
        paging: LastItemPaging[AsyncActionList, AsyncAction] = LastItemPaging(
            lambda page: page.async_actions,
            _created_at_cursor,
            param="end_date",
            has_more=lambda page: page.has_more,
            stuck=lambda cursor: PaginationError(
                f"more async actions share the millisecond before end_date={cursor} than one"
                " page holds; list them with a larger limit (up to 100)"
            ),
        )
        return Pager(
            fetch,
            query,
            lambda q: PagingWalk(
                q, paging, item_id=lambda action: action.id, rebuild=_with_actions
            ),
            prefetch=prefetch,
            on_page=self._page_hook("/v1/async-actions"),
            traced=self._list_trace("/v1/async-actions"),
        )

    async def wait(
        self,
        *async_action_ids: str,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        on_progress: ProgressCallback | None = None,
    ) -> AsyncJobResult:
        """Poll one or more async actions until each is ``DONE`` or ``FAILED``.

        The same as `voucherify_async.AsyncJob.wait()`, for actions known by id (say,
        ones a previous run of your program started): backoff from ``poll_interval`` to
        ``max_poll_interval``, ``on_progress`` called with a
        `JobProgress` (in percentage points, 100 per action).

        Returns:
            The combined `AsyncJobResult`, with the per-customer
            failures.

        Raises:
            AsyncActionFailedError: an action ended ``FAILED``; ``.result`` has everything.
            AsyncActionTimeoutError: ``timeout`` seconds passed first; the actions go on.

        Examples:
            ```python
            result = await vf.async_actions.wait("aa_0b4f...", timeout=120)
            result.done_count, result.failed
            # (3, [])
            ```
        """
        if not async_action_ids:
            raise TypeError("wait() needs at least one async action id")
        for index, async_action_id in enumerate(async_action_ids):
            path_segment(async_action_id, f"async_action_ids[{index}]")
        job = AsyncJob(self.get, [JobPart(async_action_id) for async_action_id in async_action_ids])
        with self._operation("job.wait"):
            return await job.wait(
                timeout=timeout,
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
                on_progress=on_progress,
            )


class AsyncActionsWithRawResponse:
    """``vf.async_actions.with_raw_response``: `AsyncActions.get`, answering with the
    `APIResponse` instead of the model."""

    def __init__(self, raw: AsyncActions) -> None:
        self._raw = raw

    async def get(self, async_action_id: str, **kwargs: Any) -> APIResponse[AsyncAction]:
        """`AsyncActions.get`, answering with the `APIResponse`."""
        return cast("APIResponse[AsyncAction]", await self._raw.get(async_action_id, **kwargs))
