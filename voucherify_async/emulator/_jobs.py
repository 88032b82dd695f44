"""Async actions: bulk update, metadata update and CSV import, run by one worker.

A request answers 202 with the action id at once; the single background worker then
processes actions strictly in submission order: ``ENQUEUED`` (behind the earlier ones) ->
``IN_PROGRESS`` -> ``DONE``, or ``FAILED`` if processing itself breaks (the 202 is the only
"accepted"; there is no such status). ``operation_status`` is ``UNKNOWN`` until the end,
then ``SUCCESS`` (every item went through) or ``FAILED`` (some did not); ``progress`` is
0-100 and ``processing_time`` the milliseconds spent in progress so far.
``job_item_delay_ms`` slows each item down so tests can watch IN_PROGRESS and
``progress``. Every change a job makes records the same activity events as the
single-customer endpoints, grouped under the job's request id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from ._config import Settings
from ._csv import CsvDocument, RowChange, RowError
from ._store import DuplicateSourceId, Store
from ._time import format_ms, now_ms
from ._validation import FieldError, validate_customer_fields

__all__ = [
    "AsyncAction",
    "BulkUpdateWork",
    "CsvImportWork",
    "JobRunner",
    "MetadataUpdateWork",
    "Work",
]

_REPORTS_KEPT_MS = 7 * 86_400_000
# Without a configured delay, yield to the event loop this often so requests still flow.
_YIELD_EVERY = 256


class AsyncAction(msgspec.Struct):
    """One async action as the ``/v1/async-actions`` endpoints show it."""

    id: str
    type: str
    request_id: str
    created_at: int
    updated_at: int
    status: str = "ENQUEUED"
    progress: int = 0
    processing_time: int = 0
    operation_status: str = "UNKNOWN"
    result: dict[str, Any] | None = None
    started: float | None = None  # monotonic seconds when it went IN_PROGRESS

    def to_json(self, *, with_result: bool) -> dict[str, Any]:
        """Render as ``AsyncActionBase`` (list) or ``AsyncAction`` (with ``result``)."""
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "status": self.status,
            "operation_status": self.operation_status,
        }
        if with_result and self.result is not None:
            out["result"] = self.result
        out["created_at"] = format_ms(self.created_at)
        out["updated_at"] = format_ms(self.updated_at)
        out["request_id"] = self.request_id
        out["progress"] = self.progress
        out["processing_time"] = self.processing_time
        if self.status == "IN_PROGRESS" and self.started is not None:
            out["processing_time"] = round((time.monotonic() - self.started) * 1000)
        out["object"] = "async_action"
        return out


class Work(Protocol):
    """The items of one async action and how to apply each."""

    type: str

    @property
    def size(self) -> int:
        """How many items the job has."""

    def step(self, store: Store, position: int, group_id: str) -> None:
        """Apply item ``position``, recording its success or failure."""

    def result(self) -> dict[str, Any]:
        """The action's ``result`` once every item ran."""


class _Counted:
    def __init__(self) -> None:
        self.done = 0
        self.errors: list[dict[str, Any]] = []

    def bulk_result(self) -> dict[str, Any]:
        return {
            "done_count": self.done,
            "failed_count": len(self.errors),
            "reports": [],
            "reports_available_till": format_ms(now_ms() + _REPORTS_KEPT_MS),
            "errors": self.errors,
        }


