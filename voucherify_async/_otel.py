"""OpenTelemetry: a span per operation and per attempt, and the client's metrics.

Used only when the ``otel`` extra (``opentelemetry-api``) is installed and the application
has configured a tracer or meter provider (`telemetry_for` decides, once per client);
otherwise nothing here is imported and a call pays nothing for it.

- An INTERNAL span per operation (``customers.get``, ``customers.list`` over all its pages,
  ``customers.partition``, ``job.wait``, ``customers.import_csv``), and a CLIENT span per
  attempt with the stable HTTP semantic conventions (``http.request.method``,
  ``server.address``, ``server.port``, ``url.full``, ``url.template``,
  ``http.response.status_code``, ``error.type``, ``http.request.resend_count``), plus
  ``voucherify.request_id`` and ``voucherify.rate_limit.remaining``.
- Span events for the waits (``voucherify.wait``: the rate limit, a backoff).
- Metrics: ``http.client.request.duration`` (histogram, low-cardinality attributes only),
  ``voucherify.client.retries`` and ``voucherify.client.rate_limited`` (counters),
  ``voucherify.client.rate_limit.wait`` (histogram) and
  ``voucherify.client.rate_limit.remaining`` (gauge).

It is one of the client's `Hooks`, told every step the transport takes, and wraps each
call in its operation span.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Iterable
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ._core.events import RequestEvent, ResponseEvent, RetryEvent, WaitEvent
from ._transport.hooks import Hooks
from ._version import __version__

__all__ = ["ListTrace", "Telemetry", "telemetry_for"]

T = TypeVar("T")
_SCOPE = "voucherify_async"
# The attempt span of the call the current task is making.
_ATTEMPT: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "voucherify_async_attempt", default=None
)
# Whether the current task is inside one of our operation spans (pages of a list are).
_IN_OPERATION: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "voucherify_async_operation", default=False
)


def _provider_configured() -> bool:
    """Whether the application set a real tracer or meter provider (not the API's no-op)."""
    tracer_provider = trace.get_tracer_provider()
    meter_provider = metrics.get_meter_provider()
    noop_tracer = isinstance(tracer_provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))
    noop_meter = type(meter_provider).__name__ in ("_ProxyMeterProvider", "NoOpMeterProvider")
    return not (noop_tracer and noop_meter)


