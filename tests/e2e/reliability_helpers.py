"""Loopback servers that misbehave on purpose, and a check that no error carries the token.

`FaultServer` is a raw asyncio socket server speaking just enough HTTP/1.1: it records every
request it reads, answers the first `faulty` of them with a fault, and the rest correctly
(a customer, or a started job for the bulk endpoint). Every answer closes the connection.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

from tests.conftest import APP_TOKEN

CUSTOMER = {"id": "cust_1", "object": "customer"}
JOB = {"async_action_id": "aa_1"}


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FaultServer:
    """Serve ``fault`` to the first ``faulty`` requests on 127.0.0.1, then answer well."""

    fault: str
    faulty: int = 1
    location: str = ""
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _server: asyncio.Server | None = None
    _handlers: list[asyncio.Task[None]] = field(default_factory=list)

    async def __aenter__(self) -> FaultServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        assert self._server is not None
        self._server.close()
        await asyncio.wait_for(asyncio.gather(*self._handlers, return_exceptions=True), timeout=5)
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.received.append(Received(method, path, headers, body))
        self.arrived.set()
        try:
            if len(self.received) <= self.faulty:
                await self._fault(writer)
            else:
                ok = JOB if path.endswith("/bulk/async") else CUSTOMER
                writer.write(_answer(202 if ok is JOB else 200, json.dumps(ok).encode()))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _fault(self, writer: asyncio.StreamWriter) -> None:
        fault = self.fault
        if fault == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif fault == "hang":
            await self.release.wait()
        elif fault == "garbage":
            writer.write(b"HELLO I AM NOT HTTP\r\n\r\n")
        elif fault == "truncated":
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b'Content-Length: 500\r\nConnection: close\r\n\r\n{"id": "cu'
            )
        elif fault == "html502":
            page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            writer.write(_answer(502, page, content_type="text/html"))
        elif fault == "redirect":
            writer.write(_answer(302, b"", extra={"Location": self.location}))
        elif fault == "429":
            writer.write(
                _answer(
                    429,
                    _TOO_MANY,
                    extra={
                        "Retry-After": "1",
                        "X-Rate-Limit-Type": "api_calls",
                        "X-Rate-Limit-Remaining": "0",
                    },
                )
            )
        elif fault == "429-huge":
            writer.write(
                _answer(
                    429, _TOO_MANY, extra={"Retry-After": "3600", "X-Rate-Limit-Type": "api_calls"}
                )
            )
        elif fault == "429-quota":
            writer.write(
                _answer(
                    429,
                    _TOO_MANY,
                    extra={
                        "Retry-After": "80000",
                        "X-Rate-Limit-Type": "api_calls_cycle",
                        "X-Rate-Limit-Remaining": "0",
                    },
                )
            )
        else:  # pragma: no cover - a typo in a test
            raise AssertionError(f"unknown fault {fault!r}")
        await writer.drain()


_TOO_MANY = b'{"code": 429, "message": "Too many requests hit the API too quickly."}'


def _answer(
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    extra: dict[str, str] | None = None,
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} Whatever",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    lines += [f"{name}: {value}" for name, value in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class FakeResolver(AbstractResolver):
    """A resolver that fails (``"dns"``) or never answers (``"hang"``), counting calls."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.calls = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls += 1
        if self.mode == "dns":
            raise OSError(socket.EAI_NONAME, "Name or service not known")
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        return None


# --- the token must be nowhere ----------------------------------------------------------


def _texts(value: Any, depth: int, seen: set[int]) -> list[str]:
    """repr and str of ``value`` and of everything reachable from its attributes."""
    if id(value) in seen or depth < 0:
        return []
    seen.add(id(value))
    texts = [repr(value)]
    try:
        texts.append(str(value))
    except Exception as exc:  # pragma: no cover - a str() that fails is no leak
        texts.append(type(exc).__name__)
    children: list[Any] = []
    if isinstance(value, dict):
        children += list(value.keys()) + list(value.values())
    elif isinstance(value, (list, tuple, set, frozenset)):
        children += list(value)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        children += list(vars(value).values())
    for name in getattr(type(value), "__slots__", ()):
        if hasattr(value, name):
            children.append(getattr(value, name))
    if isinstance(value, BaseException):
        children += [value.args, value.__cause__, value.__context__]
    for child in children:
        if child is not None and not callable(child):
            texts += _texts(child, depth - 1, seen)
    return texts


def assert_token_free(error: BaseException, token: str = APP_TOKEN) -> None:
    """No text reachable from ``error`` shows ``token``: message, repr, attributes, the
    whole ``__cause__``/``__context__`` chain, a formatted traceback, and a traceback with
    the frames' locals (as Sentry records them)."""
    for text in _texts(error, 6, set()):
        assert token not in text, f"the token is in {text[:300]!r}"
    formatted = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert token not in formatted
    with_locals = traceback.TracebackException.from_exception(error, capture_locals=True)
    assert token not in "".join(with_locals.format())


def chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception reachable through ``__cause__`` and ``__context__``."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is None or any(item is seen for seen in found):
            continue
        found.append(item)
        todo += [item.__cause__, item.__context__]
    return found


Call = Callable[[Any], Any]
