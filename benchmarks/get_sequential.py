"""5,000 sequential ``get`` calls on one keep-alive connection, against the minimal server.

Every client asks ``GET /v1/customers/{id}`` of the minimal server (a separate process; see
``_common.minimal_server``), one call after the other, and reads the whole answer:

- ours: ``await vf.customers.get(id)`` (auth headers, pacing, rate-limit headers, typed
  decoding into ``Customer``), on an ``aiohttp.ClientSession`` passed to the client;
- raw aiohttp: ``session.get(url, headers=...)`` then ``await response.read()`` on that
  same session, without decoding: the floor of what any aiohttp client can do;
- ``httpx.AsyncClient``: ``await client.get(url, headers=...)`` and ``response.content``;
- the vendor SDK: ``CustomersApi.get_customer(id)`` (urllib3, pydantic decoding), in a
  process of its own (see ``_clients.VendorProcess``).

Each round runs every client once, in turn, after a warm-up; the figure is requests per
second, median over the rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from voucherify_async import AsyncVoucherify

from ._clients import AUTH_HEADERS, CUSTOMER_ID, VendorProcess
from ._common import APP_ID, APP_TOKEN, BenchResult, Figure, median, minimal_server

KEY = "get_sequential"
TITLE = "5,000 sequential `get` calls on one connection (minimal local server)"
TARGET = "at least 0.85x the requests per second of raw aiohttp"


async def _async_clients(
    base_url: str, stack: Any
) -> dict[str, Callable[[], Awaitable[None]]]:
    import httpx

    session = await stack.enter_async_context(aiohttp.ClientSession())
    vf = await stack.enter_async_context(
        AsyncVoucherify(app_id=APP_ID, app_token=APP_TOKEN, base_url=base_url, session=session)
    )
    client = await stack.enter_async_context(httpx.AsyncClient())
    url = f"{base_url}/v1/customers/{CUSTOMER_ID}"

    async def ours() -> None:
        await vf.customers.get(CUSTOMER_ID)

    async def raw() -> None:
        async with session.get(url, headers=AUTH_HEADERS) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"raw aiohttp got {response.status}")

    async def with_httpx() -> None:
        response = await client.get(url, headers=AUTH_HEADERS)
        if response.status_code != 200 or not response.content:
            raise RuntimeError(f"httpx got {response.status_code}")

    return {"ours": ours, "raw aiohttp (same session)": raw, "httpx.AsyncClient": with_httpx}


async def _repeat(call: Callable[[], Awaitable[None]], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await call()
    return calls / (time.perf_counter() - started)


def measure(base_url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    """Requests per second of each client, one sample per round, clients interleaved."""
    loop = asyncio.new_event_loop()
    stack = contextlib.AsyncExitStack()
    try:
        with VendorProcess(base_url) as vendor:
            clients = loop.run_until_complete(_async_clients(base_url, stack))
            names = [*clients, "vendor SDK (sync)"]
            samples: dict[str, list[float]] = {name: [] for name in names}
            warm_up = max(1, min(200, calls // 10))
            for call in clients.values():
                loop.run_until_complete(_repeat(call, warm_up))
            vendor.round(warm_up)
            for _ in range(rounds):
                for name, call in clients.items():
                    samples[name].append(loop.run_until_complete(_repeat(call, calls)))
                samples[names[-1]].append(calls / vendor.round(calls))
            return samples
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


def run(quick: bool = False, rounds: int | None = None) -> BenchResult:
    """Run the benchmark; ``quick`` makes 50 calls per client.

    Ratios are medians of the per-round ratios: the clients of one round ran back to back,
    so a slow moment of the machine weighs on both sides of a ratio.
    """
    calls = 50 if quick else 5000
    rounds = rounds or (1 if quick else 7)
    with minimal_server() as base_url:
        samples = measure(base_url, calls, rounds)
    figures = [Figure(name, values, "req/s") for name, values in samples.items()]
    ours, raw, httpx_figure, vendor = figures

    def paired(other: Figure) -> float:
        return median([a / b for a, b in zip(ours.samples, other.samples, strict=True)])

    vs_raw = paired(raw)
    rows = "\n".join(
        f"| {f.name} | {', '.join(f'{x:,.0f}' for x in f.samples)} | {f.value:,.0f} |"
        f" {', '.join(f'{a / b:.2f}' for a, b in zip(ours.samples, f.samples, strict=True))} |"
        f" {paired(f):.2f}x | {ours.value / f.value:.2f}x |"
        for f in figures
    )
    details = "\n".join(
        [
            f"{calls:,} calls per client per round, {rounds} rounds, clients interleaved.",
            "",
            "| client | req/s per round | median | ours / client, per round |"
            " median of those | ratio of medians |",
            "|---|---|---|---|---|---|",
            rows,
        ]
    )
    return BenchResult(
        key=KEY,
        title=TITLE,
        command="python -m benchmarks --only get_sequential",
        ours=ours,
        peers=[raw, httpx_figure, vendor],
        ratios=[
            f"{vs_raw:.2f}x raw aiohttp",
            f"{paired(httpx_figure):.2f}x httpx",
            f"{paired(vendor):.2f}x the vendor SDK",
        ],
        target=TARGET,
        met=vs_raw >= 0.85,
        details=details,
        chart={
            "kind": "bar",
            "unit": "requests per second (higher is better)",
            "values": {f.name: f.value for f in figures},
        },
    )
