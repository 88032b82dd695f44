"""A scan as a tracing backend shows it: OpenTelemetry's SDK, an in-memory exporter, a waterfall.

Starts its own emulator (one page of the scan answered 503 once, one 429), lists 250
customers 100 a page with the SDK configured, and prints each span as a backend's waterfall
does: its name, where it starts and how long it lasts, its attributes; then the client's
counters. Run it: ``python examples/observability.py``.
"""

from __future__ import annotations

import asyncio

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from voucherify_async.emulator import Emulator

SHOWN = {
    "http.response.status_code": "status",
    "http.request.resend_count": "resend",
    "error.type": "error",
}


def configure() -> tuple[InMemorySpanExporter, InMemoryMetricReader]:
    """What an application does once at start-up (with its real exporter instead)."""
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return exporter, reader


def waterfall(spans: tuple[ReadableSpan, ...], width: int = 40) -> str:
    """The spans of one trace, children under their parent, bars on a common time axis."""
    begin = min(s.start_time or 0 for s in spans)
    end = max(s.end_time or 0 for s in spans)
    scale = width / max(end - begin, 1)
    by_parent: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        by_parent.setdefault(span.parent.span_id if span.parent else None, []).append(span)
    lines: list[str] = []

    def show(span: ReadableSpan, depth: int) -> None:
        start = int(((span.start_time or 0) - begin) * scale)
        length = max(int(((span.end_time or 0) - (span.start_time or 0)) * scale), 1)
        bar = " " * start + "#" * length
        millis = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
        attributes = span.attributes or {}
        detail = " ".join(f"{SHOWN[k]}={attributes[k]!s}" for k in SHOWN if k in attributes)
        for event in span.events:
            if event.name == "voucherify.wait":
                wait = event.attributes or {}
                seconds = float(str(wait["voucherify.wait.seconds"]))
                detail += f" [waited {seconds:.2f} s: {wait['voucherify.wait.reason']!s}]"
        name = "  " * depth + span.name
        lines.append(f"{name:<46} |{bar:<{width}}| {millis:7.1f} ms {detail}".rstrip())
        assert span.context is not None
        for child in sorted(
            by_parent.get(span.context.span_id, []), key=lambda s: s.start_time or 0
        ):
            show(child, depth + 1)

    for root in by_parent.get(None, []):
        show(root, 0)
    return "\n".join(lines)


async def main() -> None:
    exporter, _ = configure()
    async with Emulator(latency_ms=20) as emu:
        await emu.seed_customers(250)
        await emu.script_faults(
            [
                {"kind": "error", "status": 503, "method": "GET", "path": "/v1/customers"},
                {"kind": "rate_limit", "method": "GET", "path": "/v1/customers", "retry_after": 1},
            ]
        )
        async with emu.client() as vf:
            scanned = [customer.id async for customer in vf.customers.list(limit=100)]
            print(f"{len(scanned)} customers; the trace:\n")
            print(waterfall(exporter.get_finished_spans()))
            print(f"\nvf.stats: {vf.stats.as_dict()}")


if __name__ == "__main__":
    asyncio.run(main())
