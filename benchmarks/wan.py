"""A whole scan on a real network: latency per page and a plan's rate limit.

Usage::

    python benchmarks/wan.py [--customers 90000] [--latency-ms 200] [--jitter-ms 50]
        [--limit 300] [--period 10] [--rows sequential,partition,auto,16]

The emulator runs in its own process, answering every request after ``--latency-ms`` plus a
uniform ``--jitter-ms``, allowing ``--limit`` requests per ``--period`` seconds (a fixed window
that opens with its first request). Each row scans every customer once and reports its time,
its share of the ideal and the 429s the emulator counted. The ideal spends each window's
budget at once: ``(ceil(pages / limit) - 1) * period + one latency`` (2 x 10 s + 0.2 s for
900 pages at 300 per 10 s). Rows:

- ``sequential``: ``async for c in vf.customers.list()``, timed on its first 40 pages and
  extrapolated (a full run would take minutes);
- ``partition``: ``vf.customers.partition(8)`` and a task group streaming the parts, as a
  user writes it by hand;
- ``auto`` and a number N: ``vf.customers.list(parallel=...)``.

Between rows the benchmark waits for the rate-limit window to close, so each starts fresh.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio

from benchmarks._common import BenchResult, Figure
from voucherify_async import AsyncVoucherify
from voucherify_async.emulator import Emulator

SEQUENTIAL_PAGES = 40
PAGE = 100


def ideal(customers: int, limit: int | None, period: float, latency: float) -> float:
    """Seconds a client that spends each window's budget at once would take."""
    pages = math.ceil(customers / PAGE)
    if not limit:
        return latency
    pages = max(pages, 1)
    return (math.ceil(pages / limit) - 1) * period + latency


async def _scan(
    vf: AsyncVoucherify, row: str, customers: int, *, extrapolate: bool
) -> tuple[float, int, bool]:
    """One row's scan: (seconds, customers seen, whether it was extrapolated)."""
    seen: set[str] = set()
    start = time.perf_counter()
    if row == "sequential" and not extrapolate:
        async for customer in vf.customers.list(limit=PAGE):
            seen.add(customer.id)
        return time.perf_counter() - start, len(seen), False
    if row == "sequential":
        async for customer in vf.customers.list(limit=PAGE):
            seen.add(customer.id)
            if len(seen) >= SEQUENTIAL_PAGES * PAGE:
                break
        elapsed = time.perf_counter() - start
        return elapsed * customers / max(len(seen), 1), len(seen), True
    if row == "partition":
        parts = await vf.customers.partition(8)

        async def drain(part: Any) -> None:
            async for customer in part.stream(vf, limit=PAGE):
                seen.add(customer.id)

        async with anyio.create_task_group() as group:
            for part in parts:
                group.start_soon(drain, part)
        return time.perf_counter() - start, len(seen), False
    parallel: int | str = row if row == "auto" else int(row)
    count = 0
    async for customer in vf.customers.list(limit=PAGE, parallel=parallel):
        seen.add(customer.id)
        count += 1
    if count != len(seen):
        raise SystemExit(f"{row}: {count - len(seen)} customers yielded twice")
    return time.perf_counter() - start, len(seen), False


async def _status(emu: Emulator) -> tuple[int, int]:
    stats = await emu.stats()
    return int(stats["requests_total"]), int(stats["by_status"].get("429", 0))


def measure(
    *,
    customers: int,
    latency_ms: float,
    jitter_ms: float,
    limit: int | None,
    period: float,
    rows: Sequence[str],
) -> list[dict[str, Any]]:
    """Scan ``customers`` once per row; returns one dict a row."""
    settings: dict[str, Any] = {"latency_ms": latency_ms, "jitter_ms": jitter_ms}
    if limit:
        settings.update(rate_limit=limit, rate_limit_period=period)
    results = []
    with Emulator(mode="process", **settings) as emu:
        asyncio.run(emu.seed_customers(customers))
        best = ideal(customers, limit, period, latency_ms / 1000)
        for row in rows:
            if limit:
                time.sleep(period + 1.5)  # the last row's window closes

            async def one(row: str = row) -> dict[str, Any]:
                before = await _status(emu)
                async with emu.client(max_retry_wait=2 * period + 5) as vf:
                    seconds, seen, extrapolated = await _scan(
                        vf, row, customers, extrapolate=latency_ms > 0
                    )
                after = await _status(emu)
                sent = after[0] - before[0]
                if extrapolated:
                    sent = round(sent * customers / max(seen, 1))
                # What a client spending each window at once would take for the requests
                # this row needed (its overhead included): what bounds it beyond the ideal.
                own = ideal(sent * PAGE, limit, period, latency_ms / 1000)
                return {
                    "row": row,
                    "seconds": seconds,
                    "of ideal": best / seconds,
                    "of ideal for its requests": own / seconds,
                    "customers": seen,
                    "requests": sent,
                    "429s": after[1] - before[1],
                    "extrapolated": extrapolated,
                }

            result = asyncio.run(one())
            results.append(result)
            print(f"[wan] {result}", file=sys.stderr, flush=True)
    return results