class BulkUpdateWork(_Counted):
    """``POST /v1/customers/bulk/async``: upsert each item by its ``source_id``.

    An item that is not an object, has no ``source_id``, or has a field of the wrong type
    fails on its own (listed in ``errors``); the others go through.
    """

    type = "CUSTOMERS.BULK_UPDATE"

    def __init__(self, items: Sequence[Any]) -> None:
        super().__init__()
        self.items = items

    @property
    def size(self) -> int:
        """How many items the job has."""
        return len(self.items)

    def step(self, store: Store, position: int, group_id: str) -> None:
        """Upsert item ``position``."""
        item = self.items[position]
        source_id = item.get("source_id") if isinstance(item, dict) else None
        label = source_id if isinstance(source_id, str) else ""
        try:
            if not isinstance(item, dict):
                raise FieldError(f"[{position}]: must be a customer object")
            if not isinstance(source_id, str) or not source_id:
                raise FieldError("source_id: is required and must be a non-empty string")
            fields = validate_customer_fields(item, with_source_id=True)
        except FieldError as exc:
            self.errors.append(_error_item(str(exc), label))
            return
        customer = store.by_source.get(source_id)
        if customer is None:
            store.create(fields, source_id=source_id, group_id=group_id)
        else:
            store.update(customer, fields, group_id=group_id)
        self.done += 1

    def result(self) -> dict[str, Any]:
        """``done_count``, ``failed_count``, ``reports``, ``errors``."""
        return self.bulk_result()


class MetadataUpdateWork(_Counted):
    """``POST /v1/customers/metadata/async``: merge ``metadata`` into each customer.

    Unknown source ids are upserted as new customers holding that metadata.
    """

    type = "CUSTOMERS.METADATA_UPDATE"

    def __init__(self, source_ids: Sequence[Any], metadata: dict[str, Any]) -> None:
        super().__init__()
        self.source_ids = source_ids
        self.metadata = metadata

    @property
    def size(self) -> int:
        """How many source ids the job has."""
        return len(self.source_ids)

    def step(self, store: Store, position: int, group_id: str) -> None:
        """Merge the metadata into customer ``position``."""
        source_id = self.source_ids[position]
        if not isinstance(source_id, str) or not source_id:
            self.errors.append(
                _error_item(f"source_ids[{position}]: must be a non-empty string", "")
            )
            return
        customer = store.by_source.get(source_id)
        if customer is None:
            store.create({"metadata": dict(self.metadata)}, source_id=source_id, group_id=group_id)
        else:
            merged = {**(customer.metadata or {}), **self.metadata}
            store.update(customer, {"metadata": merged}, group_id=group_id)
        self.done += 1

    def result(self) -> dict[str, Any]:
        """``done_count``, ``failed_count``, ``reports``, ``errors``."""
        return self.bulk_result()


class CsvImportWork:
    """``POST /v1/customers/importCSV``: import the rows of a checked CSV document.

    A row with ``Id`` updates that customer (failing if it does not exist); a row with
    ``Source_id`` upserts by it; a row with neither creates a customer.
    """

    type = "CUSTOMERS.IMPORT_CSV"

    def __init__(self, document: CsvDocument) -> None:
        self.document = document
        self.done = 0
        self.failed: list[dict[str, Any]] = []

    @property
    def size(self) -> int:
        """How many data rows the file has."""
        return len(self.document.rows)

    def step(self, store: Store, position: int, group_id: str) -> None:
        """Import row ``position``."""
        number, cells = self.document.rows[position]
        change: RowChange | None = None
        try:
            change = self.document.convert(number, cells)
            _apply_row(store, change, group_id)
        except RowError as exc:
            source_id = change.source_id if change is not None else None
            if source_id is None:
                source_id = _guess_source_id(self.document, cells)
            self.failed.append({"source_id": source_id, "row": number, "reason": str(exc)})
            return
        self.done += 1

    def result(self) -> dict[str, Any]:
        """``message``, ``failed``, ``done_count``, ``failed_count``."""
        if self.document.broken is not None:
            number, reason = self.document.broken
            self.failed.append({"source_id": "", "row": number, "reason": reason})
        return {
            "message": (
                f"{self.done} customer(s) imported successfully, {len(self.failed)} failed."
            ),
            "failed": self.failed,
            "done_count": self.done,
            "failed_count": len(self.failed),
        }


