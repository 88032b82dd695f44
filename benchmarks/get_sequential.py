"""3,000 sequential ``get`` calls on one keep-alive connection, against the minimal server.

Every client asks ``GET /v1/customers/{id}`` of the minimal server (a separate process; see
``_common.minimal_server``), one call after the other, and reads the whole answer:

- ours: ``await vf.customers.get(id)`` (auth headers, pacing, rate-limit headers, typed
  decoding into ``Customer``), on an ``aiohttp.ClientSession`` passed to the client;
- raw aiohttp, written like ours: ``session.get(url, headers=...)``, ``await
  response.read()`` and the same typed decode (``msgspec.json.Decoder(Customer)``), on that
  same session: the peer of the goal ratio;
- the ceiling: bare HTTP/1.1 keep-alive on a plain ``asyncio.Protocol``, no HTTP library and
  no decoding (``_peers.RawHTTP``): what no client on this machine and loop can beat;
- ``httpx.AsyncClient``: ``await client.get(url, headers=...)`` and ``response.content``;
- the vendor SDK: ``CustomersApi.get_customer(id)`` (urllib3, pydantic decoding), in a
  process of its own (see ``_clients.VendorProcess``); it has no event loop, so it is
  reported in the asyncio row only.

Every round runs every client on every loop (asyncio, then uvloop) in 10 turns of 300 calls,
the clients taking turns (in reverse order every other turn), after a warm-up. The figure
is requests per second; ratios are medians of the ratios of paired turns, with their min and
max.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import msgspec

from voucherify_async import AsyncVoucherify, Customer

from ._clients import AUTH_HEADERS, CUSTOMER_ID, VendorProcess
from ._common import APP_ID, APP_TOKEN, BenchResult, Figure, median, minimal_server
from ._peers import RawHTTP, Sample, loop_names, new_loop, paired, pin_clients, show_paired, timed

KEY = "get_sequential"
TITLE = "3,000 sequential `get` calls on one connection (minimal local server)"
TARGET = "at least 0.95x the requests per second of raw aiohttp with the same typed decode"
GOAL = 0.95
# Each round is timed in turns of calls // TURNS calls per client: on a busy machine the
# speed of the shared cores changes within seconds, and neighbouring turns see the same.
TURNS = 10
OURS, RAW, CEILING, HTTPX, VENDOR = (
    "ours", "raw aiohttp (same session, same typed decode)", "ceiling (bare HTTP/1.1 socket)",
    "httpx.AsyncClient", "vendor SDK (sync)",
)  # fmt: skip


async def _async_clients(base_url: str, stack: Any) -> dict[str, Callable[[], Awaitable[None]]]:
    import httpx

    session = await stack.enter_async_context(aiohttp.ClientSession())
    vf = await stack.enter_async_context(
        AsyncVoucherify(app_id=APP_ID, app_token=APP_TOKEN, base_url=base_url, session=session)
    )
    client = await stack.enter_async_context(httpx.AsyncClient())
    ceiling = RawHTTP(base_url, AUTH_HEADERS)
    stack.callback(ceiling.close)
    url = f"{base_url}/v1/customers/{CUSTOMER_ID}"
    path = f"/v1/customers/{CUSTOMER_ID}"
    decoder = msgspec.json.Decoder(Customer)

    async def ours() -> None:
        await vf.customers.get(CUSTOMER_ID)

    async def raw() -> None:
        async with session.get(url, headers=AUTH_HEADERS) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"raw aiohttp got {response.status}")
        decoder.decode(body)

    async def bare() -> None:
        if not await ceiling.get(path):
            raise RuntimeError("the ceiling client got an empty answer")

    async def with_httpx() -> None:
        response = await client.get(url, headers=AUTH_HEADERS)
        if response.status_code != 200 or not response.content:
            raise RuntimeError(f"httpx got {response.status_code}")

    return {OURS: ours, RAW: raw, CEILING: bare, HTTPX: with_httpx}


async def _repeat(call: Callable[[], Awaitable[None]], calls: int) -> None:
    for _ in range(calls):
        await call()


def measure(base_url: str, calls: int, rounds: int) -> dict[str, dict[str, list[Sample]]]:
    """Samples per loop and client, one per round; clients and loops interleaved."""
    pin_clients()
    loops = {name: new_loop(name) for name in loop_names()}
    stacks = {name: contextlib.AsyncExitStack() for name in loops}
    samples: dict[str, dict[str, list[Sample]]] = {}
    try:
        with VendorProcess(base_url) as vendor:
            clients = {
                name: loop.run_until_complete(_async_clients(base_url, stacks[name]))
                for name, loop in loops.items()
            }
            warm_up = max(1, min(200, calls // 10))
            for name, loop in loops.items():
                samples[name] = {client: [] for client in clients[name]}
                for call in clients[name].values():
                    loop.run_until_complete(_repeat(call, warm_up))
            samples["asyncio"][VENDOR] = []
            vendor.round(warm_up)
            per_turn = max(1, calls // TURNS)
            for _ in range(rounds):
                for turn in range(TURNS):
                    for name, loop in loops.items():
                        order = list(clients[name].items())
                        if turn % 2:
                            order.reverse()
                        for client, call in order:
                            sample = loop.run_until_complete(
                                timed(functools.partial(_repeat, call, per_turn))
                            )
                            samples[name][client].append(sample)
                    seconds = vendor.round(per_turn)
                    samples["asyncio"][VENDOR].append(Sample(seconds, float("nan")))
            return samples
    finally:
        for name, loop in loops.items():
            loop.run_until_complete(stacks[name].aclose())
            loop.close()


def _result(loop: str, calls: int, rounds: int, runs: dict[str, list[Sample]]) -> BenchResult:
    per_turn = max(1, calls // TURNS)
    rates = {client: [per_turn / s.wall for s in values] for client, values in runs.items()}
    figures = {client: Figure(client, values, "req/s") for client, values in rates.items()}
    ours = figures[OURS]
    vs_raw = paired(rates[OURS], rates[RAW])
    vs_ceiling = paired(rates[OURS], rates[CEILING])
    raw_vs_ceiling = paired(rates[RAW], rates[CEILING])

    def share(client: str) -> str:
        values = [s.cpu_share for s in runs[client] if s.cpu_share == s.cpu_share]
        return f"{median(values):.0%}" if values else "n/a (own process)"

    rows = "\n".join(
        f"| {f.name} | {', '.join(f'{x:,.0f}' for x in f.samples)} | {f.value:,.0f} |"
        f" {show_paired(paired(rates[OURS], f.samples))} | {share(f.name)} |"
        for f in figures.values()
    )
    details = "\n".join(
        [
            f"Event loop: {loop}. {calls:,} calls per client per round, {rounds} rounds, each"
            f" in {TURNS} turns of {per_turn:,} calls per client, the clients taking turns"
            " (A B C ... then ... C B A) and the loops after them; ratios pair the turns.",
            "",
            "| client | req/s per turn | median | ours / client: median of the rounds"
            " (min-max) | client CPU / wall |",
            "|---|---|---|---|---|",
            rows,
        ]
    )
    ratios = [
        f"{show_paired(vs_raw)} raw aiohttp",
        f"{show_paired(vs_ceiling)} the ceiling (raw aiohttp: {show_paired(raw_vs_ceiling)})",
        f"client CPU {share(OURS)} of wall (raw {share(RAW)})",
    ]
    if HTTPX in rates:
        ratios.append(f"{show_paired(paired(rates[OURS], rates[HTTPX]))} httpx")
    if VENDOR in rates:
        ratios.append(f"{show_paired(paired(rates[OURS], rates[VENDOR]))} the vendor SDK")
    suffix = "" if loop == "asyncio" else f"_{loop}"
    return BenchResult(
        key=KEY + suffix,
        title=f"{TITLE}, {loop}",
        command=f"python -m benchmarks --only {KEY}",
        ours=ours,
        peers=[f for f in figures.values() if f is not ours],
        ratios=ratios,
        target=TARGET,
        met=vs_raw[0] >= GOAL,
        details=details,
        chart={
            "kind": "bar",
            "unit": "requests per second (higher is better)",
            "values": {f.name: f.value for f in figures.values()},
        }
        if loop == "asyncio"
        else {},
    )


def run(quick: bool = False, rounds: int | None = None) -> list[BenchResult]:
    """Run the benchmark; ``quick`` makes 50 calls per client. One row per event loop."""
    calls = 50 if quick else 3000
    rounds = rounds or (1 if quick else 5)
    with minimal_server() as base_url:
        samples = measure(base_url, calls, rounds)
    return [_result(loop, calls, rounds, runs) for loop, runs in samples.items()]
