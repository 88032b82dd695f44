"""Async action models: the jobs that bulk updates and CSV imports start."""

from __future__ import annotations

from datetime import datetime

import msgspec

from ._base import Model

__all__ = [
    "AsyncAction",
    "AsyncActionErrorDetail",
    "AsyncActionFailure",
    "AsyncActionList",
    "AsyncActionResult",
    "AsyncActionStatus",
    "AsyncJobResult",
    "JobProgress",
]


class AsyncActionFailure(Model):
    """One row or item an import could not process, and why (``row`` counts from 1, no header)."""

    source_id: str | None = None
    code: str | None = None
    row: int | None = None
    reason: str | None = None


class AsyncActionErrorDetail(Model):
    """One customer a bulk update could not process, and why."""

    message: str | None = None
    details: str | None = None
    key: str | None = None
    source_id: str | None = None


class AsyncActionResult(Model):
    """The result of an async action.

    The API's result shape depends on the action ``type``: imports fill ``message``, ``failed``
    and the counts; bulk and metadata updates fill the counts, ``reports`` and ``errors``. Fields
    a type does not use stay empty.
    """

    message: str | None = None
    done_count: int | None = None
    failed_count: int | None = None
    failed: list[AsyncActionFailure] = msgspec.field(default_factory=list)
    errors: list[AsyncActionErrorDetail] = msgspec.field(default_factory=list)
    reports: list[str] = msgspec.field(default_factory=list)
    reports_available_till: datetime | None = None


class AsyncActionStatus:
    """The API's async action statuses; ``DONE`` and ``FAILED`` are final.

    A new action is ``ENQUEUED`` (for as long as the project's earlier jobs take), then
    ``IN_PROGRESS``, then ``DONE`` or ``FAILED``. There is no ``ACCEPTED`` status:
    "accepted" is only the ``202`` of the request that started the action.
    """

    ENQUEUED = "ENQUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    FAILED = "FAILED"
    FINAL = frozenset({DONE, FAILED})


class AsyncAction(Model):
    """An async action: its ``type``, ``status``, ``progress`` (0..100) and, once done, result."""

    id: str
    type: str | None = None
    status: str | None = None
    operation_status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    request_id: str | None = None
    processing_time: int | None = None
    progress: int | None = None
    result: AsyncActionResult | None = None
    object: str = "async_action"

    @property
    def is_final(self) -> bool:
        """Whether the action has finished (``DONE`` or ``FAILED``)."""
        return self.status in AsyncActionStatus.FINAL


class AsyncActionList(Model):
    """One page of ``GET /v1/async-actions`` (newest first)."""

    async_actions: list[AsyncAction] = msgspec.field(default_factory=list)
    has_more: bool | None = None
    object: str = "list"
    data_ref: str = "async_actions"


class JobProgress(msgspec.Struct, frozen=True, kw_only=True):
    """How far a job has come, as an ``on_progress`` callback receives it.

    ``done`` and ``total`` count customers or rows when the job knows how many each action
    carries, and percentage points (100 per action) otherwise.

    Examples:
        ```python
        bar = tqdm(total=len(customers))
        await job.wait(on_progress=lambda p: bar.update(p.done - bar.n))
        ```
    """

    done: int
    total: int
    actions: list[AsyncAction]

    @property
    def fraction(self) -> float:
        """``done / total``, from 0.0 to 1.0."""
        return self.done / self.total if self.total else 1.0

    @property
    def finished(self) -> bool:
        """Whether every action is ``DONE`` or ``FAILED``."""
        return all(action.is_final for action in self.actions)


class AsyncJobResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a finished job did, across all its async actions.

    Attributes:
        actions: the final state of each action, in the order they were started.
        done_count: customers or rows processed successfully.
        failed_count: customers or rows that failed.
        failed: the CSV rows that failed (``row`` numbered across the whole input, from 1
            after the header), with ``source_id`` and ``reason``.
        errors: the customers a bulk update could not process (``source_id``, ``key``,
            ``message``, ``details``).

    Examples:
        ```python
        result = await job.wait()
        for failure in result.failed:
            print(failure.row, failure.source_id, failure.reason)
        ```
    """

    actions: list[AsyncAction]
    done_count: int = 0
    failed_count: int = 0
    failed: list[AsyncActionFailure] = msgspec.field(default_factory=list)
    errors: list[AsyncActionErrorDetail] = msgspec.field(default_factory=list)

    @property
    def async_action_ids(self) -> list[str]:
        """The ids of the actions, in the order they were started."""
        return [action.id for action in self.actions]

    @property
    def succeeded(self) -> bool:
        """Whether every action is ``DONE`` and no customer or row failed."""
        return (
            all(action.status == AsyncActionStatus.DONE for action in self.actions)
            and self.failed_count == 0
        )
