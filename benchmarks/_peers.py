"""What the HTTP benchmarks share: event loops, paired ratios, CPU share and the ceiling.

- Event loops: every HTTP benchmark runs on asyncio's default loop and on uvloop
  (``--loop``); :func:`new_loop` makes either.
- Paired ratios: in every round each client runs once, back to back, so a ratio of two
  clients of the same round sees the same state of a busy machine; :func:`paired` gives the
  median of those per-round ratios with their min and max.
- CPU share: a :class:`Sample` keeps the client process's CPU time beside the wall time, so a
  run where the client was bound by its own CPU (share near 100% of one core) shows as such.
- Placement: with ``VOUCHERIFY_BENCH_PIN=1`` (``--pin``) the server runs on the last core and
  the clients on the others (:func:`pin_server`, :func:`pin_clients`), as a client and a
  remote API are: on one machine the kernel otherwise wakes a loopback server on the core
  of the client that just wrote to it, so a client can never work while the server does.
- The ceiling: :class:`RawHTTP` does the least an HTTP/1.1 keep-alive client can do (write
  the request bytes, read ``Content-Length`` bytes back) on a plain ``asyncio.Protocol``,
  with no HTTP library; what no client on this machine, loop and server can beat.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "LOOPS",
    "RawHTTP",
    "Sample",
    "available_loops",
    "loop_names",
    "new_loop",
    "paired",
    "pin_clients",
    "pin_server",
    "placement",
    "show_paired",
    "timed",
]

LOOPS = ("asyncio", "uvloop")


def available_loops() -> list[str]:
    """The event loops that can run here (uvloop only if it is installed)."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return ["asyncio"]
    return list(LOOPS)


def loop_names() -> list[str]:
    """The loops to run, from ``VOUCHERIFY_BENCH_LOOP`` (``asyncio``, ``uvloop``, ``both``)."""
    wanted = os.environ.get("VOUCHERIFY_BENCH_LOOP", "both")
    if wanted == "both":
        return available_loops()
    if wanted not in LOOPS:
        raise ValueError(f"VOUCHERIFY_BENCH_LOOP must be asyncio, uvloop or both, not {wanted!r}")
    return [wanted]


def _cores() -> list[int] | None:
    """The cores this process may run on, if it can be pinned and there are two or more."""
    if os.environ.get("VOUCHERIFY_BENCH_PIN") != "1" or not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    return cores if len(cores) >= 2 else None


def pin_server(pid: int = 0) -> None:
    """With pinning on, keep process ``pid`` (0: this one), a server, on the last core."""
    cores = _cores()
    if cores is not None:
        os.sched_setaffinity(pid, {cores[-1]})


def pin_clients() -> None:
    """With pinning on, keep this process, a client, off the server's core."""
    cores = _cores()
    if cores is not None:
        os.sched_setaffinity(0, set(cores[:-1]))


def placement() -> str:
    """How the processes were placed, for the report."""
    cores = _cores()
    if cores is None:
        return "client and server processes placed by the kernel"
    return f"server pinned to core {cores[-1]}, clients to {', '.join(map(str, cores[:-1]))}"


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    """A new event loop: ``asyncio`` (the default loop) or ``uvloop``."""
    if name == "uvloop":
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop
    return asyncio.new_event_loop()


@dataclass
class Sample:
    """One timed run of one client: wall seconds and the client process's CPU seconds."""

    wall: float
    cpu: float

    @property
    def cpu_share(self) -> float:
        """CPU time over wall time (1.0: one core busy all along)."""
        return self.cpu / self.wall if self.wall > 0 else float("nan")


async def timed(work: Callable[[], Awaitable[Any]]) -> Sample:
    """Run ``work()`` once; its wall and CPU time."""
    cpu, wall = time.process_time(), time.perf_counter()
    await work()
    return Sample(time.perf_counter() - wall, time.process_time() - cpu)


def paired(ours: Sequence[float], other: Sequence[float]) -> tuple[float, float, float]:
    """Median, min and max of the per-round ratios ``ours[i] / other[i]``."""
    ratios = [a / b for a, b in zip(ours, other, strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


def show_paired(ratio: tuple[float, float, float]) -> str:
    """``0.97x (0.94-0.99)``: the median of the per-round ratios, min-max over rounds."""
    mid, low, high = ratio
    return f"{mid:.2f}x ({low:.2f}-{high:.2f})"


class _Exchange(asyncio.Protocol):
    """One keep-alive connection: one request at a time, the answer's body back."""

    def __init__(self) -> None:
        self.transport: Any = None  # an asyncio.Transport (uvloop's is not a subclass)
        self._buffer = bytearray()
        self._waiter: asyncio.Future[bytes] | None = None
        self._need = -1  # the whole answer's length, once its head is in
        self._start = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc or ConnectionError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if self._need < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            start = head.find(b"content-length:")
            if start < 0:
                raise RuntimeError("the ceiling client needs answers with a Content-Length")
            stop = head.find(b"\r\n", start)
            length = int(head[start + 15 : stop if stop >= 0 else None])
            self._start = end + 4
            self._need = self._start + length
        if len(buffer) >= self._need:
            body = bytes(buffer[self._start : self._need])
            del buffer[: self._need]
            self._need = -1
            waiter, self._waiter = self._waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(body)

    async def exchange(self, request: bytes) -> bytes:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self._waiter


class RawHTTP:
    """The ceiling: bare HTTP/1.1 keep-alive GETs over ``connections`` sockets, no library.

    :meth:`get` takes a free connection (opening one if fewer than ``connections`` are
    open), writes the request and returns the answer's body.
    """

    def __init__(self, base_url: str, headers: dict[str, str], connections: int = 1) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._head += f"Host: {self._host}:{self._port}\r\n\r\n"
        self._limit = connections
        self._free: list[_Exchange] = []
        self._opened: list[_Exchange] = []
        self._slots: asyncio.Semaphore | None = None

    async def get(self, path: str) -> bytes:
        """GET ``path`` (with the query, if any); the answer's body."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._limit)
        async with self._slots:
            if self._free:
                connection = self._free.pop()
            else:
                loop = asyncio.get_running_loop()
                _, connection = await loop.create_connection(_Exchange, self._host, self._port)
                self._opened.append(connection)
            request = f"GET {path} HTTP/1.1\r\n{self._head}".encode()
            body = await connection.exchange(request)
            self._free.append(connection)
            return body

    def close(self) -> None:
        """Close every connection."""
        for connection in self._opened:
            if connection.transport is not None:
                connection.transport.close()
        self._opened.clear()
        self._free.clear()
