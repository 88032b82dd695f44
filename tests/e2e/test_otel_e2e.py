"""OpenTelemetry with the SDK's in-memory exporter and metric reader, against the emulator.

One operation span per call with an attempt span per try (resend counts, status codes, the
waits as events), one span over a whole list, low-cardinality metric attributes, and no
credential anywhere in a span, an event or a metric.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import FakeTime
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from voucherify_async import NotFoundError
from voucherify_async.emulator import Emulator

_EXPORTER = InMemorySpanExporter()
_READER = InMemoryMetricReader()


def _install_providers() -> None:
    """The SDK as the application configures it: once per process."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _install_providers()
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def children(parent: ReadableSpan, every: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    assert parent.context is not None
    return sorted(
        (s for s in every if s.parent is not None and s.parent.span_id == parent.context.span_id),
        key=lambda s: s.start_time or 0,
    )


def no_secret(token: str, *things: str) -> None:
    for thing in things:
        assert token not in thing


async def test_a_get_retried_after_a_503_and_a_429_is_one_operation_of_three_attempts(
    spans: InMemorySpanExporter,
) -> None:
    fake = FakeTime()
    async with (
        Emulator() as emu,
        emu.client(clock=fake.clock, sleep=fake.sleep) as vf,
    ):
        await vf.customers.create(source_id="bob")
        await emu.script_faults(
            [
                {"kind": "error", "status": 503, "method": "GET"},
                {"kind": "rate_limit", "method": "GET"},
            ]
        )
        spans.clear()
        await vf.customers.get("bob")
        token = emu.app_token
    every = spans.get_finished_spans()
    [operation] = [s for s in every if s.kind is SpanKind.INTERNAL]
    assert operation.name == "customers.get" and operation.parent is None
    attempts = children(operation, every)
    assert [a.name for a in attempts] == ["GET /v1/customers/{customerId}"] * 3
    assert all(a.kind is SpanKind.CLIENT for a in attempts)
    attrs: list[dict[str, Any]] = [dict(a.attributes or {}) for a in attempts]
    assert [a.get("http.request.resend_count") for a in attrs] == [None, 1, 2]
    assert [a["http.response.status_code"] for a in attrs] == [503, 429, 200]
    assert [a.get("error.type") for a in attrs] == ["503", "429", None]
    assert attrs[2]["url.template"] == "/v1/customers/{customerId}"
    assert attrs[2]["url.full"].endswith("/v1/customers/bob")
    assert attrs[2]["server.address"] == "127.0.0.1" and isinstance(attrs[2]["server.port"], int)
    assert attempts[0].status.status_code is StatusCode.ERROR
    waits = [dict(e.attributes or {}) for e in operation.events if e.name == "voucherify.wait"]
    assert [w["voucherify.wait.reason"] for w in waits] == ["backoff", "rate_limit"]
    no_secret(token, *(s.to_json() for s in every))


async def test_a_two_page_list_is_one_span_counting_pages_and_items(
    spans: InMemorySpanExporter,
) -> None:
    async with Emulator() as emu, emu.client() as vf:
        await emu.seed_customers(15)
        spans.clear()
        assert len([c async for c in vf.customers.list(limit=10, prefetch=True)]) == 15
    every = spans.get_finished_spans()
    [listing] = [s for s in every if s.kind is SpanKind.INTERNAL]
    assert listing.name == "customers.list"
    assert (listing.attributes or {})["voucherify.pages"] == 2
    assert (listing.attributes or {})["voucherify.items"] == 15
    pages = children(listing, every)
    assert len(pages) == 2 and all(p.kind is SpanKind.CLIENT for p in pages)


async def test_a_failed_call_and_low_cardinality_metrics(
    spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    async with Emulator() as emu, emu.client() as vf:
        with pytest.raises(NotFoundError):
            await vf.customers.get("nobody-at-all")
        token = emu.app_token
    every = spans.get_finished_spans()
    [operation] = [s for s in every if s.kind is SpanKind.INTERNAL]
    assert operation.status.status_code is StatusCode.ERROR
    [attempt] = children(operation, every)
    assert (attempt.attributes or {})["error.type"] == "404"
    data = _READER.get_metrics_data()
    assert data is not None
    dump = data.to_json()
    points: list[dict[str, Any]] = []
    for resource in json.loads(dump)["resource_metrics"]:
        for scope in resource["scope_metrics"]:
            for metric in scope["metrics"]:
                if metric["name"] == "http.client.request.duration":
                    points.extend(metric["data"]["data_points"])
    assert points
    allowed = {
        "http.request.method",
        "url.template",
        "server.address",
        "server.port",
        "http.response.status_code",
        "error.type",
    }
    for point in points:
        assert set(point["attributes"]) <= allowed  # no url.full, no id
        assert "nobody-at-all" not in json.dumps(point["attributes"])
    no_secret(token, dump, caplog.text, *(s.to_json() for s in every))


def test_without_a_provider_when_the_client_is_made_telemetry_is_off() -> None:
    """In a fresh process: a client made before any provider makes no span (its calls pay
    nothing for telemetry), one made with ``telemetry=True`` does."""
    with Emulator(mode="thread") as emu:
        code = (
            "import asyncio\n"
            "from opentelemetry import trace\n"
            "from opentelemetry.sdk.trace import TracerProvider\n"
            "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
            "from opentelemetry.sdk.trace.export.in_memory_span_exporter import"
            " InMemorySpanExporter\n"
            "from voucherify_async import AsyncVoucherify\n"
            "plain, forced = AsyncVoucherify(), AsyncVoucherify(telemetry=True)\n"
            "exporter = InMemorySpanExporter()\n"
            "provider = TracerProvider()\n"
            "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
            "trace.set_tracer_provider(provider)\n"
            "async def main():\n"
            "    async with plain:\n"
            "        await plain.customers.list()\n"
            "    print(len(exporter.get_finished_spans()))\n"
            "    async with forced:\n"
            "        await forced.customers.list()\n"
            "    print(len(exporter.get_finished_spans()))\n"
            "asyncio.run(main())\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, **emu.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "2"]  # the operation span and its attempt
