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
