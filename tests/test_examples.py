"""The framework examples serve a request through the app to the emulator."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import anyio
import pytest
from aiohttp.test_utils import TestClient, TestServer

from voucherify_async import AsyncVoucherify
from voucherify_async.emulator import Emulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture
def emulator_env(voucherify_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    for name, value in voucherify_emulator.env.items():
        monkeypatch.setenv(name, value)
    return voucherify_emulator


async def test_aiohttp_app(emulator_env: Emulator, voucherify_client: AsyncVoucherify) -> None:
    from examples.aiohttp_app import make_app

    await voucherify_client.customers.create(source_id="ann", name="Ann", email="ann@x.io")
    async with TestClient(TestServer(make_app())) as http:
        found = await http.get("/customers/ann")
        assert found.status == 200
        assert await found.json() == {
            "id": (await voucherify_client.customers.get("ann")).id,
            "name": "Ann",
            "email": "ann@x.io",
        }
        missing = await http.get("/customers/nobody")
        assert missing.status == 404


async def test_fastapi_app(emulator_env: Emulator) -> None:
    # The app served by uvicorn on a free loopback port, on this test's event loop, so the
    # lifespan (which opens and closes the shared client) runs as it would in production.
    import uvicorn

    from examples.fastapi_app import app

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
        port = server.servers[0].sockets[0].getsockname()[1]
        client = app.state.voucherify
        assert isinstance(client, AsyncVoucherify)
        created = await client.customers.create(source_id="bo", name="Bo")
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            async with http.get("/customers/bo") as found:
                assert found.status == 200
                assert await found.json() == {"id": created.id, "name": "Bo", "email": None}
            async with http.get("/customers/nobody") as missing:
                assert missing.status == 404
        assert not client.is_closed
    finally:
        server.should_exit = True
        with anyio.fail_after(10):
            await serving
    assert client.is_closed  # the lifespan closed it
