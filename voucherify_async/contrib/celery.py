"""Scanning partitions on Celery workers (extra ``celery``), with checkpoints and a shared limit.

`install` registers two tasks on a Celery app: one that scans one partition (``asyncio.run``
inside the task, so it runs on the default prefork pool) and one that adds up the counts of
a finished scan. `ScanTasks.canvas` fans a full scan out over partitions as a chord.

The scan task is ``acks_late=True`` and ``reject_on_worker_lost=True``: its message is
acknowledged only once the task is done, and a worker process that dies (killed, out of
memory) puts it back on the queue; the next worker resumes from the partition's last
checkpoint instead of starting over. Give every worker the same Redis rate limiter (one
key's budget) and the same checkpoint store.

A whole worker that dies (main process too: SIGKILL, a machine lost) cannot put anything
back: its messages stay in the Redis transport's unacked set until the transport's
``visibility_timeout`` has passed. So a scan task never runs longer than
``max_task_seconds``: it stops at a page boundary, its checkpoint saved, and continues as a
new task (``Task.replace``: same task id, same place in the chord). `install` then sets a
visibility timeout that no running task can outlive (`safe_visibility_timeout`), and the
partitions of a dead worker are taken over by another one within about that time.

The factories are called inside the task, in the worker process and in the task's event
loop, so clients and Redis connections are never shared across processes or loops. A scan
is background work: its requests go at ``priority="background"`` (``install(priority=...)``),
so the web processes on the same key go first.

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
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._core.pacing import Priority, check_priority
from ..checkpoints import CheckpointStore, PageSink, PartitionResult, scan_partition
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

__all__ = ["ScanTasks", "install", "safe_visibility_timeout"]

#: Seconds added to twice ``max_task_seconds`` in the visibility timeout: the last page's
#: sink write, the time a message waits in a worker before its task starts, clock skew.
VISIBILITY_MARGIN = 20.0


def safe_visibility_timeout(max_task_seconds: float) -> int:
    """The visibility timeout `install` sets for a task bound: ``2 * bound + 20`` seconds.

    A scan task stops fetching at ``max_task_seconds``; the page it holds then is written
    and checkpointed, and the task returns. Twice the bound plus `VISIBILITY_MARGIN` leaves
    room for that last write and for a message that waits a little in a worker before it
    starts, so a message is never handed to a second worker while its task still runs.

    Args:
        max_task_seconds: the bound given to `install`.

    Returns:
        Whole seconds (60 for the default bound of 20 s).
    """
    return math.ceil(2 * max_task_seconds + VISIBILITY_MARGIN)


@dataclass(frozen=True)
class ScanTasks:
    """The tasks `install` registered.

    Attributes:
        scan: ``scan(partition_json, scan_id, limit=100, trace=None)`` scans one partition
            (in the trace of the caller of `canvas`, given as W3C headers, with
            OpenTelemetry installed), for at most ``max_task_seconds``, then continues as a
            new task in its place; the last one returns ``{"index", "pages", "items",
            "total_items", "resumed", "runs"}`` for the whole partition, over every task
            that scanned it: ``pages`` and ``total_items`` from its checkpoint (every page
            and customer written, once), ``items`` handed over by the tasks that finished,
            ``resumed`` whether a task took over from one that died, ``runs`` how many
            tasks finished on it (1 + the continuations).
        gather: adds up the results of ``scan`` over a whole scan.
        max_task_seconds: the bound on one scan task.
        visibility_timeout: the broker's visibility timeout `install` set.
    """

    scan: Any
    gather: Any
    max_task_seconds: float = 20.0
    visibility_timeout: int = 60

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
            "items", "resumed", "runs"}``: the partitions, their pages and customers (each
            counted once whatever the continuations and redeliveries), how many partitions
            were taken over from a task that died, and how many scan tasks finished.
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
    max_task_seconds: float = 20.0,
    visibility_timeout: float | None = None,
    priority: Priority | None = "background",
) -> ScanTasks:
    """Register the partition-scan tasks on ``app``, and make the broker hand a dead worker's
    partitions to another worker in bounded time.

    Changes to ``app.conf`` (configure the app before calling `install`):

    * ``broker_transport_options["visibility_timeout"]``: ``visibility_timeout``, by default
      `safe_visibility_timeout` (``2 * max_task_seconds + 20``). A value already set on the
      app that is longer is lowered to it, with a `RuntimeWarning` (it would only delay the
      recovery from a dead worker; pass ``visibility_timeout=`` to keep a longer one); one
      that is shorter is refused with `ValueError` (a running task's message would be
      handed to a second worker). The timeout is app-wide: tasks with an ``eta`` or
      ``countdown`` longer than it are delivered again, so keep such tasks on another app.
    * ``broker_transport_options["unacked_restore_interval"]`` and
      ``["unacked_restore_throttle"]`` (how often a worker looks for expired messages), when
      not set: a tenth of the visibility timeout, and every time.
    * ``worker_prefetch_multiplier``: 1 (a message waiting in a busy worker's buffer would
      outlive the timeout); another value set on the app is replaced, with a warning.

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
        max_task_seconds: how long one scan task scans before it saves its place and
            continues as a new task (a page being fetched then is abandoned; the pages
            written are kept).
        visibility_timeout: the broker's visibility timeout, at least twice
            ``max_task_seconds``; ``None``: `safe_visibility_timeout`.
        priority: the priority of the scan's requests (``vf.with_options(priority=...)``):
            ``"background"`` (the default), ``"interactive"``, or ``None`` to keep the
            client's own.

    Returns:
        The registered tasks.

    Raises:
        ValueError: ``max_task_seconds`` not positive, a visibility timeout (given, or
            set on the app) too short for it, or an unknown ``priority``.
    """
    if isinstance(max_task_seconds, bool) or not (
        isinstance(max_task_seconds, (int, float)) and 0 < max_task_seconds < math.inf
    ):
        raise ValueError(
            f"max_task_seconds must be a positive number of seconds, got {max_task_seconds!r}"
        )
    if priority is not None:
        priority = check_priority(priority)
    timeout = _configure_broker(app, max_task_seconds, visibility_timeout)

    async def run(
        partition: CustomerPartition, scan_id: str, limit: int, trace: dict[str, str] | None
    ) -> PartitionResult:
        with _traced_partition(trace, partition.index, scan_id):
            return await scan(partition, scan_id, limit)

    async def scan(partition: CustomerPartition, scan_id: str, limit: int) -> PartitionResult:
        shared = limiter() if limiter is not None else None
        checkpoints = store() if store is not None else None
        try:
            async with client(shared) as vf:
                result = await scan_partition(
                    vf if priority is None else vf.with_options(priority=priority),
                    partition,
                    sink(scan_id),
                    store=checkpoints,
                    key=f"{scan_id}:{partition.index}",
                    limit=limit,
                    max_seconds=max_task_seconds,
                )
        finally:
            for closable in (shared, checkpoints):
                close = getattr(closable, "aclose", None)
                if close is not None:
                    await close()
        return result

    @app.task(name=name, bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def scan_task(
        self: Any,
        partition: str,
        scan_id: str,
        limit: int = 100,
        trace: dict[str, str] | None = None,
        carried: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        part = CustomerPartition.loads(partition)
        result = asyncio.run(run(part, scan_id, limit, trace))
        summary = _summary(part.index, result, carried)
        if result.done:
            return summary
        # Go on as a new task with the same id, group and chord: the chord's gather waits
        # for the last continuation, and this message is acknowledged once that is sent.
        traced = {"trace": trace} if trace else {}
        continuation = self.signature((partition, scan_id, limit), {**traced, "carried": summary})
        raise self.replace(continuation)

    @app.task(name=f"{name}_gather")  # type: ignore[untyped-decorator]
    def gather(results: list[dict[str, Any]]) -> dict[str, int]:
        return {
            "partitions": len(results),
            "pages": sum(r["pages"] for r in results),
            "items": sum(r["total_items"] for r in results),
            "resumed": sum(1 for r in results if r["resumed"]),
            "runs": sum(r.get("runs", 1) for r in results),
        }

    return ScanTasks(
        scan=scan_task,
        gather=gather,
        max_task_seconds=max_task_seconds,
        visibility_timeout=timeout,
    )


def _summary(index: int, result: PartitionResult, carried: dict[str, Any] | None) -> dict[str, Any]:
    """The partition's result so far: this task's run added to what the tasks before it in
    the partition's chain of continuations did (``carried``)."""
    before = carried or {}
    started_at = result.total_pages - result.pages
    # Each task expects to start where the task before it stopped: a checkpoint further on
    # was left by a task that died (or, for the first task, by an earlier run).
    taken_over = result.resumed and (carried is None or started_at != before.get("pages", 0))
    return {
        "index": index,
        "pages": result.total_pages,
        "items": int(before.get("items", 0)) + result.items,
        "total_items": result.total_items,
        "resumed": bool(before.get("resumed", False)) or taken_over,
        "runs": int(before.get("runs", 0)) + 1,
    }


