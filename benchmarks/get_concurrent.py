"""5,000 ``get`` calls at concurrency 64 against the minimal server answering after 10 ms.

The ideal is 5,000 x 10 ms / 64 = 0.78 s: the time the server's latency alone imposes; on
2 cores the server alone cannot keep to it, so the ceiling below is measured in the same
run, and "x the ideal" is only shown beside it. The clients (each timed in turn, every
round, on every loop):

- ours, ``await vf.customers.get_many(ids, concurrency=64)`` on one
  ``AsyncVoucherify(max_connections=64)``: the SDK's own fan-out (64 workers pulling ids);
- raw aiohttp, 64 workers written like ``get_many``: 64 tasks on one session
  (``TCPConnector(limit=64)``), each taking the next id, reading the answer and decoding it
  into ``Customer`` with the same typed msgspec decoder: the peer of ``get_many``;
- ours, gather: one ``AsyncVoucherify(max_connections=64, max_concurrency=64)`` and
  ``asyncio.gather`` over all 5,000 ``vf.customers.get(id)`` calls at once: the client's
  own limit keeps 64 in flight (5,000 tasks, each waiting its turn);
- raw aiohttp, semaphore + gather: ``asyncio.gather`` over 5,000 coroutines, each taking an
  ``asyncio.Semaphore(64)`` around the same request and decode: the peer of gather;
- the ceiling: 64 workers on 64 bare HTTP/1.1 keep-alive sockets (``_peers.RawHTTP``), no
  HTTP library, no decoding;
- the vendor SDK: ``CustomersApi.get_customer`` from a ``ThreadPoolExecutor(64)``, one
  shared ``ApiClient`` (urllib3's pool is thread-safe) with a pool of 64 connections, in a
  process of its own (see ``_clients.VendorProcess``); asyncio row only.

Every round times each client in 5 turns of 1,000 calls, the clients taking turns (in
reverse order every other turn). The figure is the wall time of a turn; ratios are medians
of the ratios of paired turns (throughput of ours over the peer's), with their min and max.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import msgspec

from voucherify_async import AsyncVoucherify, Customer

from ._clients import AUTH_HEADERS, VendorProcess
from ._common import APP_ID, APP_TOKEN, BenchResult, Figure, median, minimal_server
from ._peers import RawHTTP, Sample, loop_names, new_loop, paired, pin_clients, show_paired, timed

KEY = "get_concurrent"
TITLE = "5,000 `get` calls at concurrency 64, server latency 10 ms"
CONCURRENCY = 64
LATENCY_MS = 10.0
GET_MANY, RAW_WORKERS, GATHER, RAW_GATHER, CEILING, VENDOR = (
    "ours (get_many, concurrency=64)", "raw aiohttp (64 workers, same typed decode)",
    "ours (gather, max_concurrency=64)", "raw aiohttp (Semaphore(64) + gather, same decode)",
    "ceiling (64 bare HTTP/1.1 sockets)", "vendor SDK (64 threads)",
)  # fmt: skip
GOALS = {GET_MANY: (RAW_WORKERS, 0.97), GATHER: (RAW_GATHER, 0.95)}
# Each round is timed in turns of calls // TURNS calls per client (see get_sequential).
TURNS = 5


def _ids(calls: int) -> list[str]:
    return [f"cust_bench{i:019d}" for i in range(calls)]


async def _workers(call: Callable[[str], Awaitable[Any]], ids: list[str]) -> None:
    pending = iter(ids)
    done = 0

    async def worker() -> None:
        nonlocal done
        for customer_id in pending:
            await call(customer_id)
            done += 1

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    assert done == len(ids)


async def _clients(
    base_url: str, stack: contextlib.AsyncExitStack
) -> dict[str, Callable[[list[str]], Awaitable[None]]]:
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
    session = await stack.enter_async_context(
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY))
    )
    ceiling = RawHTTP(base_url, AUTH_HEADERS, connections=CONCURRENCY)
    stack.callback(ceiling.close)
    decoder = msgspec.json.Decoder(Customer)

    async def raw_get(customer_id: str) -> Customer:
        url = f"{base_url}/v1/customers/{customer_id}"
        async with session.get(url, headers=AUTH_HEADERS) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"raw aiohttp got {response.status}")
        return decoder.decode(body)

    async def get_many(ids: list[str]) -> None:
        customers = await vf.customers.get_many(ids, concurrency=CONCURRENCY)
        assert len(customers) == len(ids) and all(customers)

    async def gather(ids: list[str]) -> None:
        customers = await asyncio.gather(*(limited.customers.get(i) for i in ids))
        assert len(customers) == len(ids)

    async def raw_gather(ids: list[str]) -> None:
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(customer_id: str) -> Customer:
            async with slots:
                return await raw_get(customer_id)

        customers = await asyncio.gather(*(one(i) for i in ids))
        assert len(customers) == len(ids)

    async def bare(customer_id: str) -> None:
        if not await ceiling.get(f"/v1/customers/{customer_id}"):
            raise RuntimeError("the ceiling client got an empty answer")

    return {
        GET_MANY: get_many,
        RAW_WORKERS: lambda ids: _workers(raw_get, ids),
        GATHER: gather,
        RAW_GATHER: raw_gather,
        CEILING: lambda ids: _workers(bare, ids),
    }


def measure(base_url: str, calls: int, rounds: int) -> dict[str, dict[str, list[Sample]]]:
    """Samples per loop and client, one per round; clients and loops interleaved."""
    pin_clients()
    ids = _ids(calls)
    warm_up = ids[: CONCURRENCY * 2]
    loops = {name: new_loop(name) for name in loop_names()}
    stacks = {name: contextlib.AsyncExitStack() for name in loops}
    samples: dict[str, dict[str, list[Sample]]] = {}
    try:
        with VendorProcess(base_url, threads=CONCURRENCY) as vendor:
            clients = {
                name: loop.run_until_complete(_clients(base_url, stacks[name]))
                for name, loop in loops.items()
            }
            for name, loop in loops.items():
                samples[name] = {client: [] for client in clients[name]}
                for step in clients[name].values():
                    loop.run_until_complete(step(warm_up))
            samples["asyncio"][VENDOR] = []
            vendor.round(len(warm_up))
            per_turn = ids[: max(1, calls // TURNS)]
            for _ in range(rounds):
                for turn in range(TURNS):
                    for name, loop in loops.items():
                        order = list(clients[name].items())
                        if turn % 2:
                            order.reverse()
                        for client, step in order:
                            sample = loop.run_until_complete(
                                timed(functools.partial(step, per_turn))
                            )
                            samples[name][client].append(sample)
                    seconds = vendor.round(len(per_turn))
                    samples["asyncio"][VENDOR].append(Sample(seconds, float("nan")))
    finally:
        for name, loop in loops.items():
            loop.run_until_complete(stacks[name].aclose())
            loop.close()
    return samples


def _results(
    loop: str, calls: int, rounds: int, runs: dict[str, list[Sample]]
) -> list[BenchResult]:
    calls = max(1, calls // TURNS)  # the figures are per turn
    ideal = calls * LATENCY_MS / 1000 / CONCURRENCY
    seconds = {client: [s.wall for s in values] for client, values in runs.items()}
    speed = {client: [1 / x for x in values] for client, values in seconds.items()}
    figures = {client: Figure(client, values, "s") for client, values in seconds.items()}
    ideal_figure = Figure(f"ideal ({calls:,} x 10 ms / 64)", [ideal], "s")

    def share(client: str) -> str:
        values = [s.cpu_share for s in runs[client] if s.cpu_share == s.cpu_share]
        return f"{median(values):.0%}" if values else "n/a (own process)"

    rows = "\n".join(
        f"| {f.name} | {', '.join(f'{x:.3f}' for x in f.samples)} | {f.value:.3f} |"
        f" {calls / f.value:,.0f} | {show_paired(paired(speed[f.name], speed[CEILING]))} |"
        f" {f.value / ideal:.2f}x | {share(f.name)} |"
        for f in figures.values()
    )
    details = "\n".join(
        [
            f"Event loop: {loop}. {rounds} rounds of {TURNS} turns of {calls:,} calls per"
            " client, the clients taking turns (in reverse order every other turn) and the"
            f" loops after them; ratios pair the turns. The ideal is {ideal:.3f} s a turn.",
            "",
            "| client | seconds per round | median | req/s | speed / the ceiling's: median"
            " of the rounds (min-max) | / ideal (beside the ceiling's) | client CPU / wall |",
            "|---|---|---|---|---|---|---|",
            rows,
        ]
    )
    suffix = "" if loop == "asyncio" else f"_{loop}"
    results = []
    for ours_name, (peer_name, goal) in GOALS.items():
        key = KEY + ("" if ours_name == GET_MANY else "_gather") + suffix
        vs_peer = paired(speed[ours_name], speed[peer_name])
        ratios = [
            f"{show_paired(vs_peer)} the speed of {peer_name}",
            f"{show_paired(paired(speed[ours_name], speed[CEILING]))} the ceiling's"
            f" (peer {show_paired(paired(speed[peer_name], speed[CEILING]))})",
            f"{figures[ours_name].value / ideal:.2f}x the ideal, ceiling"
            f" {figures[CEILING].value / ideal:.2f}x",
            f"client CPU {share(ours_name)} of wall (peer {share(peer_name)})",
        ]
        if VENDOR in speed:
            ratios.append(f"{show_paired(paired(speed[ours_name], speed[VENDOR]))} the"
                          " vendor SDK's speed")  # fmt: skip
        how = "`get_many(ids, concurrency=64)`" if ours_name == GET_MANY else (
            "`gather` + `max_concurrency=64`")  # fmt: skip
        first = ours_name == GET_MANY
        results.append(
            BenchResult(
                key=key,
                title=f"{TITLE}: {how}, {loop}",
                command=f"python -m benchmarks --only {KEY}",
                ours=figures[ours_name],
                peers=[figures[peer_name], figures[CEILING], ideal_figure]
                + ([figures[VENDOR]] if VENDOR in figures else []),
                ratios=ratios,
                target=f"at least {goal:.2f}x the speed of {peer_name}",
                met=vs_peer[0] >= goal,
                details=details
                if first
                else "The figures are in the table of the row above (the same run).",
                chart={
                    "kind": "bar",
                    "unit": "seconds for all calls (lower is better)",
                    "values": {f.name: f.value for f in figures.values()},
                    "line": ("ideal", ideal),
                    "labels": {
                        f.name: f"{f.value / ideal:.2f}x the ideal" for f in figures.values()
                    },
                }
                if first and loop == "asyncio"
                else {},
            )
        )
    return results


def run(quick: bool = False, rounds: int | None = None) -> list[BenchResult]:
    """Run the benchmark; ``quick`` makes 200 calls per client.

    Rows per loop: ours with ``get_many`` against 64 raw workers, and ours with ``gather``
    and ``max_concurrency=64`` against a raw semaphore and gather.
    """
    calls = 200 if quick else 5000
    rounds = rounds or (1 if quick else 3)
    with minimal_server(latency_ms=LATENCY_MS) as base_url:
        samples = measure(base_url, calls, rounds)
    return [row for loop, runs in samples.items() for row in _results(loop, calls, rounds, runs)]
