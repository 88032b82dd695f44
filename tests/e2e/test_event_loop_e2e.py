"""The client on the event loop its user chose: uvloop as well as asyncio's default.

uvloop is the user's choice of loop (``uvloop.run(main())``, or
``asyncio.Runner(loop_factory=uvloop.new_event_loop)``); the package starts no loop of its
own for the client and must not assume asyncio's loop or transports.
"""

from __future__ import annotations

import asyncio
import os

import uvloop

from voucherify_async import AsyncVoucherify
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
