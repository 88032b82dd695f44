"""Ways to start the emulator: loop, thread and process modes, the CLI, create_app."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from voucherify_async.emulator import Emulator, create_app, get_state

ROOT = Path(__file__).resolve().parents[2]


# Threads of emulators started elsewhere (the pytest plugin's session server) are not ours.
_OTHERS: set[threading.Thread] = set()


@pytest.fixture(autouse=True)
def _note_other_threads() -> None:
    _OTHERS.clear()
    _OTHERS.update(threading.enumerate())


def emulator_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("voucherify-emulator") and t not in _OTHERS
    ]


async def count_customers(emu: Emulator) -> int:
    async with (
        aiohttp.ClientSession(headers=emu.headers) as session,
        session.get(emu.url + "/v1/customers") as response,
    ):
        assert response.status == 200
        total: int = (await response.json())["total"]
        return total


def test_thread_mode_serves_callers_on_different_loops() -> None:
    with Emulator(mode="thread", app_id="a", app_token="t", seed=7) as emu:
        assert emu.url.startswith("http://127.0.0.1:")
        assert emu.env == {
            "VOUCHERIFY_BASE_URL": emu.url,
            "VOUCHERIFY_APP_ID": "a",
            "VOUCHERIFY_APP_TOKEN": "t",
        }
        assert asyncio.run(count_customers(emu)) == 7
        asyncio.run(emu.seed_customers(3))
        assert asyncio.run(count_customers(emu)) == 10  # a second loop, same server
        assert len(emu.store) == 10
        assert len(emulator_threads()) == 1
    assert emulator_threads() == []
    with pytest.raises(RuntimeError):
        _ = emu.url


async def test_thread_mode_with_async_with() -> None:
    async with Emulator(mode="thread") as emu:
        await emu.seed_customers(2)
        assert await count_customers(emu) == 2
    assert emulator_threads() == []


async def test_thread_mode_stops_while_a_job_is_running() -> None:
    emulator = Emulator(mode="thread", job_item_delay_ms=50)
    items = [{"source_id": f"s{i}"} for i in range(100)]
    async with (
        emulator as emu,
        aiohttp.ClientSession(headers=emu.headers) as session,
        session.post(emu.url + "/v1/customers/bulk/async", json=items) as response,
    ):
        assert response.status == 202
    assert emulator_threads() == []


def test_process_mode_runs_in_a_subprocess() -> None:
    with Emulator(mode="process", seed=25, rate_limit=50) as emu:
        assert asyncio.run(count_customers(emu)) == 25
        stats = asyncio.run(emu.stats())
        assert stats["requests_total"] == 1
        assert asyncio.run(emu.config())["rate_limit"] == 50
        with pytest.raises(RuntimeError, match="another process"):
            _ = emu.store
        process = emu._process
        assert process is not None
    assert process.poll() is not None
    assert emulator_threads() == []


async def test_loop_mode_gives_direct_store_access(emu: Emulator) -> None:
    await emu.seed_customers(4)
    assert len(emu.store) == 4
    assert {c.source_id for c in emu.store.by_id.values()} == {f"seed-{i}" for i in range(1, 5)}
    with pytest.raises(RuntimeError, match="async with"):
        emu.__enter__()


def test_invalid_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        Emulator(mode="fork")  # type: ignore[arg-type]


async def test_create_app_embeds_with_aiohttp_test_utils() -> None:
    app = create_app(app_id="x", app_token="y", seed=3)
    assert len(get_state(app).store) == 3
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/v1/customers", headers={"X-App-Id": "x", "X-App-Token": "y"})
        assert response.status == 200
        assert (await response.json())["total"] == 3


def test_cli_prints_the_url_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "voucherify_async.emulator", "--port", "0", "--seed", "5",
         "--app-id", "cli-id", "--app-token", "cli-token"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        lines = [process.stdout.readline().strip() for _ in range(3)]
        assert lines[0].startswith("export VOUCHERIFY_BASE_URL=http://127.0.0.1:")
        assert not lines[0].endswith(":0")
        assert lines[1:] == [
            "export VOUCHERIFY_APP_ID=cli-id",
            "export VOUCHERIFY_APP_TOKEN=cli-token",
        ]
        url = lines[0].partition("=")[2]

        async def check() -> int:
            headers = {"X-App-Id": "cli-id", "X-App-Token": "cli-token"}
            async with (
                aiohttp.ClientSession(headers=headers) as session,
                session.get(url + "/v1/customers") as response,
            ):
                total: int = (await response.json())["total"]
                return total

        assert asyncio.run(check()) == 5
        if sys.platform == "win32":
            process.send_signal(signal.CTRL_C_EVENT)
        else:
            process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


async def test_client_points_the_sdk_at_the_emulator(emu: Emulator) -> None:
    async with emu.client(max_retries=0) as client:
        assert client.base_url == emu.url


async def test_changing_credentials_updates_the_emulator_handle(emu: Emulator) -> None:
    await emu.configure(app_id="new-id", app_token="new-token")
    assert emu.headers == {"X-App-Id": "new-id", "X-App-Token": "new-token"}
    assert await count_customers(emu) == 0
    assert emu.env["VOUCHERIFY_APP_TOKEN"] == "new-token"
