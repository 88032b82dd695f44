"""The web integrations, through the examples that use them, against the emulator.

Each failure of the API gets the answer a browser should get (503 with ``Retry-After`` for
the rate limit, 504 past the deadline, 502 for an upstream failure), one warning line in the
server's log and no traceback; a missing customer stays the app's 404; the client the
lifespan opened is closed on shutdown. FastAPI runs in Starlette's TestClient (the app in a
thread, the emulator over loopback HTTP), aiohttp.web in its test server.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp.test_utils import TestClient as AiohttpClient
from aiohttp.test_utils import TestServer

from voucherify_async.contrib.aiohttp_web import CLIENT
from voucherify_async.emulator import Emulator

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples import aiohttp_app, fastapi_app

# (emulator options, path, status, whether Retry-After is expected)
CASES: dict[str, tuple[dict[str, Any], str, int, bool]] = {
    "found": ({}, "/customers/bob", 200, False),
    "missing": ({}, "/customers/nobody", 404, False),
    "rate-limited": ({"rate_limit": 2, "rate_limit_period": 30}, "/customers/bob", 503, True),
    "too-slow": ({"latency_ms": 3000}, "/customers/bob", 504, False),
    "upstream-5xx": ({"error_rate": 1.0}, "/customers/bob", 502, False),
}


@pytest.fixture
def emulator_for(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    started: list[Emulator] = []

    def start(options: dict[str, Any]) -> Emulator:
        emu = Emulator(mode="thread", **options)
        emu.start_sync()
        started.append(emu)
        for name, value in emu.env.items():
            monkeypatch.setenv(name, value)
        return emu

    yield start
    for emu in started:
        emu.stop_sync()


def prepare(emulator_for: Any, options: dict[str, Any]) -> Emulator:
    """An emulator with the rate limit of ``options``, ``bob`` in it, then its faults."""
    limits = {k: v for k, v in options.items() if k.startswith("rate_limit")}
    faults = {k: v for k, v in options.items() if not k.startswith("rate_limit")}
    emu: Emulator = emulator_for(limits)

    async def seed() -> None:
        async with emu.client() as vf:
            await vf.customers.create(source_id="bob", name="Bob")  # one of the budget
        if faults:
            await emu.configure(**faults)

    asyncio.run(seed())
    return emu


def check_log(caplog: pytest.LogCaptureFixture, status: int) -> None:
    failures = [r for r in caplog.records if r.name == "voucherify_async.web"]
    if status in (502, 503, 504):
        assert len(failures) == 1
        assert failures[0].levelno == logging.WARNING and f"-> {status}" in failures[0].message
    else:
        assert failures == []
    assert all(record.exc_info is None for record in caplog.records)  # no traceback
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@asynccontextmanager
async def uvicorn_serving(app: Any) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free loopback port, on this event loop; its URL."""
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="on", log_level="warning", ws="none"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        with anyio.fail_after(10):
            while not server.started:
                assert not serving.done(), "uvicorn stopped before it started"
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        with anyio.fail_after(10):
            await serving


@pytest.mark.parametrize("case", list(CASES))
async def test_fastapi_example_answers(
    case: str, emulator_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    options, path, status, retry_after = CASES[case]
    await anyio.to_thread.run_sync(prepare, emulator_for, options)
    caplog.set_level(logging.INFO)
    async with uvicorn_serving(fastapi_app.app) as url, aiohttp.ClientSession(url) as http:
        opened = fastapi_app.app.state.voucherify
        if "rate_limit" in options:
            async with http.get(path) as first:
                assert first.status == 200  # the period's last request
        async with http.get(path) as answer:
            body = await answer.text()
    assert answer.status == status, body
    assert ("Retry-After" in answer.headers) == retry_after
    if retry_after:
        assert 1 <= int(answer.headers["Retry-After"]) <= 31
    check_log(caplog, status)
    assert opened.is_closed  # the lifespan closed it on shutdown


@pytest.mark.parametrize("case", list(CASES))
async def test_aiohttp_example_answers(
    case: str, emulator_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    options, path, status, retry_after = CASES[case]
    await anyio.to_thread.run_sync(prepare, emulator_for, options)
    caplog.set_level(logging.INFO)
    app = aiohttp_app.make_app()
    async with AiohttpClient(TestServer(app)) as http:
        if "rate_limit" in options:
            assert (await http.get(path)).status == 200  # the period's last request
        answer = await http.get(path)
        body = await answer.text()
        opened = app[CLIENT]
    assert answer.status == status, body
    assert ("Retry-After" in answer.headers) == retry_after
    check_log(caplog, status)
    assert opened.is_closed
