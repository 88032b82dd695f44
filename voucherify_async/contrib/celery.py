"""Scanning partitions on Celery workers (extra ``celery``), with checkpoints and a shared limit.

`install` registers two tasks on a Celery app: one that scans one partition (``asyncio.run``
inside the task, so it runs on the default prefork pool) and one that adds up the counts of
a finished scan. `ScanTasks.canvas` fans a full scan out over partitions as a chord.

The scan task is ``acks_late=True`` and ``reject_on_worker_lost=True``: its message is
acknowledged only once the partition is done, and a worker process that dies (killed, out
of memory) puts it back on the queue; the next worker resumes from the partition's last
checkpoint instead of starting over. Give every worker the same Redis rate limiter (one
key's budget) and the same checkpoint store.

The factories are called inside the task, in the worker process and in the task's event
loop, so clients and Redis connections are never shared across processes or loops.

Examples:
    ```python
    # tasks.py, imported by every worker (celery -A tasks worker)
    app = Celery("scan", broker=REDIS_URL, backend=REDIS_URL)
    tasks = install(
        app,
        client=lambda limiter: AsyncVoucherify(rate_limiter=limiter),
        limiter=lambda: RedisRateLimiter(REDIS_URL, app_id=os.environ["VOUCHERIFY_APP_ID"]),
        sink=lambda scan_id: SQLiteSink(f"/data/{scan_id}.db"),
    )

    # anywhere: split the scan and send it out
    parts = await vf.customers.partition(32)
    counts = tasks.canvas(parts, scan_id="nightly-2026-01-01").apply_async().get()
    ```
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..checkpoints import CheckpointStore, PageSink, scan_partition
from ..resources._partition import CustomerPartition

try:
    import celery
    from celery import Celery
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "voucherify_async.contrib.celery needs celery: pip install 'voucherify-async[celery]'"
    ) from exc

if TYPE_CHECKING:
    from .._client import AsyncVoucherify

__all__ = ["ScanTasks", "install"]


@dataclass(frozen=True)
class ScanTasks:
    """The tasks `install` registered.

    Attributes:
        scan: ``scan(partition_json, scan_id, limit=100, trace=None)`` scans one partition
            (in the trace of the caller of `canvas`, given as W3C headers, with
            OpenTelemetry installed) and returns
            ``{"index", "pages", "items", "total_items", "resumed"}``.
        gather: adds up the results of ``scan`` over a whole scan.
    """

    scan: Any
    gather: Any

    def canvas(
        self, partitions: Sequence[CustomerPartition], scan_id: str, *, limit: int = 100
    ) -> Any:
        """A chord that scans every partition in parallel, then gathers the counts.

        Args:
            partitions: from ``vf.customers.partition(n)``.
            scan_id: names this scan: checkpoints are kept per scan and partition, so a
                new scan of the same data needs a new id.
            limit: customers per page.

        Returns:
            A Celery chord; ``.apply_async().get()`` gives ``{"partitions", "pages",
            "items", "resumed"}``.
        """
        if not isinstance(scan_id, str) or not scan_id or ":" in scan_id:
            raise ValueError(f"scan_id must be a non-empty string without ':', got {scan_id!r}")
        carrier = _trace_carrier()
        traced = {"trace": carrier} if carrier else {}
        header = celery.group(
            self.scan.s(part.dumps().decode(), scan_id, limit, **traced) for part in partitions
        )
        return celery.chord(header, self.gather.s())


def install(
    app: Celery,
    *,
    client: Callable[[Any], AsyncVoucherify],
    sink: Callable[[str], PageSink],
    limiter: Callable[[], Any] | None = None,
    store: Callable[[], CheckpointStore | None] | None = None,
    name: str = "voucherify_async.scan_partition",
) -> ScanTasks:
    """Register the partition-scan tasks on ``app``.

    Args:
        app: the Celery app.
        client: builds the client from the limiter (``None`` when ``limiter`` is not given),
            as ``AsyncVoucherify(rate_limiter=limiter)``.
        sink: builds the sink for a scan id.
        limiter: builds the shared rate limiter (a `RedisRateLimiter`); its ``aclose`` is
            awaited after the task.
        store: builds the checkpoint store; ``None`` or returning ``None``: the sink keeps
            the checkpoints itself (exactly-once).
        name: the scan task's name (the gather task is ``name + "_gather"``).

    Returns:
        The registered tasks.
    """

    async def run(
        partition: CustomerPartition, scan_id: str, limit: int, trace: dict[str, str] | None
    ) -> dict[str, Any]:
        with _traced_partition(trace, partition.index, scan_id):
            return await scan(partition, scan_id, limit)

    async def scan(partition: CustomerPartition, scan_id: str, limit: int) -> dict[str, Any]:
        shared = limiter() if limiter is not None else None
        checkpoints = store() if store is not None else None
        try:
            async with client(shared) as vf:
                result = await scan_partition(
                    vf,
                    partition,
                    sink(scan_id),
                    store=checkpoints,
                    key=f"{scan_id}:{partition.index}",
                    limit=limit,
                )
        finally:
            for closable in (shared, checkpoints):
                close = getattr(closable, "aclose", None)
                if close is not None:
                    await close()
        return {
            "index": partition.index,
            "pages": result.pages,
            "items": result.items,
            "total_items": result.total_items,
            "resumed": result.resumed,
        }

    @app.task(name=name, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def scan_task(
        partition: str, scan_id: str, limit: int = 100, trace: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return asyncio.run(run(CustomerPartition.loads(partition), scan_id, limit, trace))

    @app.task(name=f"{name}_gather")  # type: ignore[untyped-decorator]
    def gather(results: list[dict[str, Any]]) -> dict[str, int]:
        return {
            "partitions": len(results),
            "pages": sum(r["pages"] for r in results),
            "items": sum(r["total_items"] for r in results),
            "resumed": sum(1 for r in results if r["resumed"]),
        }

    return ScanTasks(scan=scan_task, gather=gather)


def _trace_carrier() -> dict[str, str] | None:
    """The caller's trace context as W3C headers, when OpenTelemetry is installed."""
    try:
        from opentelemetry import propagate
    except ImportError:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None


@contextmanager
def _traced_partition(carrier: dict[str, str] | None, index: int, scan_id: str) -> Iterator[None]:
    """Run a partition's scan in the caller's trace: a ``customers.scan_partition`` span
    whose parent is the span that built the canvas (no-op without OpenTelemetry or a
    carrier)."""
    if not carrier:
        yield
        return
    try:
        from opentelemetry import propagate, trace
    except ImportError:
        yield
        return
    parent = propagate.extract(carrier)
    tracer = trace.get_tracer("voucherify_async")
    attributes: dict[str, str | int] = {
        "voucherify.partition.index": index,
        "voucherify.scan_id": scan_id,
    }
    with tracer.start_as_current_span(
        "customers.scan_partition", context=parent, attributes=attributes
    ):
        yield
