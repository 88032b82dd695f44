"""One declaration of the settings serves the constructor, the app, the config route and the CLI."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import aiohttp
import pytest

from voucherify_async.emulator import Emulator, Settings, create_app, get_state
from voucherify_async.emulator.__main__ import parse_args
from voucherify_async.emulator._config import SettingsError, flag_of, settings_from_args

CHANGED: dict[str, Any] = {
    "app_id": "id-2",
    "app_token": "token-2",
    "rate_limit": 7,
    "rate_limit_period": 3.5,
    "bulk_rate_limit": 5,
    "quota": 99,
    "starting_after_mode": "inclusive",
    "latency_ms": 1.0,
    "jitter_ms": 2.0,
    "error_rate": 0.1,
    "error_statuses": [503],
    "drop_rate": 0.2,
    "truncate_rate": 0.05,
    "html_rate": 0.15,
    "html_statuses": [502, 504],
    "fault_seed": 11,
    "job_item_delay_ms": 4.0,
}


def test_every_setting_is_covered_here() -> None:
    assert set(CHANGED) == {f.name for f in dataclasses.fields(Settings)}


def test_every_setting_is_a_command_line_option_and_round_trips() -> None:
    settings = Settings.from_options(CHANGED)
    argv = settings.to_argv()
    assert all(flag_of(name) in argv for name in CHANGED)
    assert settings_from_args(parse_args(argv)) == settings


def test_the_command_line_leaves_unsaid_settings_at_their_defaults() -> None:
    assert settings_from_args(parse_args(["--port", "0"])) == Settings()
    assert parse_args(["--starting-after", "inclusive"]).starting_after_mode == "inclusive"


def test_create_app_takes_a_settings_object_and_keywords_over_it() -> None:
    app = create_app(Settings.from_options({"rate_limit": 3}), error_rate=0.5, seed=2)
    state = get_state(app)
    assert (state.settings.rate_limit, state.settings.error_rate) == (3, 0.5)
    assert len(state.store) == 2


def test_the_constructor_checks_every_setting_before_starting() -> None:
    with pytest.raises(SettingsError, match="error_rate: must be a number between 0 and 1"):
        Emulator(error_rate=2)
    with pytest.raises(SettingsError, match="bogus: unknown setting"):
        Emulator(bogus=1)
    emu = Emulator(settings=Settings(rate_limit=4), html_rate=0.25)
    assert (emu.settings.rate_limit, emu.settings.html_rate) == (4, 0.25)


async def test_constructor_settings_reach_the_config_route() -> None:
    async with Emulator(**CHANGED) as emu:
        config = await emu.config()
    expected = {k: v for k, v in CHANGED.items() if k not in ("app_id", "app_token")}
    assert config == expected


def test_process_mode_passes_every_setting_to_the_subprocess() -> None:
    with Emulator(mode="process", **CHANGED) as emu:
        config = asyncio.run(emu.config())
        assert emu.env["VOUCHERIFY_APP_TOKEN"] == "token-2"
    expected = {k: v for k, v in CHANGED.items() if k not in ("app_id", "app_token")}
    assert config == expected


async def _status(emu: Emulator) -> int:
    async with (
        aiohttp.ClientSession(headers=emu.headers) as http,
        http.get(emu.url + "/v1/customers") as response,
    ):
        return response.status


def test_a_restart_serves_the_credentials_changed_at_run_time() -> None:
    emu = Emulator(mode="thread")
    with emu:
        asyncio.run(emu.configure(app_id="id-3", app_token="token-3"))
    with emu:
        assert emu.env["VOUCHERIFY_APP_ID"] == "id-3"
        assert asyncio.run(_status(emu)) == 200