def table(rows: list[dict[str, Any]], customers: int) -> str:
    """A markdown table of the rows."""
    lines = [
        "| form | seconds | of the ideal | of the ideal for its requests | customers | requests"
        " | 429s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        name = {"sequential": "`list()`", "partition": "`partition(8)` + task group"}.get(
            r["row"], f"`list(parallel={r['row']!r})`"
        )
        seen = f"{r['customers']:,}" + (" (extrapolated)" if r["extrapolated"] else "")
        if not r["extrapolated"] and r["customers"] != customers:
            seen += f" of {customers:,}"
        shares = (
            f"{r['of ideal']:.2f} | {r['of ideal for its requests']:.2f}"
            if r["of ideal"]
            else "n/a | n/a"
        )
        lines.append(
            f"| {name} | {r['seconds']:.2f} | {shares} | {seen} | {r['requests']} | {r['429s']} |"
        )
    return "\n".join(lines)


def run(quick: bool = False, rounds: int | None = None) -> BenchResult:
    """The benchmark runner's entry (``python -m benchmarks --only wan``)."""
    del rounds
    if quick:
        main_rows = measure(customers=3_000, latency_ms=50, jitter_ms=10, limit=10, period=2.0,
                            rows=("sequential", "auto"))  # fmt: skip
        minute: list[dict[str, Any]] = []
        loopback = measure(customers=3_000, latency_ms=0, jitter_ms=0, limit=None, period=60,
                           rows=("sequential", "auto"))  # fmt: skip
        size = 3_000
    else:
        size = 90_000
        main_rows = measure(customers=size, latency_ms=200, jitter_ms=50, limit=300, period=10.0,
                            rows=("sequential", "partition", "auto", "16"))  # fmt: skip
        minute = measure(customers=30_000, latency_ms=200, jitter_ms=50, limit=200, period=60.0,
                         rows=("auto",))  # fmt: skip
        loopback = measure(customers=size, latency_ms=0, jitter_ms=0, limit=None, period=60,
                           rows=("sequential", "auto", "sequential", "auto"))  # fmt: skip
    by = {r["row"]: r for r in main_rows}
    auto, sequential = by["auto"], by["sequential"]
    speedup = sequential["seconds"] / auto["seconds"]
    zero_seq = [r["seconds"] for r in loopback if r["row"] == "sequential"]
    zero_auto = [r["seconds"] for r in loopback if r["row"] == "auto"]
    zero_ratio = min(zero_seq) / min(zero_auto)
    met = (
        auto["of ideal"] >= 0.85
        and auto["429s"] == 0
        and auto["customers"] == size
        and speedup >= 8
        and zero_ratio >= 0.95
        and all(r["429s"] == 0 for r in minute)
    )
    details = [
        "At 200 +- 50 ms a page, 300 requests per 10 s:" if not quick else "Quick sizes:",
        table(main_rows, size),
    ]
    if minute:
        details += ["At 200 +- 50 ms, 200 requests per 60 s, 30,000 customers:",
                    table(minute, 30_000)]  # fmt: skip
    details += ["At zero latency, no rate limit (best of each):", table(loopback, size)]
    return BenchResult(
        key="wan",
        title="A whole scan on a real network (latency and a rate limit)",
        command="python -m benchmarks --only wan",
        ours=Figure('list(parallel="auto"), of the ideal', [auto["of ideal"]], ""),
        peers=[
            Figure("sequential list(), of the ideal", [sequential["of ideal"]], ""),
            *[
                Figure(f"{r['row']}, of the ideal", [r["of ideal"]], "")
                for r in main_rows
                if r["row"] not in ("auto", "sequential")
            ],
        ],
        ratios=[
            f'parallel="auto" {speedup:.1f}x the sequential stream',
            f'at zero latency parallel="auto" {zero_ratio:.2f}x the sequential stream',
        ],
        target='parallel="auto" >= 0.85 of the ideal with 0 429s and every customer once;'
        " >= 8x the sequential stream; >= 0.95x it at zero latency",
        met=met,
        details="\n\n".join(details),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rows given on the command line and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=90_000)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--jitter-ms", type=float, default=50)
    parser.add_argument("--limit", type=int, default=300, help="0: no rate limit")
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--rows", default="sequential,partition,auto,16")
    args = parser.parse_args(argv)
    rows = measure(
        customers=args.customers,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        limit=args.limit or None,
        period=args.period,
        rows=args.rows.split(","),
    )
    print(table(rows, args.customers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
