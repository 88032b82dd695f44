"""Async jobs: the async action(s) one bulk update or CSV import started, and waiting for them.

A bulk call may need several requests (the API takes at most 10 MB each), and each request
starts one async action. `AsyncJob` covers them all: ``await job.wait()`` polls every
unfinished action, backing off from ``poll_interval`` to ``max_poll_interval``, until each
is ``DONE`` or ``FAILED``, then returns one `AsyncJobResult` with the counts and the
per-customer failures of all of them (CSV rows numbered across the whole input).

Errors, in the `VoucherifyError` hierarchy::

    VoucherifyError
    └── AsyncJobError                  about one or more async actions (async_action_ids)
        ├── AsyncActionFailedError     an action ended FAILED; .result has everything
        ├── AsyncActionTimeoutError    wait() ran out of time; the actions keep running
        └── PartialSubmissionError     a split call failed after some parts were started
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

import anyio
from msgspec.structs import replace

from .._exceptions import (
    APIConnectionError,
    AsyncActionFailedError,
    AsyncActionTimeoutError,
    AsyncJobError,
    InternalServerError,
    LockedError,
    MalformedResponseError,
    PartialSubmissionError,
    QuotaExceededError,
    RateLimitError,
)
from ..models import (
    AsyncAction,
    AsyncActionErrorDetail,
    AsyncActionFailure,
    AsyncActionStatus,
    AsyncJobResult,
    JobProgress,
)
from ._concurrency import fan_out

__all__ = [
    "DEFAULT_MAX_POLL_INTERVAL",
    "DEFAULT_POLL_INTERVAL",
    "AsyncActionFailedError",
    "AsyncActionTimeoutError",
    "AsyncJob",
    "AsyncJobError",
    "AsyncJobResult",
    "JobPart",
    "JobProgress",
    "PartialSubmissionError",
    "combine_results",
    "job_progress",
    "poll_delays",
    "submit_in_parts",
]

log = logging.getLogger("voucherify_async")

#: The first wait between two polls, in seconds.
DEFAULT_POLL_INTERVAL = 0.5
#: The longest wait between two polls, in seconds.
DEFAULT_MAX_POLL_INTERVAL = 5.0
#: How much the wait between polls grows each time.
BACKOFF_FACTOR = 1.5
# Poll failures worth riding out: the next poll may well succeed.
_TRANSIENT = (
    APIConnectionError,
    MalformedResponseError,
    InternalServerError,
    RateLimitError,
    LockedError,
)
# After this many rounds in a row in which every poll failed, wait() gives up.
_MAX_FAILED_ROUNDS = 10
# Polls of one round in flight at once.
_POLL_CONCURRENCY = 8

GetAction = Callable[[str], Awaitable[AsyncAction]]
ProgressCallback = Callable[["JobProgress"], object]


def poll_delays(
    first: float = DEFAULT_POLL_INTERVAL,
    cap: float = DEFAULT_MAX_POLL_INTERVAL,
    factor: float = BACKOFF_FACTOR,
) -> Iterator[float]:
    """The waits between polls: ``first``, growing by ``factor`` each time, up to ``cap``.

    Examples:
        ```python
        from itertools import islice
        list(islice(poll_delays(0.5, 2.0), 6))
        # [0.5, 0.75, 1.125, 1.6875, 2.0, 2.0]
        ```
    """
    delay = min(first, cap)
    while True:
        yield delay
        delay = min(delay * factor, cap)


@dataclass(frozen=True)
class JobPart:
    """One async action of a job, and what the SDK sent in it.

    Attributes:
        async_action_id: the action's id.
        size: how many customers (bulk) or data rows (CSV) the request carried, when known.
        first_row: for a CSV part, the number of its first data row in the whole input
            (rows count from 1 after the header); the API numbers each part's rows from 1.
    """

    async_action_id: str
    size: int | None = None
    first_row: int | None = None


def job_progress(parts: Sequence[JobPart], actions: Sequence[AsyncAction | None]) -> JobProgress:
    """Progress over ``parts`` given the last seen state of each (``None``: not seen yet).

    Examples:
        ```python
        job_progress([JobPart("aa_1", size=200)], [AsyncAction(id="aa_1", progress=25)])
        # JobProgress(done=50, total=200, actions=[...])
        ```
    """
    done = total = 0
    for part, action in zip(parts, actions, strict=True):
        weight = part.size if part.size is not None else 100
        total += weight
        if action is None:
            continue
        if action.is_final:
            done += weight
        else:
            done += weight * min(max(action.progress or 0, 0), 100) // 100
    return JobProgress(
        done=done, total=total, actions=[action for action in actions if action is not None]
    )


def combine_results(parts: Sequence[JobPart], actions: Sequence[AsyncAction]) -> AsyncJobResult:
    """One result out of the final states of a job's actions.

    CSV failures are renumbered from each part's row numbers to the whole input's, using
    ``JobPart.first_row``.
    """
    done = failed_count = 0
    failed: list[AsyncActionFailure] = []
    errors: list[AsyncActionErrorDetail] = []
    for part, action in zip(parts, actions, strict=True):
        result = action.result
        if result is None:
            continue
        offset = part.first_row - 1 if part.first_row else 0
        part_failed = [
            replace(failure, row=failure.row + offset)
            if failure.row is not None and offset
            else failure
            for failure in result.failed
        ]
        failed.extend(part_failed)
        errors.extend(result.errors)
        done += result.done_count or 0
        failed_count += (
            result.failed_count
            if result.failed_count is not None
            else len(part_failed) + len(result.errors)
        )
    return AsyncJobResult(
        actions=list(actions),
        done_count=done,
        failed_count=failed_count,
        failed=failed,
        errors=errors,
    )


def _check_seconds(value: object, name: str, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        extra = " or None" if allow_none else ""
        raise ValueError(f"{name} must be a number of seconds > 0{extra}, got {value!r}")
    return float(value)


class AsyncJob:
    """The async action(s) started by one bulk update or CSV import.

    ``update_in_bulk``, ``update_metadata_in_bulk`` and ``import_csv`` return one; it covers
    every request the call needed under the API's 10 MB limit. ``async_action_ids`` lists
    the actions; ``async_action_id`` is the only one when there is one.

    Examples:
        ```python
        job = await vf.customers.update_in_bulk(customers)
        job.async_action_ids
        # ['aa_0b4f...', 'aa_0b50...']
        result = await job.wait(timeout=600)
        result.done_count, [e.source_id for e in result.errors]
        # (49998, ['bad-1', 'bad-2'])
        ```
    """

    def __init__(self, get: GetAction, parts: Sequence[JobPart]) -> None:
        self._get = get
        self.parts: tuple[JobPart, ...] = tuple(parts)
        self._latest: dict[str, AsyncAction] = {}
        self._last_error: Exception | None = None

    def __repr__(self) -> str:
        states = ", ".join(
            f"{part.async_action_id}:{self._status(part.async_action_id)}" for part in self.parts
        )
        return f"<AsyncJob {states or 'no actions'}>"

    def _status(self, async_action_id: str) -> str:
        action = self._latest.get(async_action_id)
        return (action.status or "?") if action is not None else "not polled"

    @property
    def async_action_ids(self) -> list[str]:
        """The ids of the job's async actions, in the order they were started."""
        return [part.async_action_id for part in self.parts]

    @property
    def async_action_id(self) -> str:
        """The id of the job's async action, when it has exactly one.

        Raises:
            AttributeError: the job has several actions (use ``async_action_ids``).
        """
        if len(self.parts) != 1:
            raise AttributeError(
                f"this job has {len(self.parts)} async actions, not one; use .async_action_ids"
            )
        return self.parts[0].async_action_id

    @property
    def actions(self) -> list[AsyncAction]:
        """The last seen state of each action polled so far, in the order they were started."""
        return [
            self._latest[part.async_action_id]
            for part in self.parts
            if part.async_action_id in self._latest
        ]

    @property
    def finished(self) -> bool:
        """Whether every action was last seen ``DONE`` or ``FAILED``."""
        return all(self._final(part) for part in self.parts)

    def progress(self) -> JobProgress:
        """Progress as of the last poll."""
        return job_progress(
            self.parts, [self._latest.get(part.async_action_id) for part in self.parts]
        )

    async def refresh(self) -> list[AsyncAction]:
        """Read every unfinished action once and return the state of all of them.

        Raises:
            APIError: a read failed.
        """
        await self._poll(tolerant=False)
        return self.actions

    async def wait(
        self,
        *,
        # A deadline the job is waited against, as openai's and stripe's pollers take one.
        timeout: float | None = None,  # noqa: ASYNC109
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        on_progress: ProgressCallback | None = None,
    ) -> AsyncJobResult:
        """Poll until every action is ``DONE`` or ``FAILED``; return the combined result.

        The first poll is immediate; then the wait between polls starts at
        ``poll_interval`` and grows 1.5 times per poll up to ``max_poll_interval``. A poll
        that fails with a connection error, a 5xx, a 423 or a 429 is tried again at the
        next interval (after 10 rounds in a row of nothing but such failures the last one
        is raised); other errors (a 404 for an unknown id, a 401, a spent quota) are
        raised at once.

        Args:
            timeout: seconds to wait in all (``None``: no limit).
            poll_interval: the first wait between polls, in seconds.
            max_poll_interval: the longest wait between polls, in seconds.
            on_progress: called with a `JobProgress` after each poll that changed
                something; it may be a coroutine function.

        Returns:
            The `AsyncJobResult`; per-customer failures are in it, not raised.

        Raises:
            AsyncActionFailedError: an action ended ``FAILED`` (raised once all finished;
                ``.result`` holds everything).
            AsyncActionTimeoutError: ``timeout`` passed first; the actions keep running.

        Examples:
            ```python
            result = await job.wait(timeout=300, on_progress=print)
            ```
        """
        limit = _check_seconds(timeout, "timeout", allow_none=True)
        first = _check_seconds(poll_interval, "poll_interval")
        cap = _check_seconds(max_poll_interval, "max_poll_interval")
        assert first is not None and cap is not None
        delays = poll_delays(first, max(first, cap))
        reported: tuple[object, ...] | None = None
        failed_rounds = 0
        with anyio.move_on_after(limit):
            while True:
                answered = await self._poll(tolerant=True)
                failed_rounds = 0 if answered else failed_rounds + 1
                if failed_rounds >= _MAX_FAILED_ROUNDS and self._last_error is not None:
                    raise self._last_error
                progress = self.progress()
                state = (progress.done, tuple(a.status for a in progress.actions))
                if on_progress is not None and state != reported:
                    reported = state
                    outcome = on_progress(progress)
                    if inspect.isawaitable(outcome):
                        await outcome
                if self.finished:
                    break
                await anyio.sleep(next(delays))
        if not self.finished:
            assert limit is not None
            raise AsyncActionTimeoutError(
                limit, self.async_action_ids, self.actions, self.progress()
            )
        result = combine_results(self.parts, self.actions)
        if any(action.status == AsyncActionStatus.FAILED for action in result.actions):
            raise AsyncActionFailedError(result)
        return result

    def _final(self, part: JobPart) -> bool:
        action = self._latest.get(part.async_action_id)
        return action is not None and action.is_final

    async def _poll(self, *, tolerant: bool) -> bool:
        """Read the unfinished actions; return whether any read succeeded (or none was due)."""
        due = [part.async_action_id for part in self.parts if not self._final(part)]
        if not due:
            return True
        answers = await fan_out(
            self._get, due, concurrency=_POLL_CONCURRENCY, return_exceptions=True
        )
        answered = False
        for async_action_id, answer in zip(due, answers, strict=True):
            if isinstance(answer, AsyncAction):
                self._latest[async_action_id] = answer
                answered = True
            elif (
                tolerant
                and isinstance(answer, _TRANSIENT)
                and not isinstance(answer, QuotaExceededError)  # no wait brings calls back
            ):
                log.info("polling async action %s failed (%s); polling on", async_action_id, answer)
                self._last_error = answer
            else:
                raise answer
        return answered


async def submit_in_parts(
    send: Callable[[bytes], Awaitable[str]],
    get: GetAction,
    parts: Sequence[range],
    body: Callable[[range], bytes],
) -> AsyncJob:
    """Send one request per part, in order, and return the job over the actions started.

    ``send`` posts a body and returns the async action id; ``body`` builds a part's body
    when it is its turn, so only one is in memory at a time.

    Raises:
        PartialSubmissionError: a request after the first failed (``first_unsent`` is the
            first index of its part).
        Exception: the first request failed: its own error, as nothing was started.
    """
    started: list[JobPart] = []
    for part in parts:
        try:
            async_action_id = await send(body(part))
        except Exception as exc:
            if not started:
                raise
            raise PartialSubmissionError(AsyncJob(get, started), part.start, exc) from exc
        started.append(JobPart(async_action_id, size=len(part)))
    return AsyncJob(get, started)
