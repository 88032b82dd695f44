"""A refused setting is one line naming it and what is allowed, wherever it was given.

``Emulator(error_rate=5)``, ``emu.configure(error_rate=5)`` and ``--error-rate 5`` say the
same (the command line with the flag for the name); ``except SettingsError`` catches
both Python ones, and every error type is importable from ``voucherify_async.emulator``.
"""

from __future__ import annotations

import pickle

import pytest

from voucherify_async.emulator import (
    Emulator,
    EmulatorControlError,
    EmulatorSettingsError,
    SettingsError,
)
from voucherify_async.emulator.__main__ import main as emulator_main

RULE = "error_rate: must be a number between 0 and 1, got 5"


async def test_a_bad_setting_reads_the_same_from_the_constructor_configure_and_cli(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SettingsError) as built:
        Emulator(error_rate=5)
    assert str(built.value) == RULE
    with pytest.raises(SettingsError) as configured:
        await emu.configure(error_rate=5)
    assert str(configured.value) == RULE
    refused = configured.value
    assert isinstance(refused, EmulatorControlError)
    assert isinstance(refused, EmulatorSettingsError)
    assert refused.status == 400 and refused.body["key"] == "invalid_payload"
    assert (refused.names, refused.rule, refused.value) == (
        ("error_rate",),
        "must be a number between 0 and 1",
        5,
    )
    assert (built.value.names, built.value.rule, built.value.value) == (
        refused.names,
        refused.rule,
        refused.value,
    )
    with pytest.raises(SettingsError, match=f"^{RULE}$"):
        await emu.reset(error_rate=5)
    assert emulator_main(["--error-rate", "5"]) == 2
    assert capsys.readouterr().err == (
        "error: --error-rate: must be a number between 0 and 1, got 5.0\n"
    )


async def test_an_unknown_setting_lists_the_settings_everywhere(emu: Emulator) -> None:
    with pytest.raises(SettingsError) as built:
        Emulator(colour="blue")
    with pytest.raises(SettingsError) as configured:
        await emu.configure(colour="blue")
    assert str(built.value) == str(configured.value)
    assert str(built.value).startswith(
        "colour: unknown setting; the settings are app_id, app_token, rate_limit,"
    )
    assert "\n" not in str(built.value)


async def test_settings_that_only_fail_together_are_named_together(emu: Emulator) -> None:
    expected = (
        "error_rate + drop_rate + truncate_rate + html_rate: must add up to at most 1, got 1.2"
    )
    with pytest.raises(SettingsError) as built:
        Emulator(error_rate=0.6, drop_rate=0.6)
    with pytest.raises(SettingsError) as configured:
        await emu.configure(error_rate=0.6, drop_rate=0.6)
    assert str(built.value) == str(configured.value) == expected
    assert configured.value.names == built.value.names == (
        "error_rate", "drop_rate", "truncate_rate", "html_rate"
    )  # fmt: skip


async def test_any_refused_control_call_is_one_line_with_the_reason_and_the_call(
    emu: Emulator,
) -> None:
    with pytest.raises(EmulatorControlError) as caught:
        await emu.seed_customers(-1)
    assert str(caught.value) == (
        "count: must be an integer >= 0, got -1 (POST /_emulator/seed/customers answered 400)"
    )
    assert not isinstance(caught.value, SettingsError)
    with pytest.raises(EmulatorControlError) as missing:
        await emu.seed_segment("S", ["nobody"])
    assert str(missing.value) == (
        "Cannot find customer with id nobody (POST /_emulator/seed/segments answered 404)"
    )
    assert missing.value.status == 404


async def test_the_errors_survive_pickling(emu: Emulator) -> None:
    with pytest.raises(SettingsError) as configured:
        await emu.configure(error_rate=5)
    with pytest.raises(SettingsError) as built:
        Emulator(error_rate=5)
    for error in (configured.value, built.value):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
