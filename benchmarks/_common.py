"""What every benchmark shares: result records, machine facts, and the minimal HTTP server.

The minimal server answers ``GET /v1/customers/{id}`` with one fixed customer. It is a few
lines of raw ``asyncio.Protocol`` (no framework), so that almost all of a request's cost in
the HTTP benchmarks is the client's, and it runs in a separate process started with
``multiprocessing`` (spawn), so that client and server do not share a core or a GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.metadata
import json
import multiprocessing
import multiprocessing.connection
import os
import platform
import signal
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = [
    "APP_ID",
    "APP_TOKEN",
    "BenchResult",
    "Figure",
    "bench_extra_missing",
    "busy_processes",
    "customer_json",
    "machine",
    "median",
    "minimal_server",
    "receive",
    "run_in_child",
    "spec_customers",
]

ROOT = Path(__file__).resolve().parents[1]
# The vendor spec, reduced to its facts and examples, as the repository carries it (spec/).
SPEC = ROOT / "spec" / "customers.json"
APP_ID = "bench-app-id"
APP_TOKEN = "bench-app-token"
BENCH_PACKAGES = ("voucherify", "httpx", "matplotlib", "psutil")


@dataclass
class Figure:
    """One measured figure: the median of ``samples`` (one per round) in ``unit``."""

    name: str
    samples: list[float]
    unit: str
    note: str = ""

    @property
    def value(self) -> float:
        """The median over the rounds."""
        return median(self.samples)

    def show(self) -> str:
        """The median, formatted for the table."""
        return f"{_number(self.value)} {self.unit}"


@dataclass
class BenchResult:
    """The outcome of one benchmark: our figure, the peers', ratios and the verdict."""

    key: str
    title: str
    command: str
    ours: Figure
    peers: list[Figure]
    ratios: list[str]
    target: str
    met: bool
    notes: list[str] = field(default_factory=list)
    details: str = ""
    chart: dict[str, Any] = field(default_factory=dict)


def median(samples: list[float]) -> float:
    """The median of ``samples`` (``nan`` if there are none)."""
    return statistics.median(samples) if samples else float("nan")


def _number(value: float) -> str:
    if value != value:  # nan
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def bench_extra_missing() -> list[str]:
    """The packages of the ``bench`` extra that are not installed."""
    missing = []
    for name in BENCH_PACKAGES:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, str]:
    """Facts about the machine and the versions measured."""
    cores = os.cpu_count() or 0
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    facts = {
        "CPU": f"{_cpu_model()}, {cores} logical cores",
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "load average at start (1, 5, 15 min)": load,
    }
    packages = (
        "voucherify-async", "aiohttp", "msgspec", "anyio", "uvloop", "voucherify", "pydantic",
        "urllib3", "httpx",
    )  # fmt: skip
    facts["versions"] = ", ".join(f"{name} {_version(name)}" for name in packages)
    return facts


def busy_processes(seconds: float = 1.0, threshold: float = 10.0) -> str:
    """Other processes using more than ``threshold`` % of a core over ``seconds``."""
    import time

    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return "unknown (psutil not installed)"
    me = os.getpid()
    procs = [p for p in psutil.process_iter(["pid", "name", "cmdline"]) if p.pid != me]
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.cpu_percent(None)
    time.sleep(seconds)
    busy = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            usage = proc.cpu_percent(None)
            if usage > threshold:
                command = " ".join(proc.info.get("cmdline") or [proc.info.get("name") or "?"])
                busy.append(f"{usage:.0f}% {command[:80]}")
    return "; ".join(busy) or "none"


# -- the spec's example customers --------------------------------------------------------


def spec_customers() -> list[dict[str, Any]]:
    """The customer objects of the spec's examples: list (2), get, create and update."""
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    paths = spec["paths"]

    def example(path: str, method: str) -> Any:
        content = paths[path][method]["responses"]["200"]["content"]["application/json"]
        return next(iter(content["examples"].values()))["value"]

    customers = list(example("/v1/customers", "get")["customers"])
    customers.append(example("/v1/customers/{customerId}", "get"))
    customers.append(example("/v1/customers", "post"))
    customers.append(example("/v1/customers/{customerId}", "put"))
    return customers


@functools.cache
def customer_json() -> bytes:
    """The one customer the minimal server answers with (the spec's first example customer)."""
    return json.dumps(spec_customers()[0], separators=(",", ":")).encode()


# -- the minimal server ------------------------------------------------------------------


def _response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


class _Answer(asyncio.Protocol):
    """HTTP/1.1 keep-alive: every ``GET /v1/customers/...`` gets the fixed customer."""

    def __init__(self, latency: float) -> None:
        self._latency = latency
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._ok = _response("200 OK", customer_json())
        self._missing = _response("404 Not Found", b'{"code":404,"key":"not_found"}')

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            line = bytes(buffer[: buffer.find(b"\r\n")])
            del buffer[: end + 4]
            method, _, rest = line.partition(b" ")
            found = method == b"GET" and rest.startswith(b"/v1/customers/")
            answer = self._ok if found else self._missing
            if self._latency > 0:
                asyncio.get_running_loop().call_later(self._latency, self._write, answer)
            else:
                self._write(answer)

    def _write(self, answer: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(answer)


def _serve(conn: Connection, latency_ms: float) -> None:
    """The server process: listen on a free loopback port, report it, serve until SIGTERM."""
    from ._peers import pin_server

    pin_server()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Answer(latency_ms / 1000), "127.0.0.1", 0, backlog=1024
        )
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
        conn.send(server.sockets[0].getsockname()[1])
        async with server:
            await stop

    asyncio.run(main())


def receive(conn: Connection, process: Any, timeout: float, what: str) -> Any:
    """The child's message, or an error as soon as the child dies or the time is up."""
    ready = multiprocessing.connection.wait([conn, process.sentinel], timeout)
    if conn in ready and conn.poll():
        return conn.recv()
    if not ready:
        raise TimeoutError(f"{what} sent nothing within {timeout} s")
    raise RuntimeError(f"{what} exited with code {process.exitcode} before answering")


@contextlib.contextmanager
def minimal_server(latency_ms: float = 0.0) -> Iterator[str]:
    """Run the minimal server in a child process; yields its base URL; always stops it."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(
        target=_serve, args=(child, latency_ms), name="bench-minimal-server", daemon=True
    )
    process.start()
    try:
        port = receive(parent, process, 60, "the minimal server")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()
        parent.close()
        child.close()


# -- work in a fresh process -------------------------------------------------------------


def _child(conn: Connection, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        conn.send(("ok", func(*args)))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


def run_in_child(func: Callable[..., Any], *args: Any, timeout: float = 1800) -> Any:
    """Call ``func(*args)`` in a fresh (spawned) process and return what it returns.

    Used where a figure must not carry the runner's own history, such as peak RSS.
    """
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    # Not a daemon: the benchmark it runs starts processes of its own (servers, clients).
    process = context.Process(target=_child, args=(child, func, args))
    process.start()
    try:
        status, value = receive(parent, process, timeout, "the benchmark child process")
    finally:
        if process.is_alive():
            process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(10)
        if process.is_alive():
            process.kill()
            process.join()
        parent.close()
        child.close()
    if status != "ok":
        raise RuntimeError(f"the benchmark child process failed: {value}")
    return value
