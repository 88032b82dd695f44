"""Benchmark the streaming and pacing core against the emulator in its own process.

Usage::

    python benchmarks/bench_streaming.py [--count 1000000] [--quick]

1. Stream: the emulator (``mode="process"``, so client and server do not share a core) is
   seeded with ``--count`` customers; ``async for customer in vf.customers.list()`` walks
   them all. Reported: wall time, customers/s, requests, and the client process's peak RSS
   growth over its RSS after warm-up (Linux ``VmHWM`` reset after warm-up, else sampled).
   The stream is checked: the count, an order-independent checksum of the ids against the
   emulator's, and ``created_at`` never going backwards. Target: RSS growth < 50 MB.
2. Pacing: the emulator limits requests to ``--pacing-limit`` per ``--pacing-period``
   seconds (600 per 60 s; ``--quick``: 100 per 10 s). One client runs a scan and a few
   concurrent lookup loops until ``--windows`` whole rate-limit periods have passed.
   Reported: requests per period achieved (requests of the whole periods over their wall
   time, gaps between periods included) as a ratio of the allowed rate, and the number of
   429s. Targets: ratio >= 0.95, no 429.

Prints a markdown table; exits 1 if a check fails (a target missed is only reported).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voucherify_async import AsyncVoucherify
from voucherify_async.emulator import Emulator

MB = 1024 * 1024
RSS_TARGET_MB = 50.0
RATIO_TARGET = 0.95


# --- memory -------------------------------------------------------------------------------


def _status_bytes(field_name: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def current_rss() -> int:
    """This process's resident set size, in bytes."""
    rss = _status_bytes("VmRSS")
    if rss is not None:
        return rss
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(maxrss if sys.platform == "darwin" else maxrss * 1024)
    return int(psutil.Process().memory_info().rss)


class PeakRss:
    """The peak RSS from now on: Linux ``VmHWM`` after a reset, and a sampling thread."""

    def __init__(self, interval: float = 0.01) -> None:
        self.baseline = current_rss()
        self._sampled = self.baseline
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._hwm = False
        self._final: int | None = None

    def __enter__(self) -> PeakRss:
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # restart VmHWM from the RSS now
        hwm = _status_bytes("VmHWM")
        # The reset worked if the high-water mark is back near the current RSS.
        self._hwm = hwm is not None and hwm <= current_rss() + MB
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._final = self.peak  # frozen here: later work must not count

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self._sampled = max(self._sampled, current_rss())

    @property
    def peak(self) -> int:
        if self._final is not None:
            return self._final
        hwm = _status_bytes("VmHWM") if self._hwm else None
        return max(self._sampled, hwm or 0)

    @property
    def growth_mb(self) -> float:
        return max(self.peak - self.baseline, 0) / MB


# --- 1. streaming -------------------------------------------------------------------------


@dataclass
class StreamResult:
    count: int
    expected: int
    seconds: float
    requests: int
    rss_baseline_mb: float
    rss_growth_mb: float
    checks: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


async def bench_stream(count: int, same_created_at: int = 1) -> StreamResult:
    """Stream ``count`` customers from an emulator in another process."""
    async with Emulator(mode="process") as emu:
        await emu.seed_customers(count, same_created_at=same_created_at, email=None)
        async with AsyncVoucherify(
            app_id=emu.app_id, app_token=emu.app_token, base_url=emu.url
        ) as vf:
            # Warm up: imports, session, connection, decoder.
            await vf.customers.list(limit=100)
            await asyncio.sleep(0.05)
            before = (await emu.stats())["requests_total"]
            streamed = 0
            checksum = 0
            backwards = 0
            previous_at = None
            with PeakRss() as memory:
                started = time.perf_counter()
                async for customer in vf.customers.list():
                    streamed += 1
                    checksum += hash(customer.id)
                    created_at = customer.created_at
                    if (
                        previous_at is not None
                        and created_at is not None
                        and (created_at > previous_at)
                    ):
                        backwards += 1
                    previous_at = created_at
                seconds = time.perf_counter() - started
            requests = (await emu.stats())["requests_total"] - before
        # After the measurement: the emulator's own list of ids (100 MB for a million).
        expected_ids = await emu.customer_ids()
    expected_sum = sum(hash(customer_id) for customer_id in expected_ids)
    checks = []
    if streamed != len(expected_ids):
        checks.append(f"streamed {streamed:,} customers, the emulator holds {len(expected_ids):,}")
    if checksum != expected_sum:
        checks.append("the streamed ids are not the emulator's ids (checksum differs)")
    if backwards:
        checks.append(f"created_at went backwards {backwards} times")
    return StreamResult(
        count=streamed,
        expected=len(expected_ids),
        seconds=seconds,
        requests=requests,
        rss_baseline_mb=memory.baseline / MB,
        rss_growth_mb=memory.growth_mb,
        checks=checks,
    )


