"""Benchmark the dlt source: customers/s into DuckDB against a raw ``async for``, and memory.

Usage::

    python benchmarks/bench_dlt.py [--sizes 200000 1000000] [--parallel 1]

For each size, one emulator (``mode="process"``, its own core) is seeded, then two fresh
child processes read every customer from it, one after the other:

* ``raw``: ``async for customer in vf.customers.list()``, counting;
* ``dlt``: ``load(...)`` of the ``customers`` resource into a new DuckDB file (extract,
  normalize and load, all of it), then ``SELECT count(*)`` from the file, checked.

Reported per size: customers/s of each, the overhead ratio (raw rate / dlt rate), and each
child's peak RSS (``ru_maxrss``). Memory flat with size means the 1M row's peak is close to
the 200k row's. Needs the ``dlt`` extra. Prints a markdown table; exits 1 if a count is off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MB = 1024 * 1024


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024


async def _raw(env: dict[str, str]) -> int:
    from voucherify_async import AsyncVoucherify

    count = 0
    async with AsyncVoucherify(
        app_id=env["VOUCHERIFY_APP_ID"],
        app_token=env["VOUCHERIFY_APP_TOKEN"],
        base_url=env["VOUCHERIFY_BASE_URL"],
    ) as vf:
        async for _customer in vf.customers.list():
            count += 1
    return count


def _dlt(env: dict[str, str], parallel: int) -> int:
    from voucherify_async.dlt import count_rows, load, pipeline

    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    with tempfile.TemporaryDirectory(prefix="bench-dlt-") as folder:
        path = Path(folder) / "customers.duckdb"
        load(
            pipeline(duckdb_path=path, pipelines_dir=Path(folder) / "pipelines"),
            app_id=env["VOUCHERIFY_APP_ID"],
            app_token=env["VOUCHERIFY_APP_TOKEN"],
            base_url=env["VOUCHERIFY_BASE_URL"],
            parallel=parallel,
        )
        return count_rows(path)[1]


def child(kind: str, parallel: int) -> None:
    """Run one measurement (the emulator is named by the environment); print JSON."""
    env = dict(os.environ)
    started = time.perf_counter()
    count = asyncio.run(_raw(env)) if kind == "raw" else _dlt(env, parallel)
    seconds = time.perf_counter() - started
    print(json.dumps({"count": count, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}))


def _measure(kind: str, env: dict[str, str], parallel: int) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--parallel", str(parallel)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{result.stderr[-4000:]}")
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def main() -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--parallel", type=int, default=1, help="partitions the dlt load uses")
    parser.add_argument("--child", choices=("raw", "dlt"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.parallel)
        return 0

    from voucherify_async.emulator import Emulator

    lines = [
        "| customers | raw async for (c/s) | dlt into DuckDB (c/s) | overhead (raw/dlt) |"
        " raw peak RSS (MB) | dlt peak RSS (MB) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    failed = False
    for size in args.sizes:
        with Emulator(mode="process") as emulator:
            asyncio.run(emulator.seed_customers(size))
            raw = _measure("raw", emulator.env, args.parallel)
            loaded = _measure("dlt", emulator.env, args.parallel)
        for name, measured in (("raw", raw), ("dlt", loaded)):
            if measured["count"] != size:
                print(f"{name} at {size:,}: {measured['count']:,} customers", file=sys.stderr)
                failed = True
        raw_rate = size / raw["seconds"]
        dlt_rate = size / loaded["seconds"]
        lines.append(
            f"| {size:,} | {raw_rate:,.0f} | {dlt_rate:,.0f} | {raw_rate / dlt_rate:.1f}x |"
            f" {raw['peak_rss_mb']:.0f} | {loaded['peak_rss_mb']:.0f} |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    print(f"dlt load, parallel={args.parallel}\n")
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