def _apply_row(store: Store, change: RowChange, group_id: str) -> None:
    fields: dict[str, Any] = dict(change.fields)
    if change.customer_id is not None:
        customer = store.by_id.get(change.customer_id)
        if customer is None:
            raise RowError(f"Cannot find customer with id {change.customer_id}")
        if change.source_id is not None:
            fields["source_id"] = change.source_id
    elif change.source_id is not None:
        customer = store.by_source.get(change.source_id)
    else:
        customer = None
    if customer is None:
        if change.address:
            fields["address"] = dict(change.address)
        if change.metadata:
            fields["metadata"] = dict(change.metadata)
        store.create(fields, source_id=change.source_id, group_id=group_id)
        return
    if change.address:
        fields["address"] = {**(customer.address or {}), **change.address}
    if change.metadata:
        fields["metadata"] = {**(customer.metadata or {}), **change.metadata}
    try:
        store.update(customer, fields, group_id=group_id)
    except DuplicateSourceId as exc:
        raise RowError(f"Source_id {exc} is already used by another customer") from None


def _guess_source_id(document: CsvDocument, cells: list[str]) -> str:
    for column, cell in zip(document.columns, cells, strict=False):
        if column.lower() == "source_id":
            return cell.strip()
    return ""


def _error_item(details: str, source_id: str) -> dict[str, Any]:
    return {
        "message": "Invalid customer",
        "details": details,
        "key": "invalid_customer",
        "source_id": source_id,
    }


class JobRunner:
    """Holds the async actions and the one worker task that runs them in order.

    Example::

        runner = JobRunner(store, settings)
        await runner.start()
        action = runner.submit(BulkUpdateWork(items), request_id="v-...")
        ...
        await runner.stop()
    """

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.actions: dict[str, AsyncAction] = {}
        self._queue: asyncio.Queue[tuple[AsyncAction, Work]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the worker on the running loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(
            self._work(self._queue), name="voucherify-emulator-jobs"
        )

    async def stop(self) -> None:
        """Stop the worker; an action in progress stays IN_PROGRESS."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._queue = None

    async def reset(self) -> None:
        """Drop every action, queued ones included, and restart the worker."""
        running = self._task is not None
        await self.stop()
        self.actions.clear()
        if running:
            await self.start()

    def submit(self, work: Work, *, request_id: str) -> AsyncAction:
        """Queue ``work`` as a new ENQUEUED action and return it."""
        if self._queue is None:
            raise RuntimeError("the job worker is not running (the app has not started)")
        now = now_ms()
        action = AsyncAction(
            id=self.store.ids.hex("aa_"),
            type=work.type,
            request_id=request_id,
            created_at=now,
            updated_at=now,
        )
        self.actions[action.id] = action
        self._queue.put_nowait((action, work))
        return action

    def newest(self, *, limit: int, before_ms: int | None) -> tuple[list[AsyncAction], bool]:
        """Up to ``limit`` actions created before ``before_ms``, newest first, + has_more."""
        picked: list[AsyncAction] = []
        for action in reversed(self.actions.values()):
            if before_ms is not None and action.created_at >= before_ms:
                continue
            if len(picked) == limit:
                return picked, True
            picked.append(action)
        return picked, False

    async def _work(self, queue: asyncio.Queue[tuple[AsyncAction, Work]]) -> None:
        while True:
            action, work = await queue.get()
            await self._run(action, work)

    async def _run(self, action: AsyncAction, work: Work) -> None:
        started = time.monotonic()
        action.started = started
        action.status = "IN_PROGRESS"
        action.updated_at = now_ms()
        try:
            total = work.size
            for position in range(total):
                work.step(self.store, position, action.request_id)
                action.progress = (position + 1) * 100 // total
                action.updated_at = now_ms()
                delay = self.settings.job_item_delay_ms
                if delay > 0:
                    await asyncio.sleep(delay / 1000.0)
                elif position % _YIELD_EVERY == _YIELD_EVERY - 1:
                    await asyncio.sleep(0)
            result = work.result()
        except Exception as exc:  # a broken job must not take the worker down with it
            action.status = "FAILED"
            action.operation_status = "FAILED"
            action.result = {"message": f"The async action failed: {exc!r}"}
        else:
            action.status = "DONE"
            failed = result.get("failed_count", 0)
            action.operation_status = "SUCCESS" if not failed else "FAILED"
            action.result = result
            action.progress = 100
        action.processing_time = round((time.monotonic() - started) * 1000)
        action.updated_at = now_ms()
