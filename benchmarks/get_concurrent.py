"""5,000 ``get`` calls at concurrency 64 against the minimal server answering after 10 ms.

The ideal is 5,000 x 10 ms / 64 = 0.78 s: the time the server's latency alone imposes. The
clients (each timed in turn, every round):

- ours, ``await vf.customers.get_many(ids, concurrency=64)`` on one
  ``AsyncVoucherify(max_connections=64)``: the SDK's own fan-out (64 workers pulling ids);
- ours, 64 workers written by hand: 64 tasks sharing that client, each taking the next id
  and awaiting ``vf.customers.get(id)``: the counterpart of the vendor's 64-thread pool;
- ours, gather: one ``AsyncVoucherify(max_connections=64, max_concurrency=64)`` and
  ``asyncio.gather`` over all 5,000 ``vf.customers.get(id)`` calls at once: the client's
  own limit keeps 64 in flight (5,000 tasks, each waiting its turn);
- raw aiohttp, for reference: 64 worker tasks on one session (``TCPConnector(limit=64)``)
  each reading its answers, without decoding;
- the vendor SDK: ``CustomersApi.get_customer`` from a ``ThreadPoolExecutor(64)``, one
  shared ``ApiClient`` (urllib3's pool is thread-safe) with a pool of 64 connections, in a
  process of its own (see ``_clients.VendorProcess``).

The figure is the wall time of the 5,000 calls, median over the rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import aiohttp

from voucherify_async import AsyncVoucherify

from ._clients import AUTH_HEADERS, VendorProcess
from ._common import APP_ID, APP_TOKEN, BenchResult, Figure, median, minimal_server

KEY = "get_concurrent"
TITLE = "5,000 `get` calls at concurrency 64, server latency 10 ms"
TARGET = "within 1.2x of the ideal (5,000 x 10 ms / 64); faster than the vendor SDK"
CONCURRENCY = 64
LATENCY_MS = 10.0


def _ids(calls: int) -> list[str]:
    return [f"cust_bench{i:019d}" for i in range(calls)]


async def _ours_gather(vf: AsyncVoucherify, ids: list[str]) -> float:
    started = time.perf_counter()
    customers = await asyncio.gather(*(vf.customers.get(i) for i in ids))
    elapsed = time.perf_counter() - started
    assert len(customers) == len(ids)
    return elapsed


async def _ours_get_many(vf: AsyncVoucherify, ids: list[str]) -> float:
    started = time.perf_counter()
    customers = await vf.customers.get_many(ids, concurrency=CONCURRENCY)
    elapsed = time.perf_counter() - started
    assert len(customers) == len(ids) and all(customers)
    return elapsed


async def _ours_workers(vf: AsyncVoucherify, ids: list[str]) -> float:
    pending = iter(ids)
    done = 0

    async def worker() -> None:
        nonlocal done
        for customer_id in pending:
            await vf.customers.get(customer_id)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    assert done == len(ids)
    return elapsed


async def _raw(session: aiohttp.ClientSession, base_url: str, ids: list[str]) -> float:
    pending = iter(ids)
    done = 0

    async def worker() -> None:
        nonlocal done
        for customer_id in pending:
            url = f"{base_url}/v1/customers/{customer_id}"
            async with session.get(url, headers=AUTH_HEADERS) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"raw aiohttp got {response.status}")
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    assert done == len(ids)
    return elapsed


async def _open(base_url: str, stack: contextlib.AsyncExitStack) -> tuple[
    AsyncVoucherify, AsyncVoucherify, aiohttp.ClientSession
]:
    vf = await stack.enter_async_context(
        AsyncVoucherify(
            app_id=APP_ID, app_token=APP_TOKEN, base_url=base_url, max_connections=CONCURRENCY
        )
    )
    limited = await stack.enter_async_context(
        AsyncVoucherify(
            app_id=APP_ID, app_token=APP_TOKEN, base_url=base_url,
            max_connections=CONCURRENCY, max_concurrency=CONCURRENCY,
        )
    )  # fmt: skip
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
    return vf, limited, session


def measure(base_url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    """Seconds for ``calls`` calls, per client, one sample per round, clients interleaved."""
    ids = _ids(calls)
    warm_up = ids[: CONCURRENCY * 2]
    samples: dict[str, list[float]] = {
        "ours (get_many, concurrency=64)": [],
        "ours (64 workers)": [],
        "ours (gather, max_concurrency=64)": [],
        "raw aiohttp (64 workers, reference)": [],
        "vendor SDK (64 threads)": [],
    }
    loop = asyncio.new_event_loop()
    stack = contextlib.AsyncExitStack()
    try:
        with VendorProcess(base_url, threads=CONCURRENCY) as vendor:
            vf, limited, session = loop.run_until_complete(_open(base_url, stack))
            steps: list[tuple[str, Callable[[list[str]], float]]] = [
                ("ours (get_many, concurrency=64)",
                 lambda i: loop.run_until_complete(_ours_get_many(vf, i))),
                ("ours (64 workers)", lambda i: loop.run_until_complete(_ours_workers(vf, i))),
                ("ours (gather, max_concurrency=64)",
                 lambda i: loop.run_until_complete(_ours_gather(limited, i))),
                ("raw aiohttp (64 workers, reference)",
                 lambda i: loop.run_until_complete(_raw(session, base_url, i))),
                ("vendor SDK (64 threads)", lambda i: vendor.round(len(i))),
            ]  # fmt: skip
            for _, step in steps:
                step(warm_up)
            for _ in range(rounds):
                for name, step in steps:
                    samples[name].append(step(ids))
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()
    return samples


def run(quick: bool = False, rounds: int | None = None) -> list[BenchResult]:
    """Run the benchmark; ``quick`` makes 200 calls per client.

    Two rows: ours with ``get_many`` (64 hand-written workers are in the details), and ours
    with ``gather`` and ``max_concurrency=64``.
    """
    calls = 200 if quick else 5000
    rounds = rounds or (1 if quick else 5)
    ideal = calls * LATENCY_MS / 1000 / CONCURRENCY
    with minimal_server(latency_ms=LATENCY_MS) as base_url:
        samples = measure(base_url, calls, rounds)
    get_many, workers, gathered, raw, vendor = (
        Figure(name, values, "s") for name, values in samples.items()
    )
    ideal_figure = Figure(f"ideal ({calls:,} x 10 ms / 64)", [ideal], "s")
    rows = "\n".join(
        f"| {f.name} | {', '.join(f'{x:.3f}' for x in f.samples)} | {f.value:.3f} |"
        f" {f.value / ideal:.2f}x | {calls / f.value:,.0f} |"
        for f in (get_many, workers, gathered, raw, vendor)
    )
    details = "\n".join(
        [
            f"{calls:,} calls per client per round, {rounds} rounds; ideal {ideal:.3f} s.",
            "",
            "| client | seconds per round | median | / ideal | req/s |",
            "|---|---|---|---|---|",
            rows,
        ]
    )
    chart = {
        "kind": "bar",
        "unit": "seconds for all calls (lower is better)",
        "values": {f.name: f.value for f in (get_many, workers, gathered, raw, vendor)},
        "line": ("ideal", ideal),
        "labels": {
            f.name: f"{f.value / ideal:.2f}x the ideal"
            for f in (get_many, workers, gathered, raw, vendor)
        },
    }

    def paired(a: Figure, b: Figure) -> float:
        return median([x / y for x, y in zip(a.samples, b.samples, strict=True)])

    def result(key: str, title: str, ours: Figure, peers: list[Figure]) -> BenchResult:
        return BenchResult(
            key=key,
            title=title,
            command="python -m benchmarks --only get_concurrent",
            ours=ours,
            peers=[ideal_figure, *peers],
            ratios=[
                f"{ours.value / ideal:.2f}x the ideal",
                f"{paired(vendor, ours):.2f}x faster than the vendor SDK",
                f"{paired(ours, raw):.2f}x the time of raw aiohttp",
            ],
            target=TARGET,
            met=ours.value / ideal <= 1.2 and ours.value < vendor.value,
            details=details if key == KEY else "The figures are in the table of the row above"
            " (the same run).",
            chart=chart if key == KEY else {},
        )

    return [
        result(KEY, TITLE + ": `get_many(ids, concurrency=64)`", get_many, [vendor, raw]),
        result(KEY + "_gather", TITLE + ": `gather` + `max_concurrency=64`", gathered, [vendor]),
    ]
