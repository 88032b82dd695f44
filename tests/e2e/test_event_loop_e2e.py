"""The client on the event loop its user chose: uvloop as well as asyncio's default.

uvloop is the user's choice of loop (``uvloop.run(main())``, or
``asyncio.Runner(loop_factory=uvloop.new_event_loop)``); the package starts no loop of its
own for the client and must not assume asyncio's loop or transports.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import aiohttp
import pytest
import uvloop

from voucherify_async import AsyncVoucherify, EventLoopError
from voucherify_async.emulator import Emulator


async def test_the_async_tests_here_run_on_the_loop_asked_for() -> None:
    loop = asyncio.get_running_loop()
    if os.environ.get("VOUCHERIFY_TEST_LOOP", "asyncio") == "uvloop":
        assert isinstance(loop, uvloop.Loop)
    else:
        assert not isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.BaseEventLoop)


async def _every_path(url: str, app_id: str, app_token: str) -> dict[str, object]:
    async with AsyncVoucherify(
        app_id=app_id, app_token=app_token, base_url=url, max_concurrency=8
    ) as vf:
        created = await vf.customers.create(source_id="uv-1", name="Ada")
        fetched = await vf.customers.get(created.id)
        ids = [c.id async for c in vf.customers.list(limit=10)]
        many = await vf.customers.get_many(ids[:20], concurrency=4)
        gathered = await asyncio.gather(*(vf.customers.get(i) for i in ids[:20]))
        missing = None
        try:
            await vf.customers.get("cust_missing")
        except Exception as exc:  # its type is what the test checks
            missing = type(exc).__name__
        return {
            "loop": type(asyncio.get_running_loop()).__module__,
            "fetched": fetched.name,
            "listed": len(ids),
            "unique": len(set(ids)),
            "many": sum(1 for c in many if c is not None),
            "gathered": len(gathered),
            "missing": missing,
        }


def test_the_client_on_a_uvloop_the_user_started() -> None:
    with Emulator(mode="thread") as emu:
        result = uvloop.run(_seeded_then_every_path(emu.url, emu.app_id, emu.app_token, emu))
    assert result == {
        "loop": "uvloop",
        "fetched": "Ada",
        "listed": 35,  # 34 seeded and one created, over 4 pages
        "unique": 35,
        "many": 20,
        "gathered": 20,
        "missing": "NotFoundError",
    }


async def _seeded_then_every_path(
    url: str, app_id: str, app_token: str, emu: Emulator
) -> dict[str, object]:
    await emu.seed_customers(34)
    return await _every_path(url, app_id, app_token)


# --- one client, many event loops -----------------------------------------------------------

_SCRIPT = """
import asyncio, gc, os, sys
import anyio
from voucherify_async import AsyncVoucherify

vf = AsyncVoucherify()  # at import time: no event loop runs yet


async def name(customer_id):
    return (await vf.customers.get(customer_id)).name


print(asyncio.run(name("bob")))
print(asyncio.run(name("bob")))
print(anyio.run(name, "bob"))
print(asyncio.run(name("bob")))
if os.environ.get("ABRUPT"):
    loop = asyncio.new_event_loop()  # closed without finalizing its async generators
    print(loop.run_until_complete(name("bob")))
    loop.close()
    print(asyncio.run(name("bob")))
gc.collect()
"""


def test_a_client_made_at_import_time_serves_successive_loops_without_noise(
    tmp_path: Path,
) -> None:
    with Emulator(mode="thread") as emu:
        asyncio.run(_create_bob(emu))
        script = tmp_path / "script.py"
        script.write_text(_SCRIPT)
        # -X dev shows every ResourceWarning and asyncio's debug complaints.
        done = subprocess.run(
            [sys.executable, "-X", "dev", str(script)],
            env={**os.environ, **emu.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        # A loop closed without loop.shutdown_asyncgens() (which asyncio.run and Runner
        # call) cannot have its sockets closed: the client moves on all the same.
        abrupt = subprocess.run(
            [sys.executable, str(script)],
            env={**os.environ, **emu.env, "ABRUPT": "1"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Bob"] * 4
    assert done.stderr == ""  # no "Unclosed client session", no "Event loop is closed"
    assert abrupt.returncode == 0, abrupt.stderr
    assert abrupt.stdout.split() == ["Bob"] * 6
    assert abrupt.stderr == ""


async def _create_bob(emu: Emulator) -> None:
    async with emu.client() as vf:
        await vf.customers.create(source_id="bob", name="Bob")


def test_asyncio_run_twice_with_one_client_reuses_nothing_of_the_first_loop() -> None:
    with Emulator(mode="thread") as emu:
        asyncio.run(_create_bob(emu))
        vf = emu.client(max_concurrency=2)

        async def lookups() -> list[str | None]:
            found = await asyncio.gather(*(vf.customers.get("bob") for _ in range(6)))
            return [c.name for c in found]

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert asyncio.run(lookups()) == ["Bob"] * 6
            assert asyncio.run(lookups()) == ["Bob"] * 6
            asyncio.run(vf.aclose())
            gc.collect()
        assert vf.is_closed


def test_a_second_live_loop_gets_one_typed_error_before_any_request() -> None:
    with Emulator(mode="thread") as emu:
        asyncio.run(_create_bob(emu))
        vf = emu.client()
        first_done = threading.Event()
        release = threading.Event()

        async def owner() -> None:
            await vf.customers.get("bob")
            first_done.set()
            # A threading.Event set by the other thread, waited for off the loop (bounded).
            await asyncio.to_thread(release.wait, 20)
            await vf.aclose()

        thread = threading.Thread(target=asyncio.run, args=(owner(),))
        thread.start()
        try:
            assert first_done.wait(10)
            before = emu_requests(emu)
            with pytest.raises(EventLoopError) as info:
                asyncio.run(vf.customers.get("bob"))
            assert emu_requests(emu) == before  # nothing was sent
        finally:
            release.set()
            thread.join(10)
        assert not thread.is_alive()
    message = str(info.value)
    assert "another event loop" in message and "one client per event loop" in message
    assert info.value.__cause__ is None


def emu_requests(emu: Emulator) -> int:
    async def read() -> int:
        total: int = (await emu.stats())["requests_total"]
        return total

    return asyncio.run(read())


def test_a_session_given_by_the_caller_on_an_ended_loop_is_a_typed_error() -> None:
    with Emulator(mode="thread") as emu:

        async def make() -> aiohttp.ClientSession:
            return aiohttp.ClientSession()

        session = asyncio.run(make())
        vf = emu.client(session=session)
        with pytest.raises(EventLoopError, match="event loop that has ended"):
            asyncio.run(vf.customers.get("bob"))
        session.detach()  # its loop is gone: nothing to close