class Telemetry(Hooks):
    """The spans and metrics of one client (and its ``with_options`` copies)."""

    def __init__(self, base_url: str, remaining: Callable[[], int | None]) -> None:
        parts = urlsplit(base_url)
        self._server: dict[str, str | int] = {
            "server.address": parts.hostname or "",
            "server.port": parts.port or (443 if parts.scheme == "https" else 80),
        }
        self._tracer = trace.get_tracer(_SCOPE, __version__)
        meter = metrics.get_meter(_SCOPE, __version__)
        self._duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of each HTTP attempt the client made.",
        )
        self._retries = meter.create_counter(
            "voucherify.client.retries", unit="{retry}", description="Attempts sent again."
        )
        self._rate_limited = meter.create_counter(
            "voucherify.client.rate_limited",
            unit="{response}",
            description="Answers with status 429.",
        )
        self._waits = meter.create_histogram(
            "voucherify.client.rate_limit.wait",
            unit="s",
            description="Time a call waited for the rate limit before an attempt.",
        )
        self._remaining = remaining
        # Metric attributes by (method, template, status, error): a handful of kinds, each
        # built once. Templates never hold an id, so this stays small.
        self._attributes: dict[tuple[str, str, int | None, str | None], dict[str, str | int]] = {}

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            left = self._remaining()
            return [] if left is None else [Observation(left, self._server)]

        meter.create_observable_gauge(
            "voucherify.client.rate_limit.remaining",
            callbacks=[observe],
            unit="{request}",
            description="Requests left in the rate-limit period, as the API last said.",
        )

    # -- operations -----------------------------------------------------------------

    async def call(self, name: str, run: Callable[[], Awaitable[T]]) -> T:
        """Run one call in its operation span (unless a list or a job already opened one).

        Written out rather than through ``start_as_current_span``: this runs on every call.
        """
        if _IN_OPERATION.get():
            return await run()
        span = self._tracer.start_span(name, kind=SpanKind.INTERNAL)
        token = otel_context.attach(trace.set_span_in_context(span))
        flag = _IN_OPERATION.set(True)
        try:
            return await run()
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            span.set_attribute("error.type", type(exc).__name__)
            raise
        finally:
            _IN_OPERATION.reset(flag)
            otel_context.detach(token)
            span.end()

    @contextmanager
    def operation(self, name: str, **attributes: Any) -> Any:
        """An INTERNAL span for ``name``, current while the block runs."""
        token = _IN_OPERATION.set(True)
        try:
            with self._tracer.start_as_current_span(
                name, kind=SpanKind.INTERNAL, attributes=attributes or None
            ) as span:
                yield span
        finally:
            _IN_OPERATION.reset(token)

    def list_operation(self, name: str) -> ListTrace:
        """The span of a whole list iteration; its pages run inside it (`ListTrace.run`)."""
        return ListTrace(self._tracer.start_span(name, kind=SpanKind.INTERNAL))

    # -- attempts (as hooks) --------------------------------------------------------

    def on_request(self, event: RequestEvent) -> None:
        attributes: dict[str, Any] = {
            "http.request.method": event.method,
            "url.full": event.url,
            "url.template": event.template,
            **self._server,
        }
        if event.attempt > 1:
            attributes["http.request.resend_count"] = event.attempt - 1
        span = self._tracer.start_span(
            f"{event.method} {event.template}", kind=SpanKind.CLIENT, attributes=attributes
        )
        _ATTEMPT.set(span)

    def on_response(self, event: ResponseEvent) -> None:
        span = _ATTEMPT.get()
        _ATTEMPT.set(None)
        key = (event.method, event.template, event.status, event.error)
        metric = self._attributes.get(key)
        if metric is None:
            metric = self._attributes[key] = self._metric_attributes(event)
        if event.status == 429:
            self._rate_limited.add(1, self._server)
        self._duration.record(event.elapsed, metric)
        if span is None:
            return
        if event.status is not None:
            span.set_attribute("http.response.status_code", event.status)
        if "error.type" in metric:
            span.set_attribute("error.type", metric["error.type"])
            span.set_status(Status(StatusCode.ERROR))
        if event.request_id:
            span.set_attribute("voucherify.request_id", event.request_id)
        if event.rate_limit_remaining is not None:
            span.set_attribute("voucherify.rate_limit.remaining", event.rate_limit_remaining)
        span.end()

    def _metric_attributes(self, event: ResponseEvent) -> dict[str, str | int]:
        """The low-cardinality attributes of an attempt's duration (made once per kind)."""
        metric: dict[str, str | int] = {
            "http.request.method": event.method,
            "url.template": event.template,
            **self._server,
        }
        if event.status is not None:
            metric["http.response.status_code"] = event.status
            if event.status >= 400:
                metric["error.type"] = str(event.status)
        else:
            metric["error.type"] = event.error or "unknown"
        return metric

    def on_retry(self, event: RetryEvent) -> None:
        self._retries.add(1, {"url.template": event.template, **self._server})

    def on_wait(self, event: WaitEvent) -> None:
        trace.get_current_span().add_event(
            "voucherify.wait",
            {"voucherify.wait.reason": event.reason, "voucherify.wait.seconds": event.seconds},
        )
        if event.reason == "rate_limit":
            self._waits.record(event.seconds, self._server)


class ListTrace:
    """The span of one list iteration: its pages are fetched as its children."""

    def __init__(self, span: Span) -> None:
        self.span = span
        self.pages = 0
        self.items = 0
        self._context = trace.set_span_in_context(span)

    async def run(self, fetch: Awaitable[T]) -> T:
        """Await one page's fetch with the list's span current (in the fetching task)."""
        token = otel_context.attach(self._context)
        flag = _IN_OPERATION.set(True)
        try:
            return await fetch
        finally:
            _IN_OPERATION.reset(flag)
            otel_context.detach(token)

    def page(self, items: int) -> None:
        """Count a page read."""
        self.pages += 1
        self.items += items

    def finish(self, error: BaseException | None) -> None:
        """End the span; an error other than the iteration stopping early marks it failed."""
        span = self.span
        if error is not None and not isinstance(error, (GeneratorExit, asyncio.CancelledError)):
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.set_attribute("error.type", type(error).__name__)
        span.set_attribute("voucherify.pages", self.pages)
        span.set_attribute("voucherify.items", self.items)
        span.end()


def telemetry_for(
    setting: bool | None, base_url: str, remaining: Callable[[], int | None]
) -> Telemetry | None:
    """The client's `Telemetry`: on when asked (``True``), or when ``None`` and a provider is
    configured; ``False``, or nothing configured, gives ``None`` (no cost)."""
    if setting is False:
        return None
    if setting is None and not _provider_configured():
        return None
    return Telemetry(base_url, remaining)
