"""The Celery tasks' options and canvas, without a broker (the end-to-end test runs a worker)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from celery import Celery

from voucherify_async import CustomerPartition
from voucherify_async.contrib.celery import install


def tasks_for_test() -> object:
    app = Celery("unit", broker="memory://", backend="cache+memory://")
    return install(app, client=lambda limiter: None, sink=lambda scan_id: None)  # type: ignore[arg-type, return-value]


def test_the_scan_task_is_redelivered_when_its_worker_dies() -> None:
    tasks = tasks_for_test()
    assert tasks.scan.acks_late is True  # type: ignore[attr-defined]
    assert tasks.scan.reject_on_worker_lost is True  # type: ignore[attr-defined]


def test_the_canvas_fans_out_one_task_per_partition_then_gathers() -> None:
    tasks = tasks_for_test()
    cut = datetime(2026, 1, 1, tzinfo=timezone.utc)
    parts = [
        CustomerPartition(index=0, count=5, end=cut),
        CustomerPartition(index=1, count=5, start=cut),
    ]
    chord = tasks.canvas(parts, "scan-1", limit=50)  # type: ignore[attr-defined]
    assert [s.args for s in chord.tasks] == [
        (parts[0].dumps().decode(), "scan-1", 50),
        (parts[1].dumps().decode(), "scan-1", 50),
    ]
    assert chord.body.task == "voucherify_async.scan_partition_gather"
    gathered = tasks.gather.run(  # type: ignore[attr-defined]
        [
            {"index": 0, "pages": 2, "items": 5, "total_items": 5, "resumed": False},
            {"index": 1, "pages": 1, "items": 2, "total_items": 5, "resumed": True},
        ]
    )
    assert gathered == {"partitions": 2, "pages": 3, "items": 10, "resumed": 1}
    for bad in ("", "a:b", 3):
        with pytest.raises(ValueError, match="scan_id"):
            tasks.canvas(parts, bad)  # type: ignore[attr-defined]
