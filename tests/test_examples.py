"""The framework examples serve a request through the app to the emulator."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

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


def test_fastapi_app(emulator_env: Emulator) -> None:
    from fastapi.testclient import TestClient as FastAPIClient

    from examples.fastapi_app import app

    with FastAPIClient(app) as http:
        client = app.state.voucherify
        assert isinstance(client, AsyncVoucherify)
        # Seed through the app's own client, on the app's event loop.
        created = http.portal.call(partial(client.customers.create, source_id="bo", name="Bo"))
        found = http.get("/customers/bo")
        assert found.status_code == 200
        assert found.json() == {"id": created.id, "name": "Bo", "email": None}
        assert http.get("/customers/nobody").status_code == 404
    assert client.is_closed  # the lifespan closed it
