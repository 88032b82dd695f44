"""Stream 200,000 customers from the emulator: ours against the vendor SDK's page loop.

The emulator runs in its own process (``Emulator(mode="process")``), seeded with 200,000
customers. Each client runs in a fresh process of its own, so its peak RSS is its own:

- ours: ``async for customer in vf.customers.list()`` counting every customer (100 a page;
  past page 99 the pager moves on with the ``starting_after`` cursor by itself);
- the vendor SDK: ``list_customers(limit=100, page=n)`` for n = 1, 2, ... which is all it
  offers without cursor code of the caller's: page 100 is refused by its own validation
  (``page`` must be <= 99), so the loop ends at 9,900 customers.

RSS growth is the process's peak RSS (Linux ``VmHWM``, reset after warm-up) less its RSS
after the client has answered one request (imports, session and decoder warmed up). The
figure is the number of customers yielded; time and throughput are reported alongside.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys
import time
from pathlib import Path
from typing import Any

from ._common import BenchResult, Figure, median, run_in_child

KEY = "stream"
TITLE = "stream 200,000 customers from the emulator"
TARGET = "all 200,000 yielded; peak RSS growth under 50 MB"
MB = 1024 * 1024


def _rss() -> int:
    import psutil  # type: ignore[import-untyped,unused-ignore]

    return int(psutil.Process().memory_info().rss)


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_peak() -> None:
    """Restart the peak-RSS count from the current RSS, where Linux allows it."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss() -> int:
    """The process's peak RSS.

    On Linux ``VmHWM`` (since the last :func:`_reset_peak`). Not ``ru_maxrss``: across
    ``exec`` it keeps the RSS of the parent the spawned child was forked from.
    """
    peak = _status_kb("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(maxrss if sys.platform == "darwin" else maxrss * 1024)


def stream_ours(base_url: str, app_id: str, app_token: str) -> dict[str, Any]:
    """In a fresh process: count every customer ``vf.customers.list()`` yields."""
    from voucherify_async import AsyncVoucherify

    async def main() -> dict[str, Any]:
        async with AsyncVoucherify(app_id=app_id, app_token=app_token, base_url=base_url) as vf:
            await vf.customers.list(limit=100)  # warm up: session, decoder, imports
            _reset_peak()
            before = _rss()
            started = time.perf_counter()
            count = 0
            last_id = ""
            async for customer in vf.customers.list():
                count += 1
                last_id = customer.id
            seconds = time.perf_counter() - started
        return {"count": count, "seconds": seconds, "rss_before": before,
                "rss_peak": _peak_rss(), "last_id": last_id}  # fmt: skip

    return asyncio.run(main())


def stream_vendor(base_url: str, app_id: str, app_token: str) -> dict[str, Any]:
    """In a fresh process: the vendor SDK's page loop, page 1 up to where it stops."""
    import pydantic

    from ._clients import vendor_customers_api

    api = vendor_customers_api(base_url, app_id=app_id, app_token=app_token)
    api.list_customers(limit=100)  # warm up
    _reset_peak()
    before = _rss()
    started = time.perf_counter()
    count = 0
    page = 1
    stopped = ""
    while True:
        try:
            body = api.list_customers(limit=100, page=page)
        except pydantic.ValidationError as exc:
            stopped = f"page {page} refused by the SDK: {exc.errors()[0]['msg']}"
            break
        customers = body.customers or []
        count += len(customers)
        if not body.has_more or not customers:
            stopped = f"has_more false at page {page}"
            break
        page += 1
    seconds = time.perf_counter() - started
    api.api_client.rest_client.pool_manager.clear()
    return {"count": count, "seconds": seconds, "rss_before": before,
            "rss_peak": _peak_rss(), "stopped": stopped}  # fmt: skip


async def _seed(count: int, rounds: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from voucherify_async.emulator import Emulator

    ours: list[dict[str, Any]] = []
    vendor: list[dict[str, Any]] = []
    async with Emulator(mode="process") as emu:
        await emu.seed_customers(count, same_created_at=1)
        args = (emu.url, emu.app_id, emu.app_token)
        for _ in range(rounds):
            ours.append(await asyncio.to_thread(run_in_child, stream_ours, *args))
            vendor.append(await asyncio.to_thread(run_in_child, stream_vendor, *args))
    return ours, vendor


def run(quick: bool = False, rounds: int | None = None) -> BenchResult:
    """Run the benchmark; ``quick`` streams 1,500 customers (the vendor loop then ends on
    ``has_more``, before its page limit)."""
    count = 1_500 if quick else 200_000
    rounds = rounds or (1 if quick else 3)
    ours_runs, vendor_runs = asyncio.run(_seed(count, rounds))

    def growth(run: dict[str, Any]) -> float:
        return float(max(run["rss_peak"] - run["rss_before"], 0)) / MB

    ours = Figure("ours", [float(r["count"]) for r in ours_runs], "customers")
    vendor = Figure("vendor SDK page loop", [float(r["count"]) for r in vendor_runs],
                    "customers")  # fmt: skip
    ours_growth = median([growth(r) for r in ours_runs])
    vendor_growth = median([growth(r) for r in vendor_runs])
    ours_seconds = median([r["seconds"] for r in ours_runs])
    vendor_seconds = median([r["seconds"] for r in vendor_runs])
    all_yielded = all(r["count"] == count for r in ours_runs)
    ours.note = f"{ours_seconds:.1f} s, RSS +{ours_growth:.1f} MB"
    vendor.note = f"{vendor_seconds:.1f} s, RSS +{vendor_growth:.1f} MB"
    rows = "\n".join(
        f"| {name} | {r['count']:,} | {r['seconds']:.2f} | {r['count'] / r['seconds']:,.0f} |"
        f" {r['rss_before'] / MB:.1f} | {r['rss_peak'] / MB:.1f} | {growth(r):.1f} |"
        for name, runs in (("ours", ours_runs), ("vendor SDK page loop", vendor_runs))
        for r in runs
    )
    details = "\n".join(
        [
            f"Emulator (process mode) seeded with {count:,} customers; {rounds} rounds, each"
            " client in a fresh process.",
            "",
            "| client | customers | seconds | customers/s | RSS after warm-up (MB) |"
            " peak RSS (MB) | growth (MB) |",
            "|---|---|---|---|---|---|---|",
            rows,
            "",
            f"The vendor SDK's loop stopped: {vendor_runs[0]['stopped']}.",
        ]
    )
    return BenchResult(
        key=KEY,
        title=TITLE,
        command="python -m benchmarks --only stream",
        ours=ours,
        peers=[vendor],
        ratios=[
            f"{ours.value / vendor.value:.1f}x the customers of the vendor SDK's loop",
            f"peak RSS growth {ours_growth:.1f} MB",
            f"{(ours.value / ours_seconds):,.0f} customers/s (vendor"
            f" {(vendor.value / vendor_seconds):,.0f}/s)",
        ],
        target=TARGET.replace("200,000", f"{count:,}"),
        met=all_yielded and ours_growth < 50,
        details=details,
        chart={
            "kind": "bar",
            "unit": "customers yielded (higher is better)",
            "values": {"ours": ours.value, "vendor SDK page loop": vendor.value},
            "labels": {"ours": ours.note, "vendor SDK page loop": vendor.note},
        },
    )
