"""The main job, end to end: ``make demo`` or ``python -m voucherify_async.tools.demo``.

Against the embedded emulator (no credentials, no network) it imports 50,000 customers (a
CSV import and a bulk update, waited to DONE with progress bars), streams all of them back
past the API's page 99, fans out 2,000 concurrent lookups, shows the client pacing itself
under a rate limit and retrying through injected faults, and ends with a table: what ran,
how many, how long, requests per second, peak memory.

It always runs on the embedded emulator unless asked otherwise: credentials in the
environment are not used by themselves. ``--against-env`` runs the read-only parts (no
imports, no updates, no faults) against the server of ``VOUCHERIFY_BASE_URL`` (default: the
API's) with ``VOUCHERIFY_APP_ID``/``VOUCHERIFY_APP_TOKEN``; ``--base-url URL`` against that
server with the same credentials. Either says so first.
"""

from __future__ import annotations

import argparse
import logging
import math
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

from .._client import AsyncVoucherify
from ..resources._jobs import AsyncJob
from ._argparse import OneLineParser, at_least
from ._progress import progress

if TYPE_CHECKING:
    from ..emulator import Emulator

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
            rows.append(
                (
                    step.name,
                    f"{step.count:,}",
                    f"{step.seconds:.2f}",
                    "-" if step.requests is None else f"{step.requests:,}",
                    rate,
                )
            )
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
    report: Report,
    emulator: Emulator,
    name: str,
    verb: str,
    count: int,
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
        report,
        emulator,
        "CSV import",
        "imported",
        count,
        lambda: vf.customers.import_csv(_records(count)),
    )
    report.say(f"2. bulk update of all {count:,}: every customer gets a loyalty tier ...")
    updates = (
        {"source_id": f"demo-{i:06d}", "metadata": {"tier": ("gold", "silver", "bronze")[i % 3]}}
        for i in range(count)
    )
    await _run_job(
        report,
        emulator,
        "bulk update",
        "updated",
        count,
        lambda: vf.customers.update_in_bulk(updates),
    )


