"""Stream customers from the emulator: ours against a raw aiohttp page loop, 200k and 1M.

The emulator runs in its own process (``Emulator(mode="process")``), seeded with 200,000
customers, then afresh with 1,000,000. The clients walk the whole list in one fresh process
per event loop (asyncio's, then uvloop), taking turns of 10,000 customers (100 pages) each,
A B B A ...: the emulator shares the machine's cores with everything else running on it, and
whole walks timed one after the other (20 to 60 s each) saw the server slow down and speed
up between them by 2x; neighbouring turns see the same machine. The clients:

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
page. The consumer's I/O is a blocking call of 1 ms in a worker thread (as a synchronous
database driver's would be), awaited through the loop, not a timer: asyncio's selector loop
rounds what is left of an interrupted ``asyncio.sleep`` up to the next whole millisecond, so
a 1 ms sleep woken by the prefetched page's arrival lasts up to 2 ms, which hides any overlap.

RSS growth is the process's peak RSS (Linux ``VmHWM``, reset after warm-up) less its RSS
after the clients have answered one request each (it is the growth of all the clients of the
process together). Ratios are medians of the ratios of customers per second of paired turns,
with their min and max. A paused walk of ours keeps its prefetched page in flight, which
gives it one page of overlap per turn (1%); the raw loop has none.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

from ._common import BenchResult, Figure, median, run_in_child
from ._peers import loop_names, new_loop, paired, pin_clients, pin_server, show_paired

KEY = "stream"
TITLE = "stream customers with `async for`"
GOAL = 0.95
MB = 1024 * 1024
CHUNK = 10_000  # customers per turn of a client (100 pages)
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


def _consume(io_ms: float) -> Awaitable[None]:
    """The consumer's own I/O of a page: a blocking ``io_ms`` in a worker thread, awaited."""
    return asyncio.get_running_loop().run_in_executor(None, time.sleep, io_ms / 1000)


def stream_pair(
    clients: list[str],
    base_url: str,
    app_id: str,
    app_token: str,
    loop: str,
    io_ms: float,
    chunk: int,
) -> dict[str, list[dict[str, Any]]]:
    """In a fresh process: walk the whole list once with every client, taking turns.

    Each client's walk is an async iterator; the clients take turns of ``chunk`` customers
    each (the order of the turns alternating, A B B A ...), so that a slow moment of a busy
    machine (the emulator shares the cores with everything else) falls on neighbouring turns
    of both clients alike. Returns one record per turn per client. Every 100 customers the
    consumer awaits ``io_ms`` milliseconds of its own.
    """
    pin_clients()
    import aiohttp
    import msgspec

    from voucherify_async import AsyncVoucherify
    from voucherify_async.models import CustomerList

    headers = {"X-App-Id": app_id, "X-App-Token": app_token, "Accept": "application/json"}

    async def raw(session: aiohttp.ClientSession) -> AsyncIterator[Any]:
        decoder = msgspec.json.Decoder(CustomerList)
        url = f"{base_url}/v1/customers"

        async def fetch(params: dict[str, str]) -> CustomerList:
            async with session.get(url, params=params, headers=headers) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"raw aiohttp got {response.status}")
            return decoder.decode(body)

        page, cursor = 1, None
        while True:
            params = {"limit": "100"}
            if cursor is None:
                params["page"] = str(page)
            else:
                params["starting_after"] = cursor
            body = await fetch(params)
            for customer in body.customers:
                yield customer
            if not body.has_more or not body.customers:
                return
            if cursor is None and page < 99:
                page += 1
            else:
                stamp = body.customers[-1].created_at
                assert stamp is not None
                cursor = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    async def main() -> dict[str, list[dict[str, Any]]]:
        async with contextlib.AsyncExitStack() as stack:
            vf = await stack.enter_async_context(
                AsyncVoucherify(app_id=app_id, app_token=app_token, base_url=base_url)
            )
            session = await stack.enter_async_context(aiohttp.ClientSession())
            await vf.customers.list(limit=100)  # warm up: sessions, decoders, imports
            async with session.get(f"{base_url}/v1/customers", headers=headers) as response:
                await response.read()
            walks: dict[str, AsyncIterator[Any]] = {}
            for client in clients:
                if client == RAW:
                    walks[client] = raw(session)
                else:
                    pager = vf.customers.list(prefetch=client != OURS_NO_PREFETCH)
                    walks[client] = pager.__aiter__()
            counts = dict.fromkeys(clients, 0)
            turns: dict[str, list[dict[str, Any]]] = {client: [] for client in clients}
            _reset_peak()
            before = _rss()
            order = list(clients)
            while walks:
                for client in [c for c in order if c in walks]:
                    walk = walks[client]
                    taken = 0
                    cpu, wall = time.process_time(), time.perf_counter()
                    try:
                        while taken < chunk:
                            await walk.__anext__()
                            taken += 1
                            counts[client] += 1
                            if io_ms and counts[client] % 100 == 0:
                                await _consume(io_ms)
                    except StopAsyncIteration:
                        del walks[client]
                    if taken:
                        turns[client].append({
                            "count": taken, "seconds": time.perf_counter() - wall,
                            "cpu": time.process_time() - cpu,
                        })  # fmt: skip
                order.reverse()
            peak = _peak_rss()
            for records in turns.values():
                for record in records:
                    record.update(rss_before=before, rss_peak=peak)
            return turns

    event_loop = new_loop(loop)
    try:
        return event_loop.run_until_complete(main())
    finally:
        event_loop.close()


