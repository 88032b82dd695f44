"""End to end on real parts: redis-server, a prefork Celery worker, the rate-limited emulator.

A worker process is killed with SIGKILL in the middle of a partition: the partition is
redelivered, resumes from its checkpoint, and the SQLite sink ends with every customer
exactly once. Partitions longer than the task bound go on as new tasks in the chord; a whole
worker killed (its process group) is taken over by a new worker within the visibility
timeout `install` set. Then four processes doing `get_many` on one key share the Redis
limiter.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from voucherify_async import AsyncVoucherify
from voucherify_async.contrib.sqlite import SQLiteSink
from voucherify_async.emulator import Emulator

from .redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = 300


def start_worker(
    redis_server: RedisServer, emulator: Emulator, tmp_path: Path, **env_extra: str
) -> subprocess.Popen[bytes]:
    """A prefork worker (two processes) of ``benchmarks.scaleout_app``, in its own process
    group, logging to ``worker.log``."""
    env = {
        **os.environ,
        **emulator.env,
        "VF_REDIS_URL": redis_server.url,
        "VF_SINK_DIR": str(tmp_path),
        "VF_PAGE_DELAY": "0.05",
        "VF_TRACE_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        **env_extra,
    }
    command = [
        sys.executable, "-m", "celery", "-A", "benchmarks.scaleout_app", "worker",
        "--pool", "prefork", "--concurrency", "2", "--loglevel", "WARNING",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-n", f"vf{redis_server.port}-{time.monotonic_ns()}@127.0.0.1",
    ]  # fmt: skip
    with (tmp_path / "worker.log").open("ab") as log:
        return subprocess.Popen(
            command,
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@pytest.fixture
def worker(
    redis_server: RedisServer, voucherify_emulator: Emulator, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker(redis_server, voucherify_emulator, tmp_path)
    try:
        yield process
    finally:
        stop_worker(process)


def progress(directory: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for path in directory.glob("progress-*"):
        text = path.read_text().split()
        if len(text) == 2:
            found[path.name] = (int(text[0]), int(text[1]))
    return found


async def test_a_killed_worker_process_loses_nothing_and_duplicates_nothing(
    voucherify_client: AsyncVoucherify,
    voucherify_emulator: Emulator,
    redis_server: RedisServer,
    worker: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    from benchmarks.scaleout_app import app, tasks

    app.conf.update(broker_url=redis_server.url, result_backend=redis_server.url)
    await voucherify_emulator.seed_customers(CUSTOMERS, same_created_at=2)
    expected = set(await voucherify_emulator.customer_ids())
    parts = await voucherify_client.customers.partition(3)
    await voucherify_emulator.configure(rate_limit=40, rate_limit_period=1.0)
    before = await voucherify_emulator.stats()

    result = tasks.canvas(parts, scan_id="scan1", limit=10).apply_async()
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline:
        for name, (pid, pages) in progress(tmp_path).items():
            if 2 <= pages <= 6 and pid != worker.pid:
                victim = (name, pid)
                break
        else:
            await asyncio.sleep(0.02)
    assert victim is not None, (tmp_path / "worker.log").read_text()[-2000:]
    os.kill(victim[1], signal.SIGKILL)

    counts = await asyncio.to_thread(result.get, timeout=90)
    sink = SQLiteSink(tmp_path / "scan1.db")
    assert sink.ids() == expected  # nothing lost
    assert sink.rewritten() == 0  # nothing written twice
    assert counts["items"] == CUSTOMERS and counts["partitions"] == 3
    assert counts["resumed"] >= 1  # the killed partition came back and resumed
    after = await voucherify_emulator.stats()
    assert after["too_many_requests"] - before["too_many_requests"] == 0


async def test_a_partition_longer_than_the_task_bound_goes_on_as_new_tasks(
    voucherify_client: AsyncVoucherify,
    voucherify_emulator: Emulator,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    from benchmarks.scaleout_app import app, tasks

    app.conf.update(broker_url=redis_server.url, result_backend=redis_server.url)
    await voucherify_emulator.seed_customers(CUSTOMERS, same_created_at=2)
    expected = set(await voucherify_emulator.customer_ids())
    parts = await voucherify_client.customers.partition(3)
    # About 10 pages of 0.2 s a partition, tasks of at most 1 s: three or four tasks each.
    process = start_worker(
        redis_server, voucherify_emulator, tmp_path, VF_PAGE_DELAY="0.2", VF_MAX_TASK_SECONDS="1"
    )
    try:
        result = tasks.canvas(parts, scan_id="bounded", limit=10).apply_async()
        counts = await asyncio.to_thread(result.get, timeout=50)
    finally:
        stop_worker(process)
    sink = SQLiteSink(tmp_path / "bounded.db")
    assert sink.ids() == expected  # nothing lost
    assert sink.rewritten() == 0  # nothing written twice
    assert counts["partitions"] == 3 and counts["items"] == CUSTOMERS
    assert counts["runs"] >= 3 * 2  # every partition went on as new tasks
    assert counts["resumed"] == 0  # a continuation is not a takeover
    assert counts["pages"] >= CUSTOMERS // 10
    # The chord waited for the last continuation of every partition, not the first task.
    assert set(progress(tmp_path)) == {f"progress-bounded-{i}" for i in range(3)}
    assert sum(pages for _, pages in progress(tmp_path).values()) == counts["pages"]


async def test_a_whole_worker_killed_is_taken_over_within_the_visibility_timeout(
    voucherify_client: AsyncVoucherify,
    voucherify_emulator: Emulator,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    """SIGKILL to the worker's whole process group (main process and children): nothing
    puts its messages back; they come back after the visibility timeout `install` set from
    the 3 s task bound (26 s), and a new worker finishes the scan, exactly once."""
    from benchmarks.scaleout_app import app, tasks

    app.conf.update(broker_url=redis_server.url, result_backend=redis_server.url)
    await voucherify_emulator.seed_customers(CUSTOMERS, same_created_at=2)
    expected = set(await voucherify_emulator.customer_ids())
    parts = await voucherify_client.customers.partition(3)
    bound = {"VF_PAGE_DELAY": "0.3", "VF_MAX_TASK_SECONDS": "3"}
    first = start_worker(redis_server, voucherify_emulator, tmp_path, **bound)
    second = None
    try:
        result = tasks.canvas(parts, scan_id="takeover", limit=10).apply_async()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            seen = progress(tmp_path)
            if sum(1 for _, pages in seen.values() if pages >= 2) >= 2:
                break  # both processes are mid-partition
            await asyncio.sleep(0.02)
        else:
            pytest.fail((tmp_path / "worker.log").read_text()[-2000:])
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=15)
        killed = time.monotonic()
        second = start_worker(redis_server, voucherify_emulator, tmp_path, **bound)
        counts = await asyncio.to_thread(result.get, timeout=60)
        recovered = time.monotonic() - killed
    finally:
        stop_worker(first)
        if second is not None:
            stop_worker(second)
    print(f"whole worker killed: scan finished {recovered:.1f} s after the kill")
    assert recovered < 45, recovered
    sink = SQLiteSink(tmp_path / "takeover.db")
    assert sink.ids() == expected  # nothing lost
    assert sink.rewritten() == 0  # nothing written twice
    assert counts["partitions"] == 3 and counts["items"] == CUSTOMERS
    assert counts["resumed"] >= 1  # taken over from the dead worker's checkpoints


def _lookups(env: dict[str, str], redis_url: str, ids: list[str]) -> int:
    async def main() -> int:
        from voucherify_async.contrib.redis import RedisRateLimiter

        limiter = RedisRateLimiter(redis_url, app_id=env["VOUCHERIFY_APP_ID"])
        async with AsyncVoucherify(
            app_id=env["VOUCHERIFY_APP_ID"], app_token=env["VOUCHERIFY_APP_TOKEN"],
            base_url=env["VOUCHERIFY_BASE_URL"], rate_limiter=limiter,
        ) as vf:  # fmt: skip
            found = await vf.customers.get_many(ids, concurrency=16)
        await limiter.aclose()
        return sum(1 for c in found if c is not None)

    return asyncio.run(main())


async def test_four_processes_share_one_budget_without_a_429(
    voucherify_emulator: Emulator, redis_server: RedisServer
) -> None:
    await voucherify_emulator.seed_customers(120)
    ids = await voucherify_emulator.customer_ids()
    await voucherify_emulator.configure(rate_limit=30, rate_limit_period=1.0)
    before = await voucherify_emulator.stats()
    env = voucherify_emulator.env
    started = time.monotonic()
    with mp.get_context("spawn").Pool(4) as pool:
        jobs: list[Any] = [
            pool.apply_async(_lookups, (env, redis_server.url, ids[i::4])) for i in range(4)
        ]
        found = [await asyncio.to_thread(job.get, 60) for job in jobs]
    elapsed = time.monotonic() - started
    after = await voucherify_emulator.stats()
    assert sum(found) == 120
    assert after["too_many_requests"] - before["too_many_requests"] == 0
    # 120 requests at 30 a second: about 4 windows, whatever the number of processes.
    assert elapsed >= 3.0


async def test_one_scan_is_one_trace_across_the_workers(
    voucherify_client: AsyncVoucherify,
    voucherify_emulator: Emulator,
    redis_server: RedisServer,
    worker: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    """The caller's span reaches the worker processes: every partition scan, and every
    request it makes, is in the caller's trace."""
    import json

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from benchmarks.scaleout_app import app, tasks

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    app.conf.update(broker_url=redis_server.url, result_backend=redis_server.url)
    await voucherify_emulator.seed_customers(60)
    parts = await voucherify_client.customers.partition(3)
    with trace.get_tracer("test").start_as_current_span("nightly scan") as root:
        result = tasks.canvas(parts, scan_id="traced", limit=20).apply_async()
    counts = await asyncio.to_thread(result.get, timeout=90)
    assert counts["items"] == 60
    wanted = f"0x{root.get_span_context().trace_id:032x}"
    spans = await asyncio.to_thread(_read_spans, tmp_path)
    in_trace = [s for s in spans if s["context"]["trace_id"] == wanted]
    scans = [s for s in in_trace if s["name"] == "customers.scan_partition"]
    assert sorted(s["attributes"]["voucherify.partition.index"] for s in scans) == [0, 1, 2]
    assert all(s["parent_id"] == f"0x{root.get_span_context().span_id:016x}" for s in scans)
    assert any(s["kind"] == "SpanKind.CLIENT" for s in in_trace)  # the requests, under them
    assert all(
        s["context"]["trace_id"] == wanted for s in spans if s["name"].startswith("customers.")
    )
    assert voucherify_emulator.app_token not in json.dumps(spans)


def _read_spans(directory: Path) -> list[dict[str, Any]]:
    import json

    return [
        json.loads(line)
        for path in directory.glob("spans-*.jsonl")
        for line in path.read_text().splitlines()
        if line.strip()
    ]
