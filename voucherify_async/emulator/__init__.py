"""A local, stateful emulator of the Voucherify Customers API.

It keeps customers, activity, segments, redeemables and async actions in memory (a
million customers is fine), enforces the documented limits (page 1..99, limit 1..100,
10 MB bulk bodies, rate limits with the vendor's headers) and injects faults on demand
(latency, 5xx, HTML gateway pages, dropped connections, truncated bodies, scripted 429s).
A generous rate limit is always on, so every answer carries the API's rate-limit headers;
a billing-cycle ``quota`` can be set to see what code does once it is spent.

Start it from Python::

    from voucherify_async.emulator import Emulator

    async with Emulator() as emu:
        await emu.seed_customers(1_000)
        print(emu.url, emu.app_id, emu.app_token)

or from a shell: ``python -m voucherify_async.emulator --port 8080 --seed 10000``, and
attach to that one with ``Emulator.connect(url)`` (or ``Emulator.connect()``, reading
``VOUCHERIFY_BASE_URL``). Embed it with ``create_app()``. Test controls live under
``/_emulator/`` (reset, seed, config, faults/script, state/customers, stats, quota, health;
docs/emulator.md lists their bodies).

A bad setting raises ``SettingsError`` with one line naming it and what is allowed, from
the constructor and from ``configure()`` alike (there ``EmulatorSettingsError``, also an
``EmulatorControlError``, the error of any refused control call).
"""

from __future__ import annotations

from ._app import create_app, get_state
from ._config import (
    DEFAULT_APP_ID,
    DEFAULT_APP_TOKEN,
    DEFAULT_BULK_RATE_LIMIT,
    DEFAULT_RATE_LIMIT,
    Settings,
    SettingsError,
)
from ._server import Emulator, EmulatorControlError, EmulatorSettingsError
from ._store import Store

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_APP_TOKEN",
    "DEFAULT_BULK_RATE_LIMIT",
    "DEFAULT_RATE_LIMIT",
    "Emulator",
    "EmulatorControlError",
    "EmulatorSettingsError",
    "Settings",
    "SettingsError",
    "Store",
    "create_app",
    "get_state",
]
