"""Benchmark: import a large CSV file and measure how much the client's memory grows.

Usage::

    python benchmarks/bench_csv_import.py                 # a 500 MB file (the target)
    python benchmarks/bench_csv_import.py --size-mb 50 --part-mb 2

A CSV file of ``--size-mb`` megabytes is generated in a temporary directory (customers with
a long description, every 50th with a quoted two-line name), then
``vf.customers.import_csv(path)`` sends it to an emulator running in another process
(``mode="process"``, so the server's memory is not counted). The file is cut into parts
under the API's 10 MB limit, each streamed with the header. A thread samples the process's
resident set size every 10 ms; the figure is the peak growth over the baseline taken after
the client's session is open. The target: under 50 MB for a 500 MB file.

The emulator's job worker is slowed to a crawl (``job_item_delay_ms``) so that it spends
its time receiving uploads, not importing millions of rows, while we measure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voucherify_async import AsyncVoucherify
from voucherify_async.emulator import Emulator

MB = 1024 * 1024
TARGET_GROWTH_MB = 50.0
_NOTE = "lorem ipsum dolor sit amet " * 30  # ~800 bytes: fewer, fatter rows


def rss_bytes() -> int:
    """The resident set size of this process, in bytes."""
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return int(psutil.Process().memory_info().rss)


class PeakSampler:
    """Samples RSS in a thread (independent of the event loop) and keeps the peak."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def generate(path: Path, size_bytes: int) -> int:
    """Write a customer CSV of at least ``size_bytes`` bytes; return its data rows."""
    rows = 0
    written = 0
    with path.open("wb") as handle:
        header = b"Source_id,Name,Email,Address_City,Description,tier\n"
        handle.write(header)
        written += len(header)
        block: list[bytes] = []
        while written < size_bytes:
            rows += 1
            name = f'"Customer {rows}\nsecond line"' if rows % 50 == 0 else f"Customer {rows}"
            line = (
                f"src-{rows},{name},c{rows}@example.com,City {rows % 97},{_NOTE},{rows % 5}\n"
            ).encode()
            block.append(line)
            written += len(line)
            if len(block) == 4_096:
                handle.write(b"".join(block))
                block.clear()
        handle.write(b"".join(block))
    return rows


async def measure(emulator: Emulator, path: Path, part_bytes: int | None) -> dict[str, Any]:
    """Import ``path`` through the SDK; return the RSS growth and timings."""
    options: dict[str, Any] = {} if part_bytes is None else {"max_part_bytes": part_bytes}
    async with AsyncVoucherify(
        app_id=emulator.app_id,
        app_token=emulator.app_token,
        base_url=emulator.url,
        timeout=300,
    ) as vf:
        # Open the session and warm every code path on a tiny import first.
        warm = await vf.customers.import_csv(b"Source_id,Name\nwarm-up,Warm\n")
        await warm.wait(timeout=60, poll_interval=0.05)
        baseline = rss_bytes()
        started = time.perf_counter()
        with PeakSampler() as sampler:
            job = await vf.customers.import_csv(path, **options)
        elapsed = time.perf_counter() - started
    return {
        "baseline_rss_mb": baseline / MB,
        "peak_rss_mb": sampler.peak / MB,
        "rss_growth_mb": (sampler.peak - baseline) / MB,
        "seconds": elapsed,
        "parts": len(job.parts),
        "rows_sent": sum(part.size or 0 for part in job.parts),
        "samples": sampler.samples,
    }


def run_benchmark(
    size_mb: float = 500.0, part_mb: float | None = None, workdir: Path | None = None
) -> dict[str, Any]:
    """Generate the file, start the emulator in a subprocess, import, and report.

    Example: ``run_benchmark(5, part_mb=1)["rss_growth_mb"]``.
    """
    part_bytes = None if part_mb is None else int(part_mb * MB)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "customers.csv"
        rows = generate(path, int(size_mb * MB))
        size = path.stat().st_size
        emulator = Emulator(mode="process", job_item_delay_ms=1_000)
        emulator.start_sync()
        try:
            figures = asyncio.run(measure(emulator, path, part_bytes))
        finally:
            emulator.stop_sync()
    figures.update(file_mb=size / MB, rows=rows)
    figures["throughput_mb_s"] = figures["file_mb"] / figures["seconds"]
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run from the command line; print the figures; exit 1 if over the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=500.0, help="size of the CSV file")
    parser.add_argument(
        "--part-mb",
        type=float,
        default=None,
        help="largest part (default: the SDK's, just under 10 MB)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run_benchmark(args.size_mb, args.part_mb)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"imported {figures['file_mb']:.0f} MB ({figures['rows']:,} rows) in"
            f" {figures['parts']} part{'s' if figures['parts'] != 1 else ''},"
            f" {figures['seconds']:.1f} s"
            f" ({figures['throughput_mb_s']:.0f} MB/s)\n"
            f"client RSS: {figures['baseline_rss_mb']:.1f} MB before, peak"
            f" {figures['peak_rss_mb']:.1f} MB: growth {figures['rss_growth_mb']:.1f} MB"
            f" (target < {TARGET_GROWTH_MB:.0f} MB)"
        )
    return 0 if figures["rss_growth_mb"] < TARGET_GROWTH_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