# --- 2. pacing ----------------------------------------------------------------------------


@dataclass
class PacingResult:
    limit: int
    period: float
    windows: int
    requests_in_windows: int
    seconds: float
    too_many_requests: int
    requests_total: int
    scanned: int
    lookups: int
    checks: list[str] = field(default_factory=list)

    @property
    def per_period(self) -> float:
        return self.requests_in_windows / (self.seconds / self.period) if self.seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.per_period / self.limit


async def bench_pacing(
    limit: int, period: float, windows: int = 2, lookup_tasks: int = 3
) -> PacingResult:
    """Scan plus concurrent lookups under a rate limit, for ``windows`` whole periods."""
    # Enough customers that the scan (100 a page) outlasts the measurement.
    customers = max(1_000, (windows + 2) * limit * 100)
    async with Emulator(mode="process", rate_limit=limit, rate_limit_period=period) as emu:
        await emu.seed_customers(customers, email=None, name=None)
        ids = await emu.customer_ids()
        ids = ids[:: max(1, len(ids) // 5_000)]  # lookups pick from these

        # Every answer's time and X-Rate-Limit-Retry: the period it was counted in.
        answers: list[tuple[float, str]] = []
        third_window = asyncio.Event()

        async def on_request_end(
            _session: aiohttp.ClientSession, _context: Any, params: aiohttp.TraceRequestEndParams
        ) -> None:
            retry = params.response.headers.get("X-Rate-Limit-Retry", "")
            if params.response.status != 429:
                answers.append((time.monotonic(), retry))
            if len({r for _, r in answers}) > windows:
                third_window.set()

        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(on_request_end)
        counts = {"scanned": 0, "lookups": 0}
        async with aiohttp.ClientSession(trace_configs=[trace]) as session:
            vf = AsyncVoucherify(
                app_id=emu.app_id, app_token=emu.app_token, base_url=emu.url, session=session
            )

            async def scan() -> None:
                async for _ in vf.customers.list(limit=100):
                    counts["scanned"] += 1

            async def lookups(seed: int) -> None:
                rng = random.Random(seed)
                while True:
                    await vf.customers.get(rng.choice(ids))
                    counts["lookups"] += 1

            tasks = [asyncio.ensure_future(scan())]
            tasks += [asyncio.ensure_future(lookups(n)) for n in range(lookup_tasks)]
            try:
                waiter = asyncio.ensure_future(third_window.wait())
                done, _ = await asyncio.wait([waiter, *tasks], return_when="FIRST_COMPLETED")
                for task in done:
                    if task is not waiter:
                        task.result()  # a task that ended early: raise what ended it
            finally:
                for task in [*tasks, waiter]:
                    task.cancel()
                await asyncio.gather(*tasks, waiter, return_exceptions=True)
            await vf.aclose()
        stats = await emu.stats()

    order: list[str] = []
    first_at: dict[str, float] = {}
    for moment, retry in answers:
        if retry not in first_at:
            first_at[retry] = moment
            order.append(retry)
    checks = []
    if len(order) <= windows:
        checks.append(f"only {len(order)} rate-limit periods were seen")
        seconds = 0.0
        in_windows = 0
    else:
        # From the first answer of period 1 to the first answer of period windows+1.
        seconds = first_at[order[windows]] - first_at[order[0]]
        in_windows = sum(1 for _, retry in answers if retry in order[:windows])
    return PacingResult(
        limit=limit,
        period=period,
        windows=windows,
        requests_in_windows=in_windows,
        seconds=seconds,
        too_many_requests=stats["too_many_requests"],
        requests_total=stats["requests_total"],
        scanned=counts["scanned"],
        lookups=counts["lookups"],
        checks=checks,
    )


# --- report -------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(stream: StreamResult | None, pacing: PacingResult | None) -> str:
    """The results as a markdown table."""
    rows = ["| benchmark | figure | result | target |", "|---|---|---|---|"]
    if stream is not None:
        name = f"stream {stream.expected:,} customers"
        growth_ok = stream.rss_growth_mb < RSS_TARGET_MB
        rows += [
            f"| {name} | wall time | {stream.seconds:.2f} s | |",
            f"| {name} | customers/s | {stream.per_second:,.0f} | |",
            f"| {name} | requests | {stream.requests:,} | |",
            f"| {name} | yielded, checked against the emulator | {stream.count:,}"
            f" {'ok' if not stream.checks else 'FAILED'} | all, once |",
            f"| {name} | client RSS after warm-up | {stream.rss_baseline_mb:.1f} MB | |",
            f"| {name} | client peak RSS growth | {stream.rss_growth_mb:.1f} MB"
            f" | < {RSS_TARGET_MB:.0f} MB ({_verdict(growth_ok)}) |",
        ]
    if pacing is not None:
        name = f"pacing {pacing.limit} per {pacing.period:g} s"
        rows += [
            f"| {name} | whole periods measured | {pacing.windows} ({pacing.seconds:.1f} s) | |",
            f"| {name} | requests per period achieved | {pacing.per_period:.1f}"
            f" of {pacing.limit} | |",
            f"| {name} | ratio of the allowed rate | {pacing.ratio:.3f}"
            f" | >= {RATIO_TARGET} ({_verdict(pacing.ratio >= RATIO_TARGET)}) |",
            f"| {name} | 429 answers | {pacing.too_many_requests}"
            f" | 0 ({_verdict(pacing.too_many_requests == 0)}) |",
            f"| {name} | customers scanned / lookups | {pacing.scanned:,} / {pacing.lookups:,} | |",
        ]
    return "\n".join(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=None, help="customers to stream")
    parser.add_argument("--same-created-at", type=int, default=1,
                        help="customers sharing each created_at millisecond")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="small sizes, short periods")
    parser.add_argument("--pacing-limit", type=int, default=None)
    parser.add_argument("--pacing-period", type=float, default=None)
    parser.add_argument("--windows", type=int, default=2, help="whole periods to measure")
    parser.add_argument("--lookups", type=int, default=3, help="concurrent lookup loops")
    parser.add_argument("--skip-stream", action="store_true")
    parser.add_argument("--skip-pacing", action="store_true")
    options = parser.parse_args(argv)
    if options.count is None:
        options.count = 50_000 if options.quick else 1_000_000
    if options.pacing_limit is None:
        options.pacing_limit = 100 if options.quick else 600
    if options.pacing_period is None:
        options.pacing_period = 10.0 if options.quick else 60.0
    return options


async def run(options: argparse.Namespace) -> tuple[StreamResult | None, PacingResult | None]:
    stream = (
        None if options.skip_stream else await bench_stream(options.count, options.same_created_at)
    )
    pacing = (
        None
        if options.skip_pacing
        else await bench_pacing(
            options.pacing_limit, options.pacing_period, options.windows, options.lookups
        )
    )
    return stream, pacing


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table; 1 if a check (not a target) failed."""
    options = parse_args(argv)
    stream, pacing = asyncio.run(run(options))
    print(report(stream, pacing))
    problems = (stream.checks if stream else []) + (pacing.checks if pacing else [])
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
