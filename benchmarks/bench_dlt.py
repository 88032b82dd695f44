"""Benchmark the dlt source: customers/s into DuckDB against a raw ``async for``, and memory.

Usage::

    python benchmarks/bench_dlt.py [--sizes 200000 1000000] [--parallel 1] [--rounds 1]
    python -m benchmarks --only dlt            # the same, written into the report

For each size, one emulator (``mode="process"``: its own process and core) is seeded, then,
in every round, two fresh child processes read every customer from it, one after the other:

* ``raw``: ``async for customer in vf.customers.list()``, counting;
* ``dlt``: ``load(...)`` of the ``customers`` resource into a new DuckDB file (extract,
  normalize and load, all of it), then ``SELECT count(*)`` from the file, checked;
* ``ceiling``: dlt's own ceiling for the same job: the same number of rows, made from
  1,000 customers read from the emulator before the clock starts (each copy with its own
  ``id`` and timestamps), yielded by a plain generator in the same batches into a dlt
  resource with the ``customers`` resource's hints (columns, primary key, write
  disposition, the ``changed_at`` cursor), the same loader file format, into a new DuckDB
  file made by the same ``pipeline()``. No API, no client: what dlt and DuckDB take.

Reported per size: customers/s of each (the clock starts once the child has imported what
it needs), the overhead (raw rate / dlt rate), the ratio to dlt's ceiling (dlt rate /
ceiling rate; the goal is ``CEILING`` or more), and each child's peak RSS (``ru_maxrss``).
The emulator's store (1,000,000 customers is ~1 GB) is in the emulator's process, so it is
in neither figure: the dlt figure is the load's own memory. Memory flat with size means the
largest size's peak is close to the smallest's; the target is 1.25x (see ``FLAT``). Needs
the ``dlt`` extra. A count that is off is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import BenchResult, Figure

MB = 1024 * 1024
KEY = "dlt"
SIZES = (200_000, 1_000_000)
QUICK_SIZES = (1_000, 5_000)
#: The target: the load's peak RSS at the largest size within this factor of the smallest's.
#: DuckDB's share is capped by its ``memory_limit`` and the files dlt hands it are bounded,
#: so what is left to grow is noise: the allocator, and DuckDB's allocations outside its
#: buffer manager (which the limit does not cover). 1.25x leaves room for those and fails a
#: load whose memory grows with the customers (without the cap it took 1.2 GB at 1M).
FLAT = 1.25
#: The goal: the load at this fraction of dlt's own rate for the same rows or more.
CEILING = 0.9
#: Distinct customers the ceiling's rows are copied from.
SAMPLE = 1_000
KINDS = ("raw", "dlt", "ceiling")


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


async def _sample(env: dict[str, str]) -> list[dict[str, Any]]:
    from voucherify_async import AsyncVoucherify
    from voucherify_async.dlt import customer_row

    rows: list[dict[str, Any]] = []
    async with AsyncVoucherify(
        app_id=env["VOUCHERIFY_APP_ID"],
        app_token=env["VOUCHERIFY_APP_TOKEN"],
        base_url=env["VOUCHERIFY_BASE_URL"],
    ) as vf:
        async for customer in vf.customers.list():
            # As the source hands it to dlt: without the None values (a missing column
            # loads as NULL, and dlt's normalizer checks every None it is given).
            row = customer_row(customer)
            rows.append({key: value for key, value in row.items() if value is not None})
            if len(rows) >= SAMPLE:
                break
    return rows


def _ceiling(env: dict[str, str], size: int, sample: list[dict[str, Any]]) -> int:
    """dlt alone: ``size`` rows shaped like the source's, from a generator, into DuckDB."""
    from datetime import timedelta

    import dlt

    from voucherify_async.dlt import count_rows, file_format, pipeline, voucherify_source

    hints = voucherify_source(
        app_id=env["VOUCHERIFY_APP_ID"],
        app_token=env["VOUCHERIFY_APP_TOKEN"],
        base_url=env["VOUCHERIFY_BASE_URL"],
    ).resources["customers"]
    schema = hints.compute_table_schema()
    primary_key = [name for name, column in schema["columns"].items() if column.get("primary_key")]

    def rows() -> Any:
        batch: list[dict[str, Any]] = []
        for index in range(size):
            row = dict(sample[index % len(sample)])
            row["id"] = f"cust_{index:012d}"
            row["created_at"] = row["changed_at"] = row["changed_at"] + timedelta(
                milliseconds=index
            )
            batch.append(row)
            if len(batch) >= 500:
                yield batch
                batch = []
        if batch:
            yield batch

    resource = dlt.resource(
        rows,
        name="customers",
        columns=hints.columns,
        primary_key=primary_key,
        write_disposition=hints.write_disposition,
    )
    resource.apply_hints(incremental=dlt.sources.incremental("changed_at"))
    with tempfile.TemporaryDirectory(prefix="bench-dlt-") as folder:
        path = Path(folder) / "customers.duckdb"
        target = pipeline(duckdb_path=path, pipelines_dir=Path(folder) / "pipelines")
        target.run(resource, loader_file_format=file_format(target))
        return count_rows(path)[1]


