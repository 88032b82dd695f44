"""The Celery tasks' options and canvas, without a broker (the end-to-end test runs a worker)."""

from __future__ import annotations

import asyncio
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from voucherify_async import CustomerPartition
from voucherify_async.checkpoints import PartitionResult
from voucherify_async.contrib.celery import _summary, install, safe_visibility_timeout
from voucherify_async.contrib.sqlite import SQLiteSink
from voucherify_async.emulator import Emulator


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
    assert gathered == {"partitions": 2, "pages": 3, "items": 10, "resumed": 1, "runs": 2}
    for bad in ("", "a:b", 3):
        with pytest.raises(ValueError, match="scan_id"):
            tasks.canvas(parts, bad)  # type: ignore[attr-defined]


def app_for_test(**conf: Any) -> Celery:
    app = Celery("unit", broker="memory://", backend="cache+memory://")
    app.conf.update(**conf)
    return app


def install_on(app: Celery, **options: Any) -> Any:
    return install(app, client=lambda limiter: None, sink=lambda scan_id: None, **options)  # type: ignore[arg-type, return-value]


def test_install_sets_a_visibility_timeout_from_the_task_bound() -> None:
    app = app_for_test()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tasks = install_on(app)
    assert tasks.max_task_seconds == 20
    assert app.conf.broker_transport_options["visibility_timeout"] == 60 == tasks.visibility_timeout
    assert safe_visibility_timeout(3) == 26
    app = app_for_test(broker_transport_options={"max_connections": 5})
    tasks = install_on(app, max_task_seconds=3)
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] == 26 == tasks.visibility_timeout
    assert options["max_connections"] == 5  # the user's other options are kept
    # Expired messages are looked for often enough to matter with a short timeout.
    assert options["unacked_restore_interval"] == 3 and options["unacked_restore_throttle"] == 1
    assert app.conf.worker_prefetch_multiplier == 1  # nothing waits in a worker's buffer


def test_a_longer_visibility_timeout_set_on_the_app_is_lowered_with_a_warning() -> None:
    app = app_for_test(broker_transport_options={"visibility_timeout": 3600})
    with pytest.warns(RuntimeWarning, match="lowers the visibility timeout from 3600 s to 26 s"):
        install_on(app, max_task_seconds=3)
    assert app.conf.broker_transport_options["visibility_timeout"] == 26


def test_a_shorter_visibility_timeout_set_on_the_app_is_refused() -> None:
    app = app_for_test(broker_transport_options={"visibility_timeout": 10})
    with pytest.raises(ValueError, match="shorter than the 26 s"):
        install_on(app, max_task_seconds=3)
    assert app.conf.broker_transport_options == {"visibility_timeout": 10}  # untouched


def test_a_visibility_timeout_given_to_install_is_kept_if_it_is_long_enough() -> None:
    app = app_for_test(broker_transport_options={"visibility_timeout": 3600})
    with pytest.warns(RuntimeWarning, match="to 300 s"):
        tasks = install_on(app, max_task_seconds=3, visibility_timeout=300)
    assert (
        app.conf.broker_transport_options["visibility_timeout"] == 300 == tasks.visibility_timeout
    )
    with pytest.raises(ValueError, match="at least twice max_task_seconds"):
        install_on(app_for_test(), max_task_seconds=30, visibility_timeout=59)
    for bad in (0, -1, float("inf"), True, "60"):
        with pytest.raises(ValueError, match="max_task_seconds"):
            install_on(app_for_test(), max_task_seconds=bad)


def test_a_prefetch_multiplier_set_on_the_app_is_replaced_with_a_warning() -> None:
    app = app_for_test(worker_prefetch_multiplier=4)
    with pytest.warns(RuntimeWarning, match="worker_prefetch_multiplier to 1"):
        install_on(app)
    assert app.conf.worker_prefetch_multiplier == 1


def test_the_result_adds_up_over_the_continuations_of_a_partition() -> None:
    def run(pages: int, items: int, total_pages: int, total_items: int, done: bool) -> Any:
        return PartitionResult(
            "s:0", pages, items, total_items, total_pages > pages, done, total_pages
        )

    first = _summary(0, run(3, 30, 3, 30, False), None)
    assert first == {
        "index": 0,
        "pages": 3,
        "items": 30,
        "total_items": 30,
        "resumed": False,
        "runs": 1,
    }
    second = _summary(0, run(4, 40, 7, 70, False), first)
    assert second["resumed"] is False  # went on where the first stopped: no takeover
    # The third task died after 2 pages; its message came back and found them written.
    third = _summary(0, run(1, 5, 10, 95, True), second)
    assert third == {
        "index": 0,
        "pages": 10,
        "items": 75,
        "total_items": 95,
        "resumed": True,
        "runs": 3,
    }
    # A first task that finds an earlier run's checkpoint resumed too, as before.
    assert _summary(1, run(2, 20, 5, 50, True), None)["resumed"] is True


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ({}, "background"),
        ({"priority": "interactive"}, "interactive"),
        ({"priority": None}, "interactive"),
    ],
)
def test_a_scan_task_sends_its_requests_at_background_priority(
    tmp_path: Path, recording_limiter: Any, option: dict[str, Any], expected: str
) -> None:
    limiter = recording_limiter
    with Emulator(mode="thread", seed=25) as emu:
        tasks = install(
            app_for_test(),
            client=lambda shared: emu.client(rate_limiter=shared),
            limiter=lambda: limiter,
            sink=lambda scan_id: SQLiteSink(tmp_path / f"{scan_id}.db"),
            **option,
        )
        (whole,) = asyncio.run(partitions(emu))
        result = tasks.scan(whole.dumps().decode(), "scan-1", 10)
    assert result["items"] == 25 and result["pages"] == 3
    assert limiter.priorities == [expected] * 3


async def partitions(emu: Emulator) -> list[CustomerPartition]:
    async with emu.client() as vf:
        return await vf.customers.partition(1)


def test_an_unknown_priority_is_refused_by_install() -> None:
    with pytest.raises(ValueError, match="priority must be 'interactive' or 'background'"):
        install_on(app_for_test(), priority="urgent")