def stream_vendor(base_url: str, app_id: str, app_token: str) -> dict[str, Any]:
    """In a fresh process: the vendor SDK's page loop, page 1 up to where it stops."""
    pin_clients()
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
    count: int, rounds: int, clients: list[str], io_ms: float, vendor: bool, chunk: int
) -> Runs:
    from voucherify_async.emulator import Emulator

    runs: Runs = {loop: {client: [] for client in clients} for loop in loop_names()}
    if vendor:
        runs["asyncio"][VENDOR] = []
    async with Emulator(mode="process") as emu:
        await emu.seed_customers(count, same_created_at=1)
        _pin_emulator()
        args = (emu.url, emu.app_id, emu.app_token)
        for _ in range(rounds):
            for loop in runs:
                turns = await asyncio.to_thread(
                    run_in_child, stream_pair, clients, *args, loop, io_ms, chunk
                )
                for client, records in turns.items():
                    runs[loop][client].extend(records)
            if vendor:
                runs["asyncio"][VENDOR].append(
                    await asyncio.to_thread(run_in_child, stream_vendor, *args)
                )
    return runs


def _pin_emulator() -> None:
    """With pinning on, put the emulator's process (this one's child) on the server's core."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "voucherify_async.emulator" in " ".join(child.cmdline()):
                pin_server(child.pid)


def _growth(run: dict[str, Any]) -> float:
    return float(max(run["rss_peak"] - run["rss_before"], 0)) / MB


def _rate(runs: list[dict[str, Any]]) -> list[float]:
    return [r["count"] / r["seconds"] for r in runs]


def _table(loop: str, count: int, runs: dict[str, list[dict[str, Any]]], chunk: int) -> str:
    lines = []
    for client, turns in runs.items():
        customers = sum(r["count"] for r in turns)
        seconds = sum(r["seconds"] for r in turns)
        cpu = sum(r["cpu"] for r in turns)
        rates = _rate(turns)
        lines.append(
            f"| {client} | {len(turns)} | {customers:,} | {seconds:.2f} |"
            f" {customers / seconds:,.0f} | {min(rates):,.0f} / {median(rates):,.0f} /"
            f" {max(rates):,.0f} | {seconds / max(customers, 1) * 1e6:.1f} | {cpu / seconds:.0%} |"
            f" {median([_growth(r) for r in turns]):.1f} |"
        )
    return "\n".join(
        [
            f"Event loop: {loop}. Emulator (process mode) seeded with {count:,} customers. The"
            " clients of a row walk the whole list in one fresh process, taking turns of"
            f" {chunk:,} customers each (A B B A ...); the ratios pair the turns.",
            "",
            "| client | turns | customers | seconds | customers/s | per turn: min / median /"
            " max | us per customer | client CPU / wall | peak RSS growth of the process (MB) |",
            "|---|---|---|---|---|---|---|---|---|",
            *lines,
        ]
    )


def _stream_rows(
    sizes: list[int], by_size: dict[int, Runs], rounds: int, chunk: int
) -> list[BenchResult]:
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
                more = sum(r["count"] for r in ours_runs) / sum(r["count"] for r in vendor_runs)
                ratios.append(
                    f"{more:.1f}x the customers of the vendor SDK's loop"
                    f" ({vendor_runs[0]['stopped']})"
                )
            all_yielded = all(
                sum(r["count"] for r in runs[client]) == size * rounds for client in (OURS, RAW)
            )
            details = _table(loop, size, runs, chunk)
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


def _prefetch_rows(count: int, io_ms: float, runs: Runs, chunk: int) -> list[BenchResult]:
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
                details=_table(loop, count, by_client, chunk),
            )
        )
    return results


def run(quick: bool = False, rounds: int | None = None) -> list[BenchResult]:
    """Run the benchmark; ``quick`` streams 1,500 and 3,000 customers in turns of 500 (the
    vendor loop then ends on ``has_more``, before its page limit)."""
    sizes = [1_500, 3_000] if quick else [200_000, 1_000_000]
    chunk = 500 if quick else CHUNK
    rounds = rounds or 1
    io_ms = 1.0
    by_size = {
        size: asyncio.run(
            _measure(size, rounds, [OURS, RAW], 0.0, vendor=size == sizes[0], chunk=chunk)
        )
        for size in sizes
    }
    prefetch = asyncio.run(
        _measure(sizes[0], rounds, [OURS, OURS_NO_PREFETCH, RAW], io_ms, vendor=False,
                 chunk=chunk)
    )  # fmt: skip
    return _stream_rows(sizes, by_size, rounds, chunk) + _prefetch_rows(
        sizes[0], io_ms, prefetch, chunk
    )
