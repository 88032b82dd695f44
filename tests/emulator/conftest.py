"""Shared fixtures for the emulator tests: a running emulator and a raw aiohttp client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from emulator_helpers import Http

from voucherify_async.emulator import Emulator


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """A fresh emulator on the test's own event loop."""
    async with Emulator() as emulator:
        yield emulator


@pytest.fixture
async def http(emu: Emulator) -> AsyncIterator[Http]:
    """A raw aiohttp client with the emulator's credentials."""
    async with aiohttp.ClientSession() as session:
        yield Http(session, emu.url, emu.headers)