def _configure_broker(app: Celery, bound: float, wanted: float | None) -> int:
    """Set the visibility timeout and what goes with it on ``app.conf``; the timeout set."""
    safe = safe_visibility_timeout(bound)
    if wanted is not None:
        if isinstance(wanted, bool) or not isinstance(wanted, (int, float)) or wanted < 2 * bound:
            raise ValueError(
                f"visibility_timeout must be at least twice max_task_seconds ({2 * bound:g} s),"
                f" got {wanted!r}: a running scan task would be handed to a second worker"
            )
        safe = math.ceil(wanted)
    options = dict(app.conf.broker_transport_options or {})
    current = options.get("visibility_timeout")
    if current is not None and current != safe:
        if current < safe:
            raise ValueError(
                f"broker_transport_options['visibility_timeout'] is {current!r} s, shorter than"
                f" the {safe} s the scan tasks need (max_task_seconds={bound:g}): a scan task"
                " still running would be handed to a second worker; remove it, or pass"
                " visibility_timeout= to install"
            )
        warnings.warn(
            f"voucherify_async.contrib.celery.install lowers the visibility timeout from"
            f" {current!r} s to {safe} s, so the partitions of a worker that dies are taken"
            " over within about that time; pass visibility_timeout= to install to keep a"
            " longer one",
            RuntimeWarning,
            stacklevel=3,
        )
    options["visibility_timeout"] = safe
    options.setdefault("unacked_restore_interval", max(1, round(safe / 10)))
    options.setdefault("unacked_restore_throttle", 1)
    app.conf.broker_transport_options = options
    multiplier = app.conf.worker_prefetch_multiplier
    if multiplier != 1:
        if "worker_prefetch_multiplier" in app.conf.changes:
            warnings.warn(
                f"voucherify_async.contrib.celery.install sets worker_prefetch_multiplier to 1"
                f" (was {multiplier!r}): a message waiting in a busy worker for longer than the"
                " visibility timeout would be delivered twice",
                RuntimeWarning,
                stacklevel=3,
            )
        app.conf.worker_prefetch_multiplier = 1
    return safe


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
