"""What telemetry costs: ``get`` and ``get_many`` with OpenTelemetry absent, idle and on.

The same client code, in three setups, against the minimal server (a separate process; see
``_common.minimal_server``):

- absent: the ``otel`` extra not installed (the process hides ``opentelemetry`` from the
  import system before importing the package);
- idle: ``opentelemetry-api`` installed, no tracer or meter provider configured (the client
  then makes no span and pays nothing for telemetry);
- on: the OpenTelemetry SDK with an in-memory span exporter (``SimpleSpanProcessor``) and an
  in-memory metric reader: an operation span and an attempt span per call, four metrics.

Each turn runs one setup in a fresh process: ``calls`` sequential ``get`` calls on one
keep-alive connection, then ``get_many`` of ``calls`` distinct ids at 32 at a time. Turns
take the setups in order, then in reverse (a b c c b a ...); the ratios pair each setup's
turn with the absent one's of the same round.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from ._common import APP_ID, APP_TOKEN, BenchResult, Figure, median, minimal_server, run_in_child
from ._peers import paired, show_paired

KEY = "otel"
TITLE = "Telemetry's cost: sequential `get` and `get_many` (minimal local server)"
TARGET = (
    "installed with no provider at least 0.98x the speed without the extra; with the SDK"
    " recording every span, reported (aim: 0.85x)"
)
GOAL = 0.98
SETUPS = ("absent", "idle", "on")
NAMES = {
    "absent": "otel extra not installed",
    "idle": "installed, no provider configured",
    "on": "SDK, in-memory exporters",
}


def _hide_opentelemetry() -> None:
    class _Hidden:
        def find_spec(self, name: str, *args: Any) -> None:
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(f"No module named {name!r}")

    sys.meta_path.insert(0, _Hidden())


def _configure_sdk() -> Any:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    return exporter


def turn(setup: str, base_url: str, calls: int) -> tuple[float, float, int]:
    """One setup in this (fresh) process: (gets per second, get_many lookups per second,
    spans recorded)."""
    exporter = None
    if setup == "absent":
        _hide_opentelemetry()
    elif setup == "on":
        exporter = _configure_sdk()
    from voucherify_async import AsyncVoucherify

    async def main() -> tuple[float, float]:
        async with AsyncVoucherify(app_id=APP_ID, app_token=APP_TOKEN, base_url=base_url) as vf:
            for _ in range(50):  # warm-up: the connection, the decoder, the code paths
                await vf.customers.get("warm")
            started = time.perf_counter()
            for _ in range(calls):
                await vf.customers.get("cust_1")
            sequential = calls / (time.perf_counter() - started)
            ids = [f"cust_{i}" for i in range(calls)]
            started = time.perf_counter()
            await vf.customers.get_many(ids, concurrency=32)
            many = calls / (time.perf_counter() - started)
        return sequential, many

    sequential, many = asyncio.run(main())
    if setup == "absent":
        assert "opentelemetry" not in sys.modules
    spans = 0 if exporter is None else len(exporter.get_finished_spans())
    return sequential, many, spans


def run(quick: bool = False, rounds: int | None = None) -> list[BenchResult]:
    """Run the benchmark; ``quick`` makes 200 calls a turn (2,000 otherwise)."""
    calls = 200 if quick else 2000
    rounds = rounds or (1 if quick else 4)
    gets: dict[str, list[float]] = {setup: [] for setup in SETUPS}
    many: dict[str, list[float]] = {setup: [] for setup in SETUPS}
    spans = 0
    with minimal_server() as base_url:
        for number in range(rounds):
            order = SETUPS if number % 2 == 0 else tuple(reversed(SETUPS))
            for setup in order:
                rate, lookups, recorded = run_in_child(turn, setup, base_url, calls, timeout=600)
                gets[setup].append(rate)
                many[setup].append(lookups)
                spans = max(spans, recorded)
    idle_get, on_get = paired(gets["idle"], gets["absent"]), paired(gets["on"], gets["absent"])
    idle_many, on_many = paired(many["idle"], many["absent"]), paired(many["on"], many["absent"])
    rows = "\n".join(
        f"| {NAMES[setup]} | {', '.join(f'{x:,.0f}' for x in gets[setup])} |"
        f" {median(gets[setup]):,.0f} | {', '.join(f'{x:,.0f}' for x in many[setup])} |"
        f" {median(many[setup]):,.0f} |"
        for setup in SETUPS
    )
    details = "\n".join(
        [
            f"{calls:,} sequential gets and a get_many of {calls:,} ids (32 at a time) per turn,"
            f" {rounds} rounds, each setup in a fresh process per turn; the SDK recorded"
            f" {spans:,} spans in one turn (an operation span and an attempt span a call).",
            "",
            "| setup | get/s per turn | median | get_many lookups/s per turn | median |",
            "|---|---|---|---|---|",
            rows,
        ]
    )
    ratios = [
        f"get: idle {show_paired(idle_get)}, SDK on {show_paired(on_get)} of absent",
        f"get_many: idle {show_paired(idle_many)}, SDK on {show_paired(on_many)} of absent",
    ]
    return [
        BenchResult(
            key=KEY,
            title=TITLE,
            command=f"python -m benchmarks --only {KEY}",
            ours=Figure(NAMES["idle"], gets["idle"], "get/s"),
            peers=[Figure(NAMES[s], gets[s], "get/s") for s in ("absent", "on")],
            ratios=ratios,
            target=TARGET,
            met=min(idle_get[0], idle_many[0]) >= GOAL,
            details=details,
            chart={
                "kind": "bar",
                "unit": "sequential get per second (higher is better)",
                "values": {NAMES[s]: median(gets[s]) for s in SETUPS},
            },
        )
    ]
