"""Stream customers from the emulator: ours against a raw aiohttp page loop, 200k and 1M.

The emulator runs in its own process (``Emulator(mode="process")``), seeded with 200,000
customers, then afresh with 1,000,000. Each client runs in a fresh process of its own (so
its peak RSS is its own), on asyncio's loop and on uvloop, every round:

- ours: ``async for customer in vf.customers.list()`` counting every customer (100 a page;
  past page 99 the pager moves on with the ``starting_after`` cursor by itself, exactly
  once even when customers share a millisecond);
- raw aiohttp, written like ours: ``GET /v1/customers?limit=100&page=n`` for pages 1-99,
  then ``starting_after`` = the last customer's ``created_at``, each page decoded into
  ``CustomerList`` by the same typed msgspec decoder (it relies on every ``created_at``
  being distinct, as they are here: the seed spaces them 1 ms apart);
- the vendor SDK: ``list_customers(limit=100, page=n)`` for n = 1, 2, ..., all it offers
  without cursor code of the caller's: page 100 is refused by its own validation (``page``
  must be <= 99), so the loop ends at 9,900 customers (asyncio, smaller size only).

A second benchmark (``stream_prefetch``) gives every client a consumer that awaits 1 ms of
its own I/O per 100 customers (a page), at the smaller size: ours with prefetch (the next
page is requested before the current page's items are handed out), ours with
``prefetch=False``, and the raw loop, which awaits the consumer before asking for the next
page.

RSS growth is the process's peak RSS (Linux ``VmHWM``, reset after warm-up) less its RSS
after the client has answered one request. Ratios are medians of per-round ratios of
customers per second, with their min and max over the rounds.
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
from ._peers import loop_names, new_loop, paired, show_paired

KEY = "stream"
TITLE = "stream customers with `async for`"
GOAL = 0.95
MB = 1024 * 1024
OURS, RAW, OURS_NO_PREFETCH, VENDOR = (
    "ours", "raw aiohttp page loop (same typed decode)", "ours, prefetch=False",
    "vendor SDK page loop",
)  # fmt: skip


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


def _consume(io_ms: float) -> Any:
    """The consumer's own I/O: ``io_ms`` of awaiting per page (none for 0)."""
    return asyncio.sleep(io_ms / 1000) if io_ms > 0 else None


def stream_client(
    kind: str, base_url: str, app_id: str, app_token: str, loop: str, io_ms: float
) -> dict[str, Any]:
    """In a fresh process: stream every customer with client ``kind`` on event loop ``loop``.

    Every 100 customers the consumer awaits ``io_ms`` milliseconds of its own.
    """
    import aiohttp
    import msgspec

    from voucherify_async import AsyncVoucherify
    from voucherify_async.models import CustomerList

    headers = {"X-App-Id": app_id, "X-App-Token": app_token, "Accept": "application/json"}

    async def ours(prefetch: bool) -> tuple[int, str]:
        async with AsyncVoucherify(app_id=app_id, app_token=app_token, base_url=base_url) as vf:
            await vf.customers.list(limit=100)  # warm up: session, decoder, imports
            _reset_peak()
            marks[:] = [_rss(), time.perf_counter(), time.process_time()]
            count, last_id = 0, ""
            async for customer in vf.customers.list(prefetch=prefetch):
                count += 1
                last_id = customer.id
                if io_ms and count % 100 == 0:
                    await _consume(io_ms)
            return count, last_id

    async def raw() -> tuple[int, str]:
        decoder = msgspec.json.Decoder(CustomerList)
        url = f"{base_url}/v1/customers"
        async with aiohttp.ClientSession() as session:

            async def fetch(params: dict[str, str]) -> CustomerList:
                async with session.get(url, params=params, headers=headers) as response:
                    body = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"raw aiohttp got {response.status}")
                return decoder.decode(body)

            await fetch({"limit": "100"})  # warm up
            _reset_peak()
            marks[:] = [_rss(), time.perf_counter(), time.process_time()]
            count, last_id, page, cursor = 0, "", 1, None
            while True:
                params = {"limit": "100"}
                if cursor is None:
                    params["page"] = str(page)
                else:
                    params["starting_after"] = cursor
                body = await fetch(params)
                for customer in body.customers:
                    count += 1
                    last_id = customer.id
                    if io_ms and count % 100 == 0:
                        await _consume(io_ms)
                if not body.has_more or not body.customers:
                    return count, last_id
                if cursor is None and page < 99:
                    page += 1
                else:
                    stamp = body.customers[-1].created_at
                    assert stamp is not None
                    cursor = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    marks: list[float] = []
    work = raw() if kind == RAW else ours(prefetch=kind != OURS_NO_PREFETCH)
    event_loop = new_loop(loop)
    try:
        count, last_id = event_loop.run_until_complete(work)
    finally:
        event_loop.close()
    seconds = time.perf_counter() - marks[1]
    cpu = time.process_time() - marks[2]
    return {"count": count, "seconds": seconds, "cpu": cpu, "rss_before": int(marks[0]),
            "rss_peak": _peak_rss(), "last_id": last_id}  # fmt: skip