async def _stream(
    vf: AsyncVoucherify,
    emulator: Emulator | None,
    report: Report,
    expected: int | None,
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
    report.say("   " + stream_summary(len(ids), None if emulator is None else served[0]))
    if expected is not None:
        unique = len(set(ids))
        status = "OK" if unique == len(ids) == expected else "MISMATCH"
        report.say(f"   count check: {unique:,} unique of {expected:,} expected: {status}")
        if status != "OK":
            raise SystemExit(f"streamed {len(ids)} ({unique} unique), expected {expected}")
    report.steps.append(Step("stream all (async for)", len(ids), timer.seconds, served[0]))
    return ids


def stream_summary(customers: int, requests: int | None) -> str:
    """What step 3 says: the customers, and the requests they took, explained."""
    pages = -(-customers // 100)
    if requests is None:
        return f"{customers:,} customers in {pages:,} pages of 100 (the API stops at 99)"
    again = max(requests - pages, 0)
    text = f"{customers:,} customers in {requests:,} requests: {pages:,} pages of 100"
    if again:
        text += (
            f" and {again:,} re-reads where customers imported together share a millisecond"
            " at a page boundary (the cursor is a timestamp; see 'Ties' in the pagination docs)"
        )
    return text + ("; past the API's page 99" if pages > 99 else "")


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


async def _pacing(emulator: Emulator, report: Report, count: int) -> None:
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

            ids = [f"demo-{i:06d}" for i in range(0, count, max(count // limit, 1))]
            expected = -(-count // 100) + len(ids)
            with progress("paced requests", expected, sys.stderr, unit="requests") as bar:

                async def show() -> None:
                    shown = -1
                    while True:  # cancelled when the work is done
                        if paced.stats.requests != shown:
                            shown = paced.stats.requests
                            bar.update(shown)
                        await anyio.sleep(0.5)

                async with anyio.create_task_group() as tg:
                    tg.start_soon(show)
                    async with anyio.create_task_group() as work:
                        work.start_soon(scan)
                        work.start_soon(paced.customers.get_many, ids)
                    tg.cancel_scope.cancel()
                bar.update(paced.stats.requests)
            headers = paced.rate_limit
        stats = await emulator.stats()
    finally:
        await emulator.configure(rate_limit=None)
    report.say(
        "   "
        + pacing_summary(served[0], timer.seconds, limit, period, stats.get("too_many_requests", 0))
    )
    report.say(
        f"   last rate-limit headers: limit={headers.limit if headers else '?'},"
        f" remaining={headers.remaining if headers else '?'}"
    )
    report.steps.append(Step("paced scan + lookups", served[0], timer.seconds, served[0]))


def pacing_summary(requests: int, seconds: float, limit: int, period: float, too_many: int) -> str:
    """What the paced client sent, against what the limit allowed over the same windows.

    The emulator's limit is a fixed window: ``limit`` requests in each ``period`` seconds,
    a window opening with the first request after the last one closed. A run of ``seconds``
    spans ``ceil(seconds / period)`` windows, so that many times ``limit`` were allowed.

    Examples:
        ```python
        pacing_summary(848, 19.3, 300, 8.0, 0)
        # '848 requests in 19.3 s, 3 rate-limit windows of 8 s: 900 allowed (300 per
        #  window), 94% of it used; 429s met: 0'
        ```
    """
    windows = max(1, math.ceil(seconds / period - 1e-9))
    allowed = windows * limit
    return (
        f"{requests:,} requests in {seconds:.1f} s, {windows} rate-limit window"
        f"{'s' if windows != 1 else ''} of {period:g} s: {allowed:,} allowed ({limit:,} per"
        f" window), {requests * 100 // allowed}% of it used; 429s met: {too_many}"
    )


async def _faults(vf: AsyncVoucherify, emulator: Emulator, report: Report) -> None:
    report.say("6. a bad day: a 503, an HTML gateway page and a 429 before the answer ...")
    await emulator.script_faults(
        [
            {"kind": "error", "status": 503, "path": "/v1/customers/demo-000042"},
            {"kind": "html", "status": 502, "path": "/v1/customers/demo-000042"},
            {"kind": "rate_limit", "retry_after": 1, "path": "/v1/customers/demo-000042"},
        ]
    )
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
    from ..emulator import Emulator

    report.say("Starting the embedded Voucherify emulator (no credentials, no network) ...")
    async with Emulator(mode="process") as emulator:
        report.say(f"   serving at {emulator.url}\n")
        async with emulator.client(max_concurrency=200) as vf:
            await _import(vf, emulator, report, count)
            ids = await _stream(vf, emulator, report, expected=count)
            await _fan_out(vf, emulator, report, ids)
            await _pacing(emulator, report, count)
            await _faults(vf, emulator, report)
            await _warehouse(emulator, report)


async def _warehouse(emulator: Emulator, report: Report) -> None:
    """The customers into a DuckDB file with dlt, and a SQL count from it (extra ``dlt``)."""
    try:
        from ..dlt._demo import load_and_count
    except ImportError:
        report.say("7. loading into a warehouse: skipped (pip install 'voucherify-async[dlt]')")
        return
    report.say("7. loading every customer into a DuckDB file with dlt ...")
    report.say("   " + await anyio.to_thread.run_sync(load_and_count, emulator.env))


async def run_remote(report: Report, cap: int, base_url: str | None, flag: str) -> None:
    """The read-only parts against another server, with the credentials in the environment."""
    base = base_url or os.environ.get("VOUCHERIFY_BASE_URL") or "https://api.voucherify.io"
    report.say(
        f"Running against {base}, not the embedded emulator ({flag}): the read-only parts"
        f" only (no imports, no updates, no faults), streaming at most {cap:,} customers."
    )
    async with AsyncVoucherify(base_url=base) as vf:
        ids = await _stream(vf, None, report, expected=None, cap=cap)
        await _fan_out(vf, None, report, ids)
        report.say(f"   rate-limit headers of the last answer: {vf.rate_limit}")


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the demo; returns the exit status. ``prog``: its name in ``--help``."""
    parser = OneLineParser(
        prog=prog or "python -m voucherify_async.tools.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--customers", type=at_least(1), default=CUSTOMERS, help="how many to import"
    )
    parser.add_argument(
        "--against-env",
        action="store_true",
        help="run the read-only parts against $VOUCHERIFY_BASE_URL (default: the API) with"
        " $VOUCHERIFY_APP_ID/_TOKEN, instead of the embedded emulator",
    )
    parser.add_argument(
        "--base-url",
        help="run the read-only parts against this server, with the credentials"
        " in $VOUCHERIFY_APP_ID/_TOKEN",
    )
    parser.add_argument(
        "--remote-cap",
        type=at_least(1),
        default=20_000,
        help="most customers to stream from another server",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    report = Report(sys.stdout)
    started = time.perf_counter()
    credentials = [name for name in ("VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN")
                   if os.environ.get(name)]  # fmt: skip
    if args.against_env or args.base_url:
        if len(credentials) < 2:
            sys.stderr.write(
                "error: --against-env/--base-url use the credentials in VOUCHERIFY_APP_ID and"
                " VOUCHERIFY_APP_TOKEN; set both\n"
            )
            return 2
        flag = f"--base-url {args.base_url}" if args.base_url else "--against-env"
        anyio.run(run_remote, report, args.remote_cap, args.base_url, flag)
    else:
        if credentials:
            report.say(
                f"{' and '.join(credentials)} set in the environment: not used. The demo runs"
                " on the embedded emulator; --against-env runs it against that server.\n"
            )
        anyio.run(run_local, report, args.customers)
    report.table()
    report.say(f"total: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
