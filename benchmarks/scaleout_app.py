"""The Celery app of the scale-out benchmark and its end-to-end test.

Run as ``celery -A benchmarks.scaleout_app worker``.
Configured from the environment: ``VF_REDIS_URL`` (broker, results, rate limiter),
``VOUCHERIFY_*`` (the emulator), ``VF_SINK_DIR`` (where the SQLite sinks and the progress
files go), ``VF_PAGE_DELAY`` (seconds each page takes in the sink), ``VF_MAX_TASK_SECONDS``
(how long one scan task runs before it continues as a new one; 20 by default) and
``VF_VISIBILITY_TIMEOUT`` (the broker's; by default the one `install` derives from the bound).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from voucherify_async import AsyncVoucherify
from voucherify_async.contrib.celery import install
from voucherify_async.contrib.redis import RedisRateLimiter
from voucherify_async.contrib.sqlite import SQLiteSink
from voucherify_async.models import Customer

REDIS = os.environ.get("VF_REDIS_URL", "redis://127.0.0.1:6379/0")


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _trace_to_a_file(**_: Any) -> None:
    """With ``VF_TRACE_DIR``, each worker process writes its spans, one JSON a line."""
    where = os.environ.get("VF_TRACE_DIR")
    if not where:
        return
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    out = (Path(where) / f"spans-{os.getpid()}.jsonl").open("a", buffering=1)
    exporter = ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


app = Celery("vf_scaleout_test", broker=REDIS, backend=REDIS)
app.conf.update(
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


class ProgressSink(SQLiteSink):
    """The exactly-once SQLite sink, also telling the test which process holds which page."""

    async def write(self, key: str, customers: Sequence[Customer], checkpoint: bytes) -> None:
        await super().write(key, customers, checkpoint)
        progress = Path(os.environ["VF_SINK_DIR"]) / f"progress-{key.replace(':', '-')}"
        pages = int(progress.read_text().split()[1]) + 1 if progress.exists() else 1
        progress.write_text(f"{os.getpid()} {pages}")
        await asyncio.sleep(float(os.environ.get("VF_PAGE_DELAY", "0")))


def client(limiter: Any) -> AsyncVoucherify:
    return AsyncVoucherify(
        app_id=os.environ["VOUCHERIFY_APP_ID"],
        app_token=os.environ["VOUCHERIFY_APP_TOKEN"],
        base_url=os.environ["VOUCHERIFY_BASE_URL"],
        rate_limiter=limiter,
    )


def limiter() -> RedisRateLimiter:
    return RedisRateLimiter(REDIS, app_id=os.environ["VOUCHERIFY_APP_ID"])


tasks = install(
    app,
    client=client,
    limiter=limiter,
    sink=lambda scan_id: ProgressSink(Path(os.environ["VF_SINK_DIR"]) / f"{scan_id}.db"),
    max_task_seconds=float(os.environ.get("VF_MAX_TASK_SECONDS", "20")),
    visibility_timeout=(
        float(os.environ["VF_VISIBILITY_TIMEOUT"])
        if os.environ.get("VF_VISIBILITY_TIMEOUT")
        else None
    ),
)
