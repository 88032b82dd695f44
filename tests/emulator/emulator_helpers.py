"""Helpers for the emulator tests: a raw aiohttp client that sends paths untouched."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

import aiohttp
from yarl import URL


def quote_id(value: str) -> str:
    """Percent-encode a path segment the way the SDK does: all but A-Za-z0-9-._~."""
    return quote(value, safe="")


@dataclass
class Reply:
    """One HTTP answer, read completely."""

    status: int
    headers: Mapping[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


class Http:
    """A thin raw-aiohttp client for one emulator: paths are sent exactly as given."""

    def __init__(self, session: aiohttp.ClientSession, base: str, headers: dict[str, str]):
        self.session = session
        self.base = base
        self.auth = headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Reply:
        url = URL(self.base + path, encoded=True)
        if params:
            url = url.with_query(params)
        sent = dict(self.auth) if auth else {}
        sent.update(headers or {})
        async with self.session.request(
            method, url, json=json, data=data, headers=sent
        ) as response:
            return Reply(response.status, response.headers, await response.text())

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("DELETE", path, **kwargs)

    async def wait_job(self, action_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Poll an async action until it is DONE or FAILED."""
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.get(f"/v1/async-actions/{action_id}")
            assert reply.status == 200, reply.text
            action = reply.json
            if action["status"] in ("DONE", "FAILED"):
                return action  # type: ignore[no-any-return]
            assert time.monotonic() < deadline, f"job still {action['status']}"
            await asyncio.sleep(0.01)


async def create(http: Http, **fields: Any) -> dict[str, Any]:
    """Create (or upsert) a customer and return its JSON."""
    reply = await http.post("/v1/customers", json=fields)
    assert reply.status == 200, reply.text
    return reply.json  # type: ignore[no-any-return]


def read_lines(stream: IO[str], count: int, timeout: float = 60.0) -> list[str]:
    """The next ``count`` lines of a child's pipe, stripped; fails after ``timeout`` s.

    A daemon thread reads the pipe to its end, so a child that prints less never hangs
    the test: the wait for each line is bounded.
    """
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name="test-pipe-reader", daemon=True).start()
    found: list[str] = []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"only {found} within {timeout} s") from None
        if line is None:
            raise AssertionError(f"the pipe closed after {found}")
        found.append(line.strip())
    return found