def stream_vendor(base_url: str, app_id: str, app_token: str) -> dict[str, Any]:
    """In a fresh process: the vendor SDK's page loop, page 1 up to where it stops."""
    import pydantic

    from ._clients import vendor_customers_api

    api = vendor_customers_api(base_url, app_id=app_id, app_token=app_token)
    api.list_customers(limit=100)  # warm up
    _reset_peak()
    before = _rss()
    started, cpu = time.perf_counter(), time.process_time()
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
    cpu = time.process_time() - cpu
    api.api_client.rest_client.pool_manager.clear()
    return {"count": count, "seconds": seconds, "cpu": cpu, "rss_before": before,
            "rss_peak": _peak_rss(), "stopped": stopped}  # fmt: skip


Runs = dict[str, dict[str, list[dict[str, Any]]]]  # loop -> client -> one run per round


async def _measure(
    count: int, rounds: int, clients: list[str], io_ms: float, vendor: bool
) -> Runs:
    from voucherify_async.emulator import Emulator

    runs: Runs = {loop: {client: [] for client in clients} for loop in loop_names()}
    if vendor:
        runs["asyncio"][VENDOR] = []
    async with Emulator(mode="process") as emu:
        await emu.seed_customers(count, same_created_at=1)
        args = (emu.url, emu.app_id, emu.app_token)
        for _ in range(rounds):
            for loop in runs:
                for client in clients:
                    result = await asyncio.to_thread(
                        run_in_child, stream_client, client, *args, loop, io_ms
                    )
                    runs[loop][client].append(result)
            if vendor:
                runs["asyncio"][VENDOR].append(
                    await asyncio.to_thread(run_in_child, stream_vendor, *args)
                )
    return runs


def _growth(run: dict[str, Any]) -> float:
    return float(max(run["rss_peak"] - run["rss_before"], 0)) / MB


def _rate(runs: list[dict[str, Any]]) -> list[float]:
    return [r["count"] / r["seconds"] for r in runs]


def _table(loop: str, count: int, runs: dict[str, list[dict[str, Any]]]) -> str:
    rows = "\n".join(
        f"| {client} | {r['count']:,} | {r['seconds']:.2f} | {r['count'] / r['seconds']:,.0f} |"
        f" {r['seconds'] / max(r['count'], 1) * 1e6:.1f} | {r['cpu'] / r['seconds']:.0%} |"
        f" {r['rss_before'] / MB:.1f} | {r['rss_peak'] / MB:.1f} | {_growth(r):.1f} |"
        for client, client_runs in runs.items()
        for r in client_runs
    )
    return "\n".join(
        [
            f"Event loop: {loop}. Emulator (process mode) seeded with {count:,} customers; each"
            " client in a fresh process, clients and loops interleaved, one line per round.",
            "",
            "| client | customers | seconds | customers/s | us per customer | client CPU / wall |"
            " RSS after warm-up (MB) | peak RSS (MB) | growth (MB) |",
            "|---|---|---|---|---|---|---|---|---|",
            rows,
        ]
    )


