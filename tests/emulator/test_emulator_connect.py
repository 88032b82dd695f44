"""``Emulator.connect``: the control methods for an emulator started elsewhere.

An emulator started from the command line (``voucherify-async emulator``, ``python -m
voucherify_async.emulator``) is scripted with the same methods as one started from
Python, without raw HTTP; the connected object never starts or stops it.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from voucherify_async.emulator import DEFAULT_APP_ID, Emulator

ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int, timeout: float = 15.0) -> None:
    """Stop the background emulator ``pid`` and wait (bounded) until it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


@pytest.fixture
def background(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """``eval "$(python -m voucherify_async.emulator --background --port 0 --seed 2)"``."""
    result = subprocess.run(
        [sys.executable, "-m", "voucherify_async.emulator", "--background", "--port", "0",
         "--seed", "2", "--app-id", "bg-id", "--app-token", "bg-token"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    exports = {}
    for line in result.stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            exports[name] = shlex.split(value)[0]
    pid = int(exports["VOUCHERIFY_EMULATOR_PID"])
    try:
        for name, value in exports.items():
            monkeypatch.setenv(name, value)
        yield exports
    finally:
        _gone(pid)


async def status_of(emu: Emulator, path: str = "/v1/customers") -> int:
    async with (
        aiohttp.ClientSession(headers=emu.headers) as session,
        session.get(emu.url + path) as response,
    ):
        return response.status


@pytest.mark.skipif(sys.platform == "win32", reason="--background is for POSIX shells")
async def test_connect_scripts_an_emulator_started_from_the_command_line(
    background: dict[str, str],
) -> None:
    remote = Emulator.connect()  # all from the environment the export lines set
    assert remote.mode == "connected"
    assert remote.url == background["VOUCHERIFY_BASE_URL"]
    assert remote.headers == {"X-App-Id": "bg-id", "X-App-Token": "bg-token"}
    assert (await remote.health())["customers"] == 2
    assert (await remote.seed_customers(3, source_id="more-{i}"))["total"] == 5
    assert (await remote.configure(rate_limit=500))["rate_limit"] == 500
    await remote.script_faults([{"kind": "error", "status": 503, "method": "GET"}])
    assert await status_of(remote) == 503
    assert await status_of(remote) == 200
    stats = await remote.stats()
    assert stats["faults"] == {"error": 1} and stats["requests_total"] == 2
    async with remote.client(max_retries=0) as client:
        assert (await client.customers.list(limit=1)).total == 5
    await remote.reset()
    assert await remote.customer_ids() == []


async def test_a_connected_emulator_cannot_be_started_or_stopped() -> None:
    with Emulator(mode="thread", app_id="t-id", app_token="t-token") as owner:
        remote = Emulator.connect(owner.url, app_id="t-id", app_token="t-token")
        message = rf"connected to the emulator at {owner.url}, which it did not start"
        with pytest.raises(RuntimeError, match=message):
            await remote.start()
        with pytest.raises(RuntimeError, match=message):
            await remote.stop()
        with pytest.raises(RuntimeError, match=message):
            remote.start_sync()
        with pytest.raises(RuntimeError, match=message):
            remote.stop_sync()
        with pytest.raises(RuntimeError, match=message), remote:
            pass
        with pytest.raises(RuntimeError, match=message):
            async with remote:
                pass
        with pytest.raises(RuntimeError, match="another process"):
            _ = remote.store
        # Still serving, and still reachable through the connection.
        await remote.configure(rate_limit=50)
        assert (await owner.config())["rate_limit"] == 50
        assert await status_of(remote) == 200
        assert "connected" in repr(remote)


async def test_connect_defaults_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOUCHERIFY_BASE_URL", raising=False)
    monkeypatch.delenv("VOUCHERIFY_APP_ID", raising=False)
    monkeypatch.delenv("VOUCHERIFY_APP_TOKEN", raising=False)
    with pytest.raises(ValueError, match="VOUCHERIFY_BASE_URL"):
        Emulator.connect()
    with pytest.raises(ValueError, match=r"url: must be an http:// or https:// URL"):
        Emulator.connect("localhost:8080")
    remote = Emulator.connect("http://127.0.0.1:8080/")
    assert remote.url == "http://127.0.0.1:8080"
    assert remote.app_id == DEFAULT_APP_ID
    assert remote.env["VOUCHERIFY_BASE_URL"] == "http://127.0.0.1:8080"