def child(kind: str, parallel: int) -> None:
    """Run one measurement (the emulator is named by the environment); print JSON."""
    env = dict(os.environ)
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    # Imported before the clock starts: the figure is the load, not the interpreter's start.
    if kind == "raw":
        import voucherify_async
    else:
        import voucherify_async.dlt  # noqa: F401
    if kind == "ceiling":
        sample = asyncio.run(_sample(env))
    started = time.perf_counter()
    if kind == "raw":
        count = asyncio.run(_raw(env))
    elif kind == "dlt":
        count = _dlt(env, parallel)
    else:
        count = _ceiling(env, int(env["BENCH_DLT_SIZE"]), sample)
    seconds = time.perf_counter() - started
    print(json.dumps({"count": count, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}))


def _measure(kind: str, env: dict[str, str], parallel: int, size: int) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--parallel", str(parallel)],
        env={**os.environ, **env, "BENCH_DLT_SIZE": str(size)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{result.stderr[-4000:]}")
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def measure(sizes: Sequence[int], parallel: int = 1, rounds: int = 1) -> list[dict[str, Any]]:
    """Every size, ``rounds`` times each: the raw read, then the dlt load, fresh processes.

    Returns:
        One row per size: the size, the seconds to seed it, and per client (``raw``,
        ``dlt``) its rate (customers/s) and peak RSS (MB) of every round.

    Raises:
        RuntimeError: a child failed, or read or loaded a count other than the size.
    """
    from voucherify_async.emulator import Emulator

    rows = []
    for size in sizes:
        with Emulator(mode="process") as emulator:
            started = time.perf_counter()
            asyncio.run(emulator.seed_customers(size))
            seeded = time.perf_counter() - started
            row: dict[str, Any] = {"size": size, "seed_s": seeded}
            for kind in KINDS:
                row[kind] = {"rate": [], "peak_rss_mb": []}
            for _ in range(rounds):
                for kind in KINDS:
                    measured = _measure(kind, emulator.env, parallel, size)
                    if measured["count"] != size:
                        raise RuntimeError(
                            f"{kind} at {size:,}: {measured['count']:,} customers, not {size:,}"
                        )
                    row[kind]["rate"].append(size / measured["seconds"])
                    row[kind]["peak_rss_mb"].append(measured["peak_rss_mb"])
        rows.append(row)
        print(f"[dlt] {_line(row)}", file=sys.stderr, flush=True)
    return rows


def _median(row: dict[str, Any], kind: str, what: str) -> float:
    return float(statistics.median(row[kind][what]))


def _overhead(row: dict[str, Any]) -> float:
    return _median(row, "raw", "rate") / _median(row, "dlt", "rate")


def _of_ceiling(row: dict[str, Any]) -> float:
    return _median(row, "dlt", "rate") / _median(row, "ceiling", "rate")


def _line(row: dict[str, Any]) -> str:
    raw, dlt = _median(row, "raw", "rate"), _median(row, "dlt", "rate")
    ceiling = _median(row, "ceiling", "rate")
    return (
        f"| {row['size']:,} | {raw:,.0f} | {dlt:,.0f} | {ceiling:,.0f} | {raw / dlt:.1f}x |"
        f" {dlt / ceiling:.2f}x |"
        f" {_median(row, 'raw', 'peak_rss_mb'):.0f} | {_median(row, 'dlt', 'peak_rss_mb'):.0f} |"
    )


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table (medians over the rounds)."""
    lines = [
        "| customers | raw `async for` (c/s) | dlt into DuckDB (c/s) | dlt's ceiling (c/s) |"
        " overhead (raw/dlt) | of dlt's ceiling | raw peak RSS (MB) | dlt peak RSS (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    return "\n".join(lines + [_line(row) for row in rows])


def growth(rows: list[dict[str, Any]]) -> float:
    """The dlt load's peak RSS at the largest size over that at the smallest."""
    return _median(rows[-1], "dlt", "peak_rss_mb") / _median(rows[0], "dlt", "peak_rss_mb")


def run(quick: bool = False, rounds: int | None = None) -> BenchResult:
    """The benchmark runner's entry (``python -m benchmarks --only dlt``).

    ``quick`` loads 1,000 and 5,000 customers: too few to judge the memory, enough to see
    that every part runs.
    """
    sizes = QUICK_SIZES if quick else SIZES
    rounds = rounds or 1
    rows = measure(sizes, rounds=rounds)
    small, large = rows[0], rows[-1]
    ratio = growth(rows)
    rss = {row["size"]: _median(row, "dlt", "peak_rss_mb") for row in rows}
    overheads = [
        f"overhead at {row['size']:,}: {_overhead(row):.1f}x the time of the raw `async for`"
        for row in rows
    ]
    ceilings = [
        f"at {row['size']:,}: {_of_ceiling(row):.2f}x dlt's own rate for the same rows"
        for row in rows
    ]
    of_ceiling = min(_of_ceiling(row) for row in rows)
    return BenchResult(
        key=KEY,
        title=f"dlt: {large['size']:,} customers into DuckDB, against a raw `async for`",
        command="python -m benchmarks --only dlt",
        ours=Figure(
            f"dlt into DuckDB, {large['size']:,} customers",
            large["dlt"]["rate"],
            "customers/s",
            note=f"peak RSS {rss[large['size']]:.0f} MB",
        ),
        peers=[
            Figure(
                f"dlt's ceiling (rows from a generator), {large['size']:,} customers",
                large["ceiling"]["rate"],
                "customers/s",
            ),
            Figure(
                f"raw `async for`, {large['size']:,} customers",
                large["raw"]["rate"],
                "customers/s",
                note=f"peak RSS {_median(large, 'raw', 'peak_rss_mb'):.0f} MB",
            ),
            Figure(
                f"dlt into DuckDB, {small['size']:,} customers",
                small["dlt"]["rate"],
                "customers/s",
                note=f"peak RSS {rss[small['size']]:.0f} MB",
            ),
        ],
        ratios=[
            *ceilings,
            *overheads,
            f"peak RSS of the load: {rss[small['size']]:.0f} MB at {small['size']:,},"
            f" {rss[large['size']]:.0f} MB at {large['size']:,}: {ratio:.2f}x",
        ],
        target=f"peak RSS of the load at {large['size']:,} within {FLAT}x of that at"
        f" {small['size']:,} (memory flat with the number of customers), and the load at"
        f" {CEILING}x dlt's own rate for the same rows or more",
        met=ratio <= FLAT and of_ceiling >= CEILING,
        details="\n".join(
            [
                f"{rounds} round(s); medians. Each figure is a fresh process of its own; the"
                ' emulator serves from another process (`Emulator(mode="process")`), so its'
                " store is in neither peak RSS: the dlt figure is the load's own memory"
                " (dlt, DuckDB and the client in one process). Seeded "
                + ", ".join(f"{row['size']:,} in {row['seed_s']:.1f} s" for row in rows)
                + ".",
                "",
                table(rows),
            ]
        ),
        notes=[
            "The pipeline is `voucherify_async.dlt.pipeline()` with its defaults: DuckDB's"
            " `memory_limit` 128 MB, 1 thread, `preserve_insertion_order=false`; files of at"
            " most 32 MB (`DUCKDB_FILE_BYTES`), loaded one at a time.",
            "Customers/s include all of dlt's steps (extract, normalize, load) and DuckDB's"
            " merge from the staging table; the raw figure only counts.",
        ],
        chart={
            "kind": "bar",
            "unit": "peak RSS of the process, MB (lower is better)",
            "values": {
                **{f"ours: dlt load ({size:,})": value for size, value in rss.items()},
                **{
                    f"raw async for ({row['size']:,})": _median(row, "raw", "peak_rss_mb")
                    for row in rows
                },
            },
            "line": (f"{FLAT}x of {small['size']:,}", rss[small["size"]] * FLAT),
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its table; returns the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--parallel", type=int, default=1, help="partitions the dlt load uses")
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each size")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.parallel)
        return 0
    rows = measure(args.sizes, args.parallel, args.rounds)
    print(
        f"dlt load, parallel={args.parallel}, {args.rounds} round(s), medians; each figure a"
        " fresh process; the emulator in a process of its own (not in either peak RSS)\n"
    )
    print(table(rows))
    if len(rows) > 1:
        print(f"\npeak RSS of the dlt load, {rows[-1]['size']:,} / {rows[0]['size']:,}:"
              f" {growth(rows):.2f}x (target <= {FLAT}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
