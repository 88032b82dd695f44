"""Benchmark the emulator: seeding time and list-page latency as the store grows.

Usage::

    python benchmarks/bench_emulator.py [--count 1000000] [--repeat 30] [--mode process]

For each store size (10k, 100k, and ``--count``, capped at ``--count``) the emulator is
reset and seeded, then each listing query is timed ``--repeat`` times over one keep-alive
connection (median and p95, in milliseconds, HTTP round trip included). The server runs
in a subprocess by default so the client does not steal its core. Page latency should stay
flat as the store grows: every query below is a bisect plus a slice of 100 customers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voucherify_async.emulator import Emulator

START_MS = 1_600_000_000_000  # 2020-09-13T12:26:40.000Z
SIZES = (10_000, 100_000, 1_000_000)


def iso(ms: int) -> str:
    """Render epoch milliseconds as the API does."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def queries(size: int) -> dict[str, dict[str, str]]:
    """The listing queries to time against a store of ``size`` seeded customers."""
    middle = START_MS + size // 2
    return {
        "first page": {"limit": "100"},
        "page 99": {"limit": "100", "page": "99"},
        "starting_after (middle)": {"limit": "100", "starting_after": iso(middle)},
        "email filter": {"email": f"customer{size // 2}@example.com"},
        "created_at window (20%)": {
            "limit": "100",
            "created_at[after]": iso(START_MS + size * 2 // 5),
            "created_at[before]": iso(START_MS + size * 3 // 5),
        },
        "city filter, page 10": {"limit": "100", "city": "City 7", "page": "10"},
    }


async def _time(session: aiohttp.ClientSession, url: str, params: dict[str, str],
                repeat: int) -> tuple[float, float]:  # fmt: skip
    samples = []
    for _ in range(repeat + 2):
        started = time.perf_counter()
        async with session.get(url, params=params) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"{response.status}: {body[:200]!r}")
        samples.append((time.perf_counter() - started) * 1000)
    samples = sorted(samples[2:])  # the first two warm the connection and caches
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


async def run(count: int, repeat: int, mode: str) -> dict[int, dict[str, Any]]:
    """Seed and time every size up to ``count``; returns {size: {query: (median, p95)}}."""
    sizes = sorted({size for size in SIZES if size < count} | {count})
    results: dict[int, dict[str, Any]] = {}
    emulator = Emulator(mode=mode)  # type: ignore[arg-type]
    async with emulator as emu, aiohttp.ClientSession(headers=emu.headers) as session:
        for size in sizes:
            await emu.reset()
            started = time.perf_counter()
            await emu.seed_customers(size, start=iso(START_MS), city="City {i%100}")
            row: dict[str, Any] = {"seed (s)": time.perf_counter() - started}
            for name, params in queries(size).items():
                row[name] = await _time(session, emu.url + "/v1/customers", params, repeat)
            results[size] = row
        await emu.reset()
    return results


def table(results: dict[int, dict[str, Any]]) -> str:
    """Render the results as a markdown table (latencies: median / p95 ms)."""
    sizes = list(results)
    header = "| query | " + " | ".join(f"{size:,} customers" for size in sizes) + " |"
    lines = [header, "|---" * (len(sizes) + 1) + "|"]
    for name in results[sizes[0]]:
        cells = []
        for size in sizes:
            value = results[size][name]
            cells.append(f"{value:.2f}" if isinstance(value, float) else
                         f"{value[0]:.2f} / {value[1]:.2f}")  # fmt: skip
        label = name if name == "seed (s)" else f"{name} (ms, median / p95)"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[int, dict[str, Any]]:
    """Run the benchmark and print a markdown table; returns the raw figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="largest store size")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per query")
    parser.add_argument("--mode", choices=("process", "thread", "loop"), default="process")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.count, args.repeat, args.mode))
    print(table(results), flush=True)
    return results


if __name__ == "__main__":
    main()