def _stream_rows(sizes: list[int], by_size: dict[int, Runs], rounds: int) -> list[BenchResult]:
    results = []
    small, large = sizes
    for loop in by_size[small]:
        suffix = "" if loop == "asyncio" else f"_{loop}"
        ratios_by_size = {
            size: paired(_rate(by_size[size][loop][OURS]), _rate(by_size[size][loop][RAW]))
            for size in sizes
        }
        for size in sizes:
            runs = by_size[size][loop]
            ours_runs = runs[OURS]
            ours = Figure(OURS, _rate(ours_runs), "customers/s")
            peers = [Figure(client, _rate(r), "customers/s") for client, r in runs.items()
                     if client != OURS]  # fmt: skip
            vs_raw = ratios_by_size[size]
            growth = median([_growth(r) for r in ours_runs])
            share = median([r["cpu"] / r["seconds"] for r in ours_runs])
            per_customer = median([r["seconds"] / r["count"] * 1e6 for r in ours_runs])
            ratios = [
                f"{show_paired(vs_raw)} raw aiohttp's page loop",
                f"{per_customer:.1f} us per customer, client CPU {share:.0%} of wall",
                f"peak RSS growth {growth:.1f} MB",
            ]
            if size == large:
                flat = ratios_by_size[large][0] / ratios_by_size[small][0]
                ratios.append(f"{flat:.2f}x the ratio at {small:,} (flat with size: 1.00)")
            if VENDOR in runs:
                vendor_runs = runs[VENDOR]
                more = median([r["count"] for r in ours_runs]) / median(
                    [r["count"] for r in vendor_runs]
                )
                ratios.append(
                    f"{more:.1f}x the customers of the vendor SDK's loop"
                    f" ({vendor_runs[0]['stopped']})"
                )
            all_yielded = all(r["count"] == size for r in ours_runs + runs[RAW])
            details = _table(loop, size, runs)
            if VENDOR in runs:
                details += f"\n\nThe vendor SDK's loop stopped: {runs[VENDOR][0]['stopped']}."
            key = KEY + ("" if size == small else "_large") + suffix
            results.append(
                BenchResult(
                    key=key,
                    title=f"{TITLE}: {size:,} customers, {loop}",
                    command=f"python -m benchmarks --only {KEY}",
                    ours=ours,
                    peers=peers,
                    ratios=ratios,
                    target=f"every customer yielded; at least {GOAL:.2f}x raw aiohttp's page"
                    " loop; peak RSS growth under 50 MB",
                    met=all_yielded and vs_raw[0] >= GOAL and growth < 50,
                    details=details,
                    chart={
                        "kind": "bar",
                        "unit": "customers per second (higher is better)",
                        "values": {f.name: f.value for f in (ours, *peers)},
                    }
                    if size == small and loop == "asyncio"
                    else {},
                )
            )
    return results


def _prefetch_rows(count: int, io_ms: float, runs: Runs) -> list[BenchResult]:
    results = []
    for loop, by_client in runs.items():
        suffix = "" if loop == "asyncio" else f"_{loop}"
        rates = {client: _rate(r) for client, r in by_client.items()}
        vs_raw = paired(rates[OURS], rates[RAW])
        vs_off = paired(rates[OURS], rates[OURS_NO_PREFETCH])
        figures = [Figure(client, r, "customers/s") for client, r in rates.items()]
        results.append(
            BenchResult(
                key=KEY + "_prefetch" + suffix,
                title=f"stream {count:,} customers, the consumer awaiting {io_ms:g} ms of its"
                f" own I/O per page: prefetch, {loop}",
                command=f"python -m benchmarks --only {KEY}",
                ours=figures[0],
                peers=figures[1:],
                ratios=[
                    f"{show_paired(vs_off)} prefetch=False",
                    f"{show_paired(vs_raw)} raw aiohttp's page loop (no overlap)",
                ],
                target="prefetch faster than prefetch=False and than the raw loop",
                met=vs_off[0] > 1.0 and vs_raw[0] > 1.0,
                details=_table(loop, count, by_client),
            )
        )
    return results


def run(quick: bool = False, rounds: int | None = None) -> list[BenchResult]:
    """Run the benchmark; ``quick`` streams 1,500 and 3,000 customers (the vendor loop
    then ends on ``has_more``, before its page limit)."""
    sizes = [1_500, 3_000] if quick else [200_000, 1_000_000]
    rounds = rounds or (1 if quick else 3)
    io_ms = 1.0
    by_size = {
        size: asyncio.run(_measure(size, rounds, [OURS, RAW], 0.0, vendor=size == sizes[0]))
        for size in sizes
    }
    prefetch = asyncio.run(
        _measure(sizes[0], rounds, [OURS, OURS_NO_PREFETCH, RAW], io_ms, vendor=False)
    )
    return _stream_rows(sizes, by_size, rounds) + _prefetch_rows(sizes[0], io_ms, prefetch)
