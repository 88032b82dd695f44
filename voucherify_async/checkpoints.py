"""Checkpointed partition scans: a crashed worker's partition resumes where it stopped.

A partition's progress is a small `Checkpoint`: the scan position after the last page
handed to the sink (a `resume_from` token of ``customers.list``), plus counts. The scan
saves it after each page, in a pluggable `CheckpointStore` (in memory, Redis, or the
sink's own database). A partition started again after a crash loads it and resumes after
the last saved page:

* at least once, at page granularity, with a separate store: a crash after the sink took a
  page but before its checkpoint was saved hands that page over again (make the sink
  idempotent, an upsert by id);
* exactly once when the sink is also the store and commits each page and its checkpoint
  in one transaction (see `voucherify_async.contrib.sqlite.SQLiteSink`): the page and the
  checkpoint are either both written or neither is.

A stored checkpoint that does not belong to the partition (other filters, another order,
another window) or cannot be read is refused with `CheckpointError`: a scan never restarts
from zero nor skips ahead on its own.

Examples:
    ```python
    from voucherify_async.checkpoints import scan_partition
    from voucherify_async.contrib.sqlite import SQLiteSink

    parts = await vf.customers.partition(8)
    sink = SQLiteSink("customers.db")
    result = await scan_partition(vf, parts[3], sink, key="nightly-2026-01-01:3")
    ```
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Protocol, runtime_checkable

import msgspec

from ._core.scan import ScanPosition
from ._exceptions import CheckpointError

if TYPE_CHECKING:
    from ._client import AsyncVoucherify
    from .models import Customer
    from .resources._partition import CustomerPartition

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "CheckpointStore",
    "MemoryCheckpointStore",
    "PageSink",
    "PartitionResult",
    "partition_fingerprint",
    "scan_partition",
]

_NonNegative = Annotated[int, msgspec.Meta(ge=0)]


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where a partition's scan stands after the last page the sink took.

    Attributes:
        partition: `partition_fingerprint` of the partition it belongs to.
        position: the ``resume_from`` token after that page (``None``: nothing yet).
        pages: pages handed to the sink so far.
        items: customers handed to the sink so far.
        done: whether the partition was scanned to its end.
    """

    partition: str
    position: str | None = None
    pages: _NonNegative = 0
    items: _NonNegative = 0
    done: bool = False
    version: int = 1

    def encode(self) -> bytes:
        """The checkpoint as compact JSON bytes."""
        return msgspec.json.encode(self)

    @classmethod
    def decode(cls, data: bytes, *, key: str, partition: str) -> Checkpoint:
        """Read a stored checkpoint and check it belongs to ``partition`` (a fingerprint).

        Raises:
            CheckpointError: not a checkpoint, another partition's, or an unknown version.
        """
        try:
            checkpoint = msgspec.json.decode(data, type=cls)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            raise CheckpointError(
                f"the checkpoint stored under {key!r} is not a checkpoint ({exc}); delete it"
                " to scan the partition from its start"
            ) from None
        if checkpoint.version != 1:
            raise CheckpointError(
                f"the checkpoint stored under {key!r} has version {checkpoint.version}; this"
                " version of voucherify-async reads version 1"
            )
        if checkpoint.partition != partition:
            raise CheckpointError(
                f"the checkpoint stored under {key!r} belongs to another partition (other"
                " filters, order or created_at window): refusing to resume from it; use"
                " another key or delete it"
            )
        return checkpoint


@runtime_checkable
class CheckpointStore(Protocol):
    """Where checkpoints are kept, by key (one key per partition of one scan)."""

    async def load(self, key: str) -> bytes | None:
        """The checkpoint saved under ``key``, or ``None`` if there is none."""
        ...

    async def save(self, key: str, checkpoint: bytes) -> None:
        """Save (replace) the checkpoint under ``key``."""
        ...


@runtime_checkable
class PageSink(Protocol):
    """Takes each page of a partition's customers (those inside its window).

    ``checkpoint`` is where the scan stands once this page is taken: a sink that is also the
    `CheckpointStore` commits it with the page, in one transaction, for exactly-once.
    """

    async def write(self, key: str, customers: Sequence[Customer], checkpoint: bytes) -> None:
        """Take one page of customers."""
        ...


