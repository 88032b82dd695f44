"""The main job, end to end: ``make demo`` or ``python -m voucherify_async.demo``.

Against the embedded emulator (no credentials, no network) it imports 50,000 customers (a
CSV import and a bulk update, waited to DONE with progress bars), streams all of them back
past the API's page 99, fans out 2,000 concurrent lookups, shows the client pacing itself
under a rate limit and retrying through injected faults, and ends with a table: what ran,
how many, how long, requests per second, peak memory.

With ``VOUCHERIFY_APP_ID`` and ``VOUCHERIFY_APP_TOKEN`` set (and optionally
``VOUCHERIFY_BASE_URL``) it runs the read-only parts against that server instead, and says so.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import resource
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

import anyio

from ._client import AsyncVoucherify
from ._jobs import AsyncJob
from .cli import progress

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["main"]

CUSTOMERS = 50_000
LOOKUPS = 2_000


@dataclass
class Step:
    """One line of the closing table."""

    name: str
    count: int
    seconds: float
    requests: int | None = None


@dataclass
class Report:
    """Collects the steps and prints the closing table."""

    out: TextIO
    steps: list[Step] = field(default_factory=list)

    def say(self, text: str) -> None:
        """Print a line of narration."""
        self.out.write(text + "\n")
        self.out.flush()

    def table(self) -> None:
        """Print what ran, how many, how long, requests per second and peak memory."""
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows = [("step", "items", "seconds", "requests", "req/s")]
        for step in self.steps:
            rate = (
                f"{step.requests / step.seconds:,.0f}"
                if step.requests is not None and step.seconds > 0
                else "-"
            )
            rows.append((
                step.name,
                f"{step.count:,}",
                f"{step.seconds:.2f}",
                "-" if step.requests is None else f"{step.requests:,}",
                rate,
            ))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        self.say("")
        for index, row in enumerate(rows):
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
            self.say("  ".join(cells))
            if index == 0:
                self.say("  ".join("-" * w for w in widths))
        self.say(f"\npeak memory of this process: {peak_mb:,.0f} MB")


def _records(count: int) -> Iterator[dict[str, object]]:
    cities = ("Warsaw", "Berlin", "Lisbon", "Oslo", "Prague")
    for i in range(count):
        yield {
            "source_id": f"demo-{i:06d}",
            "name": f"Customer {i}",
            "email": f"customer{i}@example.com",
            "address": {"city": cities[i % len(cities)]},
            "metadata": {"plan": "free" if i % 3 else "pro"},
        }


class _Timer:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


@asynccontextmanager
async def _requests_counter(emulator: Emulator | None) -> AsyncIterator[list[int]]:
    """Counts the requests the emulator served during the block (``[n]`` after it)."""
    result = [0]
    before = (await emulator.stats())["requests_total"] if emulator else 0
    try:
        yield result
    finally:
        if emulator:
            # Less one: the stats call itself.
            result[0] = (await emulator.stats())["requests_total"] - before - 1


async def _run_job(
    report: Report, emulator: Emulator, name: str, verb: str, count: int,
    start: Callable[[], Awaitable[AsyncJob]],
) -> None:
    """Start a bulk job, follow it to DONE with a progress bar, and report it."""
    timer = _Timer()
    async with _requests_counter(emulator) as served:
        job = await start()
        with progress(name, count, sys.stderr) as bar:
            result = await job.wait(on_progress=lambda p: bar.update(p.done, p.total))
    report.say(
        f"   {result.done_count:,} {verb}, {result.failed_count} failed,"
        f" {len(job.async_action_ids)} async action(s)"
    )
    report.steps.append(Step(f"{name} (to DONE)", result.done_count, timer.seconds, served[0]))


async def _import(vf: AsyncVoucherify, emulator: Emulator, report: Report, count: int) -> None:
    report.say(f"1. importing {count:,} customers from CSV ...")
    await _run_job(
        report, emulator, "CSV import", "imported", count,
        lambda: vf.customers.import_csv(_records(count)),
    )
    report.say(f"2. bulk update of all {count:,}: every customer gets a loyalty tier ...")
    updates = (
        {"source_id": f"demo-{i:06d}", "metadata": {"tier": ("gold", "silver", "bronze")[i % 3]}}
        for i in range(count)
    )
    await _run_job(
        report, emulator, "bulk update", "updated", count,
        lambda: vf.customers.update_in_bulk(updates),
    )


async def _stream(
    vf: AsyncVoucherify, emulator: Emulator | None, report: Report, expected: int | None,
    cap: int | None = None,
) -> list[str]:
    report.say("3. streaming every customer back with `async for` (past page 99) ...")
    timer = _Timer()
    ids: list[str] = []
    async with _requests_counter(emulator) as served:
        with progress("streaming", expected, sys.stderr) as bar:
            async for customer in vf.customers.list():
                ids.append(customer.source_id or customer.id)
                if len(ids) % 1000 == 0:
                    bar.update(len(ids))
                if cap is not None and len(ids) >= cap:
                    break
            bar.update(len(ids))
    pages = -(-len(ids) // 100)
    report.say(f"   {len(ids):,} customers in {pages:,} pages of 100 (the API stops at 99)")
    if expected is not None:
        unique = len(set(ids))
        status = "OK" if unique == len(ids) == expected else "MISMATCH"
        report.say(f"   count check: {unique:,} unique of {expected:,} expected: {status}")
        if status != "OK":
            raise SystemExit(f"streamed {len(ids)} ({unique} unique), expected {expected}")
    report.steps.append(Step("stream all (async for)", len(ids), timer.seconds, served[0]))
    return ids


async def _fan_out(
    vf: AsyncVoucherify, emulator: Emulator | None, report: Report, ids: Sequence[str]
) -> None:
    lookups = min(LOOKUPS, len(ids))
    report.say(f"4. {lookups:,} concurrent lookups with get_many (2 of them missing) ...")
    chosen = [*random.Random(7).sample(list(ids), lookups - 2), "missing-1", "missing-2"]
    timer = _Timer()
    async with _requests_counter(emulator) as served:
        found = await vf.customers.get_many(chosen, concurrency=200)
    missing = sum(customer is None for customer in found)
    report.say(f"   {len(found) - missing:,} found, {missing} missing (None), in order asked")
    report.steps.append(Step("fan-out get_many", len(found), timer.seconds, served[0]))


async def _pacing(emulator: Emulator, report: Report) -> None:
    limit, period = 300, 8.0
    report.say(
        f"5. pacing: the emulator now allows {limit} requests per {period:.0f} s; one client"
        f" runs a scan and {limit} lookups at once ..."
    )
    await emulator.configure(rate_limit=limit, rate_limit_period=period)
    timer = _Timer()
    try:
        async with (
            _requests_counter(emulator) as served,
            emulator.client(max_concurrency=20) as paced,
        ):
            async def scan() -> None:
                async for _ in paced.customers.list(limit=100):
                    pass

            async with anyio.create_task_group() as tg:
                tg.start_soon(scan)
                ids = [f"demo-{i:06d}" for i in range(0, CUSTOMERS, CUSTOMERS // limit)]
                tg.start_soon(paced.customers.get_many, ids)
            headers = paced.rate_limit
        stats = await emulator.stats()
    finally:
        await emulator.configure(rate_limit=None)
    rate = served[0] / timer.seconds
    report.say(
        f"   {served[0]} requests in {timer.seconds:.1f} s = {rate:.1f}/s against an allowed"
        f" {limit / period:.1f}/s; 429s met: {stats.get('too_many_requests', 0)};"
        f" last headers: limit={headers.limit if headers else '?'},"
        f" remaining={headers.remaining if headers else '?'}"
    )
    report.steps.append(Step("paced scan + lookups", served[0], timer.seconds, served[0]))


async def _faults(vf: AsyncVoucherify, emulator: Emulator, report: Report) -> None:
    report.say("6. a bad day: a 503, an HTML gateway page and a 429 before the answer ...")
    await emulator.script_faults([
        {"kind": "error", "status": 503, "path": "/v1/customers/demo-000042"},
        {"kind": "html", "status": 502, "path": "/v1/customers/demo-000042"},
        {"kind": "rate_limit", "retry_after": 1, "path": "/v1/customers/demo-000042"},
    ])
    retries: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            retries.append(record.getMessage())

    logger = logging.getLogger("voucherify_async")
    handler = Collect(level=logging.INFO)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    timer = _Timer()
    try:
        patient = vf.with_options(max_retries=4)
        customer = await patient.customers.get("demo-000042")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    for line in retries:
        report.say(f"   retried: {line}")
    report.say(f"   then got {customer.source_id} ({customer.name}) after {len(retries)} retries")
    report.steps.append(Step("get through 3 faults", 1, timer.seconds, len(retries) + 1))


async def run_local(report: Report, count: int) -> None:
    """The whole job against an embedded emulator in its own process."""
    from .emulator import Emulator

    report.say("Starting the embedded Voucherify emulator (no credentials, no network) ...")
    async with Emulator(mode="process") as emulator:
        report.say(f"   serving at {emulator.url}\n")
        async with emulator.client(max_concurrency=200) as vf:
            await _import(vf, emulator, report, count)
            ids = await _stream(vf, emulator, report, expected=count)
            await _fan_out(vf, emulator, report, ids)
            await _pacing(emulator, report)
            await _faults(vf, emulator, report)
            await _warehouse(emulator, report)


async def _warehouse(emulator: Emulator, report: Report) -> None:
    """The customers into a DuckDB file with dlt, and a SQL count from it (extra ``dlt``)."""
    try:
        from .dlt._demo import load_and_count
    except ImportError:
        report.say("dlt into DuckDB: skipped (pip install 'voucherify-async[dlt]')")
        return
    report.say(await anyio.to_thread.run_sync(load_and_count, emulator.env))


async def run_remote(report: Report, cap: int) -> None:
    """The read-only parts against the server in the environment."""
    base = os.environ.get("VOUCHERIFY_BASE_URL", "https://api.voucherify.io")
    report.say(
        f"VOUCHERIFY_APP_ID and VOUCHERIFY_APP_TOKEN are set: running the read-only parts"
        f" against {base} (no imports, no updates, no faults), streaming at most {cap:,}."
    )
    async with AsyncVoucherify() as vf:
        ids = await _stream(vf, None, report, expected=None, cap=cap)
        await _fan_out(vf, None, report, ids)
        report.say(f"   rate-limit headers of the last answer: {vf.rate_limit}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m voucherify_async.demo", description=__doc__)
    parser.add_argument("--customers", type=int, default=CUSTOMERS, help="how many to import")
    parser.add_argument("--remote-cap", type=int, default=20_000, help="most to stream remotely")
    parser.add_argument("--local", action="store_true", help="use the emulator even with creds")
    args = parser.parse_args(argv)
    report = Report(sys.stdout)
    started = time.perf_counter()
    remote = bool(os.environ.get("VOUCHERIFY_APP_ID") and os.environ.get("VOUCHERIFY_APP_TOKEN"))
    if remote and not args.local:
        anyio.run(run_remote, report, args.remote_cap)
    else:
        anyio.run(run_local, report, args.customers)
    report.table()
    report.say(f"total: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