class MemoryCheckpointStore:
    """Checkpoints in a dict: for tests and for one process that may retry a partition."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def load(self, key: str) -> bytes | None:
        """The checkpoint saved under ``key``, or ``None``."""
        return self.data.get(key)

    async def save(self, key: str, checkpoint: bytes) -> None:
        """Save the checkpoint under ``key``."""
        self.data[key] = checkpoint


@dataclass(frozen=True)
class PartitionResult:
    """What one run of `scan_partition` did.

    Attributes:
        key: the checkpoint key.
        pages: pages handed to the sink by this run.
        items: customers handed to the sink by this run.
        total_items: customers handed to the sink by every run of this partition.
        resumed: whether this run started from a saved checkpoint.
        done: whether the partition is scanned to its end (``False``: this run stopped at
            ``max_seconds``; run it again with the same key to go on from its checkpoint).
        total_pages: pages handed to the sink by every run of this partition.
    """

    key: str
    pages: int
    items: int
    total_items: int
    resumed: bool
    done: bool = True
    total_pages: int = 0


def partition_fingerprint(partition: CustomerPartition) -> str:
    """A short hash of what a partition lists: its filters, order and window.

    Args:
        partition: the partition.

    Returns:
        16 hex digits; equal for partitions that list the same customers in the same order.
    """
    arguments: dict[str, Any] = partition.list_arguments()
    raw = msgspec.json.encode(sorted(arguments.items()))
    return hashlib.sha256(raw).hexdigest()[:16]


async def scan_partition(
    client: AsyncVoucherify,
    partition: CustomerPartition,
    sink: PageSink,
    *,
    store: CheckpointStore | None = None,
    key: str | None = None,
    limit: int = 100,
    max_seconds: float | None = None,
) -> PartitionResult:
    """Scan one partition into ``sink`` page by page, saving a checkpoint after each page.

    Args:
        client: the client to list with.
        partition: the partition (from ``vf.customers.partition(n)``).
        sink: takes every page; it must be idempotent (upsert by id) unless it is also the
            store and commits page and checkpoint together.
        store: where checkpoints are kept; ``None``: the sink itself, which must then be a
            `CheckpointStore` too (exactly-once).
        key: the checkpoint key; by default the partition's fingerprint and index. Use one
            key per partition of one scan (a new scan of the same partition needs a new key).
        limit: customers per page (1 to 100).
        max_seconds: stop after this many seconds, at a page boundary, with the partition
            not done (``PartitionResult.done`` is ``False``): a page not fetched by then is
            abandoned (nothing of it was written) and the run returns once the last page it
            fetched is written and checkpointed. Run it again with the same key to go on.
            ``None``: scan to the end.

    Returns:
        What this run did.

    Raises:
        CheckpointError: the stored checkpoint does not belong to this partition or cannot
            be read; nothing was fetched.
        TypeError: ``store`` is ``None`` and the sink is not a `CheckpointStore`.
        ValueError: ``max_seconds`` is not positive.
    """
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be a positive number of seconds, got {max_seconds!r}")
    if not isinstance(sink, PageSink):
        raise TypeError(f"sink must have an async write(key, customers, checkpoint), got {sink!r}")
    if store is None:
        if not isinstance(sink, CheckpointStore):
            raise TypeError(
                "store=None means the sink keeps the checkpoints, but the sink has no"
                " load()/save(); pass store= (for example a RedisCheckpointStore)"
            )
        store = sink
    transactional = store is sink  # type: ignore[comparison-overlap]
    fingerprint = partition_fingerprint(partition)
    key = key if key is not None else f"{fingerprint}:{partition.index}"
    raw = await store.load(key)
    checkpoint = (
        Checkpoint(partition=fingerprint)
        if raw is None
        else Checkpoint.decode(raw, key=key, partition=fingerprint)
    )
    resumed = raw is not None
    if checkpoint.done:
        return PartitionResult(
            key, 0, 0, checkpoint.items, resumed, done=True, total_pages=checkpoint.pages
        )
    position = ScanPosition()
    if checkpoint.position is not None:
        try:
            position = ScanPosition.loads(checkpoint.position)
        except (TypeError, ValueError):
            raise CheckpointError(
                f"the checkpoint stored under {key!r} holds no readable scan position"
            ) from None
        if position.boundary is None or not partition.contains(position.boundary):
            raise CheckpointError(
                f"the checkpoint stored under {key!r} points outside the partition's"
                " created_at window: refusing to skip ahead"
            )
    pages = items = 0
    total_items = checkpoint.items
    last_position = checkpoint.position
    pager = client.customers.list(
        **partition.list_arguments(), limit=limit, resume_from=checkpoint.position
    )
    loop = asyncio.get_running_loop()
    deadline = None if max_seconds is None else loop.time() + max_seconds
    pages_left = pager.pages()
    try:
        while True:
            page = await _next_page(pages_left, deadline, loop)
            if page is None:
                break
            if page is _STOPPED:
                return PartitionResult(
                    key,
                    pages,
                    items,
                    total_items,
                    resumed,
                    done=False,
                    total_pages=checkpoint.pages + pages,
                )
            batch = []
            for customer in page.customers:
                if customer.created_at is not None:
                    position.advance(customer.created_at, customer.id)
                if partition.contains(customer.created_at):
                    batch.append(customer)
            pages += 1
            items += len(batch)
            total_items += len(batch)
            after = Checkpoint(
                partition=fingerprint,
                position=position.dumps() if position.boundary is not None else None,
                pages=checkpoint.pages + pages,
                items=total_items,
            )
            encoded = after.encode()
            await sink.write(key, batch, encoded)
            if not transactional:
                await store.save(key, encoded)
            last_position = after.position
    finally:
        await pages_left.aclose()
    final = Checkpoint(
        partition=fingerprint,
        position=last_position,
        pages=checkpoint.pages + pages,
        items=total_items,
        done=True,
    )
    await store.save(key, final.encode())
    return PartitionResult(
        key, pages, items, total_items, resumed, done=True, total_pages=checkpoint.pages + pages
    )


_STOPPED: Any = object()


async def _next_page(pages: AsyncGenerator[Any, None], deadline: float | None, loop: Any) -> Any:
    """The next page; ``None`` at the end; `_STOPPED` when ``deadline`` (loop time) came
    first (the fetch under way is cancelled: nothing of that page reached the sink)."""
    if deadline is None:
        return await anext(pages, None)
    remaining = deadline - loop.time()
    if remaining <= 0:
        return _STOPPED
    try:
        return await asyncio.wait_for(anext(pages, None), remaining)
    except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
        if loop.time() >= deadline:
            return _STOPPED
        raise
